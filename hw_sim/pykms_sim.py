"""``pykms`` (kmsxx's Python binding, Debian python3-kms++) for a board with no monitor.

picamera2 imports it for its DRM preview (``previews/drm_preview.py``), whose class
body reads ``PixelFormat`` names at import. bodycam never opens that preview (its
event loop is picamera2's NullPreview); opening a DRM card here fails as it does on
a Pi with no display attached.
"""

from __future__ import annotations

import enum


class PixelFormat(enum.Enum):
    """DRM fourcc formats the DRM preview names."""

    RGB888 = "RG24"
    BGR888 = "BG24"
    XRGB8888 = "XR24"
    XBGR8888 = "XB24"
    ABGR8888 = "AB24"
    YUYV = "YUYV"
    YVYU = "YVYU"
    YUV420 = "YU12"
    YVU420 = "YV12"
    NV12 = "NV12"


class PlaneType(enum.Enum):
    """DRM plane kinds."""

    Overlay = 0
    Primary = 1
    Cursor = 2


class Card:
    """A DRM card: none exists on the simulated board."""

    def __init__(self, path: str = "/dev/dri/card0") -> None:
        raise OSError(2, "No such file or directory (the simulated board has no display)", path)
