"""Alert and status pictograms, drawn with Pillow primitives at any size.

Drawn rather than loaded so they scale to either panel, need no image files
and stay legible as solid shapes (no thin lines) at arm's length.
"""

from __future__ import annotations

from collections.abc import Callable

from PIL import ImageDraw

Box = tuple[int, int, int]  # x, y, size (square)
Colour = tuple[int, int, int]


def _slash(d: ImageDraw.ImageDraw, box: Box, colour: Colour, bg: Colour) -> None:
    x, y, s = box
    w = max(3, s // 9)
    d.line((x + s * 0.1, y + s * 0.9, x + s * 0.9, y + s * 0.1), fill=bg, width=w + 4)
    d.line((x + s * 0.1, y + s * 0.9, x + s * 0.9, y + s * 0.1), fill=colour, width=w)


def sd_card(d: ImageDraw.ImageDraw, box: Box, colour: Colour, bg: Colour, level: float) -> None:
    """A memory card, filled from the bottom to ``level`` (0..1)."""
    x, y, s = box
    left, right, top, bottom = x + s * 0.2, x + s * 0.8, y + s * 0.05, y + s * 0.95
    notch = s * 0.2
    outline = [(left, top + notch), (left + notch, top), (right, top), (right, bottom),
               (left, bottom)]
    d.polygon(outline, fill=bg, outline=colour, width=max(2, s // 14))
    inner = s * 0.12
    fill_top = bottom - inner - (bottom - top - 2 * inner - notch) * max(0.0, min(1.0, level))
    d.rectangle((left + inner, fill_top, right - inner, bottom - inner), fill=colour)


def camera(d: ImageDraw.ImageDraw, box: Box, colour: Colour, bg: Colour) -> None:
    """A camera body with its lens."""
    x, y, s = box
    d.rounded_rectangle((x + s * 0.05, y + s * 0.28, x + s * 0.95, y + s * 0.85),
                        radius=s * 0.1, fill=colour)
    d.rectangle((x + s * 0.3, y + s * 0.17, x + s * 0.6, y + s * 0.3), fill=colour)
    d.ellipse((x + s * 0.3, y + s * 0.36, x + s * 0.7, y + s * 0.76), fill=bg)
    d.ellipse((x + s * 0.4, y + s * 0.46, x + s * 0.6, y + s * 0.66), fill=colour)


def camera_fault(d: ImageDraw.ImageDraw, box: Box, colour: Colour, bg: Colour) -> None:
    """A camera struck through."""
    camera(d, box, colour, bg)
    _slash(d, box, colour, bg)


def clock(d: ImageDraw.ImageDraw, box: Box, colour: Colour, bg: Colour) -> None:
    """A clock face with a question mark beside it: the time is not trusted."""
    x, y, s = box
    w = max(3, s // 10)
    d.ellipse((x + s * 0.05, y + s * 0.1, x + s * 0.8, y + s * 0.85), outline=colour, width=w)
    cx, cy = x + s * 0.425, y + s * 0.475
    d.line((cx, cy, cx, cy - s * 0.25), fill=colour, width=w)
    d.line((cx, cy, cx + s * 0.18, cy), fill=colour, width=w)
    d.rectangle((x + s * 0.82, y + s * 0.15, x + s * 0.97, y + s * 0.65), fill=colour)
    d.rectangle((x + s * 0.82, y + s * 0.75, x + s * 0.97, y + s * 0.9), fill=colour)


def key_missing(d: ImageDraw.ImageDraw, box: Box, colour: Colour, bg: Colour) -> None:
    """A key struck through."""
    x, y, s = box
    w = max(3, s // 8)
    d.ellipse((x + s * 0.05, y + s * 0.3, x + s * 0.45, y + s * 0.7), outline=colour, width=w)
    d.rectangle((x + s * 0.42, y + s * 0.45, x + s * 0.95, y + s * 0.55), fill=colour)
    d.rectangle((x + s * 0.7, y + s * 0.5, x + s * 0.78, y + s * 0.72), fill=colour)
    d.rectangle((x + s * 0.84, y + s * 0.5, x + s * 0.92, y + s * 0.68), fill=colour)
    _slash(d, box, colour, bg)


def mic_fault(d: ImageDraw.ImageDraw, box: Box, colour: Colour, bg: Colour) -> None:
    """A microphone struck through: no sound is being recorded."""
    x, y, s = box
    w = max(3, s // 10)
    d.rounded_rectangle((x + s * 0.35, y + s * 0.05, x + s * 0.65, y + s * 0.55),
                        radius=s * 0.15, fill=colour)
    d.arc((x + s * 0.22, y + s * 0.25, x + s * 0.78, y + s * 0.72), 0, 180, fill=colour, width=w)
    d.rectangle((x + s * 0.46, y + s * 0.7, x + s * 0.54, y + s * 0.88), fill=colour)
    d.rectangle((x + s * 0.3, y + s * 0.86, x + s * 0.7, y + s * 0.95), fill=colour)
    _slash(d, box, colour, bg)


IconFn = Callable[[ImageDraw.ImageDraw, Box, Colour, Colour], None]

def _failed_card(d: ImageDraw.ImageDraw, b: Box, c: Colour, bg: Colour) -> None:
    """An empty card, struck through."""
    sd_card(d, b, c, bg, 0.0)
    _slash(d, b, c, bg)


ALERT_ICONS: dict[str, IconFn] = {
    "storage_low": lambda d, b, c, bg: sd_card(d, b, c, bg, 0.75),
    "storage_full": lambda d, b, c, bg: sd_card(d, b, c, bg, 1.0),
    "storage_error": lambda d, b, c, bg: _failed_card(d, b, c, bg),
    "camera_fault": camera_fault,
    "mic_fault": mic_fault,
    "clock_unsynced": clock,
    "key_missing": key_missing,
}
