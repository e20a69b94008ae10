"""The cue outputs (red LED, vibration motor, buzzer) as plain GPIO lines, through the RPi.GPIO API.

Each line is on or off and nothing else: the LED and the motor through a
transistor, the buzzer an *active* buzzer (it has its own oscillator and sounds
at its fixed pitch whenever its line is on). Patterns and timing live in
``firmware/cues.py`` on the daemon's clock; this adapter only writes levels, so
it runs unchanged on every board and on the simulation. A line someone else holds
raises :class:`drivers.gpio_claim.LineUnavailable` naming the pin.

A pin of None means the part is not fitted: writes to it are skipped, so a board
without a buzzer needs no special case above this layer.
"""

from __future__ import annotations

from .gpio_claim import claiming, opening_chip

#: The lines a body camera has, in the order they are listed and switched.
NAMES = ("led", "vibration", "buzzer")


class CueLines:
    """Named on/off output lines; ``set(name, on)`` writes only when the level changes."""

    def __init__(self, pins: dict[str, int | None], active_high: bool = True) -> None:
        import RPi.GPIO as GPIO  # the device library, or the simulation's in its place

        unknown = sorted(set(pins) - set(NAMES))
        if unknown:
            raise ValueError(f"unknown cue line(s) {unknown}; expected names from {', '.join(NAMES)}")
        fitted = {name: pins[name] for name in NAMES if pins.get(name) is not None}
        numbers = list(fitted.values())
        if len(set(numbers)) != len(numbers):
            raise ValueError(f"two cue lines share a pin: {fitted}")
        self._gpio = GPIO
        self._pins: dict[str, int] = {}
        self._on: dict[str, bool] = {}
        self._on_level = bool(active_high)  # True is GPIO.HIGH
        self._off_level = not active_high
        self._closed = False
        GPIO.setwarnings(False)
        if GPIO.getmode() is None:
            with opening_chip():
                GPIO.setmode(GPIO.BCM)
        for name, pin in fitted.items():
            assert pin is not None
            with claiming(pin, f"{name} cue line"):
                GPIO.setup(pin, GPIO.OUT, initial=self._off_level)
            self._pins[name] = pin
            self._on[name] = False

    @property
    def names(self) -> tuple[str, ...]:
        """The fitted lines (pin not None), in :data:`NAMES` order."""
        return tuple(self._pins)

    @property
    def pins(self) -> dict[str, int]:
        """Pin number of each fitted line (for the simulation's timeline)."""
        return dict(self._pins)

    def is_on(self, name: str) -> bool:
        """Whether the line was last switched on (False for a line not fitted)."""
        self._check(name)
        return self._on.get(name, False)

    def read(self, name: str) -> bool:
        """The line's level read back from the pin (RPi.GPIO's ``input`` on an output
        returns the level driven), as on or off; False for a line not fitted."""
        self._check(name)
        pin = self._pins.get(name)
        if pin is None:
            return False
        return self._gpio.input(pin) == self._on_level

    def set(self, name: str, on: bool) -> None:
        """Switch one line; a line not fitted is skipped, an unknown name is a bug."""
        self._check(name)
        if self._closed:
            raise RuntimeError("cue lines are closed")
        pin = self._pins.get(name)
        if pin is None or self._on[name] == bool(on):
            return
        self._gpio.output(pin, self._on_level if on else self._off_level)
        self._on[name] = bool(on)

    def close(self) -> None:
        """All lines off, then release the pins (only ours); safe to call twice."""
        if self._closed:
            return
        for name in self._pins:
            self.set(name, False)
        self._closed = True
        if self._pins:
            self._gpio.cleanup(list(self._pins.values()))

    @staticmethod
    def _check(name: str) -> None:
        if name not in NAMES:
            raise ValueError(f"unknown cue line {name!r}; expected one of {', '.join(NAMES)}")
