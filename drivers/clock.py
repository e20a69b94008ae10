"""Time and timers for the daemon: one scheduler every event runs on.

Everything the firmware does (camera packets, button edges, gesture timers, cue
patterns, watchdog pings) runs as a callback on one loop, so the state machine
needs no locks of its own. On the device that loop is :class:`SystemClock`
(``time.monotonic`` and a condition variable); in the simulation it is
``hw_sim.clock.VirtualClock``, which has the same surface and lets a scenario of
minutes run in seconds.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from timers import CLOCK_SOURCES, Timer, TimerQueue

__all__ = ["CLOCK_SOURCES", "Clock", "SystemClock", "Timer", "TimerQueue"]

log = logging.getLogger(__name__)

#: The first RTC's sysfs directory; ``since_epoch`` is its time in whole UTC seconds.
RTC_DIR = Path("/sys/class/rtc/rtc0")
#: systemd-timesyncd touches this file at each NTP sync and at shutdown: a time the
#: device is known to have seen (man systemd-timesyncd.service, "Files").
LAST_KNOWN_TIME = Path("/var/lib/systemd/timesync/clock")
#: No clock that kept time reads earlier than this (2026-01-01, before this rule existed).
EARLIEST_UTC = datetime(2026, 1, 1, tzinfo=UTC).timestamp()
#: An RTC a little behind the last known time still kept time (drift, a quick reboot).
RTC_SLACK_S = 3600.0


def rtc_kept_time(rtc_dir: Path = RTC_DIR, last_known: Path = LAST_KNOWN_TIME,
                  earliest: float = EARLIEST_UTC) -> bool:
    """Whether the RTC kept time across power-off, so its time can be trusted.

    An RTC without a battery (a Pi 5's own, none fitted) restarts at 1970 when the
    power comes back and counts from there; many RTC drivers also refuse to read
    (EINVAL) when their oscillator stopped. Present is not enough: the RTC must read
    no earlier than the last time this device is known to have seen.
    """
    try:
        since_epoch = int((rtc_dir / "since_epoch").read_text(encoding="ascii").strip())
    except (OSError, ValueError):
        return False  # no RTC, or its driver says the time is invalid
    floor = earliest
    try:
        floor = max(floor, last_known.stat().st_mtime - RTC_SLACK_S)
    except OSError:
        pass
    return since_epoch >= floor


def ntp_synchronized() -> bool:
    """systemd's view: ``timedatectl show -p NTPSynchronized`` says yes."""
    if not shutil.which("timedatectl"):
        return False
    try:
        out = subprocess.run(
            ["timedatectl", "show", "--property=NTPSynchronized", "--value"],
            capture_output=True, text=True, timeout=2, check=False,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return False
    return out == "yes"


class Clock(Protocol):
    """What the firmware needs of time. Both clocks below provide it."""

    def monotonic(self) -> float:
        """Seconds on a clock that never steps (timers, timestamps)."""
        ...

    def time(self) -> float:
        """Wall-clock UTC seconds since the epoch (may step under NTP)."""
        ...

    def boottime(self) -> float:
        """Seconds on the clock the camera's sensor timestamps use (CLOCK_BOOTTIME):
        the microphone's samples are stamped on it too."""
        ...

    def source(self) -> str:
        """Which clock the wall time comes from: one of :data:`CLOCK_SOURCES`."""
        ...

    def call_at(self, when: float, fn: Callable[..., Any], *args: Any) -> Timer:
        """Run ``fn(*args)`` on the loop when :meth:`monotonic` reaches ``when``."""
        ...

    def call_later(self, delay: float, fn: Callable[..., Any], *args: Any) -> Timer:
        """Run ``fn(*args)`` on the loop ``delay`` seconds from now."""
        ...

    def call_soon_threadsafe(self, fn: Callable[..., Any], *args: Any) -> None:
        """Run ``fn(*args)`` on the loop as soon as possible; callable from any thread."""
        ...

    def run(self, until: float | None = None) -> None:
        """Run callbacks until :meth:`stop` or until monotonic time reaches ``until``."""
        ...

    def stop(self) -> None:
        """Make :meth:`run` return after the callback in progress; thread-safe."""
        ...

    def track_worker(self, wait_idle: Callable[[], object]) -> None:
        """A background worker posts its results to this loop. The device's clock never
        waits for it; the simulation's fast clock lets it finish before time moves on,
        so a run stays deterministic."""


class SystemClock:
    """The device's clock: real monotonic time, real sleeps, thread-safe posting."""

    def __init__(self, *, rtc_dir: Path = RTC_DIR, last_known: Path = LAST_KNOWN_TIME,
                 ntp: Callable[[], bool] = ntp_synchronized) -> None:
        self._timers = TimerQueue()
        self._cond = threading.Condition()
        self._stopped = False
        self._rtc_dir, self._last_known, self._ntp = rtc_dir, last_known, ntp

    def monotonic(self) -> float:
        return time.monotonic()

    def time(self) -> float:
        return time.time()

    def boottime(self) -> float:
        # libcamera's SensorTimestamp is CLOCK_BOOTTIME: monotonic, counting suspend too.
        return time.clock_gettime(time.CLOCK_BOOTTIME)

    def source(self) -> str:
        """``ntp`` once NTP synchronised, ``rtc`` if the RTC kept time, else ``unsynced``."""
        if self._ntp():
            return "ntp"
        if rtc_kept_time(self._rtc_dir, self._last_known):
            return "rtc"
        return "unsynced"

    def call_at(self, when: float, fn: Callable[..., Any], *args: Any) -> Timer:
        with self._cond:
            timer = self._timers.push(Timer(when, fn, args))
            self._cond.notify()
        return timer

    def call_later(self, delay: float, fn: Callable[..., Any], *args: Any) -> Timer:
        return self.call_at(self.monotonic() + delay, fn, *args)

    def call_soon_threadsafe(self, fn: Callable[..., Any], *args: Any) -> None:
        self.call_at(float("-inf"), fn, *args)

    def run(self, until: float | None = None) -> None:
        self._stopped = False
        while True:
            with self._cond:
                while True:
                    if self._stopped:
                        return
                    now = self.monotonic()
                    if until is not None and now >= until:
                        return
                    timer = self._timers.pop_due(now)
                    if timer is not None:
                        break
                    nxt = self._timers.next_when()
                    deadline = min(x for x in (nxt, until) if x is not None) if (
                        nxt is not None or until is not None
                    ) else None
                    self._cond.wait(None if deadline is None else max(0.0, deadline - now))
            try:
                timer.fn(*timer.args)
            except Exception:  # a bug in one callback must not stop the camera
                name = getattr(timer.fn, "__qualname__", timer.fn)
                log.exception("callback %s failed; the loop goes on", name)

    def stop(self) -> None:
        with self._cond:
            self._stopped = True
            self._cond.notify()

    def track_worker(self, wait_idle: Callable[[], object]) -> None:
        """On the device the loop never waits for the evidence writer: nothing to do."""
