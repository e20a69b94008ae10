"""The camera, through picamera2: an H.264 main stream to the recorder and a
low-resolution YUV420 stream for the front display.

picamera2's encoder thread calls ``Output.outputframe`` for every encoded
frame; this driver turns each call into a :class:`recorder.packet.Packet` and
posts it to the daemon's loop, so the encoder thread never waits on storage.

With a :class:`FramePainter` (the burned-in watermark), the driver sets
picamera2's ``pre_callback``: picamera2 calls it on its camera thread for every
frame before the encoder takes it (picamera2/picamera2.py:1449-1473), and the
painter draws into the main stream's YUV420 buffer through ``MappedArray``.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable
from fractions import Fraction
from typing import Any, Protocol

import numpy as np

from recorder.packet import AUDIO, VIDEO, Packet

from .clock import Clock
from .lores import LoresSlot

log = logging.getLogger(__name__)


class FramePainter(Protocol):
    """Draws into a main-stream frame before it is encoded (camera thread; must be quick)."""

    def __call__(self, frame: np.ndarray, size: tuple[int, int], sensor_us: int) -> None:
        """``frame``: the mapped YUV420 buffer, ``(h*3//2, stride)`` uint8, written in
        place; ``size``: (width, height); ``sensor_us``: the frame's SensorTimestamp in µs,
        on the same timeline as the packets' ``pts_us``."""


def _output_class() -> type:
    from picamera2.outputs import Output  # pyright: ignore[reportMissingImports] (device library or the simulation's)

    class PacketOutput(Output):
        """Forwards encoded frames as Packets to a callback on the clock's loop."""

        def __init__(self, clock: Clock, on_packet: Callable[[Packet], None], encoder: Any) -> None:
            super().__init__()
            self._clock = clock
            self._on_packet = on_packet
            self._encoder = encoder

        def outputframe(self, frame, keyframe=True, timestamp=None, packet=None, audio=False):
            if not self.recording or timestamp is None:
                return
            # picamera2 subtracts the first frame's sensor time, and starts again from 0
            # when the encoder restarts; adding it back keeps one monotonic timeline.
            first = getattr(self._encoder, "firsttimestamp", None) or 0
            pkt = Packet(bytes(frame), bool(keyframe), int(timestamp) + int(first),
                         AUDIO if audio else VIDEO)
            self._clock.call_soon_threadsafe(self._on_packet, pkt)

    return PacketOutput


class Camera:
    """Configures picamera2 for recording and mirroring; start/stop the pipeline.

    ``fps`` is what was asked for; after construction it is what the sensor mode
    delivers (libcamera clamps FrameDurationLimits to the mode), and the GOP, the
    encoder's frame rate and the timing all use that.
    """

    def __init__(
        self,
        clock: Clock,
        on_packet: Callable[[Packet], None],
        *,
        width: int,
        height: int,
        fps: int,
        bitrate: int,
        gop_seconds: float,
        lores: tuple[int, int],
        painter: FramePainter | None = None,
    ) -> None:
        from picamera2 import Picamera2  # pyright: ignore[reportMissingImports] (on the device)
        from picamera2.encoders import H264Encoder  # pyright: ignore[reportMissingImports]

        self.size = (width, height)
        # Held as Any: picamera2 is untyped, and pyright's inference from its source
        # (pre_callback = None, framerate: int) is narrower than what it accepts.
        self._picam2: Any = Picamera2()
        config = self._picam2.create_video_configuration(
            main={"size": (width, height), "format": "YUV420"},
            lores={"size": lores, "format": "YUV420"},
            controls={"FrameRate": fps},
        )
        self._picam2.configure(config)
        # The camera may adjust what was asked for (alignment, sensor modes): read it back.
        conf = self._picam2.camera_configuration()
        self.size = tuple(conf["main"]["size"])
        self.frame_duration_us = self._achievable_duration(round(1e6 / fps))
        self.fps = 1e6 / self.frame_duration_us
        self.lores = LoresSlot(clock.monotonic)
        self.lores.size = tuple(conf["lores"]["size"])
        self._picam2.post_callback = self.lores.post_callback
        # repeat=True puts SPS/PPS before every IDR, so a segment can start at any keyframe.
        # framerate: picamera2's libav encoder otherwise assumes 30 fps for its rate control.
        options: dict[str, Any] = {}
        if "enable_sps_framerate" in inspect.signature(H264Encoder).parameters:
            # The Pi 4's V4L2 encoder is told the frame rate (S_PARM) only with this set.
            options["enable_sps_framerate"] = True
        self._encoder: Any = H264Encoder(
            bitrate=bitrate, repeat=True, iperiod=max(1, round(gop_seconds * self.fps)),
            # PyAV takes no float rate; picamera2 passes it on untouched (typed int there)
            framerate=Fraction(self.fps).limit_denominator(1001),  # pyright: ignore[reportArgumentType]
            **options,
        )
        self._output = _output_class()(clock, on_packet, self._encoder)
        self.running = False
        self._painter = painter
        self.paint_failures = 0
        if painter is not None:
            from picamera2 import MappedArray

            self._mapped_array = MappedArray
            self._picam2.pre_callback = self._paint

    def _paint(self, request: Any) -> None:
        """picamera2's pre_callback: hand the main buffer and its sensor time to the painter.

        Never raises: an exception here would end picamera2's camera thread, and a
        watermark must never stop the recording.
        """
        try:
            # As picamera2's encoder derives its timestamps (encoders/encoder.py:366),
            # so this is the packet's pts_us exactly.
            sensor_us = int(request.get_metadata()["SensorTimestamp"] / 1000)
            painter = self._painter
            assert painter is not None  # set only with a painter
            with self._mapped_array(request, "main") as m:
                assert m.array is not None  # set on entering the context
                painter(m.array, self.size, sensor_us)
        except Exception as e:  # whatever the painter or the library raises: log, go on
            self.paint_failures += 1
            if self.paint_failures == 1:
                log.error("watermark not drawn (%s: %s); recording continues", type(e).__name__, e)

    def _achievable_duration(self, wanted_us: int) -> int:
        """The frame duration the sensor mode allows for ``wanted_us``; set it as the limit."""
        shortest, longest, _ = self._picam2.camera_controls["FrameDurationLimits"]
        duration = min(max(wanted_us, int(shortest)), int(longest))
        if duration != wanted_us:
            log.warning("camera: %.2f fps is beyond the sensor mode; running at %.2f fps",
                        1e6 / wanted_us, 1e6 / duration)
            self._picam2.set_controls({"FrameDurationLimits": (duration, duration)})
        return duration

    @property
    def sensor_offset_us(self) -> int | None:
        """Clock µs minus sensor µs of a frame at its completion (None before the first)."""
        return self.lores.sensor_offset_us

    @property
    def model(self) -> str:
        """The sensor model picamera2 reports."""
        props: dict[str, Any] = getattr(self._picam2, "camera_properties", {}) or {}
        return str(props.get("Model", "unknown"))

    def start(self) -> None:
        """Start capture and encoding; packets begin to flow to ``on_packet``.

        picamera2 starts the encoder before the camera; if the camera then fails to
        start, the encoder is stopped again so that the next start begins clean.
        """
        try:
            self._picam2.start_recording(self._encoder, self._output)
        except Exception:
            if self._encoder.running:
                self._picam2.stop_encoder(self._encoder)
            raise
        self.running = True

    def stop(self) -> None:
        """Stop capture, then the encoder: frames it still held come out now, before this returns.

        picamera2's ``stop()`` hands its stop to the camera thread as a job, and prods
        that thread only when no other job is queued (picamera2.py:1548-1551); otherwise
        the stop waits for the next frame, which a stalled camera never sends. Pending
        jobs (we queue none) are cancelled first, with the call picamera2 provides for
        tidying up after a stall (``cancel_all_and_flush``), so the stop always runs.
        """
        if self.running:
            self.running = False
            self.lores.clear()
            self._picam2.cancel_all_and_flush()
            self._picam2.stop_recording()

    def close(self) -> None:
        """Release the camera."""
        self.stop()
        self._picam2.close()

    def lores_frame(self) -> Any:
        """The newest low-resolution YUV420 frame, compact (h*3//2, w), or None; never waits."""
        return self.lores.latest() if self.running else None
