"""Fonts and text layout for the panel: readable sizes, German glyphs, line wrapping.

DejaVu Sans Bold is used where the system has it (Raspberry Pi OS and Debian
ship it); otherwise Pillow's own scalable font (``ImageFont.load_default``),
whose face lacks umlauts and ß: those are then written the German way without
them (ä -> ae, ß -> ss) rather than as empty boxes. Sizes are chosen by the
height of a capital letter in pixels, because that is what "readable at arm's
length" is about, and it differs between the two faces at the same point size.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

from PIL import ImageDraw, ImageFont

from display.text import SHY

#: Tried in order; Pillow also searches the system font folders for bare names.
FONT_CANDIDATES: list[str] = [
    "DejaVuSans-Bold.ttf",
    "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf",
]

_TRANSLITERATION = {"ä": "ae", "ö": "oe", "ü": "ue", "Ä": "Ae", "Ö": "Oe", "Ü": "Ue", "ß": "ss"}


@dataclass(frozen=True)
class Face:
    """A font at one size, with the stroke that makes Pillow's thin default face bold."""

    font: ImageFont.FreeTypeFont
    stroke: int

    def width(self, s: str) -> int:
        """Advance width of ``s`` in pixels."""
        left, _, right, _ = self.font.getbbox(s, stroke_width=self.stroke)
        return int(right - left)

    @property
    def cap_height(self) -> int:
        """Ink height of a capital H: the size a reader perceives."""
        _, top, _, bottom = self.font.getbbox("H", stroke_width=self.stroke)
        return int(bottom - top)

    @property
    def line_height(self) -> int:
        """Distance between baselines of consecutive lines."""
        ascent, descent = self.font.getmetrics()
        return int(ascent + descent + 2 * self.stroke)

    def draw(self, draw: ImageDraw.ImageDraw, xy: tuple[int, int], s: str, fill: tuple) -> None:
        """Draw ``s`` with its cap top at ``xy`` (so boxes can be sized by cap height)."""
        _, top, _, _ = self.font.getbbox("H", stroke_width=self.stroke)
        left, _, _, _ = self.font.getbbox(s, stroke_width=self.stroke)
        draw.text((xy[0] - left, xy[1] - top), s, font=self.font, fill=fill,
                  stroke_width=self.stroke, stroke_fill=fill)


def first_loadable(candidates: Iterable[str]) -> str | None:
    """The first of ``candidates`` that FreeType can load, or None."""
    for candidate in candidates:
        try:
            ImageFont.truetype(candidate, 12)
        except OSError:
            continue
        return candidate
    return None


@lru_cache(maxsize=1)
def _system_font_path() -> str | None:
    return first_loadable(FONT_CANDIDATES)


@lru_cache(maxsize=64)
def face(size: int) -> Face:
    """The display face at point size ``size``."""
    path = _system_font_path()
    if path is not None:
        return Face(ImageFont.truetype(path, size), 0)
    # With a size, Pillow (>= 10.1) loads its bundled FreeType face; its stubs still
    # say it may be the old bitmap font.
    return Face(ImageFont.load_default(size=size),  # pyright: ignore[reportArgumentType]
                max(1, size // 18))


@lru_cache(maxsize=64)
def face_for_cap(cap_px: int) -> Face:
    """The smallest face whose capital letters are at least ``cap_px`` pixels tall."""
    for size in range(6, 200):
        f = face(size)
        if f.cap_height >= cap_px:
            return f
    return face(200)


@lru_cache(maxsize=256)
def _has_glyph(font: ImageFont.FreeTypeFont, ch: str) -> bool:
    missing = font.getmask("\uffff")
    mask = font.getmask(ch)
    # Pillow's stubs do not say that a mask supports the buffer protocol; it does.
    return not (mask.size == missing.size
                and bytes(mask) == bytes(missing))  # pyright: ignore[reportArgumentType]


def displayable(f: Face, s: str) -> str:
    """``s`` with characters the face cannot draw replaced by their German spelling."""
    out = []
    for ch in s:
        if ch in _TRANSLITERATION and not _has_glyph(f.font, ch):
            out.append(_TRANSLITERATION[ch])
        else:
            out.append(ch)
    return "".join(out)


def _pieces(word: str) -> list[str]:
    return word.split(SHY)


def wrap(s: str, f: Face, max_width: int) -> list[str] | None:
    """Greedy word wrap; words may break at soft hyphens. None if a piece cannot fit."""
    lines: list[str] = []
    current = ""
    for word in s.split():
        pieces = _pieces(displayable(f, word))
        i = 0
        while i < len(pieces):
            # Longest run of remaining pieces that fits on the current line.
            placed = False
            for j in range(len(pieces), i, -1):
                chunk = "".join(pieces[i:j])
                if j < len(pieces) and not chunk.endswith("-"):
                    chunk += "-"
                candidate = f"{current} {chunk}" if current else chunk
                if f.width(candidate) <= max_width:
                    current = candidate
                    i = j
                    placed = True
                    break
            if not placed:
                if not current:
                    return None
                lines.append(current)
                current = ""
    if current:
        lines.append(current)
    return lines


def fit(s: str, max_width: int, max_lines: int, caps: tuple[int, ...],
        max_height: int | None = None) -> tuple[Face, list[str]]:
    """The largest cap height from ``caps`` at which ``s`` wraps into ``max_lines`` lines
    (and, if given, into ``max_height`` pixels from the first cap top to the last baseline).

    If none fits, the smallest size is used with as many lines as it takes: the
    minimum readable size wins over the line budget, and no word is dropped.
    """
    for cap in sorted(caps, reverse=True):
        f = face_for_cap(cap)
        lines = wrap(s, f, max_width)
        if lines is not None and len(lines) <= max_lines and (
            max_height is None or (len(lines) - 1) * f.line_height + f.cap_height <= max_height
        ):
            return f, lines
    f = face_for_cap(min(caps))
    lines = wrap(s, f, max_width) or [displayable(f, s.replace(SHY, ""))]
    return f, lines
