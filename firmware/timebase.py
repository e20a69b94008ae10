"""One timebase: the sensor's microseconds, the loop's monotonic seconds and UTC.

Every packet carries the sensor timestamp (``pts_us``, taken at the hardware
edge). The camera driver hands packets to the loop a little after capture, so
the smallest ``monotonic - sensor`` offset seen is the best estimate of how the
two clocks line up. UTC comes from the wall clock, which may step (NTP, RTC,
set by hand); a step never moves a timestamp, only the UTC label of what comes
after it. The watermark and the audio track ask this module the same questions
the recording does, so a frame, a sample and a manifest all agree on the time.

Use::

    tb = Timebase(clock)
    tb.observe(pkt.pts_us)            # on every packet, on the loop
    tb.utc_of_sensor_us(pkt.pts_us)   # UTC seconds of a frame
    tb.frame_utc_us(pkt.pts_us)       # the same in µs, from any thread (the watermark)
    tb.sensor_us(t_monotonic)         # sensor time of a button press
    tb.source()                       # "ntp", "rtc" or "unsynced", as of the last step
    tb.on_step(lambda step_s, source: ...)
    tb.check()                        # from a periodic tick: notices a step
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

#: A wall-clock jump at least this large between two checks is a clock step.
CLOCK_STEP_S = 1.0


class TimeSource(Protocol):
    """The part of the loop's clock a timebase reads."""

    def monotonic(self) -> float: ...

    def time(self) -> float: ...

    def source(self) -> str: ...


class Timebase:
    """Sensor µs ↔ monotonic s ↔ UTC, and the wall clock's steps."""

    def __init__(self, clock: TimeSource) -> None:
        self._clock = clock
        self._offset_us: int | None = None  # monotonic µs minus sensor µs
        self._wall_offset = clock.time() - clock.monotonic()
        self._source = clock.source()
        self._listeners: list[Callable[[float, str], None]] = []

    @property
    def locked(self) -> bool:
        """Whether a packet has been seen, so sensor time can be converted."""
        return self._offset_us is not None

    def observe(self, pts_us: int, seen_offset_us: int | None = None) -> None:
        """A packet stamped ``pts_us`` reached the loop now. ``seen_offset_us``: the
        camera's own ``clock - sensor`` reading at the frame's completion, if it has
        one. Packets leave the encoder frames after capture (x264's frame threads),
        so that reading dates a press without the encoder's lag."""
        offset = round(self._clock.monotonic() * 1e6) - pts_us
        if seen_offset_us is not None and seen_offset_us < offset:
            offset = seen_offset_us
        if self._offset_us is None or offset < self._offset_us:
            self._offset_us = offset

    def sensor_us(self, t_monotonic: float) -> int | None:
        """Sensor time of a monotonic instant; None before the first packet."""
        if self._offset_us is None:
            return None
        return round(t_monotonic * 1e6) - self._offset_us

    def monotonic_of_sensor_us(self, pts_us: int) -> float | None:
        """Monotonic seconds of a sensor timestamp; None before the first packet."""
        if self._offset_us is None:
            return None
        return (pts_us + self._offset_us) / 1e6

    def utc_of_sensor_us(self, pts_us: int) -> float:
        """UTC epoch seconds of a sensor timestamp, by the wall clock as it reads now."""
        if self._offset_us is None:
            raise RuntimeError("no packet seen yet: sensor time has no reference")
        return self.frame_utc_us(pts_us) / 1e6

    def frame_utc_us(self, sensor_us: int) -> int:
        """UTC in µs of the frame captured at ``sensor_us``: the one mapping the recording's
        signed start and the watermark both use, so they agree to the µs.

        Any thread (it reads two numbers the loop replaces). Before the first packet has
        set the offset, the sensor clock is taken as the monotonic clock: libcamera's
        SensorTimestamp is CLOCK_BOOTTIME, the same on a board that never suspends, and
        the simulation's sensor runs on the virtual monotonic clock.
        """
        offset = self._offset_us or 0
        return sensor_us + offset + round((self._clock.time() - self._clock.monotonic()) * 1e6)

    def source(self) -> str:
        """Where UTC comes from, as read at start and at the last clock step."""
        return self._source

    def on_step(self, listener: Callable[[float, str], None]) -> None:
        """Call ``listener(step_s, source)`` on the loop at every wall-clock step."""
        self._listeners.append(listener)

    def check(self) -> float | None:
        """Notice a wall-clock step since the last check; returns it (seconds) or None."""
        offset = self._clock.time() - self._clock.monotonic()
        step = offset - self._wall_offset
        self._wall_offset = offset
        if abs(step) < CLOCK_STEP_S:
            return None
        self._source = self._clock.source()
        for listener in self._listeners:
            listener(step, self._source)
        return step


class FrameTimes:
    """A timebase as the camera thread's watermark reads it
    (:class:`display.watermark.Timebase`): a frame's UTC and the clock source."""

    def __init__(self, timebase: Timebase) -> None:
        self._timebase = timebase

    def utc_us(self, sensor_us: int) -> int:
        """UTC (µs) of the frame captured at ``sensor_us``."""
        return self._timebase.frame_utc_us(sensor_us)

    def clock_source(self) -> str:
        """The clock source as last read (``ntp``, ``rtc``, ``unsynced``)."""
        return self._timebase.source()
