"""The watermark renderer: what it draws, where, at what size, into which bytes, how often."""

from __future__ import annotations

from fractions import Fraction

import av
import numpy as np
import pytest

from display.watermark import (
    BOX_Y,
    NEUTRAL,
    TEXT_Y,
    FrameStamp,
    Position,
    Watermark,
    label,
    planes,
    tag_band,
)
from hw_sim import frametag
from hw_sim.scene import Scene
from tests.ocr import read_watermarks, tesseract

#: 2026-01-15T08:00:10Z
UTC_S = 1768464010


class Timebase:
    """A fixed sensor-to-UTC offset and a settable clock source."""

    def __init__(self, offset_us: int = UTC_S * 1_000_000, source: str = "ntp") -> None:
        self.offset_us = offset_us
        self.source = source

    def utc_us(self, sensor_us: int) -> int:
        return sensor_us + self.offset_us

    def clock_source(self) -> str:
        return self.source


def test_label_is_utc_iso_with_the_clock_source_unless_ntp() -> None:
    assert label(UTC_S, "CAM-1", "ntp") == ("2026-01-15T08:00:10Z", "CAM-1")
    assert label(UTC_S, "CAM-1", "rtc") == ("2026-01-15T08:00:10Z RTC", "CAM-1")
    assert label(UTC_S, "CAM-1", "unsynced", "4711") == (
        "2026-01-15T08:00:10Z UNSYNCED", "CAM-1 officer 4711")


@pytest.mark.parametrize("size", [(640, 480), (1920, 1080)])
def test_only_the_box_changes_white_on_black_with_neutral_chroma(size) -> None:
    w, h = size
    frame = Scene(w, h).render(7, 0.25, UTC_S)
    before = frame.copy()
    mark = Watermark(w, h)
    tile = mark.draw(frame, label(UTC_S, "CAM-1", "ntp"))
    y, u, v = planes(frame, w, h)
    y0, u0, v0 = planes(before, w, h)
    t, left, bh, bw = tile.top, tile.left, tile.height, tile.width
    # Bottom-left, inside the frame, every edge on an even pixel.
    assert left == mark.margin and t + bh == h - mark.margin
    assert t % 2 == 0 and left % 2 == 0 and bh % 2 == 0 and bw % 2 == 0
    inside = np.zeros((h, w), bool)
    inside[t : t + bh, left : left + bw] = True
    assert np.array_equal(y[~inside], y0[~inside])
    cin = inside[::2, ::2]
    assert np.array_equal(u[~cin], u0[~cin]) and np.array_equal(v[~cin], v0[~cin])
    assert (u[cin] == NEUTRAL).all() and (v[cin] == NEUTRAL).all()
    box = y[inside]
    assert box.min() == BOX_Y and box.max() == TEXT_Y
    assert (box == BOX_Y).mean() > 0.5  # a dark box with text on it
    # The frame tag still reads.
    assert frametag.read_tag(y) == 7


@pytest.mark.parametrize("size", [(640, 480), (1280, 720), (1920, 1080)])
def test_capitals_are_at_least_a_thirtieth_of_the_height(size) -> None:
    w, h = size
    mark = Watermark(w, h)
    tile = mark.tile(("HHHH",))
    ink_rows = np.flatnonzero((tile.y > (BOX_Y + TEXT_Y) // 2).any(axis=1))
    assert ink_rows[-1] - ink_rows[0] + 1 >= h / 30


@pytest.mark.parametrize("position", list(Position))
def test_positions_keep_clear_of_the_frame_tag(position) -> None:
    w, h = 640, 480
    frame = Scene(w, h).render(123456, 1.0, UTC_S)
    tile = Watermark(w, h, position).draw(frame, label(UTC_S, "CAM-1", "ntp"))
    assert tile.top >= tag_band(h)
    assert frametag.read_tag(frame[:h]) == 123456
    right = position in (Position.BOTTOM_RIGHT, Position.TOP_RIGHT)
    assert (tile.left + tile.width > w * 3 // 4) if right else (tile.left < w // 4)
    top = position in (Position.TOP_LEFT, Position.TOP_RIGHT)
    assert (tile.top < h // 4) if top else (tile.top + tile.height > h * 3 // 4)


def test_padded_strides_are_honoured() -> None:
    """picamera2 maps YUV420 as (h*3//2, stride) with the padding kept: the chroma rows
    are stride/2 long and the padding bytes must stay untouched."""
    w, h, stride = 640, 480, 704
    plain = Scene(w, h).render(1, 0.0, UTC_S)
    padded = np.full((h * 3 // 2, stride), 77, np.uint8)
    py, pu, pv = planes(padded, w, h)
    y, u, v = planes(plain, w, h)
    py[:], pu[:], pv[:] = y, u, v
    lines = label(UTC_S, "CAM-1", "ntp")
    Watermark(w, h).draw(plain, lines)
    Watermark(w, h).draw(padded, lines)
    for a, b in zip(planes(padded, w, h), planes(plain, w, h), strict=True):
        assert np.array_equal(a, b)
    flat = padded.reshape(-1)
    assert (padded[:h, w:] == 77).all()  # luma padding
    chroma = flat[h * stride :].reshape(h, stride // 2)
    assert (chroma[:, w // 2 :] == 77).all()  # U and V padding


def test_bad_buffers_are_refused_with_the_reason() -> None:
    mark = Watermark(640, 480)
    with pytest.raises(ValueError, match="YUV420 buffer of shape"):
        mark.draw(np.zeros((480, 640), np.uint8), ("x",))
    with pytest.raises(ValueError, match="contiguous"):
        mark.draw(np.zeros((720, 1280), np.uint8)[:, ::2], ("x",))


def test_a_long_line_wraps_inside_the_frame() -> None:
    mark = Watermark(640, 480)
    tile = mark.tile(label(UTC_S, "D" * 64, "unsynced", "4711"))
    assert tile.left + tile.width <= 640 - mark.margin
    assert tile.height > 3 * mark.cap_px  # three or more lines


@pytest.mark.parametrize("size", [(640, 480), (1920, 1080)])
def test_the_next_seconds_tile_is_patched_to_exactly_what_a_fresh_render_draws(size, monkeypatch) -> None:
    """Once a second only the characters that differ are redrawn into a copy of the last
    tile; at 640x480 'R' spills past its advance, so RTC is in the label on purpose."""
    mark = Watermark(*size)
    mark.tile(label(UTC_S, "SIM-0042", "rtc", "4711"))

    def compose(lines):
        raise AssertionError(f"composed anew: {lines}")

    monkeypatch.setattr(mark, "_compose", compose)
    for s in (1, 2, 9, 10, 59, 60, 3600, 86_400):  # one digit, two, the minute, hour, day
        lines = label(UTC_S + s, "SIM-0042", "rtc", "4711")
        patched, fresh = mark.tile(lines), Watermark(*size).tile(lines)
        assert np.array_equal(patched.y, fresh.y)
        assert (patched.top, patched.left) == (fresh.top, fresh.left)


def test_glyphs_are_rendered_once_a_second_and_each_frame_shows_its_own_second() -> None:
    """30 fps over 3 s: three renders; a frame 1 µs before a second shows that second."""
    stamp = FrameStamp(Timebase(), "CAM-1")
    frame = Scene(640, 480).render(0, 0.0, UTC_S)
    base = 5_000_000
    for n in range(90):
        stamp(frame, (640, 480), base + round(n * 1e6 / 30))
    mark = stamp.watermark((640, 480))
    assert mark.renders == 3
    assert stamp.lines[0] == "2026-01-15T08:00:17Z"  # 10 + 5 s of sensor time + 2
    stamp(frame, (640, 480), base + 3_000_000 - 1)
    assert stamp.lines[0] == "2026-01-15T08:00:17Z"
    stamp(frame, (640, 480), base + 3_000_000)
    assert stamp.lines[0] == "2026-01-15T08:00:18Z"


def test_a_clock_source_change_shows_on_the_next_frame() -> None:
    tb = Timebase(source="ntp")
    stamp = FrameStamp(tb, "CAM-1", "7")
    frame = Scene(640, 480).render(0, 0.0, UTC_S)
    stamp(frame, (640, 480), 0)
    assert stamp.lines == ("2026-01-15T08:00:10Z", "CAM-1 officer 7")
    tb.source = "unsynced"
    stamp(frame, (640, 480), 1)
    assert stamp.lines == ("2026-01-15T08:00:10Z UNSYNCED", "CAM-1 officer 7")


def test_legible_after_h264_at_1080p() -> None:
    """At the device's resolution and bitrate the text survives the encoder for OCR."""
    tesseract()
    w, h = 1920, 1080
    scene = Scene(w, h)
    stamp = FrameStamp(Timebase(source="rtc"), "BC-0815", "A-12")
    cc = av.CodecContext.create("libx264", "w")
    cc.width, cc.height, cc.pix_fmt = w, h, "yuv420p"
    cc.time_base, cc.framerate, cc.bit_rate = Fraction(1, 30), Fraction(30), 9_000_000
    cc.options = {"preset": "ultrafast", "tune": "zerolatency"}
    packets = []
    for n in range(4):
        frame = scene.render(n, n / 30, UTC_S)
        stamp(frame, (w, h), n * 400_000)  # 0, 0.4, 0.8, 1.2 s
        vf = av.VideoFrame.from_ndarray(frame, format="yuv420p")
        vf.pts = n
        packets += cc.encode(vf)
    packets += cc.encode(None)
    dec = av.CodecContext.create("h264", "r")
    lumas = [f.to_ndarray(format="gray") for p in packets for f in dec.decode(p)]
    lumas += [f.to_ndarray(format="gray") for f in dec.decode(None)]
    assert len(lumas) == 4
    read = read_watermarks(lumas)
    seconds = ["10", "10", "10", "11"]
    assert read == [[f"2026-01-15T08:00:{s}Z RTC", "BC-0815 officer A-12"] for s in seconds]


def test_prepare_leaves_no_font_work_for_the_camera_thread() -> None:
    stamp = FrameStamp(Timebase(source="unsynced"), "CAM-9", "Ab/7")
    stamp.prepare((640, 480))
    glyphs = stamp.watermark((640, 480)).glyphs
    before = dict(glyphs._cache)
    frame = Scene(640, 480).render(0, 0.0, UTC_S)
    for n in range(40):
        stamp(frame, (640, 480), n * 100_000)
    assert glyphs._cache == before  # every character was rasterised by prepare()
