"""The state behind the simulated ``lgpio``: lines, claims, alerts and the notification thread.

``hw_sim/fake_lgpio.py`` is the module surface (executed afresh per import, like a
process); this module holds what each of its instances builds on, with lg v0.2.2's
rules (lgGpio.c, lgPthAlerts.c, PY_LGPIO/lgpio_extra.py) cited where they are kept.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from hw_sim.pins import Pull

OFF = LOW = CLEAR = 0
ON = HIGH = SET = 1
TIMEOUT = 2

SET_ACTIVE_LOW = 4
SET_OPEN_DRAIN = 8
SET_OPEN_SOURCE = 16
SET_PULL_UP = 32
SET_PULL_DOWN = 64
SET_PULL_NONE = 128

RISING_EDGE = 1
FALLING_EDGE = 2
BOTH_EDGES = 3

OKAY = 0
BAD_PATHNAME = -3
BAD_HANDLE = -5
NOT_PERMITTED = -7
BAD_EVENT_REQUEST = -72
BAD_GPIO_NUMBER = -73
CANNOT_OPEN_CHIP = -78
GPIO_BUSY = -79
GPIO_NOT_ALLOCATED = -80
BAD_PWM_MICROS = -86
BAD_GPIOCHIP = -89
BAD_DEBOUNCE_MICS = -98
BAD_PWM_FREQ = -102
BAD_PWM_DUTY = -103
GPIO_NOT_AN_OUTPUT = -104
INVALID_GROUP_ALERT = -105

#: lgErr.c's texts for the codes above.
ERRORS = {
    BAD_PATHNAME: "can not open pathname", BAD_HANDLE: "unknown handle",
    NOT_PERMITTED: "GPIO operation not permitted", BAD_EVENT_REQUEST: "bad event request",
    BAD_GPIO_NUMBER: "bad GPIO number", CANNOT_OPEN_CHIP: "can not open gpiochip",
    GPIO_BUSY: "GPIO busy", GPIO_NOT_ALLOCATED: "GPIO not allocated",
    BAD_PWM_MICROS: "bad PWM micros", BAD_GPIOCHIP: "bad gpiochip",
    BAD_DEBOUNCE_MICS: "bad debounce microseconds", BAD_PWM_FREQ: "bad PWM frequency",
    BAD_PWM_DUTY: "bad PWM dutycycle", GPIO_NOT_AN_OUTPUT: "GPIO not set as an output",
    INVALID_GROUP_ALERT: "can not set a group to alert",
}

#: lgpio.h: LG_MAX_MICS_DEBOUNCE.
MAX_DEBOUNCE_US = 5_000_000
#: The alert thread reports an edge 0.5 ms after its time stamp (lgPthAlerts.c:590-592)...
EMIT_DELAY_S = 0.0005
#: ...and looks at debounce timers on each 0.5 ms poll, 50 us behind (lgPthAlerts.c:438, 561).
POLL_S, POLL_LAG_S = 0.0005, 0.00005

# lgpio_get_mode bits (lgpio.h:270-282; the LG bits are LineInf.mode << 8).
K_USED, K_OUTPUT, K_PULL_UP, K_PULL_DOWN, K_PULL_NONE = 1, 2, 32, 64, 128
K_INPUT, K_RISING, K_FALLING = 1 << 16, 1 << 17, 1 << 18
LG_INPUT, LG_OUTPUT, LG_ALERT = 1, 2, 4
UNMODELLED = SET_ACTIVE_LOW | SET_OPEN_DRAIN | SET_OPEN_SOURCE

#: gpiochip0 of each board: (label, lines).
CHIPS = {"pi4": ("pinctrl-bcm2711", 58), "pi5": ("pinctrl-rp1", 54)}



# -- the notification thread (lgpio_extra.py:242-331) ------------------------------


@dataclass
class CallbackADT:
    chip: int
    gpio: int
    edge: int
    func: Callable[[int, int, int, int], Any]


class NotifyThread:
    """Runs callbacks for alert reports on its own thread, one report at a time."""

    def __init__(self, notify_handle: int) -> None:
        self._notify = notify_handle
        self.callbacks: list[CallbackADT] = []
        self._queue: queue.SimpleQueue[tuple[int, int, int, int] | None] = queue.SimpleQueue()
        self._done = threading.Semaphore(0)
        self._thread: threading.Thread | None = None
        self.failure: BaseException | None = None

    def stop(self) -> None:
        """End the thread (lgpio_extra.py:280-285); the simulation calls it when a world goes."""
        if self._thread is not None:
            self._queue.put(None)
            self._thread = None

    def append(self, callb: CallbackADT) -> None:
        self.callbacks.append(callb)

    def remove(self, callb: CallbackADT) -> None:
        if callb in self.callbacks:
            self.callbacks.remove(callb)

    def deliver(self, tick: int, chip: int, gpio: int, level: int) -> None:
        """Hand one report over and wait until its callbacks ran (called on the clock)."""
        if self.failure is not None:
            return  # the real thread died with the exception: nothing reads the FIFO any more
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="lgpio-notify", daemon=True)
            self._thread.start()
        self._queue.put((tick, chip, gpio, level))
        if not self._done.acquire(timeout=10.0):
            raise RuntimeError("a GPIO callback ran for more than 10 s on lgpio's thread")
        if self.failure is not None:
            raise self.failure  # so a test sees it (the device would print it and go deaf)

    def _run(self) -> None:
        while (item := self._queue.get()) is not None:
            tick, chip, gpio, level = item
            try:
                for cb in list(self.callbacks):
                    if cb.chip == chip and cb.gpio == gpio:
                        cb.func(chip, gpio, level, tick)
            except BaseException as exc:  # noqa: BLE001 - ends the thread, like the real one
                self.failure = exc
                self._done.release()
                return
            self._done.release()


# -- one open gpiochip ---------------------------------------------------------------


@dataclass
class Alert:
    """lgAlertRec_t: the debounce state of one alert line (lgPthAlerts.c:667-690)."""

    eflags: int
    debounce: float
    last_evt_t: float = 0.0
    last_evt_lv: int = 0
    last_rpt_lv: int = -1
    debounced: bool = True
    listener: Callable[[int, int, float], Any] | None = None


@dataclass
class Line:
    mode: int = 0  # LineInf.mode: LG_INPUT / LG_OUTPUT / LG_ALERT
    lflags: int = 0
    debounce_us: int = 0
    alert: Alert | None = None


@dataclass
class Chip:
    number: int
    label: str
    lines: int
    world: Any
    notify: NotifyThread
    info: dict[int, Line] = field(default_factory=dict)
    pwm: dict[int, float] = field(default_factory=dict)  # running PWM: gpio -> frequency

    @property
    def bank(self) -> Any:
        return self.world.gpio

    def line(self, gpio: int) -> Line:
        return self.info.setdefault(gpio, Line())

    def busy(self, gpio: int) -> bool:
        bank = self.bank
        return gpio in bank.kernel or bank.owner.get(gpio, self) is not self

    def mode_bits(self, gpio: int) -> int:
        """lgGpioGetMode: the kernel's line flags, plus LineInf.mode << 8 (lgGpio.c:895-925)."""
        line, bank = self.line(gpio), self.bank
        bits = K_OUTPUT if bank.is_output(gpio) else K_INPUT
        if gpio in bank.kernel or gpio in bank.owner:
            bits |= K_USED
        pull = pull_of(line.lflags)
        if line.mode and pull is not None:
            bits |= {Pull.UP: K_PULL_UP, Pull.DOWN: K_PULL_DOWN, Pull.OFF: K_PULL_NONE}.get(pull, 0)
        if line.alert is not None:
            bits |= (K_RISING if line.alert.eflags & RISING_EDGE else 0) | (
                K_FALLING if line.alert.eflags & FALLING_EDGE else 0)
        return bits | (line.mode << 8)

    def free(self, gpio: int) -> None:
        """xSetAsFree: drop the request; the pin keeps its electrical state."""
        line = self.line(gpio)
        if line.alert is not None and line.alert.listener is not None:
            self.bank.remove_edge_listener(gpio, line.alert.listener)
        line.alert = None
        line.mode = 0
        self.pwm.pop(gpio, None)
        if self.bank.owner.get(gpio) is self:
            del self.bank.owner[gpio]

    def claim(self, gpio: int, mode: int, lflags: int) -> int:
        """xClaim + xGpioHandleRequest for one line: EBUSY if someone else holds it."""
        if not 0 <= gpio <= self.lines:
            return NOT_PERMITTED
        if lflags & UNMODELLED:
            raise NotImplementedError("the simulation models no active-low / open-drain lines")
        if self.busy(gpio):
            return GPIO_BUSY
        self.bank.owner[gpio] = self
        line = self.line(gpio)
        line.mode, line.lflags = mode, lflags
        return OKAY


def pull_of(lflags: int) -> Pull | None:
    """The bias a request's line flags ask for (None: leave it as it is)."""
    if lflags & SET_PULL_UP:
        return Pull.UP
    if lflags & SET_PULL_DOWN:
        return Pull.DOWN
    if lflags & SET_PULL_NONE:
        return Pull.OFF
    return None


# -- alerts: lgPthAlerts.c's xDebWatEvt on the virtual clock -----------------------


def edge(chip: Chip, gpio: int, alert: Alert, level: int, t: float) -> None:
    """A level change on an alert line; the kernel passes on only the requested edges."""
    if not alert.eflags & (RISING_EDGE if level else FALLING_EDGE):
        return
    _debounce(chip, gpio, alert, t)
    alert.last_evt_t, alert.last_evt_lv, alert.debounced = t, level, False
    if not alert.debounce:
        _report(chip, gpio, alert, t, level)
    else:
        chip.world.clock.call_at(t + alert.debounce + POLL_S, _poll, chip, gpio, alert)


def _poll(chip: Chip, gpio: int, alert: Alert) -> None:
    if chip.line(gpio).alert is alert:
        _debounce(chip, gpio, alert, chip.world.clock.monotonic() - POLL_LAG_S)


def _debounce(chip: Chip, gpio: int, alert: Alert, now: float) -> None:
    """Report the last edge if the line has been stable for longer than the debounce."""
    if not alert.debounce or alert.debounced or now - alert.last_evt_t <= alert.debounce:
        return
    if alert.eflags != BOTH_EDGES or alert.last_rpt_lv != alert.last_evt_lv:
        _report(chip, gpio, alert, alert.last_evt_t + alert.debounce, alert.last_evt_lv)
        alert.debounced = True


def _report(chip: Chip, gpio: int, alert: Alert, stamp: float, level: int) -> None:
    alert.last_rpt_lv = level
    tick = round(stamp * 1e9)
    chip.world.clock.call_at(stamp + EMIT_DELAY_S, chip.notify.deliver, tick, chip.number, gpio, level)
