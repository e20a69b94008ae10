"""Timers and the timer queue both clocks share: the device's and the simulation's.

Dependency-free on purpose: ``drivers.clock`` (the device) and ``hw_sim.clock``
(the simulation, which sits under the drivers and must not import them) both
build on it, so a ``Timer`` means the same thing on either side.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable
from typing import Any

#: Clock sources a recording can trust, most trusted first.
CLOCK_SOURCES = ("ntp", "rtc", "unsynced")


class Timer:
    """A scheduled callback; :meth:`cancel` keeps it from running."""

    __slots__ = ("when", "fn", "args", "cancelled")

    def __init__(self, when: float, fn: Callable[..., Any], args: tuple) -> None:
        self.when = when
        self.fn = fn
        self.args = args
        self.cancelled = False

    def cancel(self) -> None:
        """Do not run this callback (a no-op once it has run)."""
        self.cancelled = True

    def __repr__(self) -> str:
        name = getattr(self.fn, "__qualname__", repr(self.fn))
        state = " cancelled" if self.cancelled else ""
        return f"<Timer {name} at {self.when:.6f}{state}>"


class TimerQueue:
    """An ordered timer heap (FIFO among equal times). Not locked: its owner locks."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, Timer]] = []
        self._seq = itertools.count()

    def push(self, timer: Timer) -> Timer:
        """Add ``timer``; returns it."""
        heapq.heappush(self._heap, (timer.when, next(self._seq), timer))
        return timer

    def next_when(self) -> float | None:
        """When the earliest live timer is due, or None if there is none."""
        while self._heap and self._heap[0][2].cancelled:
            heapq.heappop(self._heap)
        return self._heap[0][0] if self._heap else None

    def pop_due(self, now: float) -> Timer | None:
        """The earliest live timer due at or before ``now``, removed from the queue."""
        when = self.next_when()
        if when is None or when > now:
            return None
        return heapq.heappop(self._heap)[2]

    def pop(self) -> Timer | None:
        """The earliest live timer whatever its time, removed; None if there is none."""
        if self.next_when() is None:
            return None
        return heapq.heappop(self._heap)[2]

    def live(self) -> int:
        """How many timers are not cancelled."""
        return sum(1 for _, _, t in self._heap if not t.cancelled)
