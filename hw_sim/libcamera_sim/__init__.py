"""A simulated ``libcamera`` Python module, for the real picamera2 to run on.

:func:`hw_sim.install` registers this package as ``libcamera`` before picamera2
is imported. It reproduces the surface of libcamera's Python binding
(``src/py/libcamera/py_main.cpp`` and friends) that picamera2 0.3.x uses; the
camera behind it is :mod:`hw_sim.libcamera_sim.camera`. docs/SIMULATION.md lists
each behaviour with its source.
"""

import types

from hw_sim.libcamera_sim.camera import (
    Camera,
    CameraManager,
    FrameBuffer,
    FrameMetadata,
    Request,
)
from hw_sim.libcamera_sim.config import (
    CameraConfiguration,
    SensorConfiguration,
    Stream,
    StreamConfiguration,
    StreamFormats,
    StreamRole,
)
from hw_sim.libcamera_sim.controls import ControlId, ControlInfo, ControlType, controls, properties
from hw_sim.libcamera_sim.geometry import ColorSpace, Orientation, PixelFormat, Rectangle, Size, Transform

#: picamera2 checks ``isinstance(x, libcamera._libcamera.ColorSpace)`` (and Transform).
_libcamera = types.SimpleNamespace(ColorSpace=ColorSpace, Transform=Transform)

__all__ = [
    "Camera", "CameraConfiguration", "CameraManager", "ColorSpace", "ControlId", "ControlInfo",
    "ControlType", "FrameBuffer", "FrameMetadata", "Orientation", "PixelFormat", "Rectangle",
    "Request", "SensorConfiguration", "Size", "Stream", "StreamConfiguration", "StreamFormats",
    "StreamRole", "Transform", "controls", "properties",
]
