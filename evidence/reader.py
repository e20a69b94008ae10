"""Read and check segment files without any decryption key (manifests: ``evidence.manifest_reader``).

A scan checks every signature against the device key it is given (or, when no
key is pinned, the key the file names) and stops at the first thing that does
not verify, so what it reports as verified is exactly the trustworthy prefix.
It never raises on file content: damaged or hostile bytes become findings.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from evidence import canonical, schema
from evidence.canonical import CanonicalError
from evidence.framing import (
    MAGIC_LEN,
    RECORD_HEAD,
    SEGMENT_MAGIC,
    SEGMENT_VERSIONS,
    TAG_CHUNK,
    TAG_EVENT,
    TAG_HEADER,
    TAG_TRAILER,
    Cut,
    Oversize,
    Record,
    iter_records,
    segment_hash_v2,
)
from evidence.primitives import (
    CHUNK_META,
    FLAG_LAST,
    TAG_LEN,
    chunk_message,
    event_message,
    header_message,
    sha256,
    trailer_message,
)
from evidence.sigcheck import (
    AnyKey,
    as_public,
    embedded_key,
    open_regular,
    sig_len,
    signature_problem,
    verifies,
)
from evidence.signer import SIG2_LEN, PublicKey, SigAlg

#: Classes of finding, from docs/FORMAT.md §9. Every one but "truncated" is an
#: integrity problem.
TRUNCATED = "truncated"
TAMPERED = "tampered"
MISSING = "missing"
REORDERED = "reordered"
DUPLICATED = "duplicated"
FOREIGN = "foreign"
MALFORMED = "malformed"
INTEGRITY_KINDS = (TAMPERED, FOREIGN, MISSING, REORDERED, DUPLICATED, MALFORMED)

MAX_MANIFEST_FILE = 16 << 20


@dataclass(frozen=True, slots=True)
class Finding:
    """Something wrong with a file: its class, where (byte offset), what."""

    kind: str
    offset: int | None
    message: str


@dataclass(frozen=True, slots=True)
class ChunkInfo:
    """A chunk whose signature verified, and where its ciphertext lies."""

    index: int
    last: bool
    frames: int
    first_pts_us: int
    last_pts_us: int
    meta: bytes
    ct_offset: int
    ct_len: int


@dataclass
class SegmentScan:
    """What a scan of one segment file found."""

    path: Path
    size: int = 0
    sha256: bytes = b""
    header: dict[str, Any] | None = None
    header_hash: bytes = b""
    signer_raw: bytes = b""
    version: int = 0
    key: PublicKey | None = None  # the device key the header verified with
    chunk_key: PublicKey | None = None  # what verifies chunks: v1 the device key, v2 the header's
    chunks: list[ChunkInfo] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)  # v2 signed bookmarks/gaps
    trailer: dict[str, Any] | None = None
    complete: bool = False
    findings: list[Finding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when nothing but (possibly) truncation was found."""
        return all(f.kind == TRUNCATED for f in self.findings)

    @property
    def frames(self) -> int:
        """Frames in the verified chunks."""
        return sum(c.frames for c in self.chunks)

    @property
    def payload_bytes(self) -> int:
        """Plaintext bytes in the verified chunks."""
        return sum(c.ct_len - TAG_LEN for c in self.chunks)

    @property
    def pts_range(self) -> tuple[int | None, int | None]:
        """First and last presentation time of verified frames (µs)."""
        with_frames = [c for c in self.chunks if c.frames]
        if not with_frames:
            return None, None
        return with_frames[0].first_pts_us, with_frames[-1].last_pts_us

    def add(self, kind: str, offset: int | None, message: str) -> None:
        """Record a finding."""
        self.findings.append(Finding(kind, offset, message))


class _HashingReader:
    """Reads a file sequentially and hashes every byte that goes by."""

    def __init__(self, f: BinaryIO) -> None:
        self._f = f
        self.digest = hashlib.sha256()
        self.pos = 0

    def read(self, n: int) -> bytes:
        data = self._f.read(n)
        self.digest.update(data)
        self.pos += len(data)
        return data

    def seek(self, pos: int) -> None:
        if pos != self.pos:  # only sequential reading keeps the hash right
            raise ValueError("non-sequential read")

    def finish(self) -> bytes:
        while self.read(1 << 20):
            pass
        return self.digest.digest()


def _parse(data: bytes, spec: dict[str, Any], what: str) -> tuple[dict[str, Any] | None, str]:
    try:
        return schema.check(canonical.decode_object(data), spec, what), ""
    except CanonicalError as exc:
        return None, str(exc)


class _PlainReader:
    """Sequential reads without hashing (the v2 hash is taken in its own pass)."""

    def __init__(self, f: BinaryIO) -> None:
        self._f = f

    def read(self, n: int) -> bytes:
        return self._f.read(n)

    def seek(self, pos: int) -> None:
        self._f.seek(pos)


def scan_segment(path: Path, key: AnyKey | None) -> SegmentScan:
    """Check one segment file (v1 or v2); ``key`` None means trust the key the header
    names. Reads only a regular file, never through a symlink."""
    scan = SegmentScan(Path(path))
    try:
        with open_regular(path) as raw:
            scan.size = os.fstat(raw.fileno()).st_size
            magic = raw.read(MAGIC_LEN)
            raw.seek(0)
            scan.version = SEGMENT_VERSIONS.get(magic, 1)
            if scan.version == 1:
                reader: Any = _HashingReader(raw)
                _scan_body(scan, reader, None if key is None else as_public(key))
                scan.sha256 = reader.finish()
            else:
                _scan_body(scan, _PlainReader(raw), None if key is None else as_public(key))
                scan.sha256 = segment_hash_v2(raw, scan.size)
    except OSError as exc:
        scan.add(MALFORMED, None, f"cannot read: {exc.strerror or exc}")
    return scan


def _scan_body(scan: SegmentScan, reader: Any, key: PublicKey | None) -> None:
    magic = reader.read(MAGIC_LEN)
    if magic not in SEGMENT_VERSIONS:
        if len(magic) < MAGIC_LEN and (SEGMENT_MAGIC.startswith(magic)
                                       or b"BCAMSEG2".startswith(magic)):
            scan.add(TRUNCATED, 0, f"file ends after {len(magic)} bytes, before the header")
        else:
            scan.add(MALFORMED, 0, "not a bodycam segment file (bad magic)")
        return
    version = scan.version
    slen = sig_len(version)
    records = iter_records(reader, scan.size)
    first = next(records, None)
    if first is None or isinstance(first, Cut):
        scan.add(TRUNCATED, MAGIC_LEN, "file ends inside the segment header")
        return
    if isinstance(first, Oversize) or first.tag != TAG_HEADER or len(first.body) <= slen:
        scan.add(MALFORMED, MAGIC_LEN, "first record is not a segment header")
        return
    header_json, header_sig = first.body[:-slen], first.body[-slen:]
    header, err = _parse(header_json, schema.HEADER if version == 1 else schema.HEADER_V2,
                         "segment header")
    if key is None:
        key = embedded_key(header)
        if key is None:
            scan.add(MALFORMED, first.offset, f"header unreadable, no key to check it: {err}")
            return
    scan.signer_raw = key.raw
    scan.key = key
    msg = header_message(header_json, version)
    if not verifies(key, header_sig, msg, version):
        foreign, text = signature_problem(header, key, header_sig, msg, "segment header",
                                          version)
        scan.add(FOREIGN if foreign else TAMPERED, first.offset, text)
        return
    if header is None:
        scan.add(MALFORMED, first.offset, f"header is signed but invalid: {err}")
        return
    if version == 1:
        scan.chunk_key = key
    else:
        scan.chunk_key = PublicKey(SigAlg.ED25519, bytes.fromhex(header["chunk_key"]))
    scan.header = header
    scan.header_hash = sha256(header_json)
    _scan_chunks(scan, records, header_sig)


def _scan_chunks(scan: SegmentScan, records: Any, header_sig: bytes) -> None:
    prev_sig = header_sig
    seen: dict[int, bytes] = {}
    final_sig: bytes | None = None
    version = scan.version
    slen = sig_len(version)
    min_chunk = CHUNK_META.size + TAG_LEN + slen
    for rec in records:
        if isinstance(rec, Cut):
            scan.add(TRUNCATED, rec.offset, f"file ends inside a record ({rec.have} of "
                     f"{rec.want} bytes) after chunk {len(scan.chunks) - 1}")
            return
        if isinstance(rec, Oversize):
            scan.add(TAMPERED, rec.offset, f"record claims {rec.length} bytes, more than any "
                     "writer produces")
            return
        if final_sig is not None:
            if scan.trailer is None and rec.tag == TAG_TRAILER:
                if not _check_trailer(scan, rec, final_sig):
                    return
                continue
            scan.add(TAMPERED, rec.offset, "data after the end of the segment")
            return
        if rec.tag == TAG_EVENT and version >= 2:
            sig = _check_event(scan, rec, prev_sig)
            if sig is None:
                return
            prev_sig = sig
            continue
        if rec.tag == TAG_TRAILER:
            scan.add(MISSING, rec.offset, f"trailer follows chunk {len(scan.chunks) - 1} but "
                     "the final chunk is missing")
            return
        if rec.tag != TAG_CHUNK or len(rec.body) < min_chunk:
            scan.add(TAMPERED, rec.offset, f"unexpected record (type 0x{rec.tag:02x}, "
                     f"{len(rec.body)} bytes) where chunk {len(scan.chunks)} should be")
            return
        meta = rec.body[:CHUNK_META.size]
        ct = rec.body[CHUNK_META.size:-slen]
        sig = rec.body[-slen:]
        index, flags, frames, first_pts, last_pts = CHUNK_META.unpack(meta)
        digest = sha256(meta + ct)
        expected = len(scan.chunks)
        if index != expected:
            _misplaced(scan, rec, index, expected, digest, seen, records)
            return
        if not verifies(scan_key(scan), sig, chunk_message(scan.header_hash, index, digest,
                                                            prev_sig, version), version):
            scan.add(TAMPERED, rec.offset, f"chunk {index} signature does not verify (altered)")
            return
        if flags & ~FLAG_LAST:
            scan.add(MALFORMED, rec.offset, f"chunk {index} has unknown flags 0x{flags:02x}")
            return
        ct_offset = rec.offset + RECORD_HEAD.size + CHUNK_META.size
        scan.chunks.append(ChunkInfo(index, bool(flags & FLAG_LAST), frames, first_pts,
                                     last_pts, meta, ct_offset, len(ct)))
        seen[index] = digest
        prev_sig = sig
        if flags & FLAG_LAST:
            final_sig = sig
    if final_sig is None:
        scan.add(TRUNCATED, None, f"file ends after chunk {len(scan.chunks) - 1} without the "
                 "final chunk")
    elif scan.trailer is None:
        scan.add(TRUNCATED, None, "file ends after the final chunk, before the trailer")
    else:
        scan.complete = True


def scan_key(scan: SegmentScan) -> PublicKey:
    """The key a scan checks chunks and the trailer against."""
    assert scan.chunk_key is not None
    return scan.chunk_key


def _misplaced(scan: SegmentScan, rec: Record, index: int, expected: int, digest: bytes,
               seen: dict[int, bytes], records: Any) -> None:
    """Class a chunk found out of place: duplicated, reordered, or a gap (missing)."""
    if index in seen:
        if seen[index] == digest:
            scan.add(DUPLICATED, rec.offset, f"chunk {index} appears again where chunk "
                     f"{expected} should be")
        else:
            scan.add(TAMPERED, rec.offset, f"a second, different chunk {index} where chunk "
                     f"{expected} should be")
        return
    later = set()
    for other in records:
        if isinstance(other, Record) and other.tag == TAG_CHUNK and len(other.body) >= 4:
            later.add(int.from_bytes(other.body[:4], "big"))
    if index > expected and expected not in later:
        scan.add(MISSING, rec.offset, f"chunk {expected} is missing (chunk {index} follows "
                 f"chunk {expected - 1})")
    else:
        scan.add(REORDERED, rec.offset, f"chunk {index} found where chunk {expected} should be")


def _check_event(scan: SegmentScan, rec: Record, prev_sig: bytes) -> bytes | None:
    """A signed event record (v2); its signature, or None after recording a finding."""
    body = rec.body
    if len(body) <= SIG2_LEN:
        scan.add(TAMPERED, rec.offset, "event record too short")
        return None
    ejson, sig = body[:-SIG2_LEN], body[-SIG2_LEN:]
    msg = event_message(scan.header_hash, len(scan.chunks), sha256(ejson), prev_sig)
    if not verifies(scan_key(scan), sig, msg, 2):
        scan.add(TAMPERED, rec.offset, "event signature does not verify (altered, or moved)")
        return None
    try:
        doc = canonical.decode_object(ejson)
        spec = schema.EVENT_BOOKMARK if doc.get("kind") == "bookmark" else schema.EVENT_GAP
        schema.check(doc, spec, "event")
    except CanonicalError as exc:
        scan.add(MALFORMED, rec.offset, f"event is signed but invalid: {exc}")
        return None
    scan.events.append(doc)
    return sig


def _check_trailer(scan: SegmentScan, rec: Record, final_sig: bytes) -> bool:
    body = rec.body
    slen = sig_len(scan.version)
    if len(body) <= slen:
        scan.add(TAMPERED, rec.offset, "trailer record too short")
        return False
    tjson, tsig = body[:-slen], body[-slen:]
    if not verifies(scan_key(scan), tsig, trailer_message(scan.header_hash, final_sig, tjson,
                                                           scan.version), scan.version):
        scan.add(TAMPERED, rec.offset, "trailer signature does not verify (altered)")
        return False
    trailer, err = _parse(tjson, schema.TRAILER, "segment trailer")
    if trailer is None:
        scan.add(MALFORMED, rec.offset, f"trailer is signed but invalid: {err}")
        return False
    first, last = scan.pts_range
    assert scan.header is not None
    if (trailer["chunks"] != len(scan.chunks) or trailer["frames"] != scan.frames
            or trailer["payload_bytes"] != scan.payload_bytes
            or trailer["segment_index"] != scan.header["segment_index"]
            or trailer["first_pts_us"] != first or trailer["last_pts_us"] != last):
        scan.add(MALFORMED, rec.offset, "trailer totals disagree with the chunks")
        return False
    scan.trailer = trailer
    return True
