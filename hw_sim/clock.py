"""A discrete-event clock, so a scenario of minutes runs in seconds and the same way every time.

:class:`VirtualClock` has the surface of the firmware's ``Clock`` protocol
(``drivers/clock.py``) without importing it: ``hw_sim`` sits under the drivers and
must not depend on them. The simulated camera and GPIO schedule their own
events (frames every 1/fps s, scripted button edges) on this clock, so the firmware
and the simulated hardware share one timeline.

Two modes:

* ``fast=True``: virtual time jumps straight to the next timer; a callback sees
  ``monotonic()`` equal to the time it was scheduled for, exactly.
* ``fast=False``: :meth:`VirtualClock.run` sleeps so virtual time tracks real
  time (for a demo); between events ``monotonic()`` moves with real time.

The wall clock (:meth:`VirtualClock.time`) is ``start_utc`` plus virtual elapsed
time plus every :meth:`VirtualClock.step`, so a scripted NTP step moves UTC but
never the monotonic timeline the recording's timestamps are built on.
"""

from __future__ import annotations

import logging
import math
import threading
import time as _time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from timers import CLOCK_SOURCES, Timer, TimerQueue

log = logging.getLogger(__name__)

#: 2026-01-15T08:00:00Z: a fixed start so a run's wall-clock output is reproducible.
DEFAULT_START_UTC = datetime(2026, 1, 15, 8, 0, 0, tzinfo=UTC).timestamp()

#: Where virtual monotonic time starts: positive, like a device that booted a while ago.
MONOTONIC_START = 1000.0


__all__ = ["CLOCK_SOURCES", "DEFAULT_START_UTC", "HOLD_LIMIT_S", "MONOTONIC_START", "Hold", "Timer",
           "VirtualClock"]

#: Real seconds fast mode waits for outstanding holds before moving time on regardless.
HOLD_LIMIT_S = 5.0


class Hold:
    """A claim on virtual time (see :meth:`VirtualClock.hold`); release it once."""

    __slots__ = ("_clock",)

    def __init__(self, clock: VirtualClock) -> None:
        self._clock: VirtualClock | None = clock

    def release(self) -> None:
        """Let virtual time move on (a second call does nothing)."""
        clock, self._clock = self._clock, None
        if clock is not None:
            clock._release_hold(self)


class VirtualClock:
    """The simulation's scheduler and time source (see the module docstring)."""

    def __init__(
        self,
        fast: bool = True,
        start_utc: float = DEFAULT_START_UTC,
        source: str = "ntp",
        *,
        contain_errors: bool = False,
    ) -> None:
        _check_source(source)
        self.fast = fast
        #: Log a failing callback and go on, as the device's SystemClock does,
        #: instead of raising it out of :meth:`run`.
        self.contain_errors = contain_errors
        self._workers: list[Callable[[], object]] = []
        self._mono = MONOTONIC_START
        self._wall_offset = start_utc - MONOTONIC_START
        self._source = source
        self._timers = TimerQueue()
        self._cond = threading.Condition(threading.Lock())
        self._stopped = False
        # Real-time anchor (virtual, real) while a non-fast run() is in progress.
        self._anchor: tuple[float, float] | None = None
        self._thread: int | None = None
        # Work the simulated hardware handed to a library's own threads (picamera2's event
        # loop, its encoder threads): in fast mode virtual time waits for it (see hold()).
        self._holds: set[Hold] = set()

    # -- time ---------------------------------------------------------------

    def monotonic(self) -> float:
        """Virtual seconds on a clock that never steps (starts at 1000.0)."""
        anchor = self._anchor
        if anchor is None:
            return self._mono
        virt, real = anchor
        return virt + (_time.perf_counter() - real)

    def boottime(self) -> float:
        """The sensor's clock: in the simulation the camera stamps frames with
        :meth:`monotonic`, so this is the same timeline."""
        return self.monotonic()

    def time(self) -> float:
        """Virtual UTC epoch seconds: start_utc + virtual elapsed + every step()."""
        return self.monotonic() + self._wall_offset

    def source(self) -> str:
        """Where the wall time comes from: ``ntp``, ``rtc`` or ``unsynced``."""
        return self._source

    def set_source(self, name: str) -> None:
        """Change the reported clock source (e.g. NTP lost: ``unsynced``)."""
        _check_source(name)
        self._source = name

    def step(self, seconds: float) -> None:
        """Step the wall clock by ``seconds`` (may be negative); monotonic time is untouched."""
        self._wall_offset += seconds

    def stall(self, seconds: float) -> None:
        """Hang the callback in progress for ``seconds``: nothing else runs meanwhile.

        A loop stuck in one callback (a blocking call, a livelock) is what the systemd
        watchdog exists for; on the virtual clock in fast mode the hang costs no real
        time, in real-time mode it is a sleep. Call it from a callback on the loop.
        """
        if seconds < 0:
            raise ValueError("a stall cannot be negative")
        if self.fast:
            self._mono += seconds
        else:
            _time.sleep(seconds)

    def track_worker(self, wait_idle: Callable[[], object]) -> None:
        """In fast mode, let a background worker (the evidence writer) finish what it was
        given before the next callback runs: its results then arrive at the same virtual
        instant, in the same order, on every run. (On the device nothing waits.)"""
        self._workers.append(wait_idle)

    def on_clock_thread(self) -> bool:
        """True when called from the thread inside :meth:`run` (the fakes' "loop")."""
        return self._thread == threading.get_ident()

    # -- timers -------------------------------------------------------------

    def call_at(self, when: float, fn: Callable[..., Any], *args: Any) -> Timer:
        """Run ``fn(*args)`` on the loop when monotonic time reaches ``when``."""
        timer = Timer(float(when), fn, args)
        with self._cond:
            self._timers.push(timer)
            self._cond.notify()
        return timer

    def call_later(self, delay: float, fn: Callable[..., Any], *args: Any) -> Timer:
        """Run ``fn(*args)`` on the loop ``delay`` seconds from now."""
        return self.call_at(self.monotonic() + delay, fn, *args)

    def call_soon_threadsafe(self, fn: Callable[..., Any], *args: Any) -> None:
        """Run ``fn(*args)`` before any timer that is due; callable from any thread."""
        self.call_at(-math.inf, fn, *args)

    def hold(self) -> Hold:
        """Keep fast mode from moving virtual time on until the returned hold is released.

        The simulated hardware takes a hold when it hands work to a real library's own
        thread (a completed camera request, a frame queued to the encoder), so that in
        fast mode the library finishes with one frame before the next is due, as it
        would in real time. Callbacks already due still run meanwhile. A hold not
        released within :data:`HOLD_LIMIT_S` of real time is ignored (a library that
        keeps a buffer for good must not freeze the world).
        """
        hold = Hold(self)
        with self._cond:
            self._holds.add(hold)
        return hold

    def _release_hold(self, hold: Hold) -> None:
        with self._cond:
            self._holds.discard(hold)
            self._cond.notify_all()

    def pending(self) -> int:
        """How many live (not cancelled) callbacks are waiting; for tests and diagnostics."""
        with self._cond:
            return self._timers.live()

    # -- the loop -----------------------------------------------------------

    def run(self, until: float | None = None) -> None:
        """Run callbacks in time order (FIFO among equal times).

        Returns on :meth:`stop`, when monotonic time reaches ``until``, or, in fast
        mode, when no timer is left (nothing could ever happen again). A callback's
        exception propagates out of ``run`` (the clock stays usable), or with
        ``contain_errors`` is logged and the loop goes on, as on the device.
        """
        self._stopped = False
        self._thread = threading.get_ident()
        if not self.fast:
            self._anchor = (self._mono, _time.perf_counter())
        try:
            while True:
                if self.fast:
                    for wait_idle in self._workers:
                        wait_idle()
                timer = self._next(until)
                if timer is None:
                    return
                if not self.contain_errors:
                    timer.fn(*timer.args)
                    continue
                try:
                    timer.fn(*timer.args)
                except Exception:  # as drivers.clock.SystemClock: one bad callback, not the loop
                    name = getattr(timer.fn, "__qualname__", timer.fn)
                    log.exception("callback %s failed; the loop goes on", name)
        finally:
            if self._anchor is not None:
                self._mono = self.monotonic()
                self._anchor = None
            self._thread = None

    def stop(self) -> None:
        """Make :meth:`run` return after the callback in progress; thread-safe."""
        with self._cond:
            self._stopped = True
            self._cond.notify()

    def _next(self, until: float | None) -> Timer | None:
        """The next timer to run, with virtual time advanced to it; None when run() ends."""
        waited_since: float | None = None
        with self._cond:
            while True:
                if self._stopped:
                    return None
                nxt = self._timers.next_when()
                now = self.monotonic()
                if nxt is not None and nxt <= now and (until is None or nxt <= until):
                    return self._timers.pop()
                if until is not None and now >= until:
                    return None
                if self.fast and self._holds and (until is None or now < until):
                    if waited_since is None:
                        waited_since = _time.monotonic()
                    if _time.monotonic() - waited_since < HOLD_LIMIT_S:
                        self._cond.wait(0.05)
                        continue
                    log.warning("virtual clock: %d hold(s) not released in %.0f s; moving on",
                                len(self._holds), HOLD_LIMIT_S)
                    self._holds.clear()
                if self.fast:
                    if nxt is None:
                        if until is not None:
                            self._mono = until
                        return None
                    if until is not None and nxt > until:
                        self._mono = until
                        return None
                    self._mono = nxt
                    return self._timers.pop()
                deadline = min(x for x in (nxt, until, math.inf) if x is not None)
                self._cond.wait(None if deadline == math.inf else deadline - now)


def _check_source(name: str) -> None:
    if name not in CLOCK_SOURCES:
        raise ValueError(f"clock source {name!r} is not one of {', '.join(CLOCK_SOURCES)}")
