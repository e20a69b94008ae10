"""Notices a camera that stopped delivering frames, and restarts its pipeline.

No packet for ``camera.stall_seconds`` is a stall: the watch raises the
``camera_fault`` alert, stops the camera, tells its owner once (``on_stall``:
the daemon closes the segment in progress and plays the fault cue), and starts
the camera again; it retries every stall period until packets flow again. A
camera that never delivers after :meth:`CameraWatch.started` is a stall too.

Stopping flushes the frames the encoder still held (x264's frame threads on a
Pi 5, picamera2's encoder stop): they reach the loop before the restart, which
is queued behind them, so they go into the segment before the gap; they do not
count as the camera coming back.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Protocol

from display import Alert
from drivers.clock import Clock
from recorder.packet import Packet

log = logging.getLogger("bodycam")


class Restartable(Protocol):
    """The camera driver's start and stop."""

    def start(self) -> None: ...

    def stop(self) -> None: ...


class CameraWatch:
    """Stall detection and restart for one camera, on the daemon's loop."""

    def __init__(self, clock: Clock, stall_seconds: float, *, on_stall: Callable[[], None],
                 audit: Callable[..., None], on_alert: Callable[[Alert, bool], None]) -> None:
        self._clock = clock
        self.stall_seconds = stall_seconds
        self._on_stall = on_stall
        self._audit = audit
        self._on_alert = on_alert
        self._camera: Restartable | None = None
        self._last_packet_at: float | None = None
        self._stalled_since: float | None = None
        self._restarting = False  # stopped, restart queued: packets now are flushed old frames

    @property
    def stalled(self) -> bool:
        """Whether the camera is in a stall now."""
        return self._stalled_since is not None

    def started(self, camera: Restartable) -> None:
        """The camera runs from now on; silence from here counts."""
        self._camera = camera
        self._last_packet_at = self._clock.monotonic()

    def packet(self, pkt: Packet) -> None:
        """A packet arrived (on the loop)."""
        self._last_packet_at = self._clock.monotonic()
        if self._stalled_since is not None and not self._restarting:
            gap = self._last_packet_at - self._stalled_since
            self._stalled_since = None
            self._on_alert(Alert.CAMERA_FAULT, False)
            log.warning("camera delivering frames again after %.1f s", gap)
            self._audit("camera_resumed", gap_s=round(gap, 3), pts_us=pkt.pts_us)

    def tick(self, now: float) -> None:
        """From the housekeeping tick: a stall, or the next restart of one."""
        last = self._last_packet_at
        if last is None or self._camera is None or now - last < self.stall_seconds:
            return
        if self._restarting:
            return
        first = self._stalled_since is None
        if first:
            self._stalled_since = last
            self._on_alert(Alert.CAMERA_FAULT, True)
            log.error("camera stalled: no frames for %.1f s; restarting the camera pipeline",
                      now - last)
            self._audit("camera_stall", silent_s=round(now - last, 3))
        self._last_packet_at = now
        self._restarting = True
        try:
            self._camera.stop()
        except Exception as e:  # the camera library's errors are not ours to enumerate
            log.error("camera stop failed: %s", e)
        self._clock.call_soon_threadsafe(self._restart, first)

    def _restart(self, first: bool) -> None:
        """After the flushed packets: the owner closes the segment (once), the camera starts."""
        self._restarting = False
        if first:
            self._on_stall()
        assert self._camera is not None
        try:
            self._camera.start()
        except Exception as e:  # the camera library's errors are not ours to enumerate
            log.error("camera restart failed: %s", e)
            self._audit("camera_restart_failed", error=str(e))
        else:
            self._audit("camera_restart")
