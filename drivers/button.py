"""The record button on a GPIO line, through the RPi.GPIO API.

Debouncing is done here in software, not with ``bouncetime``: RPi.GPIO's
bouncetime drops edges for N ms after an edge, while rpi-lgpio (the Pi 5
shim) treats it as a glitch filter, so the same number means different things
on the two boards. Instead every edge (re)starts a settle timer on the
daemon's clock; when the line has been quiet for ``debounce_ms`` its level is
read and, if it changed, reported with the time the first edge of the burst
arrived. That works the same on both libraries.
"""

from __future__ import annotations

from collections.abc import Callable

from .clock import Clock, Timer


class Button:
    """A momentary push button; ``on_change(pressed, t)`` runs on the clock's loop."""

    def __init__(
        self,
        pin: int,
        clock: Clock,
        on_change: Callable[[bool, float], None],
        *,
        active_low: bool = True,
        debounce_ms: int = 30,
    ) -> None:
        import RPi.GPIO as GPIO  # the device library, or the simulation's in its place

        self._gpio = GPIO
        self.pin = pin
        self._clock = clock
        self._on_change = on_change
        self._active_low = active_low
        self._debounce = debounce_ms / 1000.0
        self._settle: Timer | None = None
        self._burst_start: float | None = None
        GPIO.setwarnings(False)
        if GPIO.getmode() is None:
            GPIO.setmode(GPIO.BCM)
        pull = GPIO.PUD_UP if active_low else GPIO.PUD_DOWN
        GPIO.setup(pin, GPIO.IN, pull_up_down=pull)
        self.pressed = self._read()
        GPIO.add_event_detect(pin, GPIO.BOTH, callback=self._edge)

    def _read(self) -> bool:
        level = self._gpio.input(self.pin)
        return (level == self._gpio.LOW) if self._active_low else (level == self._gpio.HIGH)

    def _edge(self, _channel: int) -> None:
        # Called on the GPIO library's thread: note the time, hand over to the loop.
        self._clock.call_soon_threadsafe(self._on_edge, self._clock.monotonic())

    def _on_edge(self, t: float) -> None:
        if self._burst_start is None:
            self._burst_start = t
        if self._settle is not None:
            self._settle.cancel()
        self._settle = self._clock.call_at(t + self._debounce, self._settled)

    def _settled(self) -> None:
        start = self._burst_start
        self._burst_start = None
        self._settle = None
        now = self._read()
        if now != self.pressed and start is not None:
            self.pressed = now
            self._on_change(now, start)

    def close(self) -> None:
        """Stop listening to the line."""
        if self._settle is not None:
            self._settle.cancel()
        self._gpio.remove_event_detect(self.pin)
