"""Glyphs for the burned-in watermark: each character rasterised once, lines composed
from the cached cells with numpy (see :mod:`display.watermark`).

White (luma 235) anti-aliased on the box's black (luma 16), video range. The face is
DejaVu Sans Mono Bold where installed (fixed-width digits, a slashed zero), else the
front display's face.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from display.fonts import Face, face_for_cap, first_loadable

#: Tried in order before falling back to the front display's face.
MONO_CANDIDATES = (
    "DejaVuSansMono-Bold.ttf",
    "/usr/share/fonts/truetype/dejavu/DejaVuSansMono-Bold.ttf",
)
#: Luma of the box and of the text (video range black and white).
BOX_Y, TEXT_Y = 16, 235
#: Lines kept composed (the current second's and a few around it, a pre-roll in order).
LINE_CACHE = 8


@lru_cache(maxsize=1)
def _mono_path() -> str | None:
    return first_loadable(MONO_CANDIDATES)


@lru_cache(maxsize=16)
def watermark_face(cap_px: int) -> Face:
    """The smallest face whose capitals are at least ``cap_px`` tall (mono if installed)."""
    path = _mono_path()
    if path is None:
        return face_for_cap(cap_px)
    # Capitals scale with the point size: start from the ratio at 100 pt, then step up.
    ratio = Face(ImageFont.truetype(path, 100), 0).cap_height / 100
    size = max(6, math.floor(cap_px / ratio) - 1)
    while True:
        f = Face(ImageFont.truetype(path, size), 0)
        if f.cap_height >= cap_px:
            return f
        size += 1


@dataclass(frozen=True)
class Glyph:
    """One character: its cell (``advance`` wide: the pixels the pen moves on), if its
    ink spills past it the whole, and where its ink is: rows from the top of the cell,
    columns from the pen, ends exclusive (None for a space)."""

    cell: np.ndarray
    spill: np.ndarray | None
    advance: int
    ink: tuple[int, int, int, int] | None  # top, bottom, left, right


class Glyphs:
    """Each character's anti-aliased coverage, rendered once; lines are composed from them.

    Rendering a whole string with FreeType costs about a millisecond; composing it
    from cached glyphs is one numpy concatenation. Characters sit on a common
    baseline at whole-pixel advances (the monospaced face has no kerning).
    """

    def __init__(self, face: Face) -> None:
        self.face = face
        ascent, descent = face.font.getmetrics()
        self.ascent = int(ascent) + face.stroke
        self.descent = int(descent) + face.stroke
        self.height = self.ascent + self.descent
        self.slack = max(2, self.height // 4)  # room for ink beyond the advance
        self._cache: dict[str, Glyph] = {}
        self._lines: dict[str, np.ndarray] = {}

    def glyph(self, ch: str) -> Glyph:
        """``ch`` rendered once in luma on the box's black, baseline at row ``ascent``."""
        got = self._cache.get(ch)
        if got is None:
            f = self.face
            advance = max(1, round(float(f.font.getlength(ch)) + f.stroke))
            img = Image.new("L", (advance + 2 * self.slack, self.height), 0)
            ImageDraw.Draw(img).text((self.slack, self.ascent), ch, font=f.font, fill=255,
                                     anchor="ls", stroke_width=f.stroke, stroke_fill=255)
            full = _LUMA[np.asarray(img, dtype=np.uint8)]
            cell = np.ascontiguousarray(full[:, self.slack : self.slack + advance])
            inked = full > BOX_Y
            rows, cols = np.flatnonzero(inked.any(axis=1)), np.flatnonzero(inked.any(axis=0))
            ink = None
            if cols.size:
                ink = (int(rows[0]), int(rows[-1]) + 1,
                       int(cols[0]) - self.slack, int(cols[-1]) + 1 - self.slack)
            spills = ink is not None and (ink[2] < 0 or ink[3] > advance)
            for a in (full, cell):
                a.setflags(write=False)
            got = self._cache[ch] = Glyph(cell, full if spills else None, advance, ink)
        return got

    def width(self, s: str) -> int:
        """Advance width of ``s`` in pixels."""
        return sum(self.glyph(ch).advance for ch in s)

    def prepare(self, chars: str) -> None:
        """Rasterise ``chars`` now (FreeType takes milliseconds a glyph on a busy core)."""
        for ch in set(chars):
            self.glyph(ch)

    def line(self, s: str) -> np.ndarray:
        """``s`` in luma, white on black, ``height`` rows with the baseline at ``ascent``
        and ``slack`` columns either side (cached: most lines repeat).

        The glyphs' cells are laid side by side in one copy; the few glyphs whose
        ink reaches past their advance are then drawn whole over their neighbours.
        """
        strip = self._lines.get(s)
        if strip is None:
            glyphs = [self.glyph(ch) for ch in s]
            side = np.full((self.height, self.slack), BOX_Y, np.uint8)
            strip = np.concatenate([side, *(g.cell for g in glyphs), side], axis=1)
            pen = 0
            for g in glyphs:
                if g.spill is not None:
                    _blit_max(strip, g.spill, 0, pen)
                pen += g.advance
            strip.setflags(write=False)
            if len(self._lines) >= LINE_CACHE:
                self._lines.pop(next(iter(self._lines)))
            self._lines[s] = strip
        return strip

    def scan(self, s: str) -> tuple[list[Glyph], list[int], tuple[int, int, int, int] | None]:
        """The glyphs of ``s``, the column each starts at in its :meth:`line` strip, and
        where the ink of ``s`` is in the strip: (top, bottom, left, right), ends exclusive;
        None when it has none. One pass, as cheap as it can be in Python: the
        watermark calls it once a second for the time."""
        glyphs: list[Glyph] = []
        pens: list[int] = []
        top = left = 1 << 30
        bottom = right = -(1 << 30)
        pen = self.slack
        cache = self._cache
        for ch in s:
            g = cache.get(ch) or self.glyph(ch)
            glyphs.append(g)
            pens.append(pen)
            ink = g.ink
            if ink is not None:
                t, b, lt, rt = ink
                if t < top:
                    top = t
                if b > bottom:
                    bottom = b
                if pen + lt < left:
                    left = pen + lt
                if pen + rt > right:
                    right = pen + rt
            pen += g.advance
        return glyphs, pens, (None if bottom < 0 else (top, bottom, left, right))


#: Coverage 0..255 to luma: the box's black up to the text's white.
_LUMA = (BOX_Y + (np.arange(256, dtype=np.uint16) * (TEXT_Y - BOX_Y) + 127) // 255).astype(np.uint8)


def _overlap(dst: np.ndarray, src: np.ndarray, top: int, left: int
             ) -> tuple[np.ndarray, np.ndarray] | None:
    """The parts of ``dst`` and ``src`` that meet when ``src`` is placed at (top, left)."""
    h, w = src.shape
    t0, l0 = max(0, -top), max(0, -left)
    t1, l1 = min(h, dst.shape[0] - top), min(w, dst.shape[1] - left)
    if t1 <= t0 or l1 <= l0:
        return None
    return dst[top + t0 : top + t1, left + l0 : left + l1], src[t0:t1, l0:l1]


def blit(dst: np.ndarray, src: np.ndarray, top: int, left: int) -> None:
    """Copy ``src`` into ``dst`` at (top, left), clipped to ``dst``."""
    parts = _overlap(dst, src, top, left)
    if parts is not None:
        parts[0][...] = parts[1]


def _blit_max(dst: np.ndarray, src: np.ndarray, top: int, left: int) -> None:
    """``dst = max(dst, src)`` where ``src`` placed at (top, left) meets ``dst``."""
    parts = _overlap(dst, src, top, left)
    if parts is not None:
        np.maximum(parts[0], parts[1], out=parts[0])


def hard_wrap(f: Glyphs, line: str, room: int) -> list[str]:
    """``line`` cut into pieces no wider than ``room`` (at spaces where it can)."""
    out: list[str] = []
    rest = line
    while rest and f.width(rest) > room:
        cut = len(rest)
        while cut > 1 and f.width(rest[:cut]) > room:
            cut -= 1
        space = rest.rfind(" ", 0, cut + 1)
        if space > 0:
            cut = space
        out.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    if rest or not out:
        out.append(rest)
    return out
