"""Join decrypted MPEG-TS segments into one MP4 without re-encoding (PyAV).

Each segment is its own TS stream; their packets are copied into one MP4 with
timestamps rebased so the video starts at 0, kept continuous across segments
(if a segment's clock restarts, it is shifted to follow the one before), and
every packet given a duration so players show the right length and frame rate.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
from av.error import FFmpegError


@dataclass(frozen=True)
class RemuxResult:
    """What went into the MP4."""

    frames: int
    duration_s: float
    fps: float | None


class RemuxError(Exception):
    """The decrypted stream could not be remuxed (not H.264 in MPEG-TS, or empty)."""


def remux_to_mp4(ts_paths: list[Path], out_path: Path) -> RemuxResult:
    """Copy the first video stream of each TS file, in order, into ``out_path`` (MP4)."""
    try:
        return _remux(ts_paths, out_path)
    except (FFmpegError, ValueError, OSError) as exc:
        raise RemuxError(str(exc).splitlines()[0] if str(exc) else type(exc).__name__) \
            from None


def _remux(ts_paths: list[Path], out_path: Path) -> RemuxResult:
    out = av.open(str(out_path), "w", format="mp4")
    try:
        ostream = None
        offset: int | None = None
        shift = 0
        last_dts: int | None = None
        frame_dur = 0
        frames = 0
        end = 0
        rate: Fraction | None = None
        for path in ts_paths:
            with av.open(str(path), "r", format="mpegts") as inp:
                video = [s for s in inp.streams if s.type == "video"]
                if not video:
                    continue
                vs = video[0]
                if ostream is None:
                    ostream = out.add_stream_from_template(vs)
                    rate = vs.average_rate or vs.guessed_rate or Fraction(30)
                    assert vs.time_base is not None  # a demuxed video stream has one
                    frame_dur = max(1, round(1 / (rate * vs.time_base)))
                    ostream.time_base = vs.time_base
                pending = None
                first = True
                for pkt in inp.demux(vs):
                    if pkt.dts is None and pkt.pts is None:
                        continue
                    dts = pkt.dts if pkt.dts is not None else pkt.pts
                    pts = pkt.pts if pkt.pts is not None else dts
                    assert dts is not None and pts is not None  # one of them is set (above)
                    if offset is None:
                        offset = dts
                    if first:
                        first = False
                        start = dts - offset + shift
                        if last_dts is not None and start <= last_dts:
                            shift += last_dts + frame_dur - start
                    pkt.dts = dts - offset + shift
                    pkt.pts = pts - offset + shift
                    if pending is not None:
                        assert pending.dts is not None
                        if not pending.duration:
                            pending.duration = max(1, pkt.dts - pending.dts)
                        out.mux(pending)
                        frames += 1
                    pkt.stream = ostream
                    pending = pkt
                    last_dts = pkt.dts
                if pending is not None:
                    if not pending.duration:
                        pending.duration = frame_dur
                    assert pending.pts is not None
                    end = max(end, pending.pts + pending.duration)
                    out.mux(pending)
                    frames += 1
        if ostream is None or frames == 0:
            raise ValueError("no video packets to export")
        tb = ostream.time_base
    finally:
        out.close()
    return RemuxResult(frames, float(end * tb) if tb else 0.0,
                       float(rate) if rate else None)
