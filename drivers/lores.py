"""The newest low-resolution frame, taken without ever waiting on the camera.

picamera2's ``capture_array("lores")`` is a job that waits, with no timeout,
for the next completed request, and ``Picamera2.stop()`` is queued behind it
(``picamera2/picamera2.py`` dispatch_functions / process_requests): with a
stalled sensor the caller hangs, and so does whoever stops the camera next.
Instead, picamera2's ``post_callback`` (run on its own thread for every
completed request, under its lock, after the ``pre_callback`` and before the
encoders) copies the lores picture into a one-frame slot; the display thread
reads the slot and never blocks.

The ISP pads each row: a 320-wide YUV420 frame is (360, 384) on a Pi 5 and
rows are 64-byte aligned on a Pi 4. The copy drops the padding, so the slot
holds compact I420 of shape (h*3//2, w), which is what ``display.yuv`` reads.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import numpy as np

#: A frame older than this (seconds) is not shown: the camera has stopped delivering.
STALE_S = 1.0


def compact_i420(strided: np.ndarray, width: int, height: int) -> np.ndarray:
    """Planar YUV420 with padded rows, shape (h*3//2, stride), as compact (h*3//2, w)."""
    stride = strided.shape[1]
    out = np.empty((height * 3 // 2, width), np.uint8)
    out[:height] = strided[:height, :width]
    # Each padded row below the luma holds two chroma rows of stride/2 bytes, w/2 of them pixels.
    chroma = strided[height : height * 3 // 2].reshape(height, stride // 2)[:, : width // 2]
    out[height:] = chroma.reshape(height // 2, width)
    return out


class LoresSlot:
    """One-frame mailbox filled by picamera2's post_callback, read by the display."""

    def __init__(self, now: Callable[[], float]) -> None:
        self._now = now
        self._lock = threading.Lock()
        self._frame: np.ndarray | None = None
        self._at = 0.0
        self.size: tuple[int, int] = (0, 0)
        #: Smallest (clock µs - SensorTimestamp µs) seen at completion: how sensor time maps
        #: onto the clock, free of the encoder's lag (packets come out frames later).
        self.sensor_offset_us: int | None = None
        #: The frame duration (µs) the camera reports it delivered, from the newest frame.
        self.frame_duration_us: int | None = None

    def post_callback(self, request: Any) -> None:
        """picamera2 calls this for every completed request (on its event thread)."""
        from picamera2 import MappedArray

        now = self._now()
        meta = request.get_metadata()
        self.frame_duration_us = meta.get("FrameDuration", self.frame_duration_us)
        sensor_ns = meta.get("SensorTimestamp")
        if sensor_ns is not None:
            offset = round(now * 1e6) - sensor_ns // 1000
            if self.sensor_offset_us is None or offset < self.sensor_offset_us:
                self.sensor_offset_us = offset
        width, height = self.size
        if not width:
            return
        with MappedArray(request, "lores") as m:
            assert m.array is not None  # set on entering the context
            frame = compact_i420(m.array, width, height)
        with self._lock:
            self._frame, self._at = frame, now

    def latest(self) -> np.ndarray | None:
        """The newest frame, or None if there is none younger than :data:`STALE_S`."""
        with self._lock:
            frame, at = self._frame, self._at
        if frame is None or self._now() - at > STALE_S:
            return None
        return frame

    def clear(self) -> None:
        """Forget the frame (the camera stopped)."""
        with self._lock:
            self._frame = None
