"""SimPanel's controller model and the fake spidev's library surface, byte by byte."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from hw_sim import fake_spidev
from hw_sim.panel import SimPanel


class Wire:
    """Drives a SimPanel like a driver would: D/C level, then bytes."""

    def __init__(self, kind: str = "ili9341", **kw) -> None:
        self.dc = 0
        self.bl = 1
        self.panel = SimPanel(kind, dc_level=lambda: self.dc, backlight_level=lambda: self.bl,
                              **kw)

    def cmd(self, c: int, *params: int) -> None:
        self.dc = 0
        self.panel.receive(bytes([c]))
        if params:
            self.dc = 1
            self.panel.receive(bytes(params))

    def data(self, b: bytes) -> None:
        self.dc = 1
        self.panel.receive(b)

    def window(self, x0: int, y0: int, x1: int, y1: int) -> None:
        self.cmd(0x2A, x0 >> 8, x0 & 255, x1 >> 8, x1 & 255)
        self.cmd(0x2B, y0 >> 8, y0 & 255, y1 >> 8, y1 & 255)
        self.cmd(0x2C)

    def wake(self, madctl: int, colmod: int = 0x55) -> None:
        self.cmd(0x01)
        self.cmd(0x11)
        self.cmd(0x36, madctl)
        self.cmd(0x3A, colmod)
        self.cmd(0x29)


def test_dark_until_awake_and_display_on() -> None:
    w = Wire()
    w.window(0, 0, 239, 319)
    w.data(b"\xff" * (240 * 320 * 3))
    assert not w.panel.glass().any()
    w.cmd(0x11)
    assert not w.panel.glass().any()
    w.cmd(0x29)
    assert w.panel.glass().min() == 255  # 18-bit white
    w.bl = 0
    assert not w.panel.glass().any()


def test_rgb565_pixels_split_across_transfers_land_in_the_window() -> None:
    w = Wire("st7789")
    w.wake(0x00)  # no exchange, no mirror: frame memory = glass rows 0..239
    w.cmd(0x21)  # IPS: INVON shows true colours
    w.window(10, 20, 13, 21)  # 4 x 2 pixels
    red, blue = b"\xf8\x00", b"\x00\x1f"
    payload = red * 4 + blue * 4
    w.data(payload[:3])  # half a pixel
    w.data(payload[3:])
    view = np.rot90(w.panel.glass(), k=-1)  # undo the mount: native rows/columns
    assert view[20, 10:14].tolist() == [[255, 0, 0]] * 4
    assert view[21, 10:14].tolist() == [[0, 0, 255]] * 4
    assert view[22, 10].tolist() == [0, 0, 0]
    assert w.panel.windows_completed == 1
    assert np.array_equal(w.panel.frames[-1].rgb, w.panel.glass())  # captured when complete


def test_madctl_exchange_and_mirror() -> None:
    w = Wire("st7789")
    w.wake(0x20 | 0x40)  # MV | MX, as luma's st7789 sets it
    w.cmd(0x21)
    w.window(5, 7, 5, 7)  # logical column 5, page 7
    w.data(b"\x07\xe0")  # green
    native = np.rot90(w.panel.glass(), k=-1)
    # MV: page -> physical column, column -> physical row; MX mirrors the physical column.
    assert native[5, 239 - 7].tolist() == [0, 255, 0]
    assert native.sum() == 255


def test_bgr_bit_and_inversion_change_the_colours_seen() -> None:
    w = Wire("ili9341")  # wired BGR: MADCTL BGR=1 shows RGB data as sent
    w.wake(0x28)
    w.window(0, 0, 0, 0)
    w.data(b"\xf8\x00")  # red
    assert w.panel.glass().reshape(-1, 3).max(axis=0).tolist() == [255, 0, 0]
    w.wake(0x20)  # BGR bit cleared: red data shows blue on this module
    w.window(0, 0, 0, 0)
    w.data(b"\xf8\x00")
    assert w.panel.glass().reshape(-1, 3).max(axis=0).tolist() == [0, 0, 255]
    s = Wire("st7789")
    s.wake(0x00)
    s.window(0, 0, 239, 239)
    s.data(b"\x00\x00" * 240 * 240)
    assert s.panel.glass().min() == 255  # IPS without INVON: black data looks white
    s.cmd(0x21)
    assert s.panel.glass().max() == 0


def test_window_wraps_and_ramwrc_continues() -> None:
    w = Wire("st7789")
    w.wake(0x00)
    w.cmd(0x21)
    w.window(0, 0, 1, 0)  # two pixels
    w.data(b"\xff\xff" * 3)  # the third wraps to the first
    w.cmd(0x3C)
    w.data(b"\x00\x00")  # continues at the second pixel
    native = np.rot90(w.panel.glass(), k=-1)
    assert native[0, 0].tolist() == [255, 255, 255]
    assert native[0, 1].tolist() == [0, 0, 0]
    assert w.panel.windows_completed == 2


def test_capture_interval_bounds_and_save(tmp_path) -> None:
    t = [0.0]
    w = Wire("st7789", max_frames=3, capture_interval_s=0.1, clock=lambda: t[0])
    w.wake(0x00)
    for i in range(6):
        t[0] = i * 0.05
        w.window(0, 0, 239, 239)
        w.data(bytes([i * 40, 0]) * (240 * 240))
    assert len(w.panel.frames) == 3  # one per 0.1 s, bounded
    assert [f.t for f in w.panel.frames] == [0.0, 0.1, 0.2]
    # Within an interval the newer picture wins: the last frame is the glass now.
    assert np.array_equal(w.panel.frames[-1].rgb, w.panel.glass())
    w.cmd(0x28)  # DISPOFF: a visible change without a memory write is captured too
    assert not w.panel.frames[-1].rgb.any()
    written = w.panel.save(tmp_path / "out")
    names = sorted(p.name for p in written)
    assert names == ["display.gif", "frame_00000.png", "frame_00001.png", "frame_00002.png",
                     "last.png"]
    gif = Image.open(tmp_path / "out" / "display.gif")
    assert gif.n_frames == 3 and gif.size == (240, 240)
    assert Image.open(tmp_path / "out" / "last.png").size == (240, 240)


def test_spidev_surface_behaves_like_py_spidev() -> None:
    fake_spidev.reset()
    dev = fake_spidev.SpiDev()
    with pytest.raises(OSError):
        dev.writebytes([1])
    dev.open(0, 1)
    assert dev.bits_per_word == 8 and dev.mode == 0
    dev.mode = 3
    dev.max_speed_hz = 16_000_000
    dev.no_cs = True
    assert dev.no_cs and dev.mode == 3
    with pytest.raises(TypeError):
        dev.mode = 4
    with pytest.raises(TypeError):
        dev.cshigh = 1
    with pytest.raises(TypeError):
        dev.writebytes([])
    with pytest.raises(OverflowError):
        dev.writebytes([0] * (fake_spidev.BUFSIZ + 1))
    with pytest.raises(TypeError):
        dev.writebytes(np.zeros(4, np.uint8))  # numpy scalars are not ints to py-spidev
    dev.writebytes2(np.arange(10_000, dtype=np.uint16))  # any size, any buffer
    assert dev.xfer([1, 2, 3]) == [0, 0, 0]
    assert dev.xfer3([0] * 5000) == (0,) * 5000
    assert dev.readbytes(3) == [0, 0, 0]
    port = fake_spidev.port(0, 1)
    assert port.bytes_written == 2 * 10_000 + 3 + 5000  # the write while closed went nowhere
    assert port.transfers[0].op == "writebytes2" and port.transfers[0].speed_hz == 16_000_000
    dev.close()
    with pytest.raises(OSError):
        dev.writebytes2(b"\x00")


def test_realtime_port_takes_the_bus_time() -> None:
    import time

    fake_spidev.reset()
    fake_spidev.attach(0, 0, realtime=True)
    dev = fake_spidev.SpiDev(0, 0)
    dev.max_speed_hz = 8_000_000
    start = time.perf_counter()
    dev.writebytes2(bytes(100_000))  # 0.1 s at 8 MHz
    assert 0.09 <= time.perf_counter() - start < 0.5
    assert fake_spidev.port(0, 0).bus_seconds == pytest.approx(0.1)
