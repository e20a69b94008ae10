"""The simulated header: the electrical state of each GPIO line (BCM numbers).

:class:`PinBank` (``world.gpio``) is what a multimeter would see: input levels the
simulation drives (:meth:`PinBank.drive`), pulls, output levels with a
virtual-time history, PWM settings, and which lines are held and by whom (the
kernel's SPI driver, this process). Level changes reach edge listeners
synchronously on the thread that made them (the clock's, in a scenario).

No library API lives here: the real rpi-lgpio package runs over
``hw_sim.fake_lgpio``, which keeps its claims and edge detection on this bank.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import IntEnum
from typing import Any

from hw_sim.clock import VirtualClock

HIGH = 1
LOW = 0

#: Lines spi0 takes when ``dtparam=spi=on`` (CE1, CE0, MISO, MOSI, SCLK): the kernel's
#: spi-bcm2835 / dw-spi driver requests them, so user space gets "GPIO busy".
SPI0_LINES = {7: "spi0 CS1", 8: "spi0 CS0", 9: "spi0 MISO", 10: "spi0 MOSI", 11: "spi0 SCLK"}


class Pull(IntEnum):
    """The bias of an input line (values as RPi.GPIO numbers its PUD_* constants)."""

    OFF = 20
    DOWN = 21
    UP = 22


EdgeListener = Callable[[int, int, float], Any]


class PinBank:
    """The simulated pins; ``world.gpio``.

    ``history`` lists output *changes* as ``(t_monotonic, pin, level)``, the
    initial level of a line claimed as output included, so a test can assert an
    exact LED or buzzer pattern. ``pwm_history`` lists ``(t, pin, frequency, duty)``
    with duty None when the PWM stops. ``kernel`` maps a line a kernel driver holds
    to its consumer name (``gpioinfo`` shows it ``[used]``); ``owner`` maps a line a
    user-space process claimed to that process's token.
    """

    def __init__(self, clock: VirtualClock, *, spi0: bool = True) -> None:
        self.clock = clock
        self.history: list[tuple[float, int, int]] = []
        self.pwm_history: list[tuple[float, int, float, float | None]] = []
        self.kernel: dict[int, str] = dict(SPI0_LINES) if spi0 else {}
        #: False: /dev/gpiochip0 cannot be opened (a user outside the 'gpio' group).
        self.chip_access = True
        self.owner: dict[int, object] = {}
        self._driven: dict[int, int] = {}
        self._pull: dict[int, Pull] = {}
        self._outputs: dict[int, int] = {}
        self._is_output: set[int] = set()
        self._listeners: dict[int, list[EdgeListener]] = {}

    # -- what the simulation does to the pins -------------------------------

    def drive(self, pin: int, level: int, at: float | None = None) -> None:
        """An external circuit drives ``pin`` to ``level`` (now, or at monotonic ``at``)."""
        level = 1 if level else 0
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
        return HIGH if self._pull.get(pin) == Pull.UP else LOW

    def is_output(self, pin: int) -> bool:
        """Whether the line is driven by the SoC (claimed as an output)."""
        return pin in self._is_output

    def pull(self, pin: int) -> Pull | None:
        """The bias last set on an input line (None: never set, the kernel's default)."""
        return self._pull.get(pin)

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

    # -- what a driver does to the pins -------------------------------------

    def configure_input(self, pin: int, pull: int | None) -> None:
        """Make ``pin`` an input; ``pull`` a :class:`Pull` or None to keep the bias."""

        def apply() -> None:
            self._is_output.discard(pin)
            if pull is not None:
                self._pull[pin] = Pull(pull)

        self._change(pin, apply)

    def configure_output(self, pin: int, level: int) -> None:
        """Make ``pin`` an output at ``level`` (recorded in history)."""
        self._is_output.add(pin)
        self._outputs.pop(pin, None)
        self.set_output(pin, level)

    def set_output(self, pin: int, level: int) -> None:
        """Write an output level; a change is appended to :attr:`history`."""
        level = 1 if level else 0
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
