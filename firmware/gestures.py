"""Turns clean button presses into gestures: down, press, double press, hold.

Input is the debounced contact (``pressed``/``released`` with the time the
contact first moved); output is ``emit(gesture, t_down)`` where ``t_down`` is
when the gesture began, so the recording's pre-roll is measured from the
moment the officer acted, not from when we were sure what they meant.

- ``down``: the button went down (lets "press to start" start at once).
- ``press``: a short press, reported on release (not for the second press
  of a double press, which has already been reported as such).
- ``double_press``: the second of two short presses within the window,
  reported when the second one goes down; dated by the first.
- ``hold``: held for ``hold_seconds``, reported while still held.
- ``long_hold``: held for ``long_hold_seconds`` (the stealth toggle), reported
  while still held.
- ``hold_released``: let go after a ``hold`` but before a ``long_hold``. Where a
  long hold means something, the hold's own action waits for this, so that
  holding on towards the long hold does not trigger both.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum

from drivers.clock import Clock, Timer


class Gesture(StrEnum):
    """What the officer did with the button (the module docstring says when each fires)."""

    DOWN = "down"
    PRESS = "press"
    DOUBLE_PRESS = "double_press"
    HOLD = "hold"
    LONG_HOLD = "long_hold"
    HOLD_RELEASED = "hold_released"


GESTURES = tuple(g.value for g in Gesture)


class GestureRecognizer:
    """A small state machine on the daemon's loop; timers come from the clock."""

    def __init__(
        self,
        clock: Clock,
        emit: Callable[[Gesture, float], None],
        *,
        hold_seconds: float = 3.0,
        double_press_seconds: float = 0.5,
        long_hold_seconds: float | None = None,
    ) -> None:
        self._clock = clock
        self._emit = emit
        self.hold_seconds = hold_seconds
        self.double_press_seconds = double_press_seconds
        self.long_hold_seconds = long_hold_seconds
        self._long_timer: Timer | None = None
        self._long = False
        self._down_at: float | None = None
        self._hold_timer: Timer | None = None
        self._held = False
        self._last_release: float | None = None
        self._last_press_down: float | None = None
        self._second_of_double = False

    def pressed(self, t: float) -> None:
        """The contact closed at ``t`` (debounced)."""
        if self._down_at is not None:
            return
        self._down_at = t
        self._held = False
        self._long = False
        self._emit(Gesture.DOWN, t)
        if (
            self._last_release is not None
            and self._last_press_down is not None
            and t - self._last_release <= self.double_press_seconds
        ):
            self._second_of_double = True
            first = self._last_press_down
            self._last_release = None
            self._emit(Gesture.DOUBLE_PRESS, first)
        else:
            self._second_of_double = False
        self._hold_timer = self._clock.call_at(t + self.hold_seconds, self._hold_reached, t)
        if self.long_hold_seconds:
            self._long_timer = self._clock.call_at(t + self.long_hold_seconds, self._long_reached, t)

    def released(self, t: float) -> None:
        """The contact opened at ``t`` (debounced)."""
        down = self._down_at
        if down is None:
            return
        self._down_at = None
        if self._hold_timer is not None:
            self._hold_timer.cancel()
            self._hold_timer = None
            if t - down >= self.hold_seconds:  # released the instant the hold was reached
                self._held = True
                self._emit(Gesture.HOLD, down)
        if self._long_timer is not None:
            self._long_timer.cancel()
            self._long_timer = None
            if self.long_hold_seconds and t - down >= self.long_hold_seconds:
                self._long = True
                self._emit(Gesture.LONG_HOLD, down)
        if self._held:
            self._last_release = None
            if not self._long:
                self._emit(Gesture.HOLD_RELEASED, down)
            return
        if self._second_of_double:
            self._last_release = None  # its meaning was the double press
            return
        self._last_release = t
        self._last_press_down = down
        self._emit(Gesture.PRESS, down)

    def _long_reached(self, down: float) -> None:
        if self._down_at == down:  # still the same contact
            self._long, self._long_timer = True, None
            self._emit(Gesture.LONG_HOLD, down)

    def _hold_reached(self, down: float) -> None:
        if self._down_at == down:
            self._held, self._hold_timer = True, None
            self._emit(Gesture.HOLD, down)
