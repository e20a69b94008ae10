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


class LineUnavailable(RuntimeError):
    """A GPIO line is held by another process or by a kernel driver."""


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
