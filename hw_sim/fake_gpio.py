"""Fake ``RPi.GPIO``: the library's module surface over a simulated pin bank.

Two layers:

* :class:`PinBank` (``world.gpio``) is the electrical model, numbered BCM: input
  levels the simulation drives (:meth:`PinBank.drive`), pulls, output levels with
  a virtual-time history, PWM settings. Level changes reach edge listeners
  synchronously on the clock thread.
* The module-level functions (``setmode``, ``setup``, ``input``, ``output``,
  ``add_event_detect``, ``PWM``...) mirror RPi.GPIO 0.7: same constants, same
  arguments, the same ``RuntimeError``/``ValueError`` where that is cheap to
  reproduce. :func:`hw_sim.install` registers :func:`module` as ``RPi.GPIO``.

Edge detection follows RPi.GPIO's own rule (event_gpio.c): only edges of the
requested kind count, and an edge is reported only if more than ``bouncetime`` ms
passed since the last *reported* edge. Ignored edges do not restart the window.
rpi-lgpio (the Pi 5 shim) debounces differently (lgpio's glitch/debounce filter
wants the level to be stable for the whole time before it reports), so firmware
must not rely on either rule: debounce in the gesture layer.

Callbacks run on the clock thread (on the device: RPi.GPIO's event thread), and an
exception in one propagates out of ``clock.run()`` so a test sees it.
"""

from __future__ import annotations

import types
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from hw_sim.clock import VirtualClock

# RPi.GPIO 0.7's constant values (the C module's, offsets included).
HIGH = 1
LOW = 0
OUT = 0
IN = 1
HARD_PWM = 43
SERIAL = 40
I2C = 42
SPI = 41
UNKNOWN = -1
BOARD = 10
BCM = 11
PUD_OFF = 20
PUD_DOWN = 21
PUD_UP = 22
RISING = 31
FALLING = 32
BOTH = 33

VERSION = "0.7.1"
RPI_REVISION = 3
RPI_INFO = {
    "P1_REVISION": 3,
    "REVISION": "c03114",
    "TYPE": "Pi 4 Model B",
    "MANUFACTURER": "Sony UK",
    "PROCESSOR": "BCM2711",
    "RAM": "4G",
}

#: Physical header pin (BOARD numbering) -> BCM GPIO number, 40-pin header.
BOARD_TO_BCM = {
    3: 2, 5: 3, 7: 4, 8: 14, 10: 15, 11: 17, 12: 18, 13: 27, 15: 22, 16: 23,
    18: 24, 19: 10, 21: 9, 22: 25, 23: 11, 24: 8, 26: 7, 27: 0, 28: 1, 29: 5,
    31: 6, 32: 12, 33: 13, 35: 19, 36: 16, 37: 26, 38: 20, 40: 21,
}
BCM_PINS = range(28)

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
        self.lib = _LibState()

    # -- what the simulation does to the pins -------------------------------

    def drive(self, pin: int, level: int, at: float | None = None) -> None:
        """An external circuit drives ``pin`` to ``level`` (now, or at monotonic ``at``)."""
        level = _level(level)
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
        level = _level(level)
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


def _level(value: Any) -> int:
    """0 or 1 from an int or bool (any non-zero int is HIGH, as in RPi.GPIO)."""
    try:
        return 1 if int(value) else 0
    except (TypeError, ValueError):
        raise ValueError("Value must be an integer/boolean or a list/tuple of integers/booleans") from None


# -- RPi.GPIO's per-process state ---------------------------------------------


@dataclass
class _Detect:
    channel: int  # as the user named it (BOARD or BCM), passed to callbacks
    edge: int
    bouncetime: float  # seconds; 0 = none
    callbacks: list[Callable[[int], Any]] = field(default_factory=list)
    lastcall: float | None = None
    occurred: bool = False
    listener: EdgeListener | None = None


@dataclass
class _LibState:
    mode: int | None = None
    warnings: bool = True
    directions: dict[int, int] = field(default_factory=dict)
    detects: dict[int, _Detect] = field(default_factory=dict)
    pwms: dict[int, PWM] = field(default_factory=dict)


def _bank() -> PinBank:
    from hw_sim.world import current  # late: world imports this module

    return current().gpio


def _state() -> _LibState:
    return _bank().lib


def _bcm(channel: Any) -> int:
    lib = _state()
    if lib.mode is None:
        raise RuntimeError(
            "Please set pin numbering mode using GPIO.setmode(GPIO.BOARD) or GPIO.setmode(GPIO.BCM)"
        )
    if not isinstance(channel, int) or isinstance(channel, bool):
        raise ValueError("Channel must be an integer or list/tuple of integers")
    if lib.mode == BOARD:
        if channel not in BOARD_TO_BCM:
            raise ValueError("The channel sent is invalid on a Raspberry Pi")
        return BOARD_TO_BCM[channel]
    if channel not in BCM_PINS:
        raise ValueError("The channel sent is invalid on a Raspberry Pi")
    return channel


def _channels(channel: int | Iterable[int]) -> list[int]:
    if isinstance(channel, list | tuple):
        return list(channel)
    return [channel]  # type: ignore[list-item]


# -- the module surface ---------------------------------------------------------


def setmode(mode: int) -> None:
    """Choose BOARD or BCM numbering (once per process, as in RPi.GPIO)."""
    if mode not in (BOARD, BCM):
        raise ValueError("An invalid mode was passed to setmode()")
    lib = _state()
    if lib.mode is not None and lib.mode != mode:
        raise ValueError("A different mode has already been set!")
    lib.mode = mode


def getmode() -> int | None:
    """The numbering mode, or None before setmode()."""
    return _state().mode


def setwarnings(flag: bool) -> None:
    """Accepted for compatibility; the simulation issues no channel-in-use warnings."""
    _state().warnings = bool(flag)


def setup(
    channel: int | Iterable[int],
    direction: int,
    pull_up_down: int = PUD_OFF,
    initial: int = -1,
) -> None:
    """Configure one channel or a list of channels as IN or OUT."""
    if direction not in (IN, OUT):
        raise ValueError("An invalid direction was passed to setup()")
    if direction == OUT and pull_up_down != PUD_OFF:
        raise ValueError("pull_up_down parameter is not valid for outputs")
    if direction == IN and initial != -1:
        raise ValueError("initial parameter is not valid for inputs")
    if pull_up_down not in (PUD_OFF, PUD_UP, PUD_DOWN):
        raise ValueError("Invalid value for pull_up_down - should be either PUD_OFF, PUD_UP or PUD_DOWN")
    bank = _bank()
    for ch in _channels(channel):
        pin = _bcm(ch)
        if direction == IN:
            bank.configure_input(pin, pull_up_down)
        else:
            bank.configure_output(pin, LOW if initial == -1 else _level(initial))
        bank.lib.directions[pin] = direction


def gpio_function(channel: int) -> int:
    """IN, OUT or UNKNOWN for a channel (as far as this process set it up)."""
    return _state().directions.get(_bcm(channel), UNKNOWN)


def input(channel: int) -> int:  # RPi.GPIO's name
    """The level of a channel set up as input or output."""
    pin = _bcm(channel)
    if pin not in _state().directions:
        raise RuntimeError("You must setup() the GPIO channel first")
    return _bank().level(pin)


def output(channel: int | Iterable[int], value: int | Iterable[int]) -> None:
    """Write one value to one or more channels, or one value per channel."""
    chans = _channels(channel)
    values: list[Any] = list(value) if isinstance(value, list | tuple) else [value] * len(chans)
    if len(values) != len(chans):
        raise RuntimeError("Number of channels != number of values")
    bank = _bank()
    for ch, val in zip(chans, values, strict=True):
        pin = _bcm(ch)
        if bank.lib.directions.get(pin) != OUT:
            raise RuntimeError("The GPIO channel has not been set up as an OUTPUT")
        bank.set_output(pin, val)


def add_event_detect(
    channel: int,
    edge: int,
    callback: Callable[[int], Any] | None = None,
    bouncetime: int | None = None,
) -> None:
    """Watch a channel for RISING, FALLING or BOTH edges (see the module docstring)."""
    pin = _bcm(channel)
    bank = _bank()
    lib = bank.lib
    if lib.directions.get(pin) != IN:
        raise RuntimeError("You must setup() the GPIO channel as an input first")
    if edge not in (RISING, FALLING, BOTH):
        raise ValueError("The edge must be set to RISING, FALLING or BOTH")
    if bouncetime is not None and bouncetime <= 0:
        raise ValueError("Bouncetime must be greater than 0")
    if pin in lib.detects:
        raise RuntimeError("Conflicting edge detection already enabled for this GPIO channel")
    det = _Detect(channel, edge, (bouncetime or 0) / 1000.0)
    if callback is not None:
        _check_callable(callback)
        det.callbacks.append(callback)

    def on_edge(_pin: int, level: int, t: float) -> None:
        if (det.edge == RISING and level != HIGH) or (det.edge == FALLING and level != LOW):
            return
        if det.bouncetime and det.lastcall is not None and t - det.lastcall <= det.bouncetime:
            return
        det.lastcall = t
        det.occurred = True
        for fn in list(det.callbacks):
            fn(det.channel)

    det.listener = on_edge
    bank.add_edge_listener(pin, on_edge)
    lib.detects[pin] = det


def add_event_callback(channel: int, callback: Callable[[int], Any]) -> None:
    """Add another callback to a channel that already has edge detection."""
    det = _state().detects.get(_bcm(channel))
    if det is None:
        raise RuntimeError("Add event detection using add_event_detect first before adding a callback")
    _check_callable(callback)
    det.callbacks.append(callback)


def remove_event_detect(channel: int) -> None:
    """Stop edge detection (and its callbacks) on a channel."""
    pin = _bcm(channel)
    bank = _bank()
    det = bank.lib.detects.pop(pin, None)
    if det is not None and det.listener is not None:
        bank.remove_edge_listener(pin, det.listener)


def event_detected(channel: int) -> bool:
    """True once if a (debounced) edge happened since the last call."""
    det = _state().detects.get(_bcm(channel))
    if det is None or not det.occurred:
        return False
    det.occurred = False
    return True


def cleanup(channel: int | Iterable[int] | None = None) -> None:
    """Return channels this process used to inputs without pull; all of them: reset the mode."""
    bank = _bank()
    lib = bank.lib
    if lib.mode is None:
        return
    pins = list(lib.directions) if channel is None else [_bcm(c) for c in _channels(channel)]
    for pin in pins:
        det = lib.detects.pop(pin, None)
        if det is not None and det.listener is not None:
            bank.remove_edge_listener(pin, det.listener)
        pwm = lib.pwms.pop(pin, None)
        if pwm is not None and pwm._running:
            bank.record_pwm(pin, pwm._frequency, None)
        if pin in lib.directions:
            bank.configure_input(pin, PUD_OFF)
            del lib.directions[pin]
    if channel is None:
        lib.mode = None


def _check_callable(fn: Any) -> None:
    if not callable(fn):
        raise TypeError("Parameter must be callable")


class PWM:
    """Software PWM on an output channel (luma's backlight may use it)."""

    def __init__(self, channel: int, frequency: float) -> None:
        pin = _bcm(channel)
        bank = _bank()
        if bank.lib.directions.get(pin) != OUT:
            raise RuntimeError("You must setup() the GPIO channel as an output first")
        if frequency <= 0.0:
            raise ValueError("frequency must be greater than 0.0")
        if pin in bank.lib.pwms:
            raise RuntimeError("A PWM object already exists for this GPIO channel")
        self._bank = bank
        self._pin = pin
        self._frequency = float(frequency)
        self._duty = 0.0
        self._running = False
        bank.lib.pwms[pin] = self

    def start(self, dutycycle: float) -> None:
        """Start with a duty cycle of 0-100 %."""
        self._duty = _duty(dutycycle)
        self._running = True
        self._bank.record_pwm(self._pin, self._frequency, self._duty)

    def ChangeDutyCycle(self, dutycycle: float) -> None:  # RPi.GPIO's name
        """Set a new duty cycle (0-100 %)."""
        self._duty = _duty(dutycycle)
        if self._running:
            self._bank.record_pwm(self._pin, self._frequency, self._duty)

    def ChangeFrequency(self, frequency: float) -> None:  # RPi.GPIO's name
        """Set a new frequency in Hz."""
        if frequency <= 0.0:
            raise ValueError("frequency must be greater than 0.0")
        self._frequency = float(frequency)
        if self._running:
            self._bank.record_pwm(self._pin, self._frequency, self._duty)

    def stop(self) -> None:
        """Stop the PWM; the channel stays set up."""
        if self._running:
            self._running = False
            self._bank.record_pwm(self._pin, self._frequency, None)
        if self._bank.lib.pwms.get(self._pin) is self:
            del self._bank.lib.pwms[self._pin]


def _duty(value: float) -> float:
    if not 0.0 <= value <= 100.0:
        raise ValueError("dutycycle must have a value from 0.0 to 100.0")
    return float(value)


#: The names ``RPi.GPIO`` exposes (what :func:`module` copies).
PUBLIC = (
    "HIGH", "LOW", "OUT", "IN", "HARD_PWM", "SERIAL", "I2C", "SPI", "UNKNOWN", "BOARD", "BCM",
    "PUD_OFF", "PUD_DOWN", "PUD_UP", "RISING", "FALLING", "BOTH", "VERSION", "RPI_REVISION",
    "RPI_INFO", "setmode", "getmode", "setwarnings", "setup", "gpio_function", "input",
    "output", "add_event_detect", "add_event_callback", "remove_event_detect",
    "event_detected", "cleanup", "PWM",
)


def module() -> types.ModuleType:
    """A fresh ``RPi.GPIO`` module object carrying only the library's public names."""
    mod = types.ModuleType("RPi.GPIO", "Simulated RPi.GPIO (hw_sim.fake_gpio)")
    for name in PUBLIC:
        setattr(mod, name, globals()[name])
    setattr(mod, "RPI_INFO", dict(RPI_INFO))  # noqa: B010 (a module attribute set by name)
    return mod
