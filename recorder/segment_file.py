"""One segment file being written: header, STREAM chunks, trailer (FORMAT.md §5), v2.

The device key (possibly in a TPM, tens of ms a signature) signs the header
only. The header certifies a fresh Ed25519 *chunk key* that exists in RAM only
and signs the chunks and the trailer; it is dropped at close (a certified
ephemeral key, as in TLS delegated credentials, RFC 9345).

Every chunk is sealed, signed and handed to the OS in one ``write`` as soon as
it arrives, so a power cut loses at most the chunk being written and the file
keeps a verifiable prefix. A failed write is cut back off the file, so the file
never claims data it does not hold; the error still reaches the caller.
"""

from __future__ import annotations

import errno
import hashlib
import os
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from evidence import canonical
from evidence.framing import (
    RECORD_HEAD,
    SEGMENT_MAGIC_2,
    TAG_CHUNK,
    TAG_EVENT,
    TAG_HEADER,
    TAG_TRAILER,
    chunk_digest_v2,
    hash_parts_v2,
    record,
)
from evidence.fsutil import fsync_dir, writev_all
from evidence.primitives import (
    FORMAT_VERSION_2,
    MAX_CHUNK_INDEX,
    chunk_message,
    chunk_meta,
    event_message,
    forget,
    header_message,
    seal_chunk,
    sha256,
    trailer_message,
)
from evidence.signer import KeyFileSigner, Signer, sign2

V2 = FORMAT_VERSION_2

#: Plaintext beyond this is split over several chunks (bounds reader memory).
MAX_CHUNK_PLAINTEXT = 8 << 20
_I64 = 1 << 63


class Segment:
    """An open segment. Create through ``Recording.open_segment``."""

    def __init__(self, path: Path, index: int, header: dict[str, Any],
                 device: Signer, chunk_key: KeyFileSigner, data_key: bytearray,
                 nonce_prefix: bytes) -> None:
        self.path = Path(path)
        self.index = index
        self._signer: KeyFileSigner | None = chunk_key
        self._key = data_key
        self._aead: AESGCM | None = AESGCM(data_key)
        self._prefix = nonce_prefix
        header_json = canonical.encode(header)
        self.header_hash = sha256(header_json)
        header_sig = sign2(device, header_message(header_json, V2))  # the one device signature
        self._prev_sig = header_sig
        self._hash = hashlib.sha256()
        self._next_index = 0
        self.frames = 0
        self.payload_bytes = 0
        self.first_pts_us: int | None = None
        self.last_pts_us: int | None = None
        self.complete = False
        self.closed = False
        self._consistent = True  # False once a failed write could not be cut back
        self._spent: tuple[bytes, list[bytes | memoryview], list[bytes | memoryview], int,
                           bytes] | None = None  # a sealed chunk whose write failed
        self._offset = 0
        self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        try:
            self._append(SEGMENT_MAGIC_2 + record(TAG_HEADER, header_json + header_sig))
            os.fsync(self._fd)
            fsync_dir(self.path.parent)
        except BaseException:
            self._drop_key()
            self.closed = True
            os.close(self._fd)
            raise

    # -- writing -----------------------------------------------------------------

    def _append(self, *parts: bytes | memoryview,
                hashed: list[bytes | memoryview] | None = None) -> None:
        """Write ``parts`` at the end; on failure cut the file back and re-raise.

        ``hashed``: what the segment hash takes for these parts, if not the parts
        themselves (a chunk contributes its digest instead of its ciphertext)."""
        if not self._consistent:
            raise OSError(errno.EIO, f"{self.path}: unusable after an earlier failed write")
        try:
            writev_all(self._fd, list(parts))
        except OSError:
            try:
                os.ftruncate(self._fd, self._offset)
                os.lseek(self._fd, self._offset, os.SEEK_SET)
            except OSError:
                self._consistent = False
            raise
        for part in parts:
            self._offset += len(part)
        for part in (parts if hashed is None else hashed):
            self._hash.update(part)

    def _chunk_record(self, index: int, last: bool, frames: int, first: int, last_pts: int,
                      plaintext: bytes | memoryview,
                      prev_sig: bytes) -> tuple[tuple[bytes, ...], tuple[bytes, ...], bytes]:
        """The chunk record as its parts (written with writev, never joined), what the
        segment hash takes of it, and its signature. Each byte is hashed once: the
        chunk digest serves the signature and the segment hash."""
        assert self._aead is not None and self._signer is not None
        meta = chunk_meta(index, last, frames, first, last_pts)
        ct = seal_chunk(self._aead, self._prefix, self.header_hash, meta, index, last,
                        plaintext)
        digest = chunk_digest_v2(meta, ct)
        sig = sign2(self._signer, chunk_message(self.header_hash, index, digest, prev_sig, V2))
        head = RECORD_HEAD.pack(TAG_CHUNK, len(meta) + len(ct) + len(sig))
        return (head, meta, ct, sig), hash_parts_v2(head, meta, digest, sig), sig

    def write_chunk(self, plaintext: bytes, *, frames: int, first_pts_us: int,
                    last_pts_us: int) -> None:
        """Seal (STREAM), sign, write and flush one chunk of MPEG-TS; no fsync."""
        if self.closed:
            raise ValueError(f"{self.path}: segment is closed")
        if not 0 <= frames <= 0xFFFFFFFF:
            raise ValueError("frames out of range")
        if not (-_I64 <= first_pts_us < _I64 and -_I64 <= last_pts_us < _I64):
            raise ValueError("pts out of range")
        view = memoryview(plaintext).cast("B")
        if self._spent is not None:
            self._retry_spent(self._content_id(view, frames, first_pts_us, last_pts_us))
            self.frames += frames
            self.payload_bytes += len(view)
            if frames:
                if self.first_pts_us is None:
                    self.first_pts_us = first_pts_us
                self.last_pts_us = last_pts_us
            return
        pieces = [view[i:i + MAX_CHUNK_PLAINTEXT]
                  for i in range(0, len(view), MAX_CHUNK_PLAINTEXT)] or [view]
        if self._next_index + len(pieces) > MAX_CHUNK_INDEX:  # one index stays for the final
            raise ValueError(f"{self.path}: too many chunks in one segment")
        out: list[bytes | memoryview] = []
        hashed: list[bytes | memoryview] = []
        index, prev_sig = self._next_index, self._prev_sig
        for n, piece in enumerate(pieces):
            # Frames are counted on the last piece of a split so sums stay right.
            piece_frames = frames if n == len(pieces) - 1 else 0
            rec, part_hash, prev_sig = self._chunk_record(index, False, piece_frames,
                                                          first_pts_us, last_pts_us, piece,
                                                          prev_sig)
            out.extend(rec)
            hashed.extend(part_hash)
            index += 1
        try:
            self._append(*out, hashed=hashed)
        except OSError:
            # The sealed bytes may have reached the medium before the cut: their
            # nonces are spent. The same chunk may be written again as the very same
            # bytes; anything else would need these nonces again, and is refused.
            # Identified by a hash taken only now: the good path hashes each byte once.
            self._spent = (self._content_id(view, frames, first_pts_us, last_pts_us), out,
                           hashed, index, prev_sig)
            raise
        self._next_index, self._prev_sig = index, prev_sig
        self.frames += frames
        self.payload_bytes += len(view)
        if frames:
            if self.first_pts_us is None:
                self.first_pts_us = first_pts_us
            self.last_pts_us = last_pts_us

    @staticmethod
    def _content_id(view: memoryview, frames: int, first: int, last: int) -> bytes:
        d = hashlib.sha256(view)
        d.update(f"{frames},{first},{last}".encode())
        return d.digest()

    def _retry_spent(self, ident: bytes) -> None:
        """Write a chunk whose first write failed: its sealed bytes as they were, never
        a new encryption under the same nonce."""
        assert self._spent is not None
        spent_id, out, hashed, index, prev_sig = self._spent
        if ident != spent_id:
            raise OSError(errno.EIO, f"{self.path}: a chunk whose write failed must be written "
                          "again unchanged (its nonce is spent); open a new segment")
        self._append(*out, hashed=hashed)
        self._spent = None
        self._next_index, self._prev_sig = index, prev_sig

    def write_event(self, event: dict[str, Any]) -> None:
        """A bookmark or gap as a record signed by the chunk key, in the signature
        chain, as it happens (nothing unsigned is read back later)."""
        if self.closed or self._signer is None:
            raise ValueError(f"{self.path}: segment is closed")
        if self._spent is not None:
            raise OSError(errno.EIO, f"{self.path}: a failed chunk must be written first")
        ejson = canonical.encode(event)
        sig = sign2(self._signer, event_message(self.header_hash, self._next_index,
                                                sha256(ejson), self._prev_sig))
        self._append(record(TAG_EVENT, ejson + sig))
        self._prev_sig = sig

    def sync(self) -> None:
        """fsync the segment file (the caller decides how often)."""
        if not self.closed:
            os.fsync(self._fd)

    # -- closing -----------------------------------------------------------------

    @property
    def chunks(self) -> int:
        """Chunk records written so far (including the final one once closed)."""
        return self._next_index

    def file_hash(self) -> bytes:
        """SHA-256 of the bytes written (valid while the file is consistent)."""
        return self._hash.digest()

    @property
    def size(self) -> int:
        """Bytes in the file."""
        return self._offset

    @property
    def consistent(self) -> bool:
        """False if a failed write left bytes of unknown content at the end."""
        return self._consistent

    def _drop_key(self) -> None:
        """Forget the data key: zero our copy, free the cipher context."""
        forget(self._key)
        self._aead = None
        self._signer = None  # the chunk key: nothing signs for this segment any more

    def close(self, closed_utc_us: int) -> None:
        """Final chunk (last flag, empty), signed trailer, fsync; the key is dropped.

        Called by ``Recording.close_segment``. The data key is gone afterwards even
        if the write fails (then the segment stays unterminated, like a power cut).
        """
        if self.closed:
            return
        try:
            # A spent chunk that was never written again is simply not in the file: the
            # final chunk takes its counter with the last flag, a nonce never used.
            self._spent = None
            index = self._next_index
            pts = self.last_pts_us if self.last_pts_us is not None else 0
            final, final_hash, final_sig = self._chunk_record(index, True, 0, pts, pts, b"",
                                                              self._prev_sig)
            trailer_json = canonical.encode({
                "chunks": index + 1,
                "closed_utc_us": closed_utc_us,
                "first_pts_us": self.first_pts_us,
                "frames": self.frames,
                "kind": "segment-trailer",
                "last_pts_us": self.last_pts_us,
                "payload_bytes": self.payload_bytes,
                "segment_index": self.index,
            })
            assert self._signer is not None
            trailer_sig = sign2(self._signer, trailer_message(self.header_hash, final_sig,
                                                              trailer_json, V2))
            self._drop_key()
            trailer = record(TAG_TRAILER, trailer_json + trailer_sig)
            self._append(*final, trailer, hashed=[*final_hash, trailer])
            self._next_index = index + 1
            self._prev_sig = final_sig
            os.fsync(self._fd)
            self.complete = True
        finally:
            self._drop_key()
            self.closed = True
            os.close(self._fd)
