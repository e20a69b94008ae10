"""Thumbnails for the report: frames decrypted with the custodian key, decoded with PyAV.

Only chunks whose signatures verified are decrypted (the same path as
``bodycam export``), one segment at a time and only the segments a wanted
moment falls in. Each frame becomes a small JPEG embedded as a ``data:`` URI, so
the page needs nothing from outside itself.
"""

from __future__ import annotations

import base64
import io
import shutil
import tempfile
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

import av
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from evidence.check import RecordingCheck
from evidence.reader import SegmentScan
from office.export import _decrypt_segment, _Fail
from office.report_model import Mark, RecordingView, Thumb

#: Thumbnail width in pixels (height follows the frame's aspect ratio).
THUMB_WIDTH = 320


class Side(Enum):
    """Which frame a wanted moment means."""

    AT = "at"  # the frame nearest the time
    BEFORE = "before"  # the last frame at or before it
    AFTER = "after"  # the first frame at or after it


@dataclass(frozen=True)
class Wanted:
    """A frame the report wants to show."""

    caption: str
    pts_us: int
    side: Side


def wanted_frames(view: RecordingView) -> list[Wanted]:
    """The start, each bookmark, and either side of each gap (before dropped footage)."""
    if view.t0_us is None:
        return []
    out = [Wanted("start", view.t0_us, Side.AT)]
    t0 = view.t0_us
    for m in view.moments:
        if m.kind is Mark.BOOKMARK and m.pts_us is not None:
            out.append(Wanted(f"bookmark at {m.start_s:.1f} s", m.pts_us, Side.AT))
        elif m.kind in (Mark.GAP, Mark.DROPPED) and m.end_s is not None:
            begin = t0 + round(m.start_s * 1e6)
            what = "the gap" if m.kind is Mark.GAP else "the footage dropped on the full card"
            out.append(Wanted(f"before {what} at {m.start_s:.1f} s", begin, Side.BEFORE))
            if m.kind is Mark.GAP:
                out.append(Wanted(f"after the gap, at {m.end_s:.1f} s",
                                  t0 + round(m.end_s * 1e6), Side.AFTER))
    return out


def _segment_for(segs: list[SegmentScan], w: Wanted) -> SegmentScan | None:
    spans = [(s, first, last) for s in segs
             for first, last in [s.pts_range] if first is not None and last is not None]
    for s, first, last in spans:
        if first <= w.pts_us <= last:  # type: ignore[operator]
            return s
    if w.side is Side.AFTER:
        later = [(first, s) for s, first, _ in spans if first >= w.pts_us]  # type: ignore[operator]
        return min(later, key=lambda x: x[0])[1] if later else None
    earlier = [(last, s) for s, _, last in spans if last <= w.pts_us]  # type: ignore[operator]
    return max(earlier, key=lambda x: x[0])[1] if earlier else None


def _better(w: Wanted, pts: int, best: tuple[int, av.VideoFrame] | None) -> bool:
    """Whether the frame at ``pts`` suits ``w`` better than ``best`` (frames come in order)."""
    if w.side is Side.BEFORE:
        return pts <= w.pts_us
    if w.side is Side.AFTER:
        return pts >= w.pts_us and best is None
    return best is None or abs(pts - w.pts_us) < abs(best[0] - w.pts_us)


def _decode(ts: Path, first_pts_us: int,
            wanted: list[Wanted]) -> list[tuple[int, av.VideoFrame] | None]:
    """The frame each of ``wanted`` means, decoding one segment once; only the best
    candidate per wanted frame is kept, so memory stays a few frames."""
    best: list[tuple[int, av.VideoFrame] | None] = [None] * len(wanted)
    last_needed = max(w.pts_us for w in wanted)
    with av.open(str(ts)) as container:
        t_first: float | None = None
        for frame in container.decode(video=0):
            if frame.time is None:
                continue
            if t_first is None:
                t_first = frame.time
            pts = first_pts_us + round((frame.time - t_first) * 1e6)
            for i, w in enumerate(wanted):
                if _better(w, pts, best[i]):
                    best[i] = (pts, frame)
            if pts > last_needed and all(b is not None for b in best):
                break
    return best


def _jpeg_uri(frame: av.VideoFrame) -> str:
    height = max(2, round(frame.height * THUMB_WIDTH / frame.width / 2) * 2)
    image = frame.to_image().resize((THUMB_WIDTH, height))
    buf = io.BytesIO()
    image.save(buf, format="JPEG", quality=88)
    return "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def thumbnails(view: RecordingView, check: RecordingCheck,
               custodian: X25519PrivateKey) -> list[str]:
    """Decode the wanted frames into ``view.thumbs``; returns what could not be shown."""
    segs = [s for s in (check.usable if check.integrity_ok else check.segments)
            if s.header is not None and s.chunks]
    problems: list[str] = []
    groups: dict[Path, tuple[SegmentScan, list[Wanted]]] = {}
    for w in wanted_frames(view):
        seg = _segment_for(segs, w)
        if seg is None:
            problems.append(f"{view.recording_id}: no verified frame for {w.caption}")
            continue
        groups.setdefault(seg.path, (seg, []))[1].append(w)
    work = Path(tempfile.mkdtemp(prefix="bodycam-report-"))
    try:
        for n, (seg, ws) in enumerate(groups.values()):
            ts = work / f"{n:06d}.ts"
            try:
                _decrypt_segment(seg, custodian, ts)
                picked = _decode(ts, seg.pts_range[0] or 0, ws)
            except (_Fail, av.error.FFmpegError, OSError) as exc:  # pyright: ignore[reportAttributeAccessIssue]
                problems.append(f"{seg.path.name}: cannot show frames: {exc}")
                continue
            finally:
                ts.unlink(missing_ok=True)
            for w, got in zip(ws, picked, strict=True):
                if got is None:
                    problems.append(f"{view.recording_id}: no decodable frame for {w.caption}")
                    continue
                pts, frame = got
                view.thumbs.append(Thumb(w.caption, view.offset(pts), pts, _jpeg_uri(frame)))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    view.thumbs.sort(key=lambda t: t.pts_us)
    return problems
