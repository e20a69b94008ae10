"""H.264 (and AAC) packets into MPEG-TS bytes, one packet at a time, with PyAV.

MPEG-TS is the container inside every segment because a TS stream cut at any
188-byte boundary still decodes up to the cut: a plain MP4 written by a camera
that lost power is unplayable. ``flush_packets`` makes libavformat hand over the
bytes of each packet as soon as it is muxed, so nothing sits in a muxer buffer
when a chunk is sealed.

With audio, the TS carries a second elementary stream (AAC-LC in ADTS, 48 kHz
mono). libavformat then interleaves by timestamp: it holds a packet until it
knows no earlier one can come from the other stream. ``max_interleave_delta``
of 1 µs bounds that hold to the newest packet muxed, so a chunk sealed now lacks
at most the last packet handed in (under 34 ms of footage); a microphone that
stops delivering cannot hold the video back.
"""

from __future__ import annotations

from fractions import Fraction

import av
from av.audio.stream import AudioStream

from .aac import SAMPLE_RATE
from .packet import AUDIO, Packet

TS_TIME_BASE = Fraction(1, 90_000)


class _Sink:
    """The file object libavformat writes to: collects bytes until taken."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []

    def write(self, data: bytes) -> int:
        self.parts.append(bytes(data))
        return len(data)

    def take(self) -> bytes:
        out = b"".join(self.parts)
        self.parts.clear()
        return out


class TsMuxer:
    """One MPEG-TS stream (one segment): feed packets, take the bytes produced.

    Timestamps are the sensor timestamps rebased to ``origin_us`` (the
    recording's first frame), so consecutive segments continue one timeline.
    """

    def __init__(self, origin_us: int, width: int, height: int, fps: float,
                 audio: bool = False) -> None:
        self._origin_us = origin_us
        self._sink = _Sink()
        options = {"flush_packets": "1"}
        if audio:
            options["max_interleave_delta"] = "1"
        self._container = av.open(self._sink, "w", format="mpegts", options=options)
        rate = Fraction(fps).limit_denominator(1001)
        self._stream = self._container.add_stream("h264", rate=rate)
        self._stream.width = width
        self._stream.height = height
        self._stream.time_base = TS_TIME_BASE
        self._audio: AudioStream | None = None
        self._last_audio_ts: int | None = None
        self._video_muxed = 0
        self._video_pts: list[int] = []  # sensor µs of every frame muxed, in order
        self._max_ts: int | None = None
        self._held_video = False  # the packet libavformat holds back is a video frame
        if audio:
            audio_stream = self._container.add_stream("aac", rate=SAMPLE_RATE, layout="mono")
            audio_stream.time_base = TS_TIME_BASE
            self._audio = audio_stream
        self._closed = False

    @property
    def has_audio(self) -> bool:
        """Whether this stream carries the audio elementary stream."""
        return self._audio is not None

    def mux(self, pkt: Packet) -> None:
        """Add one packet; its TS bytes are ready for :meth:`take` at once (with audio:
        all but those of the newest packet, see the module docstring)."""
        ts = (pkt.pts_us - self._origin_us) * 9 // 100
        out = av.Packet(pkt.data)
        if pkt.stream == AUDIO:
            if self._audio is None:
                raise ValueError("an audio packet for a stream opened without audio")
            if self._last_audio_ts is not None and ts <= self._last_audio_ts:
                return  # µs rounding or a repeat: each stream's timestamps must rise
            self._last_audio_ts = ts
            out.stream = self._audio
        else:
            out.stream = self._stream
            self._video_muxed += 1
            self._video_pts.append(pkt.pts_us)
        if self._audio is not None and (self._max_ts is None or ts >= self._max_ts):
            # The interleaver keeps the packet with the newest timestamp (module docstring).
            self._max_ts = ts
            self._held_video = pkt.stream != AUDIO
        out.time_base = TS_TIME_BASE
        out.pts = out.dts = ts
        out.is_keyframe = pkt.keyframe
        self._container.mux(out)

    @property
    def video_frames_out(self) -> int:
        """Video frames whose TS bytes have come out (all but one held back, with audio)."""
        if self._closed:
            return self._video_muxed
        return self._video_muxed - (1 if self._held_video else 0)

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` has finished the stream (no packet can follow)."""
        return self._closed

    @property
    def video_frames_muxed(self) -> int:
        """Video frames handed in, whether or not their bytes have come out yet."""
        return self._video_muxed

    def video_pts(self, index: int) -> int:
        """Sensor µs of the ``index``-th video frame muxed into this stream (from 0)."""
        return self._video_pts[index]

    def take(self) -> bytes:
        """The TS bytes produced since the last call."""
        return self._sink.take()

    def close(self) -> bytes:
        """Finish the stream; returns the last bytes."""
        if not self._closed:
            self._closed = True
            self._container.close()
        return self._sink.take()
