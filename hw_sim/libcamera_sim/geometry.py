"""libcamera's value types as its Python binding shows them: sizes, rectangles,
transforms, orientations, colour spaces and pixel formats.

Surfaces from libcamera ``src/py/libcamera/py_geometry.cpp``,
``py_transform.cpp``, ``py_color_space.cpp`` and ``py_main.cpp`` (PixelFormat):
equality by value, ``to_tuple()``, copy constructors; picamera2 hashes colour
spaces (``picamera2/utils.py`` COLOUR_SPACE_TABLE) and compares transforms.
"""

from __future__ import annotations

import enum
from typing import Any


class Size:
    """A width and height (``libcamera.Size``)."""

    def __init__(self, width: int = 0, height: int = 0) -> None:
        self.width = int(width)
        self.height = int(height)

    def to_tuple(self) -> tuple[int, int]:
        """(width, height), as picamera2's convert_from_libcamera_type wants it."""
        return (self.width, self.height)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Size) and self.to_tuple() == other.to_tuple()

    def __hash__(self) -> int:
        return hash(self.to_tuple())

    def __repr__(self) -> str:
        return f"{self.width}x{self.height}"


class Rectangle:
    """An x, y, width, height box (``libcamera.Rectangle``)."""

    def __init__(self, x: int = 0, y: int = 0, width: int = 0, height: int = 0) -> None:
        self.x, self.y, self.width, self.height = int(x), int(y), int(width), int(height)

    def to_tuple(self) -> tuple[int, int, int, int]:
        """(x, y, width, height)."""
        return (self.x, self.y, self.width, self.height)

    @property
    def size(self) -> Size:
        """The rectangle's size."""
        return Size(self.width, self.height)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Rectangle) and self.to_tuple() == other.to_tuple()

    def __hash__(self) -> int:
        return hash(self.to_tuple())

    def __repr__(self) -> str:
        return f"({self.x}, {self.y})/{self.width}x{self.height}"


class Transform:
    """hflip, vflip, transpose (``libcamera.Transform``); copyable, compared by value."""

    def __init__(self, other: Transform | None = None, *, hflip: int = 0, vflip: int = 0,
                 transpose: int = 0, rotation: int = 0) -> None:
        if other is not None:
            hflip, vflip, transpose = other.hflip, other.vflip, other.transpose
        if rotation not in (0, 180):
            raise ValueError(f"the simulation supports rotations 0 and 180, not {rotation}")
        if rotation == 180:
            hflip, vflip = 1 - int(bool(hflip)), 1 - int(bool(vflip))
        self.hflip = int(bool(hflip))
        self.vflip = int(bool(vflip))
        self.transpose = int(bool(transpose))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Transform) and (
            (self.hflip, self.vflip, self.transpose) == (other.hflip, other.vflip, other.transpose))

    def __hash__(self) -> int:
        return hash((self.hflip, self.vflip, self.transpose))

    def __str__(self) -> str:
        # libcamera's transformToString(); picamera2 makes __repr__ this too.
        names = [n for n, on in (("hflip", self.hflip), ("vflip", self.vflip),
                                 ("transpose", self.transpose)) if on]
        return "-".join(names) or "identity"


class Orientation(enum.Enum):
    """EXIF orientations (``libcamera.Orientation``)."""

    Rotate0 = 1
    Rotate0Mirror = 2
    Rotate180 = 3
    Rotate180Mirror = 4
    Rotate90Mirror = 5
    Rotate270 = 6
    Rotate90 = 7
    Rotate270Mirror = 8


class ColorSpace:
    """Primaries, transfer function, Y'CbCr encoding and range (``libcamera.ColorSpace``)."""

    class Primaries(enum.Enum):
        Raw = 0
        Smpte170m = 1
        Rec709 = 2
        Rec2020 = 3

    class TransferFunction(enum.Enum):
        Linear = 0
        Srgb = 1
        Rec709 = 2

    class YcbcrEncoding(enum.Enum):
        Null = 0
        Rec601 = 1
        Rec709 = 2
        Rec2020 = 3

    class Range(enum.Enum):
        Full = 0
        Limited = 1

    def __init__(self, primaries: Any = None, transferFunction: Any = None,
                 ycbcrEncoding: Any = None, range: Any = None) -> None:  # noqa: A002 (libcamera's name)
        if isinstance(primaries, ColorSpace):
            other = primaries
            primaries, transferFunction = other.primaries, other.transferFunction
            ycbcrEncoding, range = other.ycbcrEncoding, other.range
        self.primaries = primaries
        self.transferFunction = transferFunction
        self.ycbcrEncoding = ycbcrEncoding
        self.range = range

    @staticmethod
    def Raw() -> ColorSpace:
        c = ColorSpace
        return c(c.Primaries.Raw, c.TransferFunction.Linear, c.YcbcrEncoding.Null, c.Range.Full)

    @staticmethod
    def Sycc() -> ColorSpace:
        c = ColorSpace
        return c(c.Primaries.Rec709, c.TransferFunction.Srgb, c.YcbcrEncoding.Rec601, c.Range.Full)

    @staticmethod
    def Smpte170m() -> ColorSpace:
        c = ColorSpace
        return c(c.Primaries.Smpte170m, c.TransferFunction.Rec709, c.YcbcrEncoding.Rec601,
                 c.Range.Limited)

    @staticmethod
    def Rec709() -> ColorSpace:
        c = ColorSpace
        return c(c.Primaries.Rec709, c.TransferFunction.Rec709, c.YcbcrEncoding.Rec709,
                 c.Range.Limited)

    def _key(self) -> tuple:
        return (self.primaries, self.transferFunction, self.ycbcrEncoding, self.range)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ColorSpace) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __str__(self) -> str:
        # ColorSpace::toString(): a preset's name, else its four parts.
        for name in ("Raw", "Sycc", "Smpte170m", "Rec709"):
            if self._key() == getattr(ColorSpace, name)()._key():
                return name
        return "/".join(str(getattr(k, "name", k)) for k in self._key())


class PixelFormat:
    """A pixel format named by its libcamera string ("YUV420", "SBGGR10_CSI2P")."""

    def __init__(self, name: str | PixelFormat) -> None:
        self.name = str(name)

    def __str__(self) -> str:
        return self.name

    def __repr__(self) -> str:
        return f"<libcamera.PixelFormat '{self.name}'>"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PixelFormat) and other.name == self.name

    def __hash__(self) -> int:
        return hash(self.name)
