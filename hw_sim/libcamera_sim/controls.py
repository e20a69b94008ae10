"""libcamera's control and property ids, as ``libcamera.controls`` / ``libcamera.properties``.

Each id has ``name``, ``id`` and ``type`` (``src/py/libcamera/py_main.cpp``,
class ControlId); ``camera.controls`` maps ids to :class:`ControlInfo` (min, max,
default). Only the ids picamera2 and bodycam use, plus the common ones a Pi
camera advertises, exist: asking picamera2 for another raises its own
"Control X is not advertised by libcamera" (``picamera2/controls.py``).
"""

from __future__ import annotations

import enum
import types
from typing import Any


class ControlType(enum.Enum):
    """Value types of controls (``libcamera::ControlType``)."""

    None_ = 0
    Bool = 1
    Byte = 2
    Unsigned16 = 3
    Unsigned32 = 4
    Integer32 = 5
    Integer64 = 6
    Float = 7
    String = 8
    Rectangle = 9
    Size = 10
    Point = 11


class ControlId:
    """One control or property id."""

    def __init__(self, ident: int, name: str, ctype: ControlType) -> None:
        self.id = ident
        self.name = name
        self.type = ctype

    def __repr__(self) -> str:
        return f"libcamera.ControlId({self.id}, {self.name})"

    def __hash__(self) -> int:
        return hash(self.id)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ControlId) and other.id == self.id


class ControlInfo:
    """The range a camera accepts for a control."""

    def __init__(self, min: Any = None, max: Any = None, default: Any = None) -> None:  # noqa: A002
        self.min = min
        self.max = max
        self.default = default

    def __repr__(self) -> str:
        return f"libcamera.ControlInfo({self.min}, {self.max}, {self.default})"


class NoiseReductionModeEnum(enum.IntEnum):
    """``controls::draft::NoiseReductionMode`` values."""

    Off = 0
    Fast = 1
    HighQuality = 2
    Minimal = 3
    ZSL = 4


class ColorFilterArrangementEnum(enum.IntEnum):
    """``properties::draft::ColorFilterArrangement`` values."""

    RGGB = 0
    GRBG = 1
    GBRG = 2
    BGGR = 3
    RGB = 4
    MONO = 5


_T = ControlType
_CONTROLS = [
    ("AeEnable", _T.Bool), ("ExposureTime", _T.Integer32), ("ExposureTimeMode", _T.Integer32),
    ("AnalogueGain", _T.Float), ("AnalogueGainMode", _T.Integer32), ("AwbEnable", _T.Bool),
    ("Brightness", _T.Float), ("Contrast", _T.Float), ("Saturation", _T.Float),
    ("Sharpness", _T.Float), ("ScalerCrop", _T.Rectangle), ("FrameDurationLimits", _T.Integer64),
    ("FrameDuration", _T.Integer64), ("SensorTimestamp", _T.Integer64),
    ("NoiseReductionMode", _T.Integer32), ("ColourGains", _T.Float), ("Lux", _T.Float),
    ("ColourTemperature", _T.Integer32), ("SensorTemperature", _T.Float),
]
_PROPERTIES = [
    ("Model", _T.String), ("Location", _T.Integer32), ("Rotation", _T.Integer32),
    ("PixelArraySize", _T.Size), ("PixelArrayActiveAreas", _T.Rectangle),
    ("ColorFilterArrangement", _T.Integer32), ("UnitCellSize", _T.Size),
]

#: ``libcamera.controls``: one attribute per id, and ``draft`` for the draft enums.
controls = types.SimpleNamespace(
    **{name: ControlId(i + 1, name, t) for i, (name, t) in enumerate(_CONTROLS)},
    draft=types.SimpleNamespace(NoiseReductionModeEnum=NoiseReductionModeEnum),
)
#: ``libcamera.properties``.
properties = types.SimpleNamespace(
    **{name: ControlId(1000 + i, name, t) for i, (name, t) in enumerate(_PROPERTIES)},
    draft=types.SimpleNamespace(ColorFilterArrangementEnum=ColorFilterArrangementEnum),
)
