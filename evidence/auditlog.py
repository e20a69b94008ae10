"""The audit log: append-only, hash-chained JSON lines with signed checkpoints.

Each entry is one line: a JSON object with sorted keys and no whitespace,
carrying ``seq`` (0, 1, ...), ``utc`` (ISO-8601, Z), ``mono_us`` (monotonic
clock), ``event``, the caller's fields and ``prev`` (the previous entry's hash,
64 zeros for the first), followed by its own ``hash`` as the last member: the
SHA-256 of the line as it would read without ``,"hash":"..."``. Hashing the
stored bytes (not a re-encoding) lets any JSON library check it. A checkpoint
entry carries an Ed25519 signature over the entry count and head hash
(docs/FORMAT.md §10). Every append is flushed and fsync'd.

After a crash the log is reopened and continued: a torn last line is
terminated, reported, and recorded by an ``audit.torn_line`` entry, so the
verifier can tell it from tampering.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import struct
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from evidence.fsutil import fsync_dir, write_all
from evidence.primitives import CTX2_AUDIT, audit_message, key_id
from evidence.sigcheck import as_public, open_regular
from evidence.signer import KeyFileSigner, PublicKey, SigAlg, Signer, sign2
from evidence.timefmt import iso_utc_us, us_of

GENESIS = "0" * 64
RESERVED = frozenset({"seq", "utc", "mono_us", "event", "prev", "hash"})
CHECKPOINT = "audit.checkpoint"
TORN = "audit.torn_line"
LOST = "counter.lost"
_SUFFIX = re.compile(rb',"hash":"([0-9a-f]{64})"\}$')
MAX_LINE = 1 << 20


def _iso(utc: float) -> str:
    return iso_utc_us(us_of(utc))


def _encode(doc: dict[str, Any]) -> bytes:
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=True,
                      allow_nan=False, default=str).encode("ascii")


def seal_line(body: bytes) -> bytes:
    """Append the hash member to an entry body: the stored line (without newline)."""
    return body[:-1] + b',"hash":"' + hashlib.sha256(body).hexdigest().encode() + b'"}'


def open_line(line: bytes) -> tuple[dict[str, Any], str] | None:
    """(entry, hash) of a stored line, or None if it is not an intact entry."""
    m = _SUFFIX.search(line)
    if m is None or len(line) > MAX_LINE:
        return None
    body = line[:m.start()] + b"}"
    digest = m.group(1).decode()
    if hashlib.sha256(body).hexdigest() != digest:
        return None
    try:
        doc = json.loads(body)
    except (ValueError, RecursionError):
        return None
    if not isinstance(doc, dict) or not isinstance(doc.get("seq"), int) \
            or not isinstance(doc.get("prev"), str) or not isinstance(doc.get("event"), str):
        return None
    return doc, digest


def audit_message_v2(count: int, head: bytes, counter: int, recording_seq: int,
                     chain_head: bytes) -> bytes:
    """What the device signs for a v2 checkpoint: the log so far, the hardware counter,
    the last recording number and the evidence chain's head."""
    return CTX2_AUDIT + struct.pack(">Q", count) + head + struct.pack(">QQ", counter,
                                                                     recording_seq) + chain_head


class Counting(Protocol):
    """The evidence counter (recorder.counter.Counter), as the log needs it."""

    def next(self) -> int:
        """Increment and return."""
        ...


class AuditLog:
    """Append-only audit log at ``path``; ``signer`` signs checkpoints (None: cannot).

    ``counter`` is the device's evidence counter (each checkpoint takes a value);
    without one the checkpoint carries 0 (a log opened before the store).
    """

    def __init__(self, path: Path, signer: Signer | Ed25519PrivateKey | None, *,
                 clock: Any = None, counter: Counting | None = None) -> None:
        self.path = Path(path)
        if isinstance(signer, Ed25519PrivateKey):
            signer = KeyFileSigner(signer)
        self.signer: Signer | None = signer
        self.counter = counter
        #: Counter values taken by signed items whose write failed (FORMAT.md §10).
        self.lost: list[int] = []
        self._time = clock.time if clock is not None else time.time
        self._mono = clock.monotonic if clock is not None else time.monotonic
        self.notes: list[str] = []
        self.seq = 0
        self.head = GENESIS
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fd = -1
        self._broken = False
        self._open()

    def _open(self) -> None:
        """Find the chain's head, end a torn last line and record it (as after a crash)."""
        torn, terminated = self._load()
        if self._fd < 0:
            new = not self.path.exists()
            self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            if new:  # the file's name must survive a power cut too, not only its lines
                os.fsync(self._fd)
                fsync_dir(self.path.parent)
        if not terminated:  # end the last line so the next entry starts on its own
            write_all(self._fd, b"\n")
            os.fsync(self._fd)
        self._broken = False
        if torn is not None:
            line_no, fragment = torn
            self.notes.append(f"{self.path}: line {line_no} was torn by a crash "
                              f"({len(fragment)} bytes); the log continues after it")
            self.append(TORN, line=line_no, bytes=len(fragment),
                        sha256=hashlib.sha256(fragment).hexdigest())

    def _load(self) -> tuple[tuple[int, bytes] | None, bool]:
        """Find where the chain stands; return the torn last line if any, and whether
        the file ends with a newline."""
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return None, True
        lines = data.split(b"\n")
        terminated = True
        if lines and lines[-1] == b"":
            lines.pop()
        else:
            terminated = False
        torn = None
        for n, line in enumerate(lines, start=1):
            opened = open_line(line)
            if opened is None:
                if n == len(lines):
                    torn = (n, line)
                continue
            doc, digest = opened
            self.seq, self.head = doc["seq"] + 1, digest
        return torn, terminated

    def append(self, event: str, **fields: Any) -> dict[str, Any]:
        """Write one entry (flushed and fsync'd) and return it."""
        clash = RESERVED & fields.keys()
        if clash:
            raise ValueError(f"audit field name(s) reserved: {sorted(clash)}")
        doc = dict(fields)
        doc.update({"event": str(event), "mono_us": int(self._mono() * 1_000_000),
                    "prev": self.head, "seq": self.seq, "utc": _iso(self._time())})
        line = seal_line(_encode(doc))
        if self._broken:  # an earlier write failed part way: deal with it as at a reopen
            self._open()
            doc.update({"prev": self.head, "seq": self.seq})
            line = seal_line(_encode(doc))
        size = os.fstat(self._fd).st_size
        try:
            write_all(self._fd, line + b"\n")
            os.fsync(self._fd)
        except OSError:
            # A full or failing medium: cut the partial line back off so the log stays
            # a chain of whole entries; if even that fails, repair before the next one.
            try:
                os.ftruncate(self._fd, size)
            except OSError:
                self._broken = True
            raise
        opened = open_line(line)
        assert opened is not None
        self.seq += 1
        self.head = opened[1]
        doc["hash"] = self.head
        return doc

    def checkpoint(self, recording_seq: int = 0, chain_head: str = GENESIS) -> dict[str, Any]:
        """Append a signed (v2) checkpoint over everything so far; needs a signer.

        It binds the next counter value, the last recording number and the
        evidence chain's head, so a log cut back, or recordings removed, show.
        """
        if self.signer is None:
            raise ValueError("this audit log has no signing key; it cannot checkpoint")
        if self.lost:  # values taken by items that never reached storage: say so, signed
            self.append(LOST, values=sorted(self.lost), why="a write failed")
            self.lost.clear()
        counter = self.counter.next() if self.counter is not None else 0
        msg = audit_message_v2(self.seq, bytes.fromhex(self.head), counter, recording_seq,
                               bytes.fromhex(chain_head))
        sig = sign2(self.signer, msg)
        try:
            return self.append(CHECKPOINT, alg=self.signer.alg.label, chain_head=chain_head,
                               count=self.seq, counter=counter, head=self.head,
                               key=key_id(self.signer.public_raw),
                               recording_seq=recording_seq, sig=sig.hex())
        except OSError:
            if counter:
                self.lost.append(counter)
            raise

    def close(self) -> None:
        """Close the file."""
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def __enter__(self) -> AuditLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclass
class AuditReport:
    """What :func:`verify_audit_log` found."""

    entries: int = 0
    checkpoints: int = 0
    unsigned_tail: int = 0
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    #: v2 checkpoints that verified: counter, recording_seq, chain_head each.
    signed: list[dict[str, Any]] = field(default_factory=list)
    head: str = ""  # hash of the last verified v2 checkpoint entry
    clock_steps: int = 0
    #: Counter values the device said it lost (a failed write, a power cut), as signed.
    lost: set[int] = field(default_factory=set)

    @property
    def ok(self) -> bool:
        """True if the chain and every checkpoint verified."""
        return not self.problems


#: Largest audit log a verifier reads (a device writes ~200 bytes an entry).
MAX_LOG = 1 << 30
_MAX_PROBLEMS = 100


def _stream_lines(f: Any) -> Any:
    """(line without newline, terminated) one at a time; an over-long line is cut to
    MAX_LINE + 1 bytes (it can never be an intact entry) and the rest skipped, so
    memory stays bounded whatever the file holds."""
    while True:
        line = f.readline(MAX_LINE + 1)
        if not line:
            return
        if line.endswith(b"\n"):
            yield line[:-1], True
            continue
        if len(line) <= MAX_LINE:
            yield line, False  # the file ends without a newline
            return
        while True:  # skip the rest of an over-long line
            more = f.readline(1 << 20)
            if not more or more.endswith(b"\n"):
                break
        yield line, bool(more)


def iter_checkpoints(path: Path) -> Any:
    """The intact checkpoint entries of a log, streamed (unverified: the device's own
    log, read at boot to find where its counter stood)."""
    try:
        f = open_regular(Path(path))
    except OSError:
        return
    with f:
        for line, _ in _stream_lines(f):
            if b'"audit.checkpoint"' in line and (opened := open_line(line)) is not None:
                if isinstance(opened[0].get("counter"), int):
                    yield opened[0]


def verify_audit_log(path: Path,
                     public_key: PublicKey | Ed25519PublicKey | None = None) -> AuditReport:
    """Check the chain and (with ``public_key``, the pinned device key) every checkpoint
    signature. Streams the file: memory is bounded by the longest allowed line."""
    report = AuditReport()
    if isinstance(public_key, Ed25519PublicKey):
        public_key = as_public(public_key)
    try:
            f = open_regular(Path(path))
    except OSError as exc:
        report.problems.append(f"{path}: cannot read: {exc.strerror or exc}")
        return report
    with f:
        if os.fstat(f.fileno()).st_size > MAX_LOG:
            report.problems.append(f"{path}: larger than {MAX_LOG} bytes: not an audit log")
            return report
        _verify_lines(report, _stream_lines(f), public_key)
    if len(report.problems) > _MAX_PROBLEMS:
        more = len(report.problems) - _MAX_PROBLEMS
        report.problems[_MAX_PROBLEMS:] = [f"... and {more} more problems"]
    if public_key is None:
        report.notes.append("no public key given: checkpoint signatures not checked")
    return report


def _verify_lines(report: AuditReport, lines: Any, public_key: PublicKey | None) -> None:
    seq, head = 0, GENESIS
    pending_torn: dict[int, str] = {}  # line number -> sha256 of the fragment
    pending_lost: list[int] = []
    upcoming = next(lines, None)
    n = 0
    while upcoming is not None:
        (line, _terminated), upcoming = upcoming, next(lines, None)
        n += 1
        opened = open_line(line)
        if opened is None:
            if upcoming is None:
                report.notes.append(f"line {n}: torn last entry (crash while writing)")
            elif len(pending_torn) < _MAX_PROBLEMS:
                pending_torn[n] = hashlib.sha256(line).hexdigest()
            else:
                report.problems.append(f"line {n}: not an intact entry (altered or inserted)")
            continue
        doc, digest = opened
        if doc["event"] == TORN and doc.get("line") in pending_torn:
            frag = pending_torn.pop(doc["line"])
            if doc.get("sha256") == frag:
                report.notes.append(f"line {doc['line']}: torn by a crash, recorded at reopen")
            else:
                report.problems.append(f"line {doc['line']}: differs from the torn line "
                                       f"recorded at line {n}")
        for bad in sorted(pending_torn):
            report.problems.append(f"line {bad}: not an intact entry (altered or inserted)")
        pending_torn.clear()
        if doc["seq"] != seq or doc["prev"] != head:
            report.problems.append(f"line {n}: chain broken (seq {doc['seq']}, expected {seq}; "
                                   "an entry was removed, inserted or reordered)")
        seq, head = doc["seq"] + 1, digest
        report.entries += 1
        report.unsigned_tail += 1
        if doc["event"] == "clock_step":
            report.clock_steps += 1
        if doc["event"] == LOST and isinstance(doc.get("values"), list):
            pending_lost += [v for v in doc["values"][:64] if isinstance(v, int)]
        if doc["event"] == CHECKPOINT:
            if public_key is None and "counter" in doc:
                report.signed.append(doc)  # unchecked: the verdict is "not established"
            if _checkpoint_ok(doc, public_key, report, n):
                report.checkpoints += 1
                report.unsigned_tail = 0
                if "counter" in doc:
                    report.signed.append(doc)
                    report.head = digest
                    report.lost.update(pending_lost)  # now covered by a signature
                    pending_lost = []
    for bad in sorted(pending_torn):
        report.problems.append(f"line {bad}: not an intact entry (altered or inserted)")


def _checkpoint_ok(doc: dict[str, Any], key: PublicKey | None, report: AuditReport,
                   n: int) -> bool:
    """A v1 checkpoint (raw Ed25519 over count and head) or a v2 one (algorithm-named,
    binding counter, recording number and chain head)."""
    if doc.get("count") != doc["seq"] or doc.get("head") != doc["prev"]:
        report.problems.append(f"line {n}: checkpoint does not cover the entries before it")
        return False
    if key is None:
        return False
    try:
        sig = bytes.fromhex(doc.get("sig", ""))
        head = bytes.fromhex(doc["head"])
        if "alg" in doc:
            ok = key.verify2(sig, audit_message_v2(doc["count"], head, doc["counter"],
                                                   doc["recording_seq"],
                                                   bytes.fromhex(doc["chain_head"])))
        else:
            ok = key.alg is SigAlg.ED25519 and key.verify_raw(
                sig, audit_message(doc["count"], head))
    except (ValueError, TypeError, OverflowError, KeyError, struct.error):
        ok = False
    if not ok:
        report.problems.append(f"line {n}: checkpoint signature does not verify")
    return ok
