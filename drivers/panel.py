"""The front panel (ILI9341 320x240 or ST7789 240x240 on SPI): luma.lcd plus a fast pixel path.

luma.lcd's device classes do what they do well and what differs per controller:
the power-on sequence, the backlight pin, the rotation bookkeeping
(``size``/``rotate``), and DISPOFF/backlight at process exit. Their
``display()`` is not used for pictures: it sends 18-bit colour (3 bytes a
pixel; the ST7789 one as a Python list of ints), which costs 50% more bus time
and a lot of CPU. Instead, after luma's init this driver switches the
controller to 16-bit colour (COLMOD 0x55) and sends big-endian RGB565 straight
from a numpy buffer with ``spidev.writebytes2`` (buffer protocol: no list, no
copy, the GIL released during the transfer). Rotation is done the way luma does
it (the picture turned clockwise by 90 degrees per step, MADCTL untouched), with
``np.rot90``.

Status screens change little between frames: with ``full=False`` only the
bounding rectangle of what changed is sent (CASET/RASET to that window). The
live view changes everywhere, so it is sent whole without diffing.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import luma.core.interface.serial
import luma.lcd.device
import numpy as np
from luma.core.framebuffer import full_frame

CASET, RASET, RAMWR = 0x2A, 0x2B, 0x2C
COLMOD, COLMOD_RGB565 = 0x3A, 0x55
SLPIN, SLPOUT, DISPOFF, DISPON = 0x10, 0x11, 0x28, 0x29

#: Default geometry per controller, as the viewer sees it at rotation 0.
DEFAULT_SIZE = {"ili9341": (320, 240), "st7789": (240, 240)}
#: Bus clocks luma's spi() accepts; any other clock in range is set on spidev afterwards.
_LUMA_HZ = [int(m * 1_000_000) for m in (0.5, 1, 2, 4, 8, 16, 20, 24, 28, 32, 36, 40, 44, 48,
                                          50, 52)]
SPI_HZ_RANGE = (500_000, 80_000_000)
#: Reset pulse and wait after it; the ILI9341 datasheet asks for >= 10 us low and
#: up to 120 ms before the controller takes commands (luma's default is 0 and 0).
RESET_HOLD_S, RESET_RELEASE_S = 0.01, 0.12
#: After SLPOUT, 5 ms before the next command and 120 ms before the next SLPIN.
SLPOUT_SETTLE_S, SLPOUT_TO_SLPIN_S = 0.005, 0.12
#: A changed area at least this share of the frame is sent as a whole frame.
FULL_FRAME_SHARE = 0.9
_WINDOW_CMD_BYTES = 11  # CASET+4, RASET+4, RAMWR


class Panel:
    """One SPI colour panel; build it with :meth:`from_config`.

    ``size`` is (width, height) as the viewer sees it (after rotation); pictures
    passed to :meth:`show_rgb565` have shape ``(height, width)``, dtype ``>u2``.
    ``bytes_sent`` counts every byte this driver put on the bus after luma's
    initialisation (commands, parameters, pixels).
    """

    def __init__(self, device: Any, spi: Any, gpio: Any, kind: str, dc_pin: int,
                 native_size: tuple[int, int], spi_hz: int) -> None:
        self._device = device
        self._spi = spi
        self._gpio = gpio
        self._dc = dc_pin
        self.kind = kind
        self.spi_hz = spi_hz
        self.rotation: int = device.rotate
        self.size: tuple[int, int] = tuple(device.size)
        self.native_size = native_size
        self.bytes_sent = 0
        self.frames_sent = 0
        self._lock = threading.Lock()
        self._last: np.ndarray | None = None
        self._asleep = False
        self._display_on = True
        self._backlight_on = True
        self._slpout_at = time.monotonic()
        self._command(COLMOD, COLMOD_RGB565)

    @classmethod
    def from_config(cls, kind: str, *, rotation: int, spi_port: int, spi_device: int,
                    spi_hz: int, dc_pin: int, rst_pin: int, backlight_pin: int,
                    backlight_active_low: bool, width: int | None = None,
                    height: int | None = None, gpio: Any = None, spi: Any = None) -> Panel:
        """Open and initialise the panel described by the display config.

        The keywords are ``[display]``'s keys; their defaults live in the configuration
        schema alone (``firmware.assembly.panel_settings`` gives all of them). ``width``
        and ``height`` None: the kind's own size.

        ``gpio`` (RPi.GPIO API) and ``spi`` (a ``spidev.SpiDev``) default to the
        real modules, imported by name, so in the simulation the fakes that
        ``hw_sim.install`` put under those names are used. Raises ValueError on
        a bad config and whatever the libraries raise when the hardware is
        missing: callers should run without a display rather than fail.
        """
        if kind not in DEFAULT_SIZE:
            raise ValueError(f"panel kind {kind!r}: expected one of {sorted(DEFAULT_SIZE)}")
        if rotation not in (0, 1, 2, 3):
            raise ValueError(f"rotation {rotation!r}: expected 0, 1, 2 or 3 (x 90 deg clockwise)")
        if not SPI_HZ_RANGE[0] <= int(spi_hz) <= SPI_HZ_RANGE[1]:
            raise ValueError(f"spi_hz {spi_hz}: expected {SPI_HZ_RANGE[0]}..{SPI_HZ_RANGE[1]}")
        w, h = (width, height) if width and height else DEFAULT_SIZE[kind]
        if gpio is None:
            import RPi.GPIO as gpio

            gpio.setmode(gpio.BCM)
        if spi is None:
            import spidev  # pyright: ignore[reportMissingImports] (on the device)

            spi = spidev.SpiDev()
        luma_hz = max(hz for hz in _LUMA_HZ if hz <= max(int(spi_hz), _LUMA_HZ[0]))
        serial = luma.core.interface.serial.spi(
            spi=spi, gpio=gpio, port=spi_port, device=spi_device, bus_speed_hz=luma_hz,
            gpio_DC=dc_pin, gpio_RST=rst_pin,
            # luma.core's hints say int; it passes the values to time.sleep, as floats work.
            reset_hold_time=RESET_HOLD_S,  # pyright: ignore[reportArgumentType]
            reset_release_time=RESET_RELEASE_S)  # pyright: ignore[reportArgumentType]
        spi.max_speed_hz = int(spi_hz)
        common: dict[str, Any] = dict(serial_interface=serial, width=w, height=h, rotate=rotation, gpio=gpio,
                      gpio_LIGHT=backlight_pin, active_low=backlight_active_low)
        if kind == "ili9341":
            device = luma.lcd.device.ili9341(framebuffer=full_frame(), **common)
        else:
            device = luma.lcd.device.st7789(**common)
        return cls(device, spi, gpio, kind, dc_pin, (w, h), int(spi_hz))

    # -- bus primitives -------------------------------------------------------------

    def _command(self, cmd: int, *params: int) -> None:
        self._device.command(cmd, *params)
        self.bytes_sent += 1 + len(params)

    def _write_window(self, x0: int, y0: int, x1: int, y1: int, pixels: np.ndarray) -> None:
        self._command(CASET, x0 >> 8, x0 & 0xFF, (x1 - 1) >> 8, (x1 - 1) & 0xFF)
        self._command(RASET, y0 >> 8, y0 & 0xFF, (y1 - 1) >> 8, (y1 - 1) & 0xFF)
        self._command(RAMWR)
        self._gpio.output(self._dc, self._gpio.HIGH)
        self._spi.writebytes2(pixels.view(np.uint8).reshape(-1))
        self.bytes_sent += pixels.nbytes

    # -- public surface -------------------------------------------------------------

    @property
    def frame_bytes(self) -> int:
        """Bytes on the bus for one whole frame (pixels plus window commands)."""
        return self.native_size[0] * self.native_size[1] * 2 + _WINDOW_CMD_BYTES

    @property
    def bus_fps(self) -> float:
        """Whole frames per second the SPI clock allows at most."""
        return self.spi_hz / (8.0 * self.frame_bytes)

    def to_native(self, buf: np.ndarray) -> np.ndarray:
        """A viewer-oriented picture in the controller's order (luma's rotation, clockwise)."""
        if buf.shape != (self.size[1], self.size[0]):
            raise ValueError(f"picture shape {buf.shape}, panel wants {self.size[::-1]}")
        out = np.rot90(buf, k=-self.rotation) if self.rotation else buf
        return np.ascontiguousarray(out, dtype=">u2")

    def show_rgb565(self, buf: np.ndarray, full: bool) -> int:
        """Send a picture; returns the bytes it took on the bus (0 if nothing changed).

        ``full=True`` sends the whole frame (live view). ``full=False`` sends only
        the rectangle that differs from the last picture (status screens), or
        nothing. A panel switched off by :meth:`off` is woken first.
        """
        native = self.to_native(buf)
        with self._lock:
            before = self.bytes_sent
            if self._asleep:
                self._command(SLPOUT)
                self._slpout_at = time.monotonic()
                time.sleep(SLPOUT_SETTLE_S)
                self._asleep = False
            nh, nw = native.shape
            rect = (0, 0, nw, nh)
            if not full and self._last is not None:
                diff = native != self._last
                rows = np.flatnonzero(diff.any(axis=1))
                if rows.size:
                    cols = np.flatnonzero(diff.any(axis=0))
                    rect = (int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1)
                else:
                    rect = None
            if rect is not None:
                x0, y0, x1, y1 = rect
                if (x1 - x0) * (y1 - y0) >= FULL_FRAME_SHARE * nw * nh:
                    x0, y0, x1, y1 = 0, 0, nw, nh
                    pixels = native
                else:
                    pixels = np.ascontiguousarray(native[y0:y1, x0:x1])
                self._write_window(x0, y0, x1, y1, pixels)
                self.frames_sent += 1
                if full:
                    self._last = None  # live view: the next status screen is sent whole anyway
                elif self._last is None:
                    self._last = native.copy()
                else:
                    self._last[y0:y1, x0:x1] = native[y0:y1, x0:x1]
            if not self._display_on:
                self._command(DISPON)
                self._display_on = True
            if not self._backlight_on:
                self._device.backlight(True)
                self._backlight_on = True
            return self.bytes_sent - before

    def backlight(self, on: bool) -> None:
        """Switch the backlight (the panel keeps its picture)."""
        with self._lock:
            self._device.backlight(bool(on))
            self._backlight_on = bool(on)

    def off(self) -> None:
        """Dark and asleep: backlight off, DISPOFF, SLPIN. The next picture wakes it."""
        with self._lock:
            if self._asleep:
                return
            self._device.backlight(False)
            self._backlight_on = False
            self._command(DISPOFF)
            self._display_on = False
            wait = SLPOUT_TO_SLPIN_S - (time.monotonic() - self._slpout_at)
            if wait > 0:
                time.sleep(wait)
            self._command(SLPIN)
            self._asleep = True

    @property
    def is_on(self) -> bool:
        """Whether the panel is awake with its backlight on."""
        return not self._asleep and self._backlight_on

    def close(self) -> None:
        """Switch off and release SPI/GPIO (luma's cleanup)."""
        self.off()
        with self._lock:
            self._device.persist = True  # already dark: no black frame through luma's path
            self._device.cleanup()
