"""Burned-in watermark: CPU per frame, ours against picamera2's putText example, same run.

Figures per size (``1080p``: 1920x1080, ``480p``: 640x480), each the median over
interleaved blocks of ``FRAMES`` frames of ``time.process_time`` (one thread):

- ``<size>_ours_ms``: ``display.watermark.FrameStamp`` on picamera2's YUV420 main
  array, the frames' sensor time advancing at 30 fps, so the once-a-second text
  render is in the figure (amortised); ``<size>_render_ms`` is that render alone
  (the next second's tile, patched from the last),
  ``<size>_first_render_ms`` the first one, which rasterises every glyph.
- ``<size>_example_ms``: examples/timestamped_video.py as it is (picamera2 at
  3e6dff0, lines 19-22): ``time.strftime("%Y-%m-%d %X")`` (local wall time at
  callback) and ``cv2.putText`` at scale 1, thickness 2 on the whole main array,
  in the example's format (XBGR8888, picamera2's default for video).
- ``<size>_same_spec_ms``: the same approach made to meet this watermark's spec:
  the frame's UTC time and the device id on two lines, capitals >= 1/30 of the
  height, anti-aliased, on a filled dark box with neutral chroma, with OpenCV on
  the YUV420 main array.
- ``<size>_example_ratio`` / ``<size>_same_spec_ratio``: baseline / ours.
- ``<size>_box_bytes``: what ours writes a frame (the box in Y, U and V).
- ``<size>_floor_box_copy_ms``: the least any numpy-slices watermark of this box can
  cost: the same two writes as plain ``dst[...] = src`` into views made beforehand, no
  other Python, into a destination that is not in the caches (as a frame the camera
  has just written by DMA is not): 64 MiB of such boxes in frame-shaped buffers,
  written in turn. ``<size>_floor_box_copy_warm_ms``: the same into the bench's six
  rotating buffers, whose box stays in the caches here as ours' does (the figure to
  set ours against).
- ``floor_call_ms``: two numpy slice assignments of one byte each, the fixed cost of
  the two calls a frame.

The three run interleaved in blocks on the same buffers, each block in a rotated
order so that none always follows the same one.

opencv-python-headless is not a dependency of bodycam: ``make bench`` installs it
into ``.venv/bench-lib`` (beside picamera2's output classes) for this baseline only.
"""

from __future__ import annotations

import math
import os
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from display.watermark import FrameStamp, Tile, Watermark, label
from hw_sim.scene import Scene

#: Where ``make bench`` puts opencv-python-headless (outside the venv's site-packages).
BENCH_LIB = Path(sys.prefix) / "bench-lib"
SIZES = {"1080p": (1920, 1080), "480p": (640, 480)}
FPS = 30
FRAMES = 150  # five seconds of frames a block: five glyph renders in ours
BLOCKS = 15
BUFFERS = 6  # picamera2's buffer_count for video: the frames cycle through six buffers
COLD_BYTES = 64 << 20  # the floor's cold boxes: more than all of this machine's caches
UTC0_US = 1_768_464_010_000_000  # 2026-01-15T08:00:10Z
DEVICE = "BC-0815"


class _Timebase:
    def utc_us(self, sensor_us: int) -> int:
        return UTC0_US + sensor_us

    def clock_source(self) -> str:
        return "ntp"


def _cv2():
    if str(BENCH_LIB) not in sys.path and BENCH_LIB.is_dir():
        sys.path.insert(0, str(BENCH_LIB))
    try:
        import cv2
    except ImportError:
        return None
    cv2.setNumThreads(1)
    return cv2


def _block_ours(stamp: FrameStamp, frames: list[np.ndarray], size: tuple[int, int], n0: int) -> float:
    cpu = time.process_time()
    for n in range(n0, n0 + FRAMES):
        stamp(frames[n % BUFFERS], size, round(n * 1e6 / FPS))
    return (time.process_time() - cpu) / FRAMES


def _block_example(cv2, frames: list[np.ndarray]) -> float:
    colour, origin, font, scale, thickness = (0, 255, 0), (0, 30), cv2.FONT_HERSHEY_SIMPLEX, 1, 2
    cpu = time.process_time()
    for n in range(FRAMES):
        timestamp = time.strftime("%Y-%m-%d %X")
        cv2.putText(frames[n % BUFFERS], timestamp, origin, font, scale, colour, thickness)
    return (time.process_time() - cpu) / FRAMES


def _block_same_spec(cv2, frames: list[np.ndarray], size: tuple[int, int], n0: int) -> float:
    w, h = size
    font = cv2.FONT_HERSHEY_SIMPLEX
    cap = math.ceil(h / 30)
    scale = cap / cv2.getTextSize("H", font, 1.0, 1)[0][1]
    thick = max(2, cap // 10)
    (tw, th), base = cv2.getTextSize("2026-01-15T08:00:10Z", font, scale, thick)
    pad, line = cap // 3, th + base + cap // 3
    x0, y1 = 8, h - 8
    y0 = y1 - 2 * line - 2 * pad
    cpu = time.process_time()
    for n in range(n0, n0 + FRAMES):
        yuv = frames[n % BUFFERS]
        utc_s = (UTC0_US + round(n * 1e6 / FPS)) // 1_000_000
        stamp = datetime.fromtimestamp(utc_s, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        y = yuv[:h]
        chroma = yuv[h:].reshape(h, w // 2)  # U rows then V rows, each w/2 wide
        cv2.rectangle(y, (x0, y0), (x0 + tw + 2 * pad, y1), 16, -1)
        cv2.rectangle(chroma, (x0 // 2, y0 // 2), ((x0 + tw + 2 * pad) // 2, y1 // 2), 128, -1)
        cv2.rectangle(chroma, (x0 // 2, h // 2 + y0 // 2), ((x0 + tw + 2 * pad) // 2, h // 2 + y1 // 2),
                      128, -1)
        for i, text in enumerate((stamp, DEVICE)):
            cv2.putText(y, text, (x0 + pad, y0 + pad + th + i * line), font, scale, 235, thick,
                        cv2.LINE_AA)
    return (time.process_time() - cpu) / FRAMES


def _box_views(frame: np.ndarray, size: tuple[int, int], top: int, left: int, bh: int, bw: int
               ) -> tuple[np.ndarray, np.ndarray]:
    """A ``bw`` x ``bh`` box at (top, left) in one buffer's luma plane and both chroma planes."""
    w, h = size
    chroma = frame[h:].reshape(2, h // 2, w // 2)
    return (frame[top : top + bh, left : left + bw],
            chroma[:, top // 2 : (top + bh) // 2, left // 2 : (left + bw) // 2])


def _copies_ms(views: list[tuple[np.ndarray, np.ndarray]], luma_src: np.ndarray,
               chroma_src: np.ndarray, passes: int) -> float:
    """Median ms a box over ``passes`` passes through ``views``: the two plain copies."""
    runs = []
    for _ in range(passes):
        cpu = time.process_time()
        for luma, chroma in views:
            luma[...] = luma_src
            chroma[...] = chroma_src
        runs.append((time.process_time() - cpu) / len(views))
    return statistics.median(runs) * 1e3


def _floor_ms(size: tuple[int, int], tile: Tile, frames: list[np.ndarray]) -> tuple[float, float]:
    """(cold, warm): ms a frame for the box's two writes as plain numpy copies into
    views made beforehand. Cold: each box a different one among more box bytes than
    the caches hold, in frame-shaped buffers (the frame's strides), visited in turn,
    so each is out of the caches when written, while the code doing it stays warm.
    Warm: the bench's six buffers at the tile's place, as ours writes them."""
    w, h = size
    bh, bw = tile.height, tile.width
    luma_src = np.full((bh, bw), 16, np.uint8)
    chroma_src = np.full((2, bh // 2, bw // 2), 128, np.uint8)
    places = [(t, left) for t in range(0, h - bh + 1, bh)
              for left in range(0, w - bw + 1, bw)]
    per_frame = len(places) * bw * bh * 3 // 2
    pool = [np.zeros((h * 3 // 2, w), np.uint8) for _ in range(-(-COLD_BYTES // per_frame))]
    cold_views = [_box_views(f, size, t, left, bh, bw) for f in pool for t, left in places]
    _copies_ms(cold_views, luma_src, chroma_src, 1)  # map the pages
    warm_views = [_box_views(frames[n % BUFFERS], size, tile.top, tile.left, bh, bw)
                  for n in range(FRAMES)]
    return (_copies_ms(cold_views, luma_src, chroma_src, 5),
            _copies_ms(warm_views, luma_src, chroma_src, BLOCKS))


def _call_floor_ms() -> float:
    """Two slice assignments of one byte: the fixed cost of the two numpy calls a frame."""
    dst, src = np.zeros((4, 4), np.uint8), np.ones((1, 1), np.uint8)
    a, b = dst[0:1, 0:1], dst[2:3, 2:3]
    runs = []
    for _ in range(BLOCKS):
        cpu = time.process_time()
        for _ in range(FRAMES):
            a[...] = src
            b[...] = src
        runs.append((time.process_time() - cpu) / FRAMES)
    return statistics.median(runs) * 1e3


def _render_ms(size: tuple[int, int]) -> tuple[float, float]:
    """(first render with every glyph rasterised, then the median once-a-second render)."""
    mark = Watermark(*size)
    cpu = time.process_time()
    mark.tile(label(UTC0_US // 1_000_000, DEVICE, "ntp"))
    first = time.process_time() - cpu
    later = []
    for s in range(1, 61):
        cpu = time.process_time()
        mark.tile(label(UTC0_US // 1_000_000 + s, DEVICE, "ntp"))
        later.append(time.process_time() - cpu)
    return first * 1e3, statistics.median(later) * 1e3


def run() -> dict:
    cv2 = _cv2()
    figures: dict[str, object] = {}
    for name, size in SIZES.items():
        w, h = size
        scene = Scene(w, h)
        yuv = [scene.render(n, n / FPS, 0.0) for n in range(BUFFERS)]
        stamp = FrameStamp(_Timebase(), DEVICE)
        ours: list[float] = []
        example: list[float] = []
        same: list[float] = []
        xbgr = [np.zeros((h, w, 4), np.uint8) for _ in range(BUFFERS)]
        sides = ["ours", "example", "same_spec"] if cv2 is not None else ["ours"]
        for b in range(BLOCKS):
            for i in range(len(sides)):  # rotated: a different one first in each block
                side = sides[(b + i) % len(sides)]
                if side == "ours":
                    ours.append(_block_ours(stamp, yuv, size, b * FRAMES))
                elif side == "example":
                    example.append(_block_example(cv2, xbgr))
                else:
                    same.append(_block_same_spec(cv2, yuv, size, b * FRAMES))
        figures[f"{name}_ours_ms"] = round(statistics.median(ours) * 1e3, 4)
        tile = stamp.watermark(size).tile(stamp.lines)
        figures[f"{name}_box"] = f"{tile.width}x{tile.height}"
        figures[f"{name}_box_bytes"] = tile.width * tile.height * 3 // 2
        cold, warm = _floor_ms(size, tile, yuv)
        figures[f"{name}_floor_box_copy_ms"] = round(cold, 4)
        figures[f"{name}_floor_box_copy_warm_ms"] = round(warm, 4)
        first, later = _render_ms(size)
        figures[f"{name}_first_render_ms"] = round(first, 3)
        figures[f"{name}_render_ms"] = round(later, 3)
        figures[f"{name}_glyph_cap_px"] = stamp.watermark(size).face.cap_height
        if cv2 is None:
            figures["baseline"] = "opencv-python-headless not installed: run 'make bench'"
            continue
        figures[f"{name}_example_ms"] = round(statistics.median(example) * 1e3, 4)
        figures[f"{name}_same_spec_ms"] = round(statistics.median(same) * 1e3, 4)
        figures[f"{name}_example_ratio"] = round(statistics.median(example) / statistics.median(ours), 1)
        figures[f"{name}_same_spec_ratio"] = round(statistics.median(same) / statistics.median(ours), 1)
    figures["floor_call_ms"] = round(_call_floor_ms(), 4)
    if cv2 is not None:
        figures["opencv"] = cv2.__version__
    figures["load_average_1min"] = round(os.getloadavg()[0], 1)  # others' work on the machine
    return figures


if __name__ == "__main__":
    import json

    print(json.dumps(run(), indent=2))
