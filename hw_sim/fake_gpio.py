"""Fake ``RPi.GPIO``: the library's module surface over a simulated pin bank.

Two layers:

* :class:`hw_sim.pins.PinBank` (``world.gpio``) is the electrical model, numbered BCM: input
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
from typing import Any

from hw_sim import gpio_constants
from hw_sim.gpio_constants import (
    BCM,
    BCM_PINS,
    BOARD,
    BOARD_TO_BCM,
    BOTH,
    FALLING,
    HIGH,
    IN,
    LOW,
    OUT,
    PUD_DOWN,
    PUD_OFF,
    PUD_UP,
    RISING,
    RPI_INFO,
    UNKNOWN,
)
from hw_sim.pins import Detect, LibState, PinBank, to_level
from hw_sim.registry import current


def _bank() -> PinBank:
    return current().gpio


def _state() -> LibState:
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
            bank.configure_output(pin, LOW if initial == -1 else to_level(initial))
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
    det = Detect(channel, edge, (bouncetime or 0) / 1000.0)
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
        value = globals()[name] if name in globals() else getattr(gpio_constants, name)
        setattr(mod, name, value)
    setattr(mod, "RPI_INFO", dict(RPI_INFO))  # noqa: B010 (a module attribute set by name)
    return mod
