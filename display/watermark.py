"""The burned-in watermark: each frame's own UTC second, the device and the clock source.

Once a clip leaves the evidence system as a plain MP4 the signed sidecar is gone,
so the picture itself says when and by which camera it was taken. The text is
drawn straight into the YUV420 planes the encoder takes (picamera2's layout:
an array of ``(h*3//2, stride)``, Y then U then V, each chroma row ``stride/2``
bytes), white on an opaque dark box:

* the string's glyphs are rendered with Pillow once per change (once a second)
  into a small cached tile; every frame then costs three numpy slice copies of
  the box (Y, U, V) and touches nothing else in the frame;
* the box sits on even rows and columns, so its chroma is exact (neutral grey);
* capital letters are at least 1/30 of the frame height (16 px at 480 lines,
  36 px at 1080), in DejaVu Sans Mono Bold where installed (fixed-width digits,
  a slashed zero), else Pillow's own face with a stroke;
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
from typing import Protocol

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from display.fonts import Face, face_for_cap

#: Tried in order before falling back to the front display's face.
MONO_CANDIDATES = (
    "DejaVuSansMono-Bold.ttf",
    "/usr/share/fonts/truetype/dejavu/DejaVuSansMono-Bold.ttf",
)
#: Luma of the box and of the text (video range black and white); chroma is neutral.
BOX_Y, TEXT_Y, NEUTRAL = 16, 235, 128
#: Tiles kept: the current second and a few around it (a pre-roll is drawn in order).
CACHE_SIZE = 4


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

    def clock_source(self) -> str:
        """Where the wall clock comes from now: ``ntp``, ``rtc`` or ``unsynced``."""


def tag_band(height: int) -> int:
    """Rows the simulation's frame tag covers along the top edge (hw_sim.frametag)."""
    return max(height // 30, 8)


def label(utc_s: int, device_id: str, clock_source: str, officer_id: str = "") -> tuple[str, ...]:
    """The watermark's lines: ``2026-01-15T08:00:10Z`` (plus the clock source unless
    NTP), then the device id (plus the officer id, when configured)."""
    stamp = datetime.fromtimestamp(utc_s, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    if clock_source.lower() != "ntp":
        stamp = f"{stamp} {clock_source.upper()}"
    who = " ".join(s for s in (device_id, f"officer {officer_id}" if officer_id else "") if s)
    return (stamp, who) if who else (stamp,)


@lru_cache(maxsize=1)
def _mono_path() -> str | None:
    for candidate in MONO_CANDIDATES:
        try:
            ImageFont.truetype(candidate, 12)
        except OSError:
            continue
        return candidate
    return None


@lru_cache(maxsize=16)
def watermark_face(cap_px: int) -> Face:
    """The smallest face whose capitals are at least ``cap_px`` tall (mono if installed)."""
    path = _mono_path()
    if path is None:
        return face_for_cap(cap_px)
    for size in range(6, 400):
        f = Face(ImageFont.truetype(path, size), 0)
        if f.cap_height >= cap_px:
            return f
    return Face(ImageFont.truetype(path, 400), 0)


@dataclass(frozen=True)
class Tile:
    """One rendered text: its luma box and where it goes (even rows and columns)."""

    y: np.ndarray
    top: int
    left: int

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
        self.pad = _even(max(2, self.cap_px // 3))
        self.margin = _even(max(4, self.cap_px // 2))
        self._tiles: OrderedDict[tuple[str, ...], Tile] = OrderedDict()
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
        return tile

    def draw(self, frame: np.ndarray, lines: tuple[str, ...]) -> Tile:
        """Copy the box for ``lines`` into ``frame`` (``(h*3//2, stride)`` uint8, in place)."""
        tile = self.tile(lines)
        y, u, v = planes(frame, self.width, self.height)
        t, left, bh, bw = tile.top, tile.left, tile.height, tile.width
        y[t : t + bh, left : left + bw] = tile.y
        u[t // 2 : (t + bh) // 2, left // 2 : (left + bw) // 2] = NEUTRAL
        v[t // 2 : (t + bh) // 2, left // 2 : (left + bw) // 2] = NEUTRAL
        return tile

    def _render(self, lines: tuple[str, ...]) -> Tile:
        """Glyphs for ``lines`` at full size, wrapped to the frame, on the dark box."""
        f = self.face
        room = self.width - 2 * self.margin - 2 * self.pad
        wrapped = [piece for line in lines for piece in _hard_wrap(f, line, room)]
        text_w = max(f.width(s) for s in wrapped)
        bw = min(_even(text_w + 2 * self.pad), self.width - 2 * self.margin)
        bh = _even((len(wrapped) - 1) * f.line_height + f.cap_height + _descent(f) + 2 * self.pad)
        img = Image.new("L", (bw, bh), 0)
        draw = ImageDraw.Draw(img)
        for i, s in enumerate(wrapped):
            f.draw(draw, (self.pad, self.pad + i * f.line_height), s, 255)
        alpha = np.asarray(img, dtype=np.uint16)
        y = (BOX_Y + (alpha * (TEXT_Y - BOX_Y) + 127) // 255).astype(np.uint8)
        top, left = self._place(bw, bh)
        self.renders += 1
        y.setflags(write=False)
        return Tile(y, top, left)

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
    sensor time, then the cached tile into the planes. Camera thread only."""

    def __init__(self, timebase: Timebase, device_id: str, officer_id: str = "",
                 position: Position = Position.BOTTOM_LEFT) -> None:
        self.timebase = timebase
        self.device_id = device_id
        self.officer_id = officer_id
        self.position = position
        self._marks: dict[tuple[int, int], Watermark] = {}
        self._key: tuple[int, str] | None = None
        self._lines: tuple[str, ...] = ()

    def watermark(self, size: tuple[int, int]) -> Watermark:
        """The renderer for frames of ``size`` (made once per size)."""
        mark = self._marks.get(size)
        if mark is None:
            mark = self._marks[size] = Watermark(size[0], size[1], self.position)
        return mark

    @property
    def lines(self) -> tuple[str, ...]:
        """The label drawn on the last frame."""
        return self._lines

    def __call__(self, frame: np.ndarray, size: tuple[int, int], sensor_us: int) -> None:
        """Stamp the main stream's buffer of a frame captured at ``sensor_us``."""
        key = (self.timebase.utc_us(sensor_us) // 1_000_000, self.timebase.clock_source())
        if key != self._key:
            self._key = key
            self._lines = label(key[0], self.device_id, key[1], self.officer_id)
        self.watermark(size).draw(frame, self._lines)


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


def _descent(f: Face) -> int:
    """Room under the last baseline for descenders (the officer id may have some)."""
    return int(f.font.getmetrics()[1])


def _hard_wrap(f: Face, line: str, room: int) -> list[str]:
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
