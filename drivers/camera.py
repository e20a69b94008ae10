"""The camera, through picamera2: an H.264 main stream to the recorder and a
low-resolution YUV420 stream for the front display.

picamera2's encoder thread calls ``Output.outputframe`` for every encoded
frame; this driver turns each call into a :class:`recorder.packet.Packet` and
posts it to the daemon's loop, so the encoder thread never waits on storage.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from recorder.packet import AUDIO, VIDEO, Packet

from .clock import Clock


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
    """Configures picamera2 for recording and mirroring; start/stop the pipeline."""

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
    ) -> None:
        from picamera2 import Picamera2  # pyright: ignore[reportMissingImports] (on the device)
        from picamera2.encoders import H264Encoder  # pyright: ignore[reportMissingImports]

        self.size = (width, height)
        self.fps = fps
        self._picam2 = Picamera2()
        config = self._picam2.create_video_configuration(
            main={"size": (width, height), "format": "YUV420"},
            lores={"size": lores, "format": "YUV420"},
            controls={"FrameRate": fps},
        )
        self._picam2.configure(config)
        # The camera may adjust what was asked for (alignment, sensor modes): read it back.
        self.size = tuple(self._picam2.camera_configuration()["main"]["size"])
        # repeat=True puts SPS/PPS before every IDR, so a segment can start at any keyframe.
        self._encoder = H264Encoder(
            bitrate=bitrate, repeat=True, iperiod=max(1, round(gop_seconds * fps))
        )
        self._output = _output_class()(clock, on_packet, self._encoder)
        self.running = False

    @property
    def model(self) -> str:
        """The sensor model picamera2 reports."""
        props: dict[str, Any] = getattr(self._picam2, "camera_properties", {}) or {}
        return str(props.get("Model", "unknown"))

    def start(self) -> None:
        """Start capture and encoding; packets begin to flow to ``on_packet``."""
        self._picam2.start_recording(self._encoder, self._output)
        self.running = True

    def stop(self) -> None:
        """Stop encoding and capture."""
        if self.running:
            self.running = False
            self._picam2.stop_recording()

    def close(self) -> None:
        """Release the camera."""
        self.stop()
        self._picam2.close()

    def lores_frame(self) -> Any:
        """The newest low-resolution YUV420 frame (for the display thread), or None."""
        if not self.running:
            return None
        try:
            return self._picam2.capture_array("lores")
        except RuntimeError:  # stopped or restarting under us: the display shows "no image"
            return None
