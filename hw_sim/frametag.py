"""The frame tag: a 32-bit frame number drawn as blocks along the top edge of a frame.

32 blocks side by side, each 1/32 of the frame's width and 1/30 of its height (at
least 8 px), white (Y=235) for 1 and black (Y=16) for 0, most significant bit
first. Blocks this large survive H.264 at ordinary bitrates, so any tool can read
back which captured frames a recording holds, after encryption, export and all.
Block ``i`` spans columns ``i*W//32`` to ``(i+1)*W//32``; the reader samples the
middle half of each block and thresholds halfway between black and white.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np

BITS = 32
WHITE = 235
BLACK = 16
THRESHOLD = (WHITE + BLACK) // 2


def block_height(height: int) -> int:
    """Tag block height for a frame ``height`` pixels high: 1/30 of it, at least 8."""
    return max(height // 30, 8)


def _edges(width: int) -> np.ndarray:
    return (np.arange(BITS + 1) * width) // BITS


def draw_tag(y_plane: np.ndarray, number: int) -> None:
    """Write ``number`` into the top rows of a luma plane, in place."""
    if not 0 <= number < 1 << BITS:
        raise ValueError(f"frame number {number} does not fit in {BITS} bits")
    h, w = y_plane.shape
    bits = (number >> np.arange(BITS - 1, -1, -1)) & 1
    row = np.repeat(np.where(bits == 1, WHITE, BLACK).astype(np.uint8), np.diff(_edges(w)))
    y_plane[: block_height(h), :] = row


def read_tag(y_plane: np.ndarray) -> int:
    """The frame number in a luma plane (2-D uint8, the tag along its top edge)."""
    h, w = y_plane.shape[:2]
    bh = block_height(h)
    edges = _edges(w)
    r0, r1 = bh // 4, max(bh // 4 + 1, bh - bh // 4)
    value = 0
    for i in range(BITS):
        x0, x1 = int(edges[i]), int(edges[i + 1])
        q = (x1 - x0) // 4
        patch = y_plane[r0:r1, x0 + q : max(x0 + q + 1, x1 - q)]
        value = (value << 1) | int(patch.mean() > THRESHOLD)
    return value


def frame_numbers(source: str | os.PathLike[str] | bytes) -> list[int]:
    """Decode every video frame of a file (path) or of bytes (TS, MP4, raw H.264) and
    return their tags in decode-output order."""
    import av  # late: only tools that read recordings need PyAV

    opened = av.open(io.BytesIO(source), "r") if isinstance(source, bytes | bytearray) else av.open(
        str(Path(source)), "r"
    )
    with opened as container:
        return [
            read_tag(frame.to_ndarray(format="gray"))
            for frame in container.decode(video=0)
        ]
