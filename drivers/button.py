"""The record button on a GPIO line, through the RPi.GPIO API (rpi-lgpio on every board).

Debouncing is done here in software, not with ``bouncetime``: rpi-lgpio hands it
to lgpio, which reports an edge only after the line stayed put for longer than
the debounce and, on both edges, only a change from the last level it reported,
stamped that much later (lg lgPthAlerts.c:283-340); RPi.GPIO 0.7 instead dropped
edges for N ms after one. So no bouncetime is passed (``None``, lgpio's "no
debounce"): every edge comes through, each (re)starts a settle timer on the
daemon's clock, and when the line has been quiet for ``debounce_ms`` its level is
read and, if it changed, reported with the time the first edge of the burst
reached us.

Edges arrive on lgpio's notification thread, about 0.5 ms after the edge
(lgPthAlerts.c:590-592); :meth:`Button._edge` only notes the time and hands over
to the loop with ``call_soon_threadsafe``: nothing else runs on that thread.
"""

from __future__ import annotations

from collections.abc import Callable

from .clock import Clock, Timer
from .gpio_claim import claiming, opening_chip


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
            with opening_chip():
                GPIO.setmode(GPIO.BCM)
        pull = GPIO.PUD_UP if active_low else GPIO.PUD_DOWN
        with claiming(pin, "record button"):
            GPIO.setup(pin, GPIO.IN, pull_up_down=pull)
            GPIO.add_event_detect(pin, GPIO.BOTH, callback=self._edge, bouncetime=None)  # pyright: ignore[reportArgumentType]  # debounced on the clock
        self.pressed = self._read()  # after the alert is armed: a press from now on is seen

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
