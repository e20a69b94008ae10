"""H.264 packets into MPEG-TS bytes, one packet at a time, with PyAV.

MPEG-TS is the container inside every segment because a TS stream cut at any
188-byte boundary still decodes up to the cut: a plain MP4 written by a camera
that lost power is unplayable. ``flush_packets`` makes libavformat hand over the
bytes of each packet as soon as it is muxed, so nothing sits in a muxer buffer
when a chunk is sealed.
"""

from __future__ import annotations

from fractions import Fraction

import av

from .packet import Packet

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

    def __init__(self, origin_us: int, width: int, height: int, fps: float) -> None:
        self._origin_us = origin_us
        self._sink = _Sink()
        self._container = av.open(
            self._sink, "w", format="mpegts", options={"flush_packets": "1"}
        )
        rate = Fraction(fps).limit_denominator(1001)
        self._stream = self._container.add_stream("h264", rate=rate)
        self._stream.width = width
        self._stream.height = height
        self._stream.time_base = TS_TIME_BASE
        self._closed = False

    def mux(self, pkt: Packet) -> None:
        """Add one video packet; its TS bytes are ready for :meth:`take` at once."""
        ts = (pkt.pts_us - self._origin_us) * 9 // 100
        out = av.Packet(pkt.data)
        out.stream = self._stream
        out.time_base = TS_TIME_BASE
        out.pts = out.dts = ts
        out.is_keyframe = pkt.keyframe
        self._container.mux(out)

    def take(self) -> bytes:
        """The TS bytes produced since the last call."""
        return self._sink.take()

    def close(self) -> bytes:
        """Finish the stream; returns the last bytes."""
        if not self._closed:
            self._closed = True
            self._container.close()
        return self._sink.take()
