"""Claiming GPIO lines through the RPi.GPIO API (rpi-lgpio), with errors that name the line.

rpi-lgpio claims a line from the kernel (/dev/gpiochip); a line that another process
or a kernel driver holds cannot be claimed, and lgpio says only ``'GPIO busy'`` or
``'GPIO not allocated'`` (lg lgGpio.c:218, 1392), without saying which line or why.
The drivers wrap their claims in :func:`claiming` so the daemon's one-line error and
``bodycam doctor`` name the pin and the way to find the holder.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

#: What lgpio's error text says when someone else holds the line (lg lgErr.c:117-118).
HELD = ("GPIO busy", "GPIO not allocated")


#: lgpio's text when /dev/gpiochipN cannot be opened, whatever the errno (lg lgGpio.c:728-729).
NO_CHIP = "can not open gpiochip"


class LineUnavailable(RuntimeError):
    """A GPIO line is held by another process or by a kernel driver."""


class ChipUnavailable(RuntimeError):
    """/dev/gpiochipN cannot be opened: usually a user outside the 'gpio' group."""


@contextmanager
def opening_chip() -> Iterator[None]:
    """Around ``GPIO.setmode``: rpi-lgpio opens the gpiochip there (RPi/GPIO/__init__.py:551-552)."""
    try:
        yield
    except Exception as e:
        if NO_CHIP not in str(e):
            raise
        raise ChipUnavailable(
            "cannot open the GPIO chip (/dev/gpiochip*): run as a member of the 'gpio' group "
            "(deploy.sh makes the service user one) or as root"
        ) from e


@contextmanager
def claiming(pin: int, part: str) -> Iterator[None]:
    """Turn lgpio's "held by someone else" errors into :class:`LineUnavailable` naming ``pin``."""
    try:
        yield
    except Exception as e:  # lgpio.error: its module is only importable on top of rpi-lgpio
        if not any(text in str(e) for text in HELD):
            raise
        said = str(e).strip("'")  # lgpio.error's str() is the quoted text
        raise LineUnavailable(
            f"GPIO {pin} ({part}) is held by another process or a kernel driver ({said}); "
            "'gpioinfo' shows the holder: stop it or choose another pin"
        ) from e
