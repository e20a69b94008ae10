"""The simulated pins: the electrical model under the fake ``RPi.GPIO`` (``world.gpio``).

Numbered BCM: input levels the simulation drives (:meth:`PinBank.drive`), pulls,
output levels with a virtual-time history, PWM settings. Level changes reach
edge listeners synchronously on the clock thread. Each bank also carries the
library's per-process state (mode, channels, edge detection), per world.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from hw_sim.clock import VirtualClock
from hw_sim.gpio_constants import HIGH, LOW, PUD_UP

if TYPE_CHECKING:
    from hw_sim.fake_gpio import PWM

EdgeListener = Callable[[int, int, float], Any]


class PinBank:
    """The simulated pins (BCM numbers); ``world.gpio``.

    ``history`` lists output *changes* as ``(t_monotonic, pin, level)``, the
    initial level set by ``setup(OUT)`` included, so a test can assert an exact
    LED or buzzer pattern. ``pwm_history`` lists ``(t, pin, frequency, duty)``
    with duty None when the PWM stops.
    """

    def __init__(self, clock: VirtualClock) -> None:
        self.clock = clock
        self.history: list[tuple[float, int, int]] = []
        self.pwm_history: list[tuple[float, int, float, float | None]] = []
        self._driven: dict[int, int] = {}
        self._pull: dict[int, int] = {}
        self._outputs: dict[int, int] = {}
        self._is_output: set[int] = set()
        self._listeners: dict[int, list[EdgeListener]] = {}
        #: RPi.GPIO's per-process state (mode, channels, edge detection), per world.
        self.lib = LibState()

    # -- what the simulation does to the pins -------------------------------

    def drive(self, pin: int, level: int, at: float | None = None) -> None:
        """An external circuit drives ``pin`` to ``level`` (now, or at monotonic ``at``)."""
        level = to_level(level)
        if at is not None:
            self.clock.call_at(at, self.drive, pin, level)
            return
        self._change(pin, lambda: self._driven.__setitem__(pin, level))

    def release(self, pin: int, at: float | None = None) -> None:
        """Stop driving ``pin``: its pull decides the level again."""
        if at is not None:
            self.clock.call_at(at, self.release, pin)
            return
        self._change(pin, lambda: self._driven.pop(pin, None))

    def level(self, pin: int) -> int:
        """The electrical level: output level, else the driven level, else the pull."""
        if pin in self._is_output:
            return self._outputs.get(pin, LOW)
        if pin in self._driven:
            return self._driven[pin]
        return HIGH if self._pull.get(pin) == PUD_UP else LOW

    def output_level(self, pin: int) -> int | None:
        """The last level written to an output pin (None if never an output)."""
        return self._outputs.get(pin)

    def outputs(self, pin: int) -> list[tuple[float, int]]:
        """``(t, level)`` changes of one output pin, from :attr:`history`."""
        return [(t, lv) for t, p, lv in self.history if p == pin]

    def add_edge_listener(self, pin: int, fn: EdgeListener) -> None:
        """Call ``fn(pin, new_level, t)`` on every level change of ``pin``."""
        self._listeners.setdefault(pin, []).append(fn)

    def remove_edge_listener(self, pin: int, fn: EdgeListener) -> None:
        """Undo :meth:`add_edge_listener` (no error if absent)."""
        fns = self._listeners.get(pin, [])
        if fn in fns:
            fns.remove(fn)

    # -- what the library does to the pins ----------------------------------

    def configure_input(self, pin: int, pull: int) -> None:
        """Make ``pin`` an input with pull ``PUD_*`` (changes the level if floating)."""

        def apply() -> None:
            self._is_output.discard(pin)
            self._pull[pin] = pull

        self._change(pin, apply)

    def configure_output(self, pin: int, level: int) -> None:
        """Make ``pin`` an output at ``level`` (recorded in history)."""
        self._is_output.add(pin)
        self._pull.pop(pin, None)
        self._outputs.pop(pin, None)
        self.set_output(pin, level)

    def set_output(self, pin: int, level: int) -> None:
        """Write an output level; a change is appended to :attr:`history`."""
        level = to_level(level)
        if self._outputs.get(pin) != level:
            self._outputs[pin] = level
            self.history.append((self.clock.monotonic(), pin, level))

    def record_pwm(self, pin: int, frequency: float, duty: float | None) -> None:
        """Note a PWM change on ``pin``."""
        self.pwm_history.append((self.clock.monotonic(), pin, frequency, duty))

    def _change(self, pin: int, mutate: Callable[[], Any]) -> None:
        before = self.level(pin)
        mutate()
        after = self.level(pin)
        if after != before:
            t = self.clock.monotonic()
            for fn in list(self._listeners.get(pin, ())):
                fn(pin, after, t)


def to_level(value: Any) -> int:
    """0 or 1 from an int or bool (any non-zero int is HIGH, as in RPi.GPIO)."""
    try:
        return 1 if int(value) else 0
    except (TypeError, ValueError):
        raise ValueError("Value must be an integer/boolean or a list/tuple of integers/booleans") from None


# -- RPi.GPIO's per-process state ---------------------------------------------


@dataclass
class Detect:
    channel: int  # as the user named it (BOARD or BCM), passed to callbacks
    edge: int
    bouncetime: float  # seconds; 0 = none
    callbacks: list[Callable[[int], Any]] = field(default_factory=list)
    lastcall: float | None = None
    occurred: bool = False
    listener: EdgeListener | None = None


@dataclass
class LibState:
    mode: int | None = None
    warnings: bool = True
    directions: dict[int, int] = field(default_factory=dict)
    detects: dict[int, Detect] = field(default_factory=dict)
    pwms: dict[int, PWM] = field(default_factory=dict)
