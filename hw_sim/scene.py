"""The synthetic scene the simulated camera films, rendered straight into YUV420.

A person should see at a glance that the picture moves and which frame it is: a
coloured ball bounces over a gradient backdrop, a chequered floor scrolls, and the
frame number and capture time (UTC, from the virtual wall clock, so a clock step is
visible) are printed under the frame tag. Everything is precomputed once and each
frame is a few array copies and slices: no per-pixel Python.
"""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from hw_sim import frametag

#: Ball colour as (U, V): orange.
BALL_UV = (64, 200)
#: Seconds for the ball to cross the frame horizontally and vertically.
CROSS_SECONDS = (3.0, 2.2)
#: Floor scroll speed in pixels per second.
FLOOR_SPEED = 40.0


class Scene:
    """Renders frame ``n`` at scene time ``t`` as a (h*3//2, w) uint8 YUV420 array."""

    def __init__(self, width: int, height: int) -> None:
        if width % 2 or height % 2:
            raise ValueError("YUV420 needs an even width and height")
        self.width = width
        self.height = height
        self.tag_height = frametag.block_height(height)
        self._font = _font(max(10, height // 24))
        self._text_top = self.tag_height + 2
        self._text_height = self._font.getbbox("0Z:")[3] + 2
        self._base = self._backdrop()
        self._floor_top = (height * 2 // 3) & ~1
        self._floor = self._floor_strip()
        self._ball_r = max(4, height // 10) & ~1
        d = 2 * self._ball_r
        yy, xx = np.mgrid[0:d, 0:d] - (self._ball_r - 0.5)
        dist = np.hypot(xx, yy) / self._ball_r
        self._ball_mask = dist <= 1.0
        # Shaded ball: lighter towards the top-left, like a lit sphere.
        shade = np.hypot(xx + self._ball_r / 3, yy + self._ball_r / 3) / (1.5 * self._ball_r)
        self._ball_y = np.clip(200 - 110 * shade, 60, 220).astype(np.uint8)
        self._ball_cmask = self._ball_mask[::2, ::2]

    def render(self, n: int, t: float, utc: float) -> np.ndarray:
        """Frame ``n`` captured ``t`` seconds after the camera started, at UTC ``utc``."""
        w, h = self.width, self.height
        out = self._base.copy()
        y = out[:h]
        u = out[h : h + h // 4].reshape(h // 2, w // 2)
        v = out[h + h // 4 :].reshape(h // 2, w // 2)
        shift = int(t * FLOOR_SPEED) % w
        y[self._floor_top :] = self._floor[:, shift : shift + w]
        self._draw_ball(y, u, v, t)
        self._draw_text(y, u, v, n, utc)
        frametag.draw_tag(y, n)
        u[: (self.tag_height + 1) // 2] = 128
        v[: (self.tag_height + 1) // 2] = 128
        return out

    # -- pieces -----------------------------------------------------------

    def _backdrop(self) -> np.ndarray:
        w, h = self.width, self.height
        out = np.empty((h * 3 // 2, w), np.uint8)
        gy = np.linspace(170, 90, h, dtype=np.float32)[:, None]
        gx = np.linspace(-20, 20, w, dtype=np.float32)[None, :]
        out[:h] = np.clip(gy + gx, 16, 235).astype(np.uint8)
        cu = np.linspace(150, 110, w // 2, dtype=np.float32)[None, :]
        cv = np.linspace(110, 140, h // 2, dtype=np.float32)[:, None]
        out[h : h + h // 4] = np.broadcast_to(cu + 0 * cv, (h // 2, w // 2)).astype(
            np.uint8
        ).reshape(h // 4, w)
        out[h + h // 4 :] = np.broadcast_to(cv + 0 * cu, (h // 2, w // 2)).astype(
            np.uint8
        ).reshape(h // 4, w)
        return out

    def _floor_strip(self) -> np.ndarray:
        """A chequered floor two frames wide, so a scroll is one slice."""
        rows = self.height - self._floor_top
        cell = max(8, self.height // 12)
        yy, xx = np.mgrid[0:rows, 0 : 2 * self.width]
        return np.where((xx // cell + yy // cell) % 2 == 0, 60, 120).astype(np.uint8)

    def _draw_ball(self, y: np.ndarray, u: np.ndarray, v: np.ndarray, t: float) -> None:
        d = 2 * self._ball_r
        top_min = int(self._text_top + self._text_height + 2 + 1) & ~1
        x = _bounce(t / CROSS_SECONDS[0], self.width - d) & ~1
        yy = top_min + (_bounce(t / CROSS_SECONDS[1], self.height - d - top_min) & ~1)
        region = y[yy : yy + d, x : x + d]
        region[self._ball_mask] = self._ball_y[self._ball_mask]
        cy, cx, cd = yy // 2, x // 2, d // 2
        u[cy : cy + cd, cx : cx + cd][self._ball_cmask] = BALL_UV[0]
        v[cy : cy + cd, cx : cx + cd][self._ball_cmask] = BALL_UV[1]

    def _draw_text(self, y: np.ndarray, u: np.ndarray, v: np.ndarray, n: int, utc: float) -> None:
        stamp = datetime.fromtimestamp(utc, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
        text = f"#{n:06d}  {stamp}"
        box_w = min(self.width - 4, int(self._font.getlength(text)) + 6) & ~1
        img = Image.new("L", (box_w, int(self._text_height)), 0)
        ImageDraw.Draw(img).text((3, 1), text, fill=255, font=self._font)
        top = self._text_top & ~1
        glyphs = np.asarray(img, dtype=np.uint16)
        y[top : top + self._text_height, 2 : 2 + box_w] = (16 + glyphs * 219 // 255).astype(
            np.uint8
        )
        c0, c1 = top // 2, (top + self._text_height + 1) // 2
        u[c0:c1, 1 : 1 + box_w // 2] = 128
        v[c0:c1, 1 : 1 + box_w // 2] = 128


def _bounce(phase: float, span: int) -> int:
    """Triangle wave: 0 -> span -> 0 as ``phase`` goes 0 -> 1 -> 2."""
    if span <= 0:
        return 0
    p = phase % 2.0
    return int((p if p <= 1.0 else 2.0 - p) * span)


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    try:
        return ImageFont.load_default(size=size)
    except (OSError, TypeError):  # Pillow without FreeType: the fixed bitmap font
        return ImageFont.load_default()
