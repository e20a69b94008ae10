"""Record framing shared by segment and manifest files.

A file is an 8-byte magic followed by records ``tag (1 byte) | length (4 bytes,
big-endian) | body``. Length-prefixed records let a reader walk a file without
understanding every record, and tell a record cut by power loss (its body runs
past the end of the file) from one that was altered (its signature fails).
"""

from __future__ import annotations

import hashlib
import os
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

SEGMENT_MAGIC = b"BCAMSEG1"
MANIFEST_MAGIC = b"BCAMMAN1"
SEGMENT_MAGIC_2 = b"BCAMSEG2"
MANIFEST_MAGIC_2 = b"BCAMMAN2"
MAGIC_LEN = 8
SEGMENT_VERSIONS = {SEGMENT_MAGIC: 1, SEGMENT_MAGIC_2: 2}
MANIFEST_VERSIONS = {MANIFEST_MAGIC: 1, MANIFEST_MAGIC_2: 2}

TAG_HEADER = 0x48  # 'H'
TAG_CHUNK = 0x43  # 'C'
TAG_TRAILER = 0x54  # 'T'
TAG_MANIFEST = 0x4D  # 'M'
TAG_EVENT = 0x45  # 'E': v2, a signed bookmark or gap in the segment stream

RECORD_HEAD = struct.Struct(">BI")

#: Largest record body any reader accepts: a chunk of MAX_CHUNK_PLAINTEXT plus
#: its fixed fields, tag and signature, with room to spare. Guards memory.
MAX_RECORD_BODY = (16 << 20) + 4096


def record(tag: int, body: bytes) -> bytes:
    """One framed record."""
    return RECORD_HEAD.pack(tag, len(body)) + body


@dataclass(frozen=True, slots=True)
class Record:
    """A record as read: where it starts, its tag, its body."""

    offset: int
    tag: int
    body: bytes


@dataclass(frozen=True, slots=True)
class Cut:
    """The file ends inside a record: the bytes from ``offset`` on are incomplete."""

    offset: int
    have: int
    want: int


@dataclass(frozen=True, slots=True)
class Oversize:
    """A record claims a body larger than any writer produces."""

    offset: int
    tag: int
    length: int


def iter_records(f: BinaryIO, size: int, start: int = MAGIC_LEN) -> Iterator[Record | Cut | Oversize]:
    """Walk the records of file ``f`` (``size`` bytes) from ``start``.

    Ends with a :class:`Cut` or :class:`Oversize` if the file does; reads one
    record at a time so a large segment never has to fit in memory.
    """
    pos = start
    f.seek(pos)
    while pos < size:
        if size - pos < RECORD_HEAD.size:
            yield Cut(pos, size - pos, RECORD_HEAD.size)
            return
        tag, length = RECORD_HEAD.unpack(f.read(RECORD_HEAD.size))
        if length > MAX_RECORD_BODY:
            yield Oversize(pos, tag, length)
            return
        body_start = pos + RECORD_HEAD.size
        if body_start + length > size:
            yield Cut(pos, size - pos, RECORD_HEAD.size + length)
            return
        body = f.read(length)
        if len(body) != length:  # the file shrank under us
            yield Cut(pos, RECORD_HEAD.size + len(body), RECORD_HEAD.size + length)
            return
        yield Record(pos, tag, body)
        pos = body_start + length


#: A v2 chunk body is meta (25) ‖ ciphertext (≥ 16) ‖ signature (65).
V2_CHUNK_META = 25
V2_SIG = 65
_MIN_V2_CHUNK = V2_CHUNK_META + 16 + V2_SIG


def chunk_digest_v2(meta: bytes | memoryview, ct: bytes | memoryview) -> bytes:
    """H(meta ‖ ciphertext): what a v2 chunk signature covers and the segment hash takes."""
    d = hashlib.sha256(meta)
    d.update(ct)
    return d.digest()


def hash_parts_v2(head: bytes, meta: bytes | memoryview, digest: bytes,
                  sig: bytes) -> tuple[bytes, ...]:
    """What the v2 segment hash takes for one chunk record: the record with its
    ciphertext replaced by the chunk digest, so each byte is hashed once."""
    return head, bytes(meta), digest, sig


def segment_hash_v2(f: BinaryIO, size: int) -> bytes:
    """The v2 segment hash of a file (docs/FORMAT.md §5.5), whatever state it is in.

    SHA-256 over the magic and every record as stored, except that a complete
    chunk record (tag C, body at least 106 bytes) contributes
    ``head ‖ meta ‖ H(meta ‖ ciphertext) ‖ signature`` instead of its
    ciphertext; an incomplete or oversized last record, and everything after
    it, is taken as stored. Reads one record at a time.
    """
    h = hashlib.sha256()
    f.seek(0)
    h.update(f.read(MAGIC_LEN))
    pos = MAGIC_LEN
    while pos < size:
        head = f.read(RECORD_HEAD.size)
        if len(head) < RECORD_HEAD.size:
            h.update(head)
            break
        tag, length = RECORD_HEAD.unpack(head)
        if length > MAX_RECORD_BODY or pos + RECORD_HEAD.size + length > size:
            h.update(head)
            while block := f.read(1 << 20):
                h.update(block)
            break
        body = f.read(length)
        if tag == TAG_CHUNK and length >= _MIN_V2_CHUNK:
            meta, ct, sig = body[:V2_CHUNK_META], body[V2_CHUNK_META:-V2_SIG], body[-V2_SIG:]
            for part in hash_parts_v2(head, meta, chunk_digest_v2(meta, ct), sig):
                h.update(part)
        else:
            h.update(head)
            h.update(body)
        pos += RECORD_HEAD.size + length
    return h.digest()


def segment_file_hash(path: str | os.PathLike[str]) -> bytes:
    """The segment hash of a file on disk: v2 as :func:`segment_hash_v2`, v1 (and
    anything else) SHA-256 of the bytes as stored."""
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        if f.read(MAGIC_LEN) == SEGMENT_MAGIC_2:
            return segment_hash_v2(f, size)
        f.seek(0)
        h = hashlib.sha256()
        while block := f.read(1 << 20):
            h.update(block)
        return h.digest()
