"""The burned-in watermark: each frame's own UTC second, the device and the clock source.

Once a clip leaves the evidence system as a plain MP4 the signed sidecar is gone,
so the picture itself says when and by which camera it was taken. The text is
drawn straight into the YUV420 planes the encoder takes (picamera2's layout:
an array of ``(h*3//2, stride)``, Y then U then V, each chroma row ``stride/2``
bytes), white on an opaque dark box:

* each character is rasterised once (:class:`display.glyphs.Glyphs`); when the
  label changes (once a second) its tile is the last one with the characters
  that differ redrawn (composed from the glyphs when that cannot be done); every
  frame then costs two numpy slice copies (the tile into Y, neutral grey into U
  and V) and touches nothing outside the box;
* the box is the text's ink and a thin dark border, on even rows and columns, so
  its chroma is exact (neutral grey);
* capital letters are at least 1/30 of the frame height (16 px at 480 lines,
  36 px at 1080), in DejaVu Sans Mono Bold where installed (fixed-width digits,
  a slashed zero), else the front display's face;
* top positions start below the simulation's frame tag band (1/30 of the
  height, at least 8 px), which the box never covers.

The time is the frame's capture time, from its sensor timestamp through the
daemon's timebase (:class:`Timebase`), so a pre-roll frame shows the second it
was captured, not the second it was written.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum
from functools import lru_cache
from typing import NamedTuple, Protocol

import numpy as np

from display.glyphs import BOX_Y, Glyphs, blit, hard_wrap, watermark_face
from display.glyphs import TEXT_Y as TEXT_Y  # what is drawn: white text on the box's black

#: Chroma of the box (neutral: no colour).
NEUTRAL = 128
#: Tiles kept: the current second and a few around it (a pre-roll is drawn in order).
CACHE_SIZE = 4
_U8 = np.dtype(np.uint8)
#: Assigned as a uint8 array: a Python int is converted anew at every assignment.
_NEUTRAL = np.array(NEUTRAL, np.uint8)


class Position(Enum):
    """Where the box sits (``watermark.position``)."""

    BOTTOM_LEFT = "bottom-left"
    BOTTOM_RIGHT = "bottom-right"
    TOP_LEFT = "top-left"
    TOP_RIGHT = "top-right"


class Timebase(Protocol):
    """The daemon's sensor-time to UTC mapping, as the watermark needs it.

    Called on the camera's thread for every frame, so both must be cheap and
    must not block (read a snapshot the daemon's loop replaces).
    """

    def utc_us(self, sensor_us: int) -> int:
        """UTC in µs since the epoch of the frame captured at ``sensor_us``."""
        ...

    def clock_source(self) -> str:
        """Where the wall clock comes from now: ``ntp``, ``rtc`` or ``unsynced``."""
        ...


def tag_band(height: int) -> int:
    """Rows the simulation's frame tag covers along the top edge (hw_sim.frametag)."""
    return max(height // 30, 8)


def label(utc_s: int, device_id: str, clock_source: str, officer_id: str = "") -> tuple[str, ...]:
    """The watermark's lines: ``2026-01-15T08:00:10Z`` (plus the clock source unless
    NTP), then the device id (plus the officer id, when configured)."""
    day, s = divmod(utc_s, 86_400)  # POSIX time: every day is 86,400 s
    stamp = f"{_date(day)}T{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}Z"
    if clock_source.lower() != "ntp":
        stamp = f"{stamp} {clock_source.upper()}"
    who = " ".join(s for s in (device_id, f"officer {officer_id}" if officer_id else "") if s)
    return (stamp, who) if who else (stamp,)


@lru_cache(maxsize=4)
def _date(day: int) -> str:
    """``2026-01-15`` for days since the epoch (datetime's formatting, once a day)."""
    return datetime.fromtimestamp(day * 86_400, UTC).strftime("%Y-%m-%d")


class Placed(NamedTuple):
    """One line as drawn in a tile: its text, its ink in its strip (top, bottom, left,
    right: :meth:`display.glyphs.Glyphs.scan`), the tile row the ink starts on and the
    tile column of the strip's first column."""

    text: str
    ink: tuple[int, int, int, int]
    row: int
    column: int


@dataclass(frozen=True)
class Tile:
    """One rendered text: its luma box and where it goes (even rows and columns)."""

    y: np.ndarray
    top: int
    left: int
    #: The lines as drawn, when none had to be wrapped: the next second's tile is
    #: this one with the characters that differ redrawn.
    placed: tuple[Placed, ...] = ()

    @property
    def luma_rect(self) -> tuple[slice, slice]:
        """The box in the luma plane (rows, columns)."""
        return (slice(self.top, self.top + self.height), slice(self.left, self.left + self.width))

    @property
    def chroma_rect(self) -> tuple[slice, slice, slice]:
        """The box in both chroma planes at once, in the frame seen as ``(6, h/2, stride/2)``:
        four blocks of luma, then U, then V."""
        return (slice(4, 6), slice(self.top // 2, (self.top + self.height) // 2),
                slice(self.left // 2, (self.left + self.width) // 2))

    @property
    def height(self) -> int:
        """Box height in rows."""
        return int(self.y.shape[0])

    @property
    def width(self) -> int:
        """Box width in columns."""
        return int(self.y.shape[1])


class Watermark:
    """Draws text boxes into YUV420 frames of one size at one position."""

    def __init__(self, width: int, height: int, position: Position = Position.BOTTOM_LEFT) -> None:
        if width % 2 or height % 2 or width < 64 or height < 64:
            raise ValueError(f"frame {width}x{height}: YUV420 needs even sizes of at least 64")
        self.width, self.height, self.position = width, height, position
        self.cap_px = math.ceil(height / 30)
        self.face = watermark_face(self.cap_px)
        self.cap_height = self.face.cap_height
        self.glyphs = Glyphs(self.face)
        #: Dark rows and columns around the ink: a sixth of a capital, at least 4 so
        #: that every 2x2 chroma sample next to a stroke is the box's neutral grey.
        self.pad = max(4, self.cap_px // 6)
        #: Dark rows between one line's ink and the next's: a third of a capital.
        self.lead = max(4, self.cap_px // 3)
        self.margin = _even(max(4, self.cap_px // 2))
        self._tiles: OrderedDict[tuple[str, ...], Tile] = OrderedDict()
        self._last: tuple[tuple[str, ...], Tile, tuple[slice, slice],
                          tuple[slice, slice, slice]] | None = None
        # The last buffer's layout, checked in full, and the chroma view it implies.
        self._shape: tuple[int, ...] = ()
        self._strides: tuple[int, ...] = ()
        self._chroma_shape = (6, height // 2, width // 2)
        #: How many tiles have been rendered (the per-second work), for tests and benches.
        self.renders = 0

    def tile(self, lines: tuple[str, ...]) -> Tile:
        """The cached tile for ``lines``, rendered on first use."""
        tile = self._tiles.get(lines)
        if tile is None:
            tile = self._render(lines)
            self._tiles[lines] = tile
            while len(self._tiles) > CACHE_SIZE:
                self._tiles.popitem(last=False)
        else:
            self._tiles.move_to_end(lines)
        self._last = (lines, tile, tile.luma_rect, tile.chroma_rect)
        return tile

    def draw(self, frame: np.ndarray, lines: tuple[str, ...]) -> Tile:
        """Copy the box for ``lines`` into ``frame`` (``(h*3//2, stride)`` uint8, in place).

        Two numpy copies a frame: the tile into the luma rows, neutral grey into the
        box's rows of both chroma planes, the last two blocks of the frame seen as
        ``(6, h/2, stride/2)``. Nothing outside the box is read or written. The
        slices are made once a second (with the tile); the buffer's layout is
        checked in full only when its shape or strides differ from the last one's
        (a mapped buffer is a new array every frame, so no view of it is kept).
        """
        last = self._last
        if last is None or last[0] is not lines:
            self.tile(lines)
            last = self._last
            assert last is not None
        _, tile, luma, chroma = last
        if frame.shape != self._shape or frame.strides != self._strides or frame.dtype is not _U8:
            self._accept(frame)
        frame[luma] = tile.y
        frame.reshape(self._chroma_shape)[chroma] = _NEUTRAL
        return tile

    def _accept(self, frame: np.ndarray) -> None:
        """Check a buffer's layout (raises, naming what is wrong) and remember it."""
        planes(frame, self.width, self.height)
        self._shape, self._strides = frame.shape, frame.strides
        self._chroma_shape = (6, self.height // 2, frame.shape[1] // 2)

    def _render(self, lines: tuple[str, ...]) -> Tile:
        """The tile for ``lines``: the last tile patched where it can be, else composed."""
        last = self._last
        tile = self._patched(lines, last[1]) if last is not None else None
        if tile is None:
            tile = self._compose(lines)
        self.renders += 1
        return tile

    def _ink(self, ink: tuple[int, int, int, int] | None) -> tuple[int, int, int, int]:
        """A line's ink as :meth:`display.glyphs.Glyphs.scan` found it; a capital's rows
        for a line without any."""
        g = self.glyphs
        return ink or (g.ascent - self.cap_height, g.ascent, g.slack, g.slack)

    def _compose(self, lines: tuple[str, ...]) -> Tile:
        """``lines`` wrapped to the frame, each from cached glyphs, on the dark box: ``pad``
        rows and columns around the ink, ``lead`` rows between one line's ink and the next's,
        even sides. Rows a line's glyphs leave empty (above the capitals, below the baseline
        when nothing descends) are not part of the box."""
        g = self.glyphs
        room = self.width - 2 * self.margin - 2 * self.pad
        pieces: list[str] = []
        for line in lines:
            if g.line(line).shape[1] - 2 * g.slack > room:  # too wide for the frame: wrap it
                pieces += hard_wrap(g, line, room)
            else:
                pieces.append(line)
        inks = [self._ink(g.scan(piece)[2]) for piece in pieces]
        left, right = min(e[2] for e in inks), max(e[3] for e in inks)
        bw = min(_even(right - left + 2 * self.pad + 1), self.width - 2 * self.margin)
        bh = _even(sum(e[1] - e[0] for e in inks) + (len(inks) - 1) * self.lead + 2 * self.pad + 1)
        y = np.full((bh, bw), BOX_Y, np.uint8)
        placed = []
        at = self.pad
        for piece, ink in zip(pieces, inks, strict=True):
            # Only the strip's ink rows: lines are closer than a strip's height apart.
            blit(y, g.line(piece)[ink[0] : ink[1]], at, self.pad - left)
            placed.append(Placed(piece, ink, at, self.pad - left))
            at += ink[1] - ink[0] + self.lead
        top, left = self._place(bw, bh)
        y.setflags(write=False)
        return Tile(y, top, left, tuple(placed) if len(pieces) == len(lines) else ())

    def _patched(self, lines: tuple[str, ...], base: Tile) -> Tile | None:
        """``lines`` drawn as ``base`` with the characters that differ redrawn (the next
        second differs in one or two), or None unless each line is as long as the one it
        replaces with its ink in the same rows and columns, and no ink spilling past a
        glyph's advance comes from or reaches a changed character. Pixel for pixel what
        :meth:`_compose` draws, at a copy of the box and a cell per changed character
        instead of composing every line anew."""
        if len(lines) != len(base.placed):  # also when the base had a wrapped line
            return None
        g = self.glyphs
        cells: list[tuple[np.ndarray, int, int]] = []
        for line, p in zip(lines, base.placed, strict=True):
            if line == p.text:
                continue
            if len(line) != len(p.text):
                return None
            glyphs, pens, ink = g.scan(line)
            if self._ink(ink) != p.ink:
                return None
            changed = [i for i, (was, ch) in enumerate(zip(p.text, line, strict=True)) if was != ch]
            for i in changed:
                new, old = glyphs[i], g.glyph(p.text[i])
                if new.spill is not None or old.spill is not None or old.advance != new.advance:
                    return None
            # Ink past an unchanged glyph's advance must not reach a redrawn cell.
            for k, spiller in enumerate(glyphs):
                if spiller.spill is not None and spiller.ink is not None:
                    s0, s1 = pens[k] + spiller.ink[2], pens[k] + spiller.ink[3]
                    if any(s0 < pens[i] + glyphs[i].advance and pens[i] < s1 for i in changed):
                        return None
            cells += [(glyphs[i].cell[p.ink[0] : p.ink[1]], p.row, p.column + pens[i]) for i in changed]
        y = base.y.copy()
        for cell, row, column in cells:
            blit(y, cell, row, column)
        y.setflags(write=False)
        placed = tuple(Placed(line, *p[1:]) for line, p in zip(lines, base.placed, strict=True))
        return Tile(y, base.top, base.left, placed)

    def _place(self, bw: int, bh: int) -> tuple[int, int]:
        pos = self.position
        right = pos in (Position.BOTTOM_RIGHT, Position.TOP_RIGHT)
        left = _even(self.width - self.margin - bw) if right else self.margin
        if pos in (Position.TOP_LEFT, Position.TOP_RIGHT):
            top = _even(tag_band(self.height) + self.margin + 1)
        else:
            top = _even(self.height - self.margin - bh)
        return top, left


class FrameStamp:
    """What picamera2's ``pre_callback`` runs per frame: label from the frame's own
    sensor time, then the cached tile into the planes. Camera thread only.

    Per frame: the timebase's two calls, two comparisons, the two copies; the label
    is composed only when the second or the clock source changes.
    """

    def __init__(self, timebase: Timebase, device_id: str, officer_id: str = "",
                 position: Position = Position.BOTTOM_LEFT) -> None:
        self.timebase = timebase
        self.device_id = device_id
        self.officer_id = officer_id
        self.position = position
        self._marks: dict[tuple[int, int], Watermark] = {}
        self._size: tuple[int, int] | None = None
        self._mark: Watermark | None = None
        self._second: int | None = None
        self._source = ""
        self._lines: tuple[str, ...] = ()

    def watermark(self, size: tuple[int, int]) -> Watermark:
        """The renderer for frames of ``size`` (made once per size)."""
        mark = self._marks.get(size)
        if mark is None:
            mark = self._marks[size] = Watermark(size[0], size[1], self.position)
        return mark

    def prepare(self, size: tuple[int, int]) -> None:
        """Load the face and rasterise every glyph a label can use, for frames of ``size``.

        Call before the camera starts: done on the camera thread at the first frame,
        this stalls it for tens of milliseconds (hundreds on a loaded machine).
        """
        sources = "".join(s.upper() for s in ("rtc", "unsynced"))
        self.watermark(size).glyphs.prepare(
            "0123456789-:TZ " + sources + self.device_id + "officer " + self.officer_id)

    @property
    def lines(self) -> tuple[str, ...]:
        """The label drawn on the last frame."""
        return self._lines

    def __call__(self, frame: np.ndarray, size: tuple[int, int], sensor_us: int) -> None:
        """Stamp the main stream's buffer of a frame captured at ``sensor_us``."""
        tb = self.timebase
        second = tb.utc_us(sensor_us) // 1_000_000
        source = tb.clock_source()
        if second != self._second or source != self._source:
            self._second, self._source = second, source
            self._lines = label(second, self.device_id, source, self.officer_id)
        mark = self._mark
        if mark is None or size != self._size:
            mark = self._mark = self.watermark(size)
            self._size = size
        mark.draw(frame, self._lines)


def planes(frame: np.ndarray, width: int, height: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Writable Y, U, V views (padding cut off) of a picamera2 YUV420 array."""
    rows, stride = frame.shape
    if frame.dtype != np.uint8 or rows != height * 3 // 2 or stride < width or stride % 2:
        raise ValueError(f"not a {width}x{height} YUV420 buffer of shape (h*3//2, stride): "
                         f"{frame.shape} {frame.dtype}")
    if not frame.flags.c_contiguous:
        raise ValueError("the YUV420 buffer must be contiguous (a mapped camera buffer is)")
    flat = frame.reshape(-1)
    cs, ch = stride // 2, height // 2
    y = frame[:height, :width]
    u = flat[height * stride : height * stride + ch * cs].reshape(ch, cs)[:, : width // 2]
    v = flat[height * stride + ch * cs : height * stride + 2 * ch * cs].reshape(ch, cs)[:, : width // 2]
    return y, u, v


def _even(n: int) -> int:
    return int(n) & ~1
