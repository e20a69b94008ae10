"""Helpers shared by the evidence tests and the vector generator.

Deterministic keys and randomness (so files are reproducible), tiny real H.264
in MPEG-TS made with PyAV's libx264, and a writer that drives the evidence
store the way the segmenter does.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)

from evidence.identity import DeviceIdentity, device_pub_bytes
from recorder.store import EvidenceStore

FPS = 30
WIDTH, HEIGHT = 160, 120


class DetRandom:
    """Deterministic byte source: SHAKE-256 of a seed, read as a stream."""

    def __init__(self, seed: bytes) -> None:
        self._seed = seed
        self._pos = 0

    def __call__(self, n: int) -> bytes:
        out = hashlib.shake_256(self._seed).digest(self._pos + n)[self._pos:]
        self._pos += n
        return out


class FakeClock:
    """``now()`` that advances one second per call: reproducible wall-clock values."""

    def __init__(self, start: float = 1_750_000_000.0) -> None:
        self.t = start

    def __call__(self) -> float:
        self.t += 1.0
        return self.t


def device_key(seed: bytes = b"device") -> Ed25519PrivateKey:
    """A fixed Ed25519 key."""
    return Ed25519PrivateKey.from_private_bytes(hashlib.sha256(seed).digest())


def custodian_key(seed: bytes = b"custodian") -> X25519PrivateKey:
    """A fixed X25519 key."""
    return X25519PrivateKey.from_private_bytes(hashlib.sha256(seed).digest())


def identity(device_id: str = "CAM-0001", dev_seed: bytes = b"device",
             cust_seed: bytes = b"custodian") -> DeviceIdentity:
    """A device identity with fixed keys."""
    return DeviceIdentity(device_id, device_key(dev_seed),
                          custodian_key(cust_seed).public_key())


def write_custodian_key(path: Path, key: X25519PrivateKey) -> Path:
    """custodian.key as the tools read it."""
    path.write_bytes(key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()))
    return path


def write_device_pub(path: Path, ident: DeviceIdentity) -> Path:
    """device.pub as the tools read it."""
    path.write_bytes(device_pub_bytes(ident.device_id, ident.public, ident.custodian_key_id,
                                      ident.key_store))
    return path


def custodian_pub_pem(key: X25519PrivateKey) -> bytes:
    """custodian.pub bytes."""
    return key.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)


@dataclass(frozen=True)
class Chunk:
    """What the segmenter hands write_chunk."""

    data: bytes
    frames: int
    first_pts_us: int
    last_pts_us: int


def _frame(n: int) -> av.VideoFrame:
    img = np.zeros((HEIGHT, WIDTH, 3), dtype=np.uint8)
    img[:, :, 0] = (n * 7) % 256
    img[:, (n * 3) % WIDTH:, 1] = 200
    img[: (n * 2) % HEIGHT, :, 2] = 120
    return av.VideoFrame.from_ndarray(img, format="rgb24")


def make_segment_chunks(first_frame: int, n_frames: int, gop: int = 10) -> list[Chunk]:
    """One segment of H.264 in MPEG-TS, cut into one chunk per GOP.

    Frame ``k`` has pts ``k / FPS`` s, continuous across segments; each segment
    is its own TS stream starting at a keyframe (as the segmenter writes it).
    """
    buf = io.BytesIO()
    out = av.open(buf, "w", format="mpegts", options={"flush_packets": "1"})
    stream = out.add_stream("libx264", rate=FPS)
    stream.width, stream.height, stream.pix_fmt = WIDTH, HEIGHT, "yuv420p"
    stream.options = {"g": str(gop), "bf": "0", "tune": "zerolatency", "preset": "ultrafast",
                      "keyint_min": str(gop), "sc_threshold": "0"}
    stream.time_base = Fraction(1, FPS)
    chunks: list[Chunk] = []
    pending = bytearray()
    frames: list[int] = []
    taken = 0

    def take() -> bytes:
        nonlocal taken
        data = buf.getvalue()[taken:]
        taken += len(data)
        return data

    def emit() -> None:
        if frames:
            us = [f * 1_000_000 // FPS for f in frames]
            chunks.append(Chunk(bytes(pending), len(frames), us[0], us[-1]))
            pending.clear()
            frames.clear()

    def mux(packets: list[av.Packet]) -> None:
        for pkt in packets:
            if pkt.is_keyframe and frames:
                pending.extend(take())
                emit()
            index = round(pkt.pts * pkt.time_base * FPS)
            out.mux(pkt)
            pending.extend(take())
            frames.append(index)

    for k in range(first_frame, first_frame + n_frames):
        frame = _frame(k)
        frame.pts = k
        frame.time_base = Fraction(1, FPS)
        mux(stream.encode(frame))
    mux(stream.encode(None))
    out.close()
    pending.extend(take())
    emit()
    return chunks


_CHUNK_CACHE: dict[tuple[int, int, int], list[Chunk]] = {}


def chunks_for(first_frame: int, n_frames: int, gop: int = 10) -> list[Chunk]:
    """Cached :func:`make_segment_chunks` (tests build many trees from the same video)."""
    key = (first_frame, n_frames, gop)
    if key not in _CHUNK_CACHE:
        _CHUNK_CACHE[key] = make_segment_chunks(first_frame, n_frames, gop)
    return _CHUNK_CACHE[key]


def record(store: EvidenceStore, seg_frames: tuple[int, ...] = (25, 25, 25), *,
           start_frame: int = 0, utc: float = 1_750_000_000.0, finish: bool = True,
           bookmarks: tuple[int, ...] = ()) -> object:
    """Write one recording the way the segmenter does; returns the Recording."""
    rec = store.begin_recording(utc, "ntp", start_frame * 1_000_000 // FPS)
    frame = start_frame
    for n in seg_frames:
        seg = rec.open_segment()
        for ch in chunks_for(frame, n):
            seg.write_chunk(ch.data, frames=ch.frames, first_pts_us=ch.first_pts_us,
                            last_pts_us=ch.last_pts_us)
        seg.sync()
        rec.close_segment(seg)
        frame += n
    for pts in bookmarks:
        rec.add_bookmark(pts, utc + pts / 1e6, f"mark {pts}")
    if finish:
        rec.finish()
    return rec


def record_offsets(path: Path) -> list[tuple[int, int, int]]:
    """(offset, tag, total length) of each record of an evidence file."""
    from evidence.framing import RECORD_HEAD, Record, iter_records
    data = path.read_bytes()
    out = []
    for rec in iter_records(io.BytesIO(data), len(data)):
        assert isinstance(rec, Record)
        out.append((rec.offset, rec.tag, RECORD_HEAD.size + len(rec.body)))
    return out
