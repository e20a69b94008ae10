"""Pixel formats of picamera2's streams, produced from the scene's YUV420 frames.

Facts from picamera2's documentation: ``YUV420`` arrays are (h*3//2, w), Y then U
then V; ``RGB888`` pixels are [B, G, R], ``BGR888`` [R, G, B], ``XBGR8888``
[R, G, B, 255], ``XRGB8888`` [B, G, R, 255]. Colours use BT.601 limited range
(libcamera's SMPTE 170M, its choice below 1280x720).
"""

from __future__ import annotations

import numpy as np

#: Formats capture_array() can deliver.
FORMATS = ("YUV420", "YVU420", "RGB888", "BGR888", "XBGR8888", "XRGB8888")


def resample_yuv420(yuv: np.ndarray, width: int, height: int, size: tuple[int, int]) -> np.ndarray:
    """Nearest-neighbour scale of a YUV420 frame to ``size`` (a new array)."""
    ow, oh = size
    if (ow, oh) == (width, height):
        return yuv.copy()
    y = yuv[:height]
    u = yuv[height : height + height // 4].reshape(height // 2, width // 2)
    v = yuv[height + height // 4 :].reshape(height // 2, width // 2)
    out = np.empty((oh * 3 // 2, ow), np.uint8)
    out[:oh] = y[np.ix_(_index(oh, height), _index(ow, width))]
    ci = np.ix_(_index(oh // 2, height // 2), _index(ow // 2, width // 2))
    out[oh : oh + oh // 4] = u[ci].reshape(oh // 4, ow)
    out[oh + oh // 4 :] = v[ci].reshape(oh // 4, ow)
    return out


def _index(n_out: int, n_in: int) -> np.ndarray:
    return (np.arange(n_out) * n_in) // n_out


def convert(yuv: np.ndarray, width: int, height: int, fmt: str) -> np.ndarray:
    """A YUV420 frame in picamera2's array layout for ``fmt`` (always a new array)."""
    if fmt == "YUV420":
        return yuv.copy()
    y = yuv[:height]
    u = yuv[height : height + height // 4].reshape(height // 2, width // 2)
    v = yuv[height + height // 4 :].reshape(height // 2, width // 2)
    if fmt == "YVU420":
        out = np.empty_like(yuv)
        out[:height] = y
        out[height : height + height // 4] = v.reshape(height // 4, width)
        out[height + height // 4 :] = u.reshape(height // 4, width)
        return out
    if fmt not in FORMATS:
        raise RuntimeError(f"the simulated camera cannot deliver format {fmt!r}")
    yf = (y.astype(np.float32) - 16.0) * 1.164
    uf = np.repeat(np.repeat(u.astype(np.float32) - 128.0, 2, axis=0), 2, axis=1)
    vf = np.repeat(np.repeat(v.astype(np.float32) - 128.0, 2, axis=0), 2, axis=1)
    r = yf + 1.596 * vf
    g = yf - 0.392 * uf - 0.813 * vf
    b = yf + 2.017 * uf
    order = (r, g, b) if fmt in ("BGR888", "XBGR8888") else (b, g, r)
    planes: list[np.ndarray] = list(order)
    if fmt.startswith("X"):
        planes.append(np.full_like(yf, 255.0))
    return np.clip(np.stack(planes, axis=-1) + 0.5, 0, 255).astype(np.uint8)
