"""The ``lgpio`` module (joan2937/lg's Python binding) over the simulated pin bank.

The real rpi-lgpio package (``RPi.GPIO``) imports this under the name ``lgpio``
(``hw_sim.lgpio_loader`` executes this file afresh for each import, as a real
``import lgpio`` starts from scratch in a new process). What is reproduced, with
the source it comes from (lg v0.2.2, files PY_LGPIO/lgpio_extra.py and lgGpio.c,
lgPthAlerts.c, lgNotify.c, lgErr.c), is listed in docs/SIMULATION.md; in short:

* Errors: every call returns its status through ``_u2i``, which raises
  :class:`error` with lgErr.c's text (``lgpio.error: 'GPIO busy'``), or returns
  the negative code when ``exceptions`` is False (lgpio_extra.py:219-228).
* Claims: lines held by a kernel driver (spi0 when SPI is on) or by another
  process are busy; reading an unclaimed line claims it as input, writing a
  non-output claims it as output, re-claiming an output keeps its level
  (lgGpio.c:441-446, 1374-1377, 1437-1441).
* Alerts: the kernel reports only the requested edges; with a debounce an edge is
  reported once the line has been stable for longer than the debounce, stamped
  debounce later, and with both edges only if the level differs from the last
  one reported (lgPthAlerts.c:283-340); reports reach Python 0.5 ms after their
  time stamp (lgPthAlerts.c:590-592) on the binding's notification thread
  (lgpio_extra.py:262-331), never on the caller's.
* Import: the binding opens a FIFO ``.lgd-nfyN`` in ``$LG_WD`` or the working
  directory (lgNotify.c:131, lgUtil.c:180-199, lgpio_extra.py:272-273); where that
  directory is not writable the import fails with FileNotFoundError.

The lines, claims, debounce and the thread live in ``hw_sim/lgpio_lines.py``.

Determinism: a report is handed to the notification thread from a clock timer,
which waits until the thread has run the callbacks, so a fast run is repeatable
while the callbacks still run on another thread, as on the device.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Callable
from typing import Any

from hw_sim.lgpio_lines import (  # noqa: F401 - the binding's constants, re-exported
    BAD_DEBOUNCE_MICS,
    BAD_EVENT_REQUEST,
    BAD_GPIO_NUMBER,
    BAD_GPIOCHIP,
    BAD_HANDLE,
    BAD_PATHNAME,
    BAD_PWM_DUTY,
    BAD_PWM_FREQ,
    BAD_PWM_MICROS,
    BOTH_EDGES,
    CANNOT_OPEN_CHIP,
    CHIPS,
    CLEAR,
    ERRORS,
    FALLING_EDGE,
    GPIO_BUSY,
    GPIO_NOT_ALLOCATED,
    GPIO_NOT_AN_OUTPUT,
    HIGH,
    INVALID_GROUP_ALERT,
    K_FALLING,
    K_INPUT,
    K_OUTPUT,
    K_PULL_DOWN,
    K_PULL_NONE,
    K_PULL_UP,
    K_RISING,
    K_USED,
    LG_ALERT,
    LG_INPUT,
    LG_OUTPUT,
    LOW,
    MAX_DEBOUNCE_US,
    NOT_PERMITTED,
    OFF,
    OKAY,
    ON,
    RISING_EDGE,
    SET,
    SET_ACTIVE_LOW,
    SET_OPEN_DRAIN,
    SET_OPEN_SOURCE,
    SET_PULL_DOWN,
    SET_PULL_NONE,
    SET_PULL_UP,
    TIMEOUT,
    Alert,
    CallbackADT,
    Chip,
    Line,
    NotifyThread,
    edge,
    pull_of,
)
from hw_sim.registry import current


class error(Exception):  # noqa: N801 - the binding's name
    """``lgpio.error``: what every failing call raises (``str()`` is the quoted text)."""

    def __init__(self, value: str) -> None:
        self.value = value

    def __str__(self) -> str:
        return repr(self.value)


def error_text(errnum: int) -> str:
    """The description of a negative status (lgErr.c)."""
    return ERRORS.get(errnum, "unknown error")


def _u2i(status: int) -> int:
    if status < 0 and exceptions:
        raise error(error_text(status))
    return status


def _open_notify_fifo() -> int:
    """lgNotifyOpen: the FIFO goes into $LG_WD or the working directory (lgNotify.c:131)."""
    workdir = os.environ.get("LG_WD") or os.getcwd()
    try:
        os.chdir(workdir)  # lguGetWorkDir changes into it (lgUtil.c:196-197); a failure is only logged
    except OSError:
        pass
    if not (os.path.isdir(workdir) and os.access(workdir, os.W_OK | os.X_OK)):
        # lgNotifyOpen returns LG_BAD_PATHNAME; the binding then opens '.lgd-nfy-3'.
        raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), f".lgd-nfy{BAD_PATHNAME}")
    return 0


#: lgpio_extra.py:10: False makes calls return negative codes instead of raising.
exceptions = True

_notify_thread = NotifyThread(_open_notify_fifo())
_handles = iter(range(1, 1 << 16))
_chips: dict[int, Chip] = {}


class _Callback:
    """What :func:`callback` returns (lgpio_extra.py:333-373)."""

    def __init__(self, chip: int, gpio: int, edge: int = RISING_EDGE,
                 func: Callable[[int, int, int, int], Any] | None = None) -> None:
        self.count = 0
        self._reset = False
        self.callb = CallbackADT(chip, gpio, edge, func or self._tally)
        _notify_thread.append(self.callb)

    def cancel(self) -> None:
        _notify_thread.remove(self.callb)

    def _tally(self, chip: int, gpio: int, level: int, tick: int) -> None:
        if self._reset:
            self._reset = False
            self.count = 0
        self.count += 1

    def tally(self) -> int:
        return self.count

    def reset_tally(self) -> None:
        self._reset = True
        self.count = 0


def _chip(handle: int) -> Chip | None:
    return _chips.get(handle)


def _with_line(handle: int, gpio: int, fn: Callable[[Chip, Line], int]) -> int:
    chip = _chip(handle & 0xFFFF)
    if chip is None:
        return _u2i(BAD_HANDLE)
    if not 0 <= gpio < chip.lines:
        return _u2i(BAD_GPIO_NUMBER)
    return _u2i(fn(chip, chip.line(gpio)))


# -- the API rpi-lgpio uses ---------------------------------------------------------


def gpiochip_open(gpiochip: int) -> int:
    """Open /dev/gpiochipN: only gpiochip0 (the header's) exists in the simulation."""
    if gpiochip < 0:
        return _u2i(BAD_GPIOCHIP)
    world = current()
    board = getattr(world, "board", "pi5")
    label, lines = CHIPS.get(str(getattr(board, "value", board)), CHIPS["pi5"])
    if gpiochip != 0 or not world.gpio.chip_access:
        return _u2i(CANNOT_OPEN_CHIP)
    handle = next(_handles)
    _chips[handle] = Chip(gpiochip, label, lines, world, _notify_thread)
    return _u2i(handle | (gpiochip << 16))


def gpiochip_close(handle: int) -> int:
    chip = _chips.pop(handle & 0xFFFF, None)
    if chip is None:
        return _u2i(BAD_HANDLE)
    for gpio in list(chip.info):
        chip.free(gpio)
    return _u2i(OKAY)


def gpio_get_chip_info(handle: int) -> list[Any]:
    chip = _chip(handle & 0xFFFF)
    if chip is None:
        return [_u2i(BAD_HANDLE)]
    return [OKAY, chip.lines, f"gpiochip{chip.number}", chip.label]


def gpio_get_mode(handle: int, gpio: int) -> int:
    return _with_line(handle, gpio, lambda chip, _line: chip.mode_bits(gpio))


def gpio_claim_input(handle: int, gpio: int, lFlags: int = 0) -> int:  # noqa: N803
    def claim(chip: Chip, line: Line) -> int:
        if line.mode & LG_INPUT:
            return OKAY  # "nothing to do, already an input": the new flags are ignored
        chip.free(gpio)
        status = chip.claim(gpio, LG_INPUT, lFlags)
        if status == OKAY:
            chip.bank.configure_input(gpio, pull_of(lFlags))
        return status

    return _with_line(handle, gpio, claim)


def gpio_claim_output(handle: int, gpio: int, level: int = 0, lFlags: int = 0) -> int:  # noqa: N803
    def claim(chip: Chip, line: Line) -> int:
        if line.mode & LG_OUTPUT:
            return OKAY  # "nothing to do, already an output": the level is not written
        chip.free(gpio)
        status = chip.claim(gpio, LG_OUTPUT, lFlags)
        if status == OKAY:
            chip.bank.configure_output(gpio, 1 if level else 0)
        return status

    return _with_line(handle, gpio, claim)


def gpio_free(handle: int, gpio: int) -> int:
    def release(chip: Chip, line: Line) -> int:
        if not line.mode:
            return GPIO_NOT_ALLOCATED
        chip.free(gpio)
        return OKAY

    return _with_line(handle, gpio, release)


def gpio_read(handle: int, gpio: int) -> int:
    def read(chip: Chip, line: Line) -> int:
        if not line.mode:
            status = chip.claim(gpio, LG_INPUT, 0)  # an unclaimed line is claimed as input
            if status != OKAY:
                return GPIO_NOT_ALLOCATED
            chip.bank.configure_input(gpio, None)
        return chip.bank.level(gpio)

    return _with_line(handle, gpio, read)


def gpio_write(handle: int, gpio: int, level: int) -> int:
    def write(chip: Chip, line: Line) -> int:
        if line.mode & LG_OUTPUT:
            chip.bank.set_output(gpio, 1 if level else 0)
            return OKAY
        chip.free(gpio)  # a singleton that is not an output becomes one
        status = chip.claim(gpio, LG_OUTPUT, 0)
        if status == OKAY:
            chip.bank.configure_output(gpio, 1 if level else 0)
        return status

    return _with_line(handle, gpio, write)


def gpio_set_debounce_micros(handle: int, gpio: int, debounce_micros: int) -> int:
    if not isinstance(debounce_micros, int):  # SWIG's int conversion
        raise TypeError("in method '_gpio_set_debounce_micros', argument 3 of type 'int'")
    if not 0 <= debounce_micros <= MAX_DEBOUNCE_US:
        return _u2i(BAD_DEBOUNCE_MICS)

    def store(chip: Chip, line: Line) -> int:
        line.debounce_us = debounce_micros
        if line.alert is not None:
            line.alert.debounce = debounce_micros / 1e6
        return OKAY

    return _with_line(handle, gpio, store)


def gpio_claim_alert(handle: int, gpio: int, eFlags: int, lFlags: int = 0,  # noqa: N803
                     notify_handle: int | None = None) -> int:
    def claim(chip: Chip, line: Line) -> int:
        chip.free(gpio)
        if not eFlags & BOTH_EDGES:
            return BAD_EVENT_REQUEST
        status = chip.claim(gpio, LG_ALERT, lFlags)
        if status != OKAY:
            return BAD_EVENT_REQUEST if status == NOT_PERMITTED else status
        chip.bank.configure_input(gpio, pull_of(lFlags))
        alert = Alert(eFlags & BOTH_EDGES, line.debounce_us / 1e6)
        alert.listener = lambda _pin, level, t: edge(chip, gpio, alert, level, t)
        chip.bank.add_edge_listener(gpio, alert.listener)
        line.alert = alert
        return OKAY

    return _with_line(handle, gpio, claim)


def callback(handle: int, gpio: int, edge: int = RISING_EDGE,
             func: Callable[[int, int, int, int], Any] | None = None) -> _Callback:
    """Call ``func(chip, gpio, level, tick)`` on the notification thread for each report."""
    return _Callback(handle >> 16, gpio, edge, func)


def tx_pwm(handle: int, gpio: int, pwm_frequency: float, pwm_duty_cycle: float,
           pulse_offset: int = 0, pulse_cycles: int = 0) -> int:
    """Software PWM (lgGpio.c:1289-1318): recorded on the bank, not toggled."""
    def pwm(chip: Chip, line: Line) -> int:
        bank = chip.bank
        if pwm_frequency == 0:
            if not line.mode & LG_OUTPUT:
                return BAD_PWM_MICROS
            if gpio in chip.pwm:
                bank.record_pwm(gpio, chip.pwm.pop(gpio), None)
            return OKAY
        if not 0.1 <= pwm_frequency <= 1e4:
            return BAD_PWM_FREQ
        if not 0.0 <= pwm_duty_cycle <= 100.0:
            return BAD_PWM_DUTY
        if not line.mode & LG_OUTPUT:
            chip.free(gpio)
            if chip.claim(gpio, LG_OUTPUT, 0) != OKAY:
                return GPIO_NOT_AN_OUTPUT
            bank.configure_output(gpio, 0)
        chip.pwm[gpio] = float(pwm_frequency)
        bank.record_pwm(gpio, float(pwm_frequency), float(pwm_duty_cycle))
        return OKAY

    return _with_line(handle, gpio, pwm)


