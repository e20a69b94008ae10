"""The unit that flows from the camera encoder through the recording path."""

from __future__ import annotations

from dataclasses import dataclass

VIDEO = 0
AUDIO = 1


@dataclass(frozen=True, slots=True)
class Packet:
    """One encoded access unit as an encoder hands it to an ``Output``.

    ``pts_us`` is the sensor timestamp in microseconds (the camera driver adds
    back the first-frame time picamera2 subtracts): monotonic across camera
    restarts, never wall-clock time. ``stream`` separates video from audio so the
    ring buffer can hold both once audio lands.
    """

    data: bytes
    keyframe: bool
    pts_us: int
    stream: int = VIDEO

    @property
    def size(self) -> int:
        """Bytes of encoded payload."""
        return len(self.data)
