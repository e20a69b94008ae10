"""Record framing shared by segment and manifest files.

A file is an 8-byte magic followed by records ``tag (1 byte) | length (4 bytes,
big-endian) | body``. Length-prefixed records let a reader walk a file without
understanding every record, and tell a record cut by power loss (its body runs
past the end of the file) from one that was altered (its signature fails).
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

SEGMENT_MAGIC = b"BCAMSEG1"
MANIFEST_MAGIC = b"BCAMMAN1"
MAGIC_LEN = 8

TAG_HEADER = 0x48  # 'H'
TAG_CHUNK = 0x43  # 'C'
TAG_TRAILER = 0x54  # 'T'
TAG_MANIFEST = 0x4D  # 'M'

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
