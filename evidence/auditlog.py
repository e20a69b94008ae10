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
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from evidence.fsutil import write_all
from evidence.primitives import audit_message, key_id
from evidence.timefmt import iso_utc_us, us_of

GENESIS = "0" * 64
RESERVED = frozenset({"seq", "utc", "mono_us", "event", "prev", "hash"})
CHECKPOINT = "audit.checkpoint"
TORN = "audit.torn_line"
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


class AuditLog:
    """Append-only audit log at ``path``; ``signer`` signs checkpoints (None: cannot)."""

    def __init__(self, path: Path, signer: Ed25519PrivateKey | None, *,
                 clock: Any = None) -> None:
        self.path = Path(path)
        self.signer = signer
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
            self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
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

    def checkpoint(self) -> dict[str, Any]:
        """Append a signed checkpoint over everything so far; needs a signer."""
        if self.signer is None:
            raise ValueError("this audit log has no signing key; it cannot checkpoint")
        public = self.signer.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        sig = self.signer.sign(audit_message(self.seq, bytes.fromhex(self.head)))
        return self.append(CHECKPOINT, count=self.seq, head=self.head, key=key_id(public),
                           sig=sig.hex())

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

    @property
    def ok(self) -> bool:
        """True if the chain and every checkpoint verified."""
        return not self.problems


def verify_audit_log(path: Path, public_key: Ed25519PublicKey | None = None) -> AuditReport:
    """Check the chain and (with ``public_key``) every checkpoint signature."""
    report = AuditReport()
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        report.problems.append(f"{path}: cannot read: {exc.strerror or exc}")
        return report
    lines = data.split(b"\n")
    tail_unterminated = lines[-1] != b""
    if not tail_unterminated:
        lines.pop()
    seq, head = 0, GENESIS
    pending_torn: dict[int, bytes] = {}
    for n, line in enumerate(lines, start=1):
        opened = open_line(line)
        if opened is None:
            if n == len(lines):
                report.notes.append(f"line {n}: torn last entry (crash while writing)")
            else:
                pending_torn[n] = line
            continue
        doc, digest = opened
        if doc["event"] == TORN and doc.get("line") in pending_torn:
            frag = pending_torn.pop(doc["line"])
            if doc.get("sha256") == hashlib.sha256(frag).hexdigest():
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
        if doc["event"] == CHECKPOINT:
            if _checkpoint_ok(doc, public_key, report, n):
                report.checkpoints += 1
                report.unsigned_tail = 0
    for bad in sorted(pending_torn):
        report.problems.append(f"line {bad}: not an intact entry (altered or inserted)")
    if public_key is None:
        report.notes.append("no public key given: checkpoint signatures not checked")
    return report


def _checkpoint_ok(doc: dict[str, Any], key: Ed25519PublicKey | None, report: AuditReport,
                   n: int) -> bool:
    if doc.get("count") != doc["seq"] or doc.get("head") != doc["prev"]:
        report.problems.append(f"line {n}: checkpoint does not cover the entries before it")
        return False
    if key is None:
        return False
    try:
        key.verify(bytes.fromhex(doc.get("sig", "")),
                   audit_message(doc["count"], bytes.fromhex(doc["head"])))
    except (InvalidSignature, ValueError, TypeError, OverflowError):
        report.problems.append(f"line {n}: checkpoint signature does not verify")
        return False
    return True
