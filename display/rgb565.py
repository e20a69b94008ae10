"""RGB565 as the panel's bus wants it: 16 bits a pixel, most significant byte first.

Arrays of dtype ``>u2`` are used throughout, so ``buf.tobytes()`` (or a uint8
view) is exactly the byte sequence the controller expects after RAMWR with
COLMOD = 16 bit, and tests can still read colours back with :func:`unpack`.
"""

from __future__ import annotations

import numpy as np

DTYPE = np.dtype(">u2")


def pack(rgb: np.ndarray) -> np.ndarray:
    """uint8 RGB array ``(..., 3)`` to big-endian RGB565 ``(...)``."""
    rgb = np.asarray(rgb, dtype=np.uint8)
    r = (rgb[..., 0].astype(np.uint16) >> 3) << 11
    g = (rgb[..., 1].astype(np.uint16) >> 2) << 5
    b = rgb[..., 2].astype(np.uint16) >> 3
    return (r | g | b).astype(DTYPE)


def unpack(buf: np.ndarray) -> np.ndarray:
    """RGB565 ``(...)`` back to uint8 RGB ``(..., 3)``, low bits filled by bit replication."""
    v = np.asarray(buf).astype(np.uint16)
    r = (v >> 11) & 0x1F
    g = (v >> 5) & 0x3F
    b = v & 0x1F
    out = np.empty(v.shape + (3,), dtype=np.uint8)
    out[..., 0] = (r << 3) | (r >> 2)
    out[..., 1] = (g << 2) | (g >> 4)
    out[..., 2] = (b << 3) | (b >> 2)
    return out


def colour(r: int, g: int, b: int) -> int:
    """One RGB565 value (as an int) for an 8-bit colour."""
    return ((r >> 3) << 11) | ((g >> 2) << 5) | (b >> 3)
