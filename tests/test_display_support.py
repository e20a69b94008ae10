"""Helpers for the display and panel tests (this module holds no tests).

A stand-in for the RPi.GPIO module (luma's spi interface takes it as ``gpio``),
camera frames made from RGB pictures, a panel on the simulated bus, and
measurements of what the glass shows (colours in a region, letter heights).
"""

from __future__ import annotations

import sys
from typing import Any

import numpy as np

from display.yuv import COLOUR_SPACES
from drivers.panel import Panel
from firmware.assembly import panel_settings
from hw_sim import fake_spidev
from hw_sim.panel import SimPanel


class StandInGPIO:
    """The parts of RPi.GPIO that luma and the panel driver use, over a dict of levels."""

    BCM, BOARD, OUT, IN, HIGH, LOW = 11, 10, 0, 1, 1, 0

    def __init__(self) -> None:
        self.levels: dict[int, int] = {}
        self.writes: list[tuple[int, int]] = []

    def setmode(self, mode: int) -> None:
        self.mode = mode

    def setup(self, pin: int, direction: int, initial: int = -1, **_: Any) -> None:
        self.levels[pin] = 0 if initial == -1 else int(initial)

    def output(self, pin: int, value: int) -> None:
        self.levels[pin] = 1 if value else 0
        self.writes.append((pin, self.levels[pin]))

    def input(self, pin: int) -> int:
        return self.levels.get(pin, 0)

    def cleanup(self, *_: Any) -> None:
        pass

    def reader(self, pin: int):
        return lambda: self.levels.get(pin, 0)


def rgb_to_i420(rgb: np.ndarray, colour_space: str = "rec709") -> np.ndarray:
    """An RGB picture (h, w, 3) as a camera lores frame (I420, shape (h*3//2, w))."""
    kr, kb, full = COLOUR_SPACES[colour_space]
    kg = 1 - kr - kb
    f = np.asarray(rgb, dtype=np.float64) / 255.0
    y = kr * f[..., 0] + kg * f[..., 1] + kb * f[..., 2]
    cb = (f[..., 2] - y) / (2 * (1 - kb))
    cr = (f[..., 0] - y) / (2 * (1 - kr))
    if full:
        Y, U, V = 255 * y, 128 + 255 * cb, 128 + 255 * cr
    else:
        Y, U, V = 16 + 219 * y, 128 + 224 * cb, 128 + 224 * cr
    h, w = y.shape

    def sub(c: np.ndarray) -> np.ndarray:
        return c.reshape(h // 2, 2, w // 2, 2).mean(axis=(1, 3))

    planes = [np.clip(np.rint(p), 0, 255).astype(np.uint8).reshape(-1)
              for p in (Y, sub(U), sub(V))]
    return np.concatenate(planes).reshape(h * 3 // 2, w)


def solid_lores(colour: tuple[int, int, int], w: int = 640, h: int = 480,
                colour_space: str = "rec709") -> np.ndarray:
    """A camera frame of one colour."""
    return rgb_to_i420(np.broadcast_to(np.array(colour, np.uint8), (h, w, 3)), colour_space)


def open_sim_panel(kind: str = "ili9341", rotation: int = 0, width: int | None = None,
                   height: int | None = None, realtime: bool = False,
                   **panel_kw: Any) -> tuple[Panel, SimPanel, StandInGPIO]:
    """A real Panel (luma init + fast path) over the fake spidev with a SimPanel behind it."""
    gpio = StandInGPIO()
    sim = SimPanel.attach(0, 0, kind, width=width, height=height, realtime=realtime,
                          dc_level=gpio.reader(24), backlight_level=gpio.reader(18),
                          **panel_kw)
    settings = panel_settings({"display": {"kind": kind, "rotation": rotation, "width": width,
                                           "height": height, "dc_pin": 24, "rst_pin": 25,
                                           "backlight_pin": 18}})
    panel = Panel.from_config(**settings, gpio=gpio, spi=fake_spidev.SpiDev())
    return panel, sim, gpio


def use_fake_spidev_module(monkeypatch: Any) -> None:
    """Make ``import spidev`` give the fake, as hw_sim.install does."""
    monkeypatch.setitem(sys.modules, "spidev", fake_spidev)


def share(rgb: np.ndarray, box: tuple[int, int, int, int], colour: tuple[int, int, int],
          tol: int = 40) -> float:
    """Fraction of the pixels in ``box`` (x0, y0, x1, y1) within ``tol`` of ``colour``."""
    x0, y0, x1, y1 = box
    region = rgb[y0:y1, x0:x1].astype(int)
    close = np.all(np.abs(region - np.array(colour)) <= tol, axis=-1)
    return float(close.mean()) if close.size else 0.0


def ink(rgb: np.ndarray, box: tuple[int, int, int, int], colour: tuple[int, int, int],
        tol: int = 60, pad: int = 6) -> np.ndarray:
    """Boolean mask of text-coloured pixels around ``box`` (grown by ``pad`` up and down)."""
    x0, y0, x1, y1 = box
    y0, y1 = max(0, y0 - pad), min(rgb.shape[0], y1 + pad)
    region = rgb[y0:y1, x0:x1].astype(int)
    return np.all(np.abs(region - np.array(colour)) <= tol, axis=-1)


def first_glyph_height(mask: np.ndarray) -> int:
    """Ink height of the first letter (the first run of columns with ink) in ``mask``."""
    cols = mask.any(axis=0)
    if not cols.any():
        return 0
    start = int(np.argmax(cols))
    end = start
    while end < cols.size and cols[end]:
        end += 1
    rows = np.flatnonzero(mask[:, start:end].any(axis=1))
    return int(rows[-1] - rows[0] + 1)


def ink_width(mask: np.ndarray) -> int:
    """Horizontal extent of the ink in ``mask``."""
    cols = np.flatnonzero(mask.any(axis=0))
    return int(cols[-1] - cols[0] + 1) if cols.size else 0
