"""A simulated ILI9341 / ST7789 panel: decodes the SPI command stream into what the glass shows.

It sits behind ``hw_sim.fake_spidev`` on a (bus, chip select) and sees only
what a real controller sees: bytes, and the level of the D/C line at each
transfer (low = command). It keeps the controller's state (column/row window,
pixel format, MADCTL, inversion, sleep, display on/off) and a 240x320 frame
memory, and turns that into the picture a person would see.

The model of the glass, for each controller as the modules are sold:

* MADCTL: MV exchanges the column and page counters, then MX mirrors the
  physical column and MY the physical row (this reproduces the usual drivers'
  rotation tables, including the 80-row offset 240x240 ST7789 modules need
  with MY set); BGR swaps red and blue when it differs from the panel's wiring.
* ILI9341 modules are wired BGR and scan columns right to left (MADCTL MX=1 is
  upright portrait); ST7789 modules are RGB, IPS (upright colours need INVON),
  and show frame memory rows 0..239 on 240x240 glass.
* The view is the glass as mounted in the bodycam: turned so that luma.lcd's
  rotation 0 (landscape for the ILI9341) is upright.
* Dark unless awake (SLPOUT), DISPON and backlight on. LCMCTRL, gamma and
  power settings are accepted and ignored; the RST pin is not watched
  (SWRESET is).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path

import numpy as np
from PIL import Image

GRAM_W, GRAM_H = 240, 320

SWRESET, SLPIN, SLPOUT = 0x01, 0x10, 0x11
INVOFF, INVON, DISPOFF, DISPON = 0x20, 0x21, 0x28, 0x29
CASET, RASET, RAMWR, RAMWRC = 0x2A, 0x2B, 0x2C, 0x3C
MADCTL, COLMOD = 0x36, 0x3A
MY, MX, MV, BGR = 0x80, 0x40, 0x20, 0x08
_PARAMS = {CASET: 4, RASET: 4, MADCTL: 1, COLMOD: 1}
#: Commands that change what the glass shows without a memory write.
_VISIBLE = (SWRESET, SLPIN, SLPOUT, INVOFF, INVON, DISPOFF, DISPON)


@dataclass(frozen=True)
class Model:
    """How a controller's module is wired to its glass (see the module docstring)."""

    glass_columns_reversed: bool
    bgr_wired: bool
    needs_inversion: bool


MODELS = {
    "ili9341": Model(glass_columns_reversed=True, bgr_wired=True, needs_inversion=False),
    "st7789": Model(glass_columns_reversed=False, bgr_wired=False, needs_inversion=True),
}


@dataclass(frozen=True)
class CapturedFrame:
    """The glass after a completed window write or a display on/off/sleep/inversion command:
    ``rgb`` is ``(h, w, 3)`` uint8, ``t`` from the panel's clock."""

    t: float
    rgb: np.ndarray

    def image(self) -> Image.Image:
        """As a Pillow image."""
        return Image.fromarray(self.rgb)


def world_pin(pin: int) -> Callable[[], int]:
    """A reader of ``pin``'s output level on the installed simulated world's GPIO bank."""

    def level() -> int:
        from hw_sim import world  # imported late: the world may be installed after us

        level = world.current().gpio.output_level(pin)
        return 0 if level is None else int(level)  # never set up: not driven high

    return level


class SimPanel:
    """The controller and glass behind one chip select; feed it with :meth:`receive`.

    ``dc_level`` (and ``backlight_level``) return the line's level; without
    them the levels of ``dc_pin`` (and ``backlight_pin``) are read from the
    installed ``hw_sim`` world. With neither a callable nor a backlight pin,
    the backlight counts as on.
    """

    def __init__(self, kind: str = "ili9341", width: int | None = None,
                 height: int | None = None, *, dc_pin: int | None = 24,
                 dc_level: Callable[[], int] | None = None, backlight_pin: int | None = None,
                 backlight_level: Callable[[], int] | None = None,
                 backlight_active_low: bool = False, max_frames: int = 240,
                 capture_interval_s: float = 0.0,
                 clock: Callable[[], float] = time.monotonic, mount_rotation: int = 1) -> None:
        if kind not in MODELS:
            raise ValueError(f"unknown panel kind {kind!r}")
        if dc_level is None:
            if dc_pin is None:
                raise ValueError("SimPanel needs dc_level or dc_pin")
            dc_level = world_pin(dc_pin)
        if backlight_level is None and backlight_pin is not None:
            backlight_level = world_pin(backlight_pin)
        self.kind = kind
        self.model = MODELS[kind]
        if kind == "ili9341":
            w, h = 320, 240  # the ILI9341's glass is always 240x320; smaller modes use part
        else:
            w, h = (width, height) if width and height else (240, 240)
        self.glass_size = (min(w, h), max(w, h))  # native portrait (columns, rows)
        self._dc = dc_level
        self._backlight = backlight_level
        self._backlight_active_low = backlight_active_low
        self._clock = clock
        self._mount = mount_rotation % 4
        self._capture_interval = capture_interval_s
        self._last_capture = -float("inf")
        self._lock = threading.Lock()
        self.frames: deque[CapturedFrame] = deque(maxlen=max_frames)
        self.gram = np.zeros((GRAM_H, GRAM_W, 3), dtype=np.uint8)
        self.bytes_received = 0
        self.command_bytes = 0
        self.pixel_bytes = 0
        self.windows_completed = 0
        self.commands: deque[int] = deque(maxlen=256)
        self._reset()

    @classmethod
    def attach(cls, bus: int, device: int, kind: str = "ili9341", *, realtime: bool = False,
               **kwargs: object) -> SimPanel:
        """Create a panel and wire it to ``hw_sim.fake_spidev``'s (bus, device)."""
        from hw_sim import fake_spidev

        panel = cls(kind, **kwargs)  # type: ignore[arg-type]
        fake_spidev.attach(bus, device, panel, realtime=realtime)
        return panel

    # -- controller state -------------------------------------------------------

    def _reset(self) -> None:
        self.madctl = 0
        self.bits_per_pixel = 18
        self.inverted = False
        self.asleep = True
        self.display_on = False
        self.columns = (0, GRAM_W - 1)
        self.rows = (0, GRAM_H - 1)
        self._cmd: int | None = None
        self._params: list[int] = []
        self._carry = b""
        self._pos = 0
        self._map: np.ndarray | None = None

    def _execute(self, cmd: int, params: list[int]) -> None:
        if cmd == SWRESET:
            self._reset()
        elif cmd == SLPIN:
            self.asleep = True
        elif cmd == SLPOUT:
            self.asleep = False
        elif cmd in (INVOFF, INVON):
            self.inverted = cmd == INVON
        elif cmd in (DISPOFF, DISPON):
            self.display_on = cmd == DISPON
        elif cmd == CASET:
            self.columns = (params[0] << 8 | params[1], params[2] << 8 | params[3])
            self._map = None
        elif cmd == RASET:
            self.rows = (params[0] << 8 | params[1], params[2] << 8 | params[3])
            self._map = None
        elif cmd == MADCTL:
            self.madctl = params[0]
            self._map = None
        elif cmd == COLMOD:
            dbi = params[0] & 0x07
            self.bits_per_pixel = {5: 16, 6: 18}.get(dbi, 0)  # 0: unsupported, pixels ignored

    def _window_map(self) -> np.ndarray:
        """Frame-memory index (row * 240 + column, or -1 outside) of each pixel in the window."""
        if self._map is None:
            sc, ec = self.columns
            sp, ep = self.rows
            nc, nr = ec - sc + 1, ep - sp + 1
            if nc <= 0 or nr <= 0:
                self._map = np.full(0, -1, dtype=np.intp)
                return self._map
            c = np.tile(np.arange(sc, ec + 1), nr)
            p = np.repeat(np.arange(sp, ep + 1), nc)
            gx, gy = (p, c) if self.madctl & MV else (c, p)
            if self.madctl & MX:
                gx = GRAM_W - 1 - gx
            if self.madctl & MY:
                gy = GRAM_H - 1 - gy
            inside = (gx >= 0) & (gx < GRAM_W) & (gy >= 0) & (gy < GRAM_H)
            self._map = np.where(inside, gy * GRAM_W + gx, -1).astype(np.intp)
        return self._map

    def _decode(self, raw: np.ndarray) -> np.ndarray:
        if self.bits_per_pixel == 16:
            v = raw.reshape(-1, 2).astype(np.uint16)
            v = (v[:, 0] << 8) | v[:, 1]
            r, g, b = (v >> 11) & 0x1F, (v >> 5) & 0x3F, v & 0x1F
            rgb = np.stack([(r << 3) | (r >> 2), (g << 2) | (g >> 4), (b << 3) | (b >> 2)], -1)
            rgb = rgb.astype(np.uint8)
        else:
            six = raw.reshape(-1, 3) & 0xFC
            rgb = six | (six >> 6)
        if bool(self.madctl & BGR) != self.model.bgr_wired:
            rgb = rgb[:, ::-1]
        return rgb

    def _pixels(self, data: np.ndarray) -> None:
        if not self.bits_per_pixel:
            return
        bpp = 2 if self.bits_per_pixel == 16 else 3
        if self._carry:
            data = np.concatenate([np.frombuffer(self._carry, np.uint8), data])
        k = data.size // bpp
        self._carry = data[k * bpp:].tobytes()
        window = self._window_map()
        n = window.size
        if k == 0 or n == 0:
            return
        self.pixel_bytes += k * bpp
        rgb = self._decode(data[: k * bpp])
        where = window[(self._pos + np.arange(k)) % n]
        ok = where >= 0
        self.gram.reshape(-1, 3)[where[ok]] = rgb[ok]
        completed = (self._pos + k) // n
        self._pos = (self._pos + k) % n
        if completed:
            self.windows_completed += completed
            self._capture()

    def receive(self, data: memoryview | bytes) -> None:
        """Bytes from one SPI transfer; the D/C line is read now, as the controller would."""
        raw = np.frombuffer(data, dtype=np.uint8)
        if raw.size == 0:
            return
        command = not self._dc()
        with self._lock:
            self.bytes_received += raw.size
            if command:
                self.command_bytes += raw.size
                for byte in raw.tolist():
                    self.commands.append(byte)
                    self._cmd, self._params, self._carry = byte, [], b""
                    if byte == RAMWR:
                        self._pos = 0
                    if byte not in _PARAMS:
                        self._execute(byte, [])
                        if byte in _VISIBLE:
                            self._capture()
                return
            if self._cmd in (RAMWR, RAMWRC):
                self._pixels(raw)
            elif self._cmd in _PARAMS:
                need = _PARAMS[self._cmd] - len(self._params)
                self._params.extend(raw[:need].tolist())
                if len(self._params) == _PARAMS[self._cmd]:
                    self._execute(self._cmd, self._params)
                    self._cmd = None

    # -- what a person sees -----------------------------------------------------

    @property
    def backlight_on(self) -> bool:
        """Whether the backlight line is at its 'on' level (on if not wired to anything)."""
        if self._backlight is None:
            return True
        return bool(self._backlight()) != self._backlight_active_low

    @property
    def lit(self) -> bool:
        """Whether anything is visible: awake, display on, backlight on."""
        return not self.asleep and self.display_on and self.backlight_on

    def _view(self) -> np.ndarray:
        gw, gh = self.glass_size
        glass = self.gram[:gh, :gw]
        if self.model.glass_columns_reversed:
            glass = glass[:, ::-1]
        if not self.lit:
            glass = np.zeros_like(glass)
        elif self.inverted != self.model.needs_inversion:
            glass = 255 - glass
        return np.ascontiguousarray(np.rot90(glass, k=self._mount))

    def glass(self) -> np.ndarray:
        """The glass now, as mounted: ``(h, w, 3)`` uint8 RGB."""
        with self._lock:
            return self._view()

    def snapshot(self) -> Image.Image:
        """The glass now, as a Pillow image."""
        return Image.fromarray(self.glass())

    def _capture(self) -> None:
        """Keep the glass now; within ``capture_interval_s`` of the last kept frame the
        newer picture replaces it, so the latest state is never lost to the interval."""
        now = self._clock()
        if self.frames and now - self._last_capture < self._capture_interval:
            self.frames[-1] = CapturedFrame(self.frames[-1].t, self._view())
            return
        self._last_capture = now
        self.frames.append(CapturedFrame(now, self._view()))

    def save(self, directory: str | Path) -> list[Path]:
        """Write the captured frames as PNGs, ``last.png`` and an animated ``display.gif``.

        The GIF's frame durations follow the capture times (at least 20 ms, what
        viewers honour).
        """
        out = Path(directory)
        out.mkdir(parents=True, exist_ok=True)
        with self._lock:
            frames = list(self.frames)
            last = self._view()
        written = []
        for i, frame in enumerate(frames):
            path = out / f"frame_{i:05d}.png"
            frame.image().save(path, compress_level=1)
            written.append(path)
        Image.fromarray(last).save(out / "last.png")
        written.append(out / "last.png")
        images = [f.image() for f in frames] or [Image.fromarray(last)]
        times = [f.t for f in frames] or [0.0]
        durations = [max(20, int(round((b - a) * 1000))) for a, b in pairwise(times)]
        durations.append(durations[-1] if durations else 100)
        gif = out / "display.gif"
        images[0].save(gif, save_all=True, append_images=images[1:], duration=durations, loop=0)
        written.append(gif)
        return written
