"""The pictures on the panel: overlays on the live view and whole status screens.

Each picture is drawn once with Pillow for a given :class:`Spec` (what it
depends on: language, mode, the second shown on the REC timer, the blink
phase, ...) and cached as RGB565. The live view then only pays for pasting the
cached overlay pixels over the converted camera frame, a single numpy
assignment; Pillow runs at most a couple of times a second (timer, blink).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import NamedTuple

import numpy as np
from PIL import Image, ImageDraw

from display import icons
from display.fonts import Face, face_for_cap, fit
from display.rgb565 import DTYPE, pack
from display.text import text

WHITE = (255, 255, 255)
BLACK = (0, 0, 0)
REC_RED = (220, 0, 0)
ALERT_RED = (150, 0, 0)
AMBER = (255, 170, 0)
NOTICE_BLUE = (0, 40, 100)
NO_SIGNAL_GREY = (40, 40, 40)

#: Minimum capital-letter heights in pixels. 20 px is about 3.6 mm on a 2.8"
#: 320x240 panel (0.18 mm pixels): ~20 arc minutes at 60 cm, the size
#: ergonomics guidance asks for text read at arm's length.
ALERT_MIN_CAP = 20
NOTICE_MIN_CAP = 20
REC_MIN_CAP = 20
PRERECORD_MIN_CAP = 14

#: Alerts in the warning class get an amber banner, the rest a red one.
WARNINGS = ("storage_low", "clock_unsynced")

Rect = tuple[int, int, int, int]


class Spec(NamedTuple):
    """Everything an overlay or status screen depends on (hashable: the cache key)."""

    language: str
    recording: bool
    prerecord: str  # "on" | "armed" | "off" (shown in standby only)
    alert: str | None  # the alert in the banner now
    elapsed: str  # REC timer text, "" when not recording
    dot_on: bool  # blink phase of the REC dot


@dataclass(frozen=True)
class Layer:
    """Cached pixels: flat indexes into the frame and their RGB565 values."""

    index: np.ndarray
    values: np.ndarray
    boxes: dict[str, list[Rect]]

    def apply(self, frame: np.ndarray) -> None:
        """Paste the layer's pixels over ``frame`` (``(h, w)`` RGB565) in place."""
        frame.reshape(-1)[self.index] = self.values


def _border(size: tuple[int, int]) -> int:
    return max(4, min(size) // 40)


def _margin(size: tuple[int, int]) -> int:
    return max(4, min(size) // 60)


def _text_block(draw: ImageDraw.ImageDraw, f: Face, lines: list[str], x: int, y: int,
                fill: tuple, centre_width: int | None = None) -> list[Rect]:
    """Draw lines from cap-top ``y``; returns each line's cap box."""
    boxes = []
    for i, line in enumerate(lines):
        lw = f.width(line)
        lx = x + (centre_width - lw) // 2 if centre_width is not None else x
        ly = y + i * f.line_height
        f.draw(draw, (lx, ly), line, fill)
        boxes.append((lx, ly, lx + lw, ly + f.cap_height))
    return boxes


def _block_height(f: Face, lines: list[str]) -> int:
    return (len(lines) - 1) * f.line_height + f.cap_height


def _rec_badge(draw: ImageDraw.ImageDraw, size: tuple[int, int], spec: Spec,
               boxes: dict[str, list[Rect]]) -> Rect:
    w, _ = size
    inset = _border(size) + _margin(size)
    label = text("rec_badge", spec.language)
    avail = w - 2 * inset
    for cap in (30, 28, 26, 24, 22, REC_MIN_CAP, 18, 16):  # the last two: narrow fonts only
        f = face_for_cap(cap)
        pad = max(5, cap // 4)
        badge_w = 3 * pad + cap + f.width(label)
        if badge_w <= avail:
            break
    vpad = max(8, cap // 2)  # a tall badge reads as "big" from across the street
    badge_h = cap + 2 * vpad
    x0, y0 = inset, inset
    rect = (x0, y0, x0 + badge_w, y0 + badge_h)
    draw.rounded_rectangle(rect, radius=pad, fill=REC_RED)
    dot = (x0 + pad, y0 + vpad, x0 + pad + cap, y0 + vpad + cap)
    if spec.dot_on:
        draw.ellipse(dot, fill=WHITE)
    boxes["rec_badge"] = [rect]
    boxes["rec_dot"] = [dot]
    boxes["rec_text"] = _text_block(draw, f, [label], x0 + 2 * pad + cap, y0 + vpad, WHITE)
    return rect


def _elapsed(draw: ImageDraw.ImageDraw, size: tuple[int, int], spec: Spec, badge: Rect,
             boxes: dict[str, list[Rect]]) -> Rect:
    w, _ = size
    inset = _border(size) + _margin(size)
    f = face_for_cap(ALERT_MIN_CAP)
    pad = 6
    bw = f.width(spec.elapsed) + 2 * pad
    bh = f.cap_height + 2 * pad
    x0 = w - inset - bw
    y0 = badge[1] + (badge[3] - badge[1] - bh) // 2
    if x0 < badge[2] + _margin(size):
        x0, y0 = badge[0], badge[3] + _margin(size)
    rect = (x0, y0, x0 + bw, y0 + bh)
    draw.rectangle(rect, fill=BLACK)
    boxes["elapsed"] = _text_block(draw, f, [spec.elapsed], x0 + pad, y0 + pad, WHITE)
    return rect


def _prerecord_badge(draw: ImageDraw.ImageDraw, size: tuple[int, int], spec: Spec,
                     boxes: dict[str, list[Rect]]) -> Rect:
    w, _ = size
    m = _margin(size)
    label = text("prerecord_on" if spec.prerecord == "on" else "prerecord_armed", spec.language)
    pad = 5
    f, lines = fit(label, w - 2 * m - 3 * pad - 20, 2, (18, 16, PRERECORD_MIN_CAP))
    mark = f.cap_height
    bw = 3 * pad + mark + max(f.width(line) for line in lines)
    bh = _block_height(f, lines) + 2 * pad
    rect = (m, m, m + bw, m + bh)
    draw.rectangle(rect, fill=AMBER)
    cy = m + pad
    circle = (m + pad, cy, m + pad + mark, cy + mark)
    if spec.prerecord == "on":
        draw.ellipse(circle, fill=BLACK)
    else:
        draw.ellipse(circle, outline=BLACK, width=max(2, mark // 5))
    boxes["prerecord"] = [rect]
    boxes["prerecord_text"] = _text_block(draw, f, lines, m + 2 * pad + mark, m + pad, BLACK)
    return rect


def _alert_banner(draw: ImageDraw.ImageDraw, size: tuple[int, int], spec: Spec,
                  boxes: dict[str, list[Rect]]) -> Rect:
    w, h = size
    inset = _border(size) if spec.recording else 0
    assert spec.alert is not None
    warning = spec.alert in WARNINGS
    bg, fg = (AMBER, BLACK) if warning else (ALERT_RED, WHITE)
    pad = 6
    icon_s = max(40, min(56, h // 5))
    text_w = w - 2 * inset - icon_s - 3 * pad
    f, lines = fit(text(spec.alert, spec.language), text_w, 2, (24, 22, ALERT_MIN_CAP))
    block_h = _block_height(f, lines)
    banner_h = max(icon_s, block_h) + 2 * pad
    y0 = h - inset - banner_h
    rect = (inset, y0, w - inset, h - inset)
    draw.rectangle(rect, fill=bg)
    icon_box = (inset + pad, y0 + (banner_h - icon_s) // 2, icon_s)
    icons.ALERT_ICONS[spec.alert](draw, icon_box, fg, bg)
    tx = inset + 2 * pad + icon_s
    ty = y0 + (banner_h - block_h) // 2
    boxes["alert"] = [rect]
    boxes["alert_icon"] = [(icon_box[0], icon_box[1], icon_box[0] + icon_s, icon_box[1] + icon_s)]
    boxes["alert_text"] = _text_block(draw, f, lines, tx, ty, fg)
    return rect


def _centre_message(draw: ImageDraw.ImageDraw, size: tuple[int, int], key: str, spec: Spec,
                    top: int, bottom: int, with_icon: bool, boxes: dict[str, list[Rect]]) -> None:
    """Icon (if it fits) and a wrapped message centred between ``top`` and ``bottom``."""
    w, _ = size
    m = _margin(size)
    f, lines = fit(text(key, spec.language), w - 4 * m, 3, (26, 24, 22, NOTICE_MIN_CAP),
                   max_height=bottom - top - 2 * m)
    block_h = _block_height(f, lines)
    if block_h > bottom - top - 2 * m:
        return  # the alert banner has the space; its message matters more
    icon_s = min(w, bottom - top) // 4
    gap = f.line_height - f.cap_height
    show_icon = with_icon and icon_s >= 32 and block_h + gap + icon_s <= bottom - top - 2 * m
    total = block_h + (gap + icon_s if show_icon else 0)
    y = top + (bottom - top - total) // 2
    if show_icon:
        box = ((w - icon_s) // 2, y, icon_s)
        icons.camera(draw, box, WHITE, NOTICE_BLUE)
        boxes["notice_icon"] = [(box[0], box[1], box[0] + icon_s, box[1] + icon_s)]
        y += icon_s + gap
    boxes[key] = _text_block(draw, f, lines, 0, y, WHITE, centre_width=w)


def draw_picture(size: tuple[int, int], base: str, spec: Spec) -> tuple[Image.Image, dict]:
    """Draw one picture: ``base`` is ``live`` (transparent), ``notice``, ``no_camera`` or ``blank``.

    Returns an RGBA image (alpha 0 where the live view shows through) and the
    boxes of everything drawn, by element name, for tests and documentation.
    """
    w, h = size
    bg = {"live": (0, 0, 0, 0), "notice": NOTICE_BLUE + (255,),
          "no_camera": NO_SIGNAL_GREY + (255,), "blank": BLACK + (255,)}[base]
    img = Image.new("RGBA", (w, h), bg)
    draw = ImageDraw.Draw(img)
    boxes: dict[str, list[Rect]] = {}
    top, bottom = 0, h
    if spec.recording:
        b = _border(size)
        for r in ((0, 0, w - 1, b - 1), (0, h - b, w - 1, h - 1), (0, 0, b - 1, h - 1),
                  (w - b, 0, w - 1, h - 1)):
            draw.rectangle(r, fill=REC_RED)
        boxes["rec_border"] = [(0, 0, w, h)]
        badge = _rec_badge(draw, size, spec, boxes)
        timer = _elapsed(draw, size, spec, badge, boxes)
        top = max(badge[3], timer[3])
    elif spec.prerecord in ("on", "armed"):
        top = _prerecord_badge(draw, size, spec, boxes)[3]
    if spec.alert is not None:
        bottom = _alert_banner(draw, size, spec, boxes)[1]
    if base == "notice":
        _centre_message(draw, size, "notice", spec, top, bottom, True, boxes)
    elif base == "no_camera":
        _centre_message(draw, size, "no_camera_image", spec, top, bottom, False, boxes)
    return img, boxes


@lru_cache(maxsize=32)
def overlay(size: tuple[int, int], spec: Spec) -> Layer:
    """The overlay for the live view, as the pixels it covers."""
    img, boxes = draw_picture(size, "live", spec)
    rgba = np.asarray(img)
    covered = np.flatnonzero(rgba[..., 3].reshape(-1) >= 128)
    values = pack(rgba[..., :3].reshape(-1, 3)[covered])
    covered.setflags(write=False)
    values.setflags(write=False)
    return Layer(covered, values, boxes)


@lru_cache(maxsize=16)
def status_frame(size: tuple[int, int], base: str, spec: Spec) -> tuple[np.ndarray, dict]:
    """A whole-screen picture (no live view) as RGB565, read-only."""
    img, boxes = draw_picture(size, base, spec)
    frame = pack(np.asarray(img.convert("RGB")))
    frame.setflags(write=False)
    return frame, boxes


def blank(size: tuple[int, int]) -> np.ndarray:
    """An all-black frame."""
    return np.zeros((size[1], size[0]), dtype=DTYPE)
