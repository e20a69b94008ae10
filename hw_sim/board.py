"""The two simulated boards and what differs between them for the camera.

* ``pi4``: the VC4 ISP (bcm2835-isp, card name read by picamera2's platform
  probe) and the V4L2 hardware H.264 encoder at /dev/video11; YUV420 rows are
  padded to 64 bytes.
* ``pi5``: the PiSP back end (card "pispbe"), no hardware encoder, so picamera2
  uses libx264 through PyAV with frame threads; a YUV420 chroma row is padded
  to 64 bytes and the luma stride is twice that (a 320-wide lores frame has a
  384-byte stride).

Sources: picamera2 ``platform.py`` (the probe), ``encoders/__init__.py`` (which
H264Encoder), libcamera ``pipeline/rpi/pisp/pisp.cpp`` computeOptimalStride.
"""

from __future__ import annotations

import enum


class Board(enum.Enum):
    """A simulated Raspberry Pi model."""

    PI4 = "pi4"
    PI5 = "pi5"

    @property
    def isp_card(self) -> str:
        """What VIDIOC_QUERYCAP reports as ``card`` for the ISP's video node."""
        return "bcm2835-isp" if self is Board.PI4 else "pispbe"

    @property
    def camera_id(self) -> str:
        """libcamera's id for the camera module on this board."""
        if self is Board.PI4:
            return "/base/soc/i2c0mux/i2c@1/imx708@1a"
        return "/base/axi/pcie@120000/rp1/i2c@88000/imx708@1a"

    @property
    def hardware_encoder(self) -> bool:
        """Whether /dev/video11 (the V4L2 H.264 encoder) exists."""
        return self is Board.PI4


def parse_board(name: str) -> Board:
    """``"pi4"``/``"pi5"`` to a Board; a ValueError names the choices."""
    try:
        return Board(str(name).lower())
    except ValueError:
        raise ValueError(f"board {name!r} is not one of pi4, pi5") from None


def align(n: int, to: int) -> int:
    """``n`` rounded up to a multiple of ``to``."""
    return (n + to - 1) // to * to


def stride(board: Board, fmt: str, width: int) -> int:
    """Bytes per row the ISP gives a stream of ``fmt`` and ``width`` on ``board``."""
    if fmt in ("YUV420", "YVU420"):
        if board is Board.PI5:
            return 2 * align(width // 2, 64)
        return align(width, 64)
    bpp = {"RGB888": 3, "BGR888": 3, "XBGR8888": 4, "XRGB8888": 4}.get(fmt)
    if bpp is not None:
        return align(width * bpp, 64)
    if fmt.endswith("_CSI2P"):  # 10-bit packed raw: 5 bytes per 4 pixels
        return align(width * 5 // 4, 32)
    raise ValueError(f"the simulated ISP cannot produce {fmt}")


def frame_size(fmt: str, row_bytes: int, height: int) -> int:
    """Bytes in one buffer of ``fmt`` with ``row_bytes`` per luma row."""
    if fmt in ("YUV420", "YVU420"):
        return row_bytes * height * 3 // 2
    return row_bytes * height
