"""Join decrypted MPEG-TS segments into one MP4 without re-encoding (PyAV).

Each segment is its own TS stream; their packets (H.264, and AAC where the
recording has sound) are copied into one MP4 with timestamps rebased so the
video starts at 0 (sound from before the first frame is left out, so audio and
video start together), kept continuous across segments
(if a segment's clock restarts, it is shifted to follow the one before), and
every packet given a duration so players show the right length and frame rate.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
from av.container import OutputContainer
from av.error import FFmpegError
from av.stream import Stream


@dataclass(frozen=True)
class RemuxResult:
    """What went into the MP4."""

    frames: int
    duration_s: float
    fps: float | None
    audio: bool = False


class RemuxError(Exception):
    """The decrypted stream could not be remuxed (not H.264 in MPEG-TS, or empty)."""


def remux_to_mp4(ts_paths: list[Path], out_path: Path) -> RemuxResult:
    """Copy the first video and audio stream of each TS file, in order, into ``out_path`` (MP4)."""
    try:
        return _remux(ts_paths, out_path)
    except (FFmpegError, ValueError, OSError) as exc:
        raise RemuxError(str(exc).splitlines()[0] if str(exc) else type(exc).__name__) \
            from None


def _has_sound(ts_paths: list[Path]) -> bool:
    """Whether any segment holds an audio packet (a recording whose microphone never
    worked gets no empty audio track)."""
    for path in ts_paths:
        with av.open(str(path), "r", format="mpegts") as inp:
            sound = [s for s in inp.streams if s.type == "audio"]
            if sound and any(p.size for p in inp.demux(sound[0])):
                return True
    return False


def _remux(ts_paths: list[Path], out_path: Path) -> RemuxResult:
    with_sound = _has_sound(ts_paths)
    out = av.open(str(out_path), "w", format="mp4")
    try:
        ostream = None
        astream = None
        offset: int | None = None
        shift = 0
        last_dts: int | None = None
        last_audio: int | None = None
        frame_dur = 0
        frames = 0
        audio_packets = 0
        end = 0
        rate: Fraction | None = None
        for path in ts_paths:
            with av.open(str(path), "r", format="mpegts") as inp:
                video = [s for s in inp.streams if s.type == "video"]
                if not video:
                    continue
                vs = video[0]
                sound = [s for s in inp.streams if s.type == "audio"]
                aus = sound[0] if sound else None
                if ostream is None:
                    ostream = out.add_stream_from_template(vs)
                    rate = vs.average_rate or vs.guessed_rate or Fraction(30)
                    assert vs.time_base is not None  # a demuxed video stream has one
                    frame_dur = max(1, round(1 / (rate * vs.time_base)))
                    ostream.time_base = vs.time_base
                if aus is not None and astream is None and frames == 0 and with_sound:
                    # Streams can only be added before the first packet is written. Its
                    # parameters are the recorder's (AAC-LC, 48 kHz, mono), not probed: a
                    # segment whose sound starts late (at the press) probes as no audio.
                    astream = out.add_stream("aac", rate=48_000, layout="mono")
                    astream.codec_context.extradata = _ASC_LC_48K_MONO
                    astream.codec_context.profile = "LC"
                    astream.time_base = Fraction(1, 48_000)
                pending = None
                first = True
                held_audio: list[av.Packet] = []
                streams = [vs] if aus is None or astream is None else [vs, aus]
                for pkt in inp.demux(streams):
                    if pkt.dts is None and pkt.pts is None:
                        continue
                    dts = pkt.dts if pkt.dts is not None else pkt.pts
                    pts = pkt.pts if pkt.pts is not None else dts
                    assert dts is not None and pts is not None  # one of them is set (above)
                    if aus is not None and pkt.stream.index == aus.index:
                        if first:  # sound before this segment's first frame: place it after
                            held_audio.append(pkt)
                            continue
                        assert offset is not None  # set by this segment's first frame
                        last_audio = _mux_audio(out, astream, pkt, pts - offset + shift,
                                                last_audio)
                        audio_packets += last_audio is not None
                        continue
                    if offset is None:
                        offset = dts
                    if first:
                        first = False
                        start = dts - offset + shift
                        if last_dts is not None and start <= last_dts:
                            shift += last_dts + frame_dur - start
                        for apkt in held_audio:
                            apts = apkt.pts if apkt.pts is not None else apkt.dts
                            assert apts is not None  # held only with a time (see above)
                            at = apts - offset + shift
                            last_audio = _mux_audio(out, astream, apkt, at, last_audio)
                        held_audio.clear()
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
                       float(rate) if rate else None, astream is not None)


#: AudioSpecificConfig (ISO/IEC 14496-3 1.6.2.1) of the recorder's sound: object type 2
#: (AAC-LC), sampling frequency index 3 (48 kHz), channel configuration 1 (mono).
_ASC_LC_48K_MONO = bytes((0x11, 0x88))
#: AAC frame length in 90 kHz ticks (1024 samples at 48 kHz).
_AAC_FRAME_90K = 1920


def _mux_audio(out: OutputContainer, astream: Stream | None,
               pkt: av.Packet, at: int, last: int | None) -> int | None:
    """Copy one audio packet to ``at`` (90 kHz, video start = 0). Sound from before the
    first frame is left out, so audio and video start together; returns the new last."""
    if last is not None and abs(at - (last + _AAC_FRAME_90K)) <= 2:
        at = last + _AAC_FRAME_90K  # µs rounding on the device: keep contiguous frames contiguous
    if astream is None or at < 0 or (last is not None and at <= last):
        return last
    data = bytes(pkt)
    if len(data) < 9 or data[0] != 0xFF or data[1] & 0xF0 != 0xF0:
        return last  # not an ADTS frame: the recorder writes nothing else
    raw = av.Packet(data[7 if data[1] & 1 else 9:])  # MP4 carries raw AAC frames
    raw.time_base = Fraction(1, 90_000)
    raw.pts = raw.dts = at
    raw.duration = _AAC_FRAME_90K
    raw.stream = astream
    out.mux(raw)
    return at
