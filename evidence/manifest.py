"""Recording manifests: the signed summary that closes each recording (FORMAT.md §7)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evidence import canonical
from evidence.framing import MANIFEST_MAGIC_2, TAG_MANIFEST, record
from evidence.layout import MANIFEST_NAME
from evidence.primitives import FORMAT_VERSION_2, manifest_message
from evidence.reader import SegmentScan
from evidence.signer import Signer, sign2


def span_us(frames: int, first: int | None, last: int | None) -> int:
    """Duration of ``frames`` frames from first to last pts, plus one mean frame interval."""
    if not frames or first is None or last is None or last < first:
        return 0
    if frames == 1:
        return 0
    return (last - first) + (last - first) // (frames - 1)


@dataclass(frozen=True)
class SegmentEntry:
    """One segment as a manifest lists it."""

    index: int
    file: str
    sha256: bytes
    size: int
    complete: bool
    chunks: int
    frames: int
    first_pts_us: int | None
    last_pts_us: int | None
    payload_bytes: int

    def to_doc(self) -> dict[str, Any]:
        """JSON form."""
        return {"chunks": self.chunks, "complete": self.complete, "file": self.file,
                "first_pts_us": self.first_pts_us, "frames": self.frames, "index": self.index,
                "last_pts_us": self.last_pts_us, "payload_bytes": self.payload_bytes,
                "sha256": self.sha256.hex(), "size": self.size}

    @classmethod
    def from_scan(cls, index: int, scan: SegmentScan) -> SegmentEntry:
        """Entry for a file as it is on disk (cut, failed or recovered)."""
        first, last = scan.pts_range
        return cls(index, scan.path.name, scan.sha256, scan.size, scan.complete,
                   len(scan.chunks), scan.frames, first, last, scan.payload_bytes)


def manifest_bytes(fields: dict[str, Any], entries: list[SegmentEntry],
                   signer: Signer) -> bytes:
    """The complete v2 manifest file: magic, then one manifest record signed by the
    device key.

    ``fields`` carries the recording-level values (ids, times, bookmarks, gaps,
    start_prev_hash, recovered, note, finished_utc_us, counter); totals and the
    chain link are computed here from ``entries``.
    """
    frames = sum(e.frames for e in entries)
    firsts = [e.first_pts_us for e in entries if e.frames and e.first_pts_us is not None]
    lasts = [e.last_pts_us for e in entries if e.frames and e.last_pts_us is not None]
    doc = dict(fields)
    doc.update({
        "duration_us": span_us(frames, min(firsts, default=None), max(lasts, default=None)),
        "format_version": FORMAT_VERSION_2,
        "frames": frames,
        "kind": "recording-manifest",
        "prev_hash": entries[-1].sha256.hex() if entries else fields["start_prev_hash"],
        "segments": [e.to_doc() for e in entries],
    })
    mjson = canonical.encode(doc)
    sig = sign2(signer, manifest_message(mjson, FORMAT_VERSION_2))
    return MANIFEST_MAGIC_2 + record(TAG_MANIFEST, mjson + sig)


def manifest_path(recording_dir: Path) -> Path:
    """Where a recording's manifest lives."""
    return Path(recording_dir) / MANIFEST_NAME
