"""Fake ``picamera2.encoders``: :class:`H264Encoder` encoding with PyAV's libx264.

This is what picamera2 does on a Pi 5 (its ``H264Encoder`` is then the libav
encoder): libx264, preset ultrafast, tune zerolatency, so every frame comes out
as exactly one packet at once, with no B-frames. As in picamera2:

* ``outputframe`` gets ``timestamp`` in µs *relative to the first frame this
  encoder encoded* (picamera2 subtracts ``encoder.firsttimestamp``, the first
  frame's sensor timestamp in µs). A driver that needs the sensor (boot-time)
  timestamp adds ``encoder.firsttimestamp``; that works on the device too.
* ``repeat=True`` (the default) repeats SPS/PPS before every IDR, so any keyframe
  starts a decodable stream; with ``repeat=False`` they come once, in front of the
  first packet (as the Pi 4's V4L2 encoder does).
* ``iperiod`` is the keyframe interval in frames; None means the camera's GOP
  (``CameraSpec.gop_seconds``). Scene-cut keyframes are off, so keyframes come at
  exactly every ``iperiod`` frames.
* ``packet`` is passed as None (as the V4L2 encoder does): use the bytes.

The fake camera calls :meth:`Encoder.sim_encode` synchronously on the clock
thread; on the device picamera2 calls ``outputframe`` from its own thread.
"""

from __future__ import annotations

import math
import threading
from enum import Enum
from fractions import Fraction
from typing import Any

import av
import numpy as np
from av.codec.context import Flags as CodecFlags

from hw_sim.fake_picamera2.outputs import Output


class Quality(Enum):
    """Quality wanted from an encoder when no bitrate is given."""

    VERY_LOW = 0
    LOW = 1
    MEDIUM = 2
    HIGH = 3
    VERY_HIGH = 4


#: picamera2's libav table: Mbit/s for 1080p30, scaled by sqrt(pixel rate ratio).
_BITRATE_1080P30 = {
    Quality.VERY_LOW: 3,
    Quality.LOW: 4,
    Quality.MEDIUM: 7,
    Quality.HIGH: 10,
    Quality.VERY_HIGH: 14,
}

_PROFILES = {
    "baseline": "baseline",
    "constrained baseline": "baseline",
    "main": "main",
    "high": "high",
}


class Encoder:
    """The encoder base: size/format/output bookkeeping and start/stop as in picamera2."""

    def __init__(self, framerate: float | None = 30) -> None:
        self._width = 0
        self._height = 0
        self._stride = 0
        self._format: str | None = None
        self._output: list[Output] = []
        self._running = False
        self._name: str | None = None
        self._lock = threading.Lock()
        self._output_lock = threading.Lock()
        self.firsttimestamp: int | None = None
        self.frames_encoded = 0
        # Set by the fake camera before start(): its frame rate and GOP in frames.
        self.sim_fps: float = 30.0
        self.sim_gop: int = 30
        self.sim_default_bitrate: int | None = None

    @property
    def running(self) -> bool:
        """Whether the encoder is started."""
        return self._running

    @property
    def width(self) -> int:
        """Frame width in pixels."""
        return self._width

    @width.setter
    def width(self, value: int) -> None:
        if not isinstance(value, int):
            raise RuntimeError("Width must be integer")
        self._width = value

    @property
    def height(self) -> int:
        """Frame height in pixels."""
        return self._height

    @height.setter
    def height(self, value: int) -> None:
        if not isinstance(value, int):
            raise RuntimeError("Height must be integer")
        self._height = value

    @property
    def size(self) -> tuple[int, int]:
        """(width, height)."""
        return (self._width, self._height)

    @size.setter
    def size(self, value: tuple[int, int]) -> None:
        if not isinstance(value, tuple) or len(value) != 2:
            raise RuntimeError("Size must be a tuple of two integers")
        self.width, self.height = value

    @property
    def stride(self) -> int:
        """Bytes per row of the input frames."""
        return self._stride

    @stride.setter
    def stride(self, value: int) -> None:
        if not isinstance(value, int):
            raise RuntimeError("Stride must be integer")
        self._stride = value

    @property
    def format(self) -> str | None:
        """Pixel format of the stream being encoded."""
        return self._format

    @format.setter
    def format(self, value: str) -> None:
        self._format = value

    @property
    def name(self) -> str | None:
        """Which camera stream ("main", "lores") this encoder takes."""
        return self._name

    @name.setter
    def name(self, value: str) -> None:
        if not isinstance(value, str):
            raise RuntimeError("Name must be string")
        self._name = value

    @property
    def output(self) -> Output | list[Output]:
        """The Output (or list of them) encoded frames go to."""
        return self._output[0] if len(self._output) == 1 else self._output

    @output.setter
    def output(self, value: Output | list[Output]) -> None:
        outs = value if isinstance(value, list) else [value]
        if not all(isinstance(o, Output) for o in outs):
            raise RuntimeError("Must pass Output")
        for out in outs:
            if self._running and out not in self._output:
                self._send_streams(out)
        self._output = outs

    def start(self, quality: Quality | None = None) -> None:
        """Start encoding: outputs' ``start()`` is called first."""
        with self._lock:
            if self._running:
                raise RuntimeError("Encoder already running")
            self.frames_encoded = 0
            self._setup(quality)
            self._running = True
            self.firsttimestamp = None
            for out in self._output:
                out.start()
            self._start()

    def stop(self) -> None:
        """Stop encoding, flush, then call the outputs' ``stop()``."""
        with self._lock:
            if not self._running:
                raise RuntimeError("Encoder already stopped")
            self._running = False
            self._stop()
            for out in self._output:
                out.stop()

    def outputframe(
        self,
        frame: bytes | None,
        keyframe: bool = True,
        timestamp: int | None = None,
        packet: Any = None,
        audio: bool = False,
    ) -> None:
        """Hand one encoded frame to every output."""
        with self._output_lock:
            for out in self._output:
                out.outputframe(frame, keyframe, timestamp, packet, audio)

    def sim_encode(self, yuv420: np.ndarray, sensor_timestamp_us: int) -> None:
        """Encode one captured frame (called by the fake camera on the clock thread)."""
        if self.firsttimestamp is None:
            self.firsttimestamp = sensor_timestamp_us
        self._encode(yuv420, sensor_timestamp_us - self.firsttimestamp)
        self.frames_encoded += 1

    def _setup(self, quality: Quality | None) -> None:
        pass

    def _start(self) -> None:
        for out in self._output:
            self._send_streams(out)

    def _stop(self) -> None:
        pass

    def _send_streams(self, output: Output) -> None:
        pass

    def _encode(self, yuv420: np.ndarray, timestamp_us: int) -> None:
        """The base class is picamera2's "null" encoder: every raw frame is a keyframe."""
        self.outputframe(yuv420.tobytes(), True, timestamp=timestamp_us)


class H264Encoder(Encoder):
    """H.264 via libx264 (see the module docstring); picamera2's constructor signature."""

    def __init__(
        self,
        bitrate: int | None = None,
        repeat: bool = True,
        iperiod: int | None = None,
        framerate: float | None = None,
        enable_sps_framerate: bool = False,
        qp: int | None = None,
        profile: str | None = None,
    ) -> None:
        super().__init__()
        self.bitrate = bitrate
        self.repeat = repeat
        self.iperiod = iperiod
        self.framerate = framerate
        self.qp = qp
        self.profile = profile
        self._enable_framerate = enable_sps_framerate
        self._cc: Any = None
        self._sent_headers = False

    def _setup(self, quality: Quality | None) -> None:
        """picamera2's rule: an explicit quality, or no bitrate and no qp, sets the bitrate."""
        if quality is None and self.bitrate is None and self.qp is None:
            if self.sim_default_bitrate is not None:
                self.bitrate = self.sim_default_bitrate
                return
        if quality is not None or (self.bitrate is None and self.qp is None):
            q = Quality.MEDIUM if quality is None else quality
            rate = self.framerate or self.sim_fps
            ratio = self.width * self.height * rate / (1920 * 1080 * 30)
            self.bitrate = int(_BITRATE_1080P30[q] * 1_000_000 * math.sqrt(ratio))

    def _start(self) -> None:
        if self.profile is not None:
            if not isinstance(self.profile, str):
                raise RuntimeError("Profile should be a string value")
            if self.profile.lower() not in _PROFILES:
                raise RuntimeError("Profile " + self.profile + " not recognised")
        gop = self.iperiod if self.iperiod else self.sim_gop
        cc = av.CodecContext.create("libx264", "w")
        cc.width = self.width
        cc.height = self.height
        cc.pix_fmt = "yuv420p"
        cc.time_base = Fraction(1, 1_000_000)
        cc.framerate = Fraction(self.framerate or self.sim_fps).limit_denominator(1001)
        cc.gop_size = gop
        cc.max_b_frames = 0
        cc.thread_count = 1
        if self.qp is not None:
            cc.qmin = self.qp
            cc.qmax = self.qp
        elif self.bitrate:
            cc.bit_rate = int(self.bitrate)
        if not self.repeat:
            cc.flags |= CodecFlags.global_header
        options = {
            "preset": "ultrafast",
            "tune": "zerolatency",
            "x264-params": f"keyint={gop}:min-keyint={gop}:scenecut=0:bframes=0",
        }
        if self.profile is not None:
            options["profile"] = _PROFILES[self.profile.lower()]
        cc.options = options
        cc.open()
        self._cc = cc
        self._sent_headers = False
        super()._start()

    def _send_streams(self, output: Output) -> None:
        output._add_stream("video", "h264", rate=self.framerate or self.sim_fps,
                           width=self.width, height=self.height)

    def _encode(self, yuv420: np.ndarray, timestamp_us: int) -> None:
        frame = av.VideoFrame.from_ndarray(yuv420, format="yuv420p")
        frame.pts = timestamp_us
        for packet in self._cc.encode(frame):
            self._emit(packet)

    def _stop(self) -> None:
        # zerolatency holds nothing back, but drain anyway so no frame is ever lost.
        for packet in self._cc.encode(None):
            self._emit(packet)
        self._cc = None

    def _emit(self, packet: Any) -> None:
        data = bytes(packet)
        if not self.repeat and not self._sent_headers and self._cc.extradata:
            data = bytes(self._cc.extradata) + data
        self._sent_headers = True
        self.outputframe(data, bool(packet.is_keyframe), timestamp=int(packet.pts), packet=None)
