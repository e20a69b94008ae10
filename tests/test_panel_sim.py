"""The panel driver on the simulated bus: what reaches the glass, and how many bytes it takes."""

from __future__ import annotations

import luma.core.interface.serial
import luma.lcd.device
import numpy as np
import pytest
from luma.core.framebuffer import full_frame
from PIL import Image, ImageDraw

from display import DisplayState, render, rgb565_to_rgb, rgb_to_rgb565
from drivers.panel import Panel
from firmware.assembly import panel_settings
from hw_sim import fake_spidev
from hw_sim.panel import SimPanel
from tests.test_display_support import StandInGPIO, open_sim_panel, share, solid_lores


@pytest.fixture(autouse=True)
def _fresh_bus():
    fake_spidev.reset()
    yield
    fake_spidev.reset()


def asymmetric(size: tuple[int, int]) -> Image.Image:
    """A picture whose every rotation and mirror image differs: red top-left, green bottom-right."""
    w, h = size
    img = Image.new("RGB", size, (0, 0, 90))
    d = ImageDraw.Draw(img)
    d.rectangle((0, 0, w // 3, h // 4), fill=(255, 0, 0))
    d.rectangle((w - 30, h - 20, w - 1, h - 1), fill=(0, 255, 0))
    d.rectangle((w // 2, 0, w // 2 + 9, h // 2), fill=(255, 255, 255))
    return img


def luma_stock_glass(kind: str, size: tuple[int, int], rotation: int, img: Image.Image):
    """The glass after luma.lcd's own display() path (18-bit colour, luma's rotation)."""
    fake_spidev.reset()
    gpio = StandInGPIO()
    sim = SimPanel.attach(0, 0, kind, width=size[0], height=size[1],
                          dc_level=gpio.reader(24), backlight_level=gpio.reader(18))
    serial = luma.core.interface.serial.spi(spi=fake_spidev.SpiDev(), gpio=gpio, gpio_DC=24,
                                            gpio_RST=25)
    if kind == "ili9341":
        device = luma.lcd.device.ili9341(serial, width=size[0], height=size[1], rotate=rotation,
                                         gpio=gpio, framebuffer=full_frame())
    else:
        device = luma.lcd.device.st7789(serial, width=size[0], height=size[1],
                                        rotate=rotation, gpio=gpio)
    before = fake_spidev.port(0, 0).bytes_written
    device.display(img)
    device.persist = True
    return sim.glass(), fake_spidev.port(0, 0).bytes_written - before


@pytest.mark.parametrize("rotation", [0, 1, 2, 3])
@pytest.mark.parametrize("kind,size", [("ili9341", (320, 240)), ("st7789", (240, 240))])
def test_fast_path_puts_the_same_picture_on_the_glass_as_luma(kind, size, rotation) -> None:
    panel, sim, _ = open_sim_panel(kind, rotation, *size)
    img = asymmetric(panel.size)
    sent = panel.show_rgb565(rgb_to_rgb565(np.asarray(img)), full=True)
    ours = sim.glass()
    stock, stock_bytes = luma_stock_glass(kind, size, rotation, img)
    assert ours.shape == stock.shape
    assert np.abs(ours.astype(int) - stock.astype(int)).max() <= 8  # RGB565 vs RGB666
    w, h = size
    assert sent == w * h * 2 + 11  # CASET, RASET, RAMWR + two bytes a pixel
    assert stock_bytes == w * h * 3 + 11  # luma's 18-bit path: 50% more on the bus
    assert sim.bits_per_pixel == 16


def test_rotation_0_is_upright_on_the_mounted_glass() -> None:
    panel, sim, _ = open_sim_panel("ili9341")
    img = asymmetric(panel.size)
    panel.show_rgb565(rgb_to_rgb565(np.asarray(img)), full=True)
    glass = sim.glass()
    assert glass.shape == (240, 320, 3)
    assert share(glass, (0, 0, 100, 55), (255, 0, 0), tol=8) == 1.0  # red top-left
    assert share(glass, (295, 225, 320, 240), (0, 255, 0), tol=8) == 1.0  # green bottom-right


def test_rotation_turns_the_picture_clockwise() -> None:
    panel, sim, _ = open_sim_panel("ili9341", rotation=1)
    assert panel.size == (240, 320)  # portrait picture on the landscape-mounted glass
    img = asymmetric(panel.size)
    panel.show_rgb565(rgb_to_rgb565(np.asarray(img)), full=True)
    expected = np.asarray(img.rotate(-90, expand=True))
    assert np.abs(sim.glass().astype(int) - expected.astype(int)).max() <= 8


def test_mirror_direction_on_the_glass() -> None:
    """The camera sees a bright thing on its left; the viewer sees it on their right."""
    panel, sim, _ = open_sim_panel("st7789")
    rgb = np.full((480, 640, 3), 20, np.uint8)
    rgb[:, :160] = 240
    from tests.test_display_support import rgb_to_i420

    frame = render(DisplayState(), rgb_to_i420(rgb), panel.size, 0.0)
    panel.show_rgb565(frame, full=True)
    glass = sim.glass()
    assert share(glass, (200, 50, 240, 190), (240, 240, 240), tol=16) == 1.0
    assert share(glass, (0, 50, 40, 190), (20, 20, 20), tol=16) == 1.0


def test_status_screen_sends_only_the_changed_rectangle() -> None:
    panel, sim, _ = open_sim_panel("ili9341", rotation=1)
    state = DisplayState(standby_view="notice", language="en")
    frame = render(state, None, panel.size, 0.0)
    assert panel.show_rgb565(frame, full=False) == 320 * 240 * 2 + 11  # first: all of it
    assert panel.show_rgb565(frame, full=False) == 0  # nothing changed, nothing sent
    changed = frame.copy()
    changed[100:110, 50:62] = rgb_to_rgb565(np.array([255, 0, 0], np.uint8))
    assert panel.show_rgb565(changed, full=False) == 10 * 12 * 2 + 11
    expected = rgb565_to_rgb(np.rot90(changed, k=-1))
    assert np.array_equal(sim.glass(), expected)


def test_live_view_is_sent_whole() -> None:
    panel, _, _ = open_sim_panel("st7789")
    frame = render(DisplayState(), solid_lores((10, 10, 10)), panel.size, 0.0)
    panel.show_rgb565(frame, full=True)
    assert panel.show_rgb565(frame, full=True) == 240 * 240 * 2 + 11


def test_off_darkens_glass_and_backlight_and_the_next_picture_wakes_it() -> None:
    panel, sim, gpio = open_sim_panel("st7789")
    frame = render(DisplayState(), solid_lores((200, 40, 40)), panel.size, 0.0)
    panel.show_rgb565(frame, full=True)
    assert sim.lit and gpio.levels[18] == 1
    panel.off()
    assert sim.asleep and not sim.display_on and gpio.levels[18] == 0
    assert not sim.glass().any()
    panel.show_rgb565(frame, full=False)  # unchanged picture: the memory kept it
    assert sim.lit and gpio.levels[18] == 1
    assert share(sim.glass(), (0, 0, 240, 240), (200, 40, 40), tol=16) == 1.0


def test_backlight_switch() -> None:
    panel, sim, gpio = open_sim_panel("ili9341")
    panel.backlight(False)
    assert gpio.levels[18] == 0 and not sim.lit
    panel.backlight(True)
    assert gpio.levels[18] == 1 and sim.lit


@pytest.mark.parametrize("bad", [dict(kind="ssd1306"), dict(rotation=4),
                                 dict(spi_hz=200_000_000)])
def test_bad_config_is_refused(bad) -> None:
    with pytest.raises(ValueError):
        Panel.from_config(**{**panel_settings({}), "gpio": StandInGPIO(),
                             "spi": fake_spidev.SpiDev(), **bad})


def test_configured_spi_clock_reaches_spidev() -> None:
    fake_spidev.enable(1, 2)  # dtoverlay=spi1-3cs
    gpio = StandInGPIO()
    spi = fake_spidev.SpiDev()
    panel = Panel.from_config(**panel_settings({"display": {
        "kind": "st7789", "spi_hz": 62_500_000, "spi_port": 1, "spi_device": 2}}),
        gpio=gpio, spi=spi)
    assert spi.max_speed_hz == 62_500_000
    assert fake_spidev.port(1, 2).opens == 1
    assert panel.bus_fps == pytest.approx(62_500_000 / 8 / (240 * 240 * 2 + 11))


def test_driver_imports_the_libraries_by_their_real_names() -> None:
    """With hw_sim installed, the driver gets fake RPi.GPIO and spidev by plain import."""
    import hw_sim
    from hw_sim.clock import VirtualClock
    from hw_sim.world import World

    with hw_sim.installed(World(VirtualClock())) as world:
        sim = SimPanel.attach(0, 0, "ili9341", dc_pin=24, backlight_pin=18)
        panel = Panel.from_config(**panel_settings({"display": {"kind": "ili9341"}}))
        frame = render(DisplayState(mode="recording", language="en"),
                       solid_lores((0, 0, 200)), panel.size, 0.2)
        panel.show_rgb565(frame, full=True)
        assert world.gpio.output_level(18) == 1
        glass = sim.glass()
        assert share(glass, (0, 0, 320, 4), (220, 0, 0), tol=8) == 1.0  # REC frame
        assert share(glass, (140, 120, 180, 140), (0, 0, 200), tol=16) == 1.0
        panel.off()
        assert world.gpio.output_level(18) == 0 and not sim.glass().any()
        panel._device.persist = True  # nothing to tidy up at exit after the world is gone


def test_spidev_open_on_a_bus_that_is_not_enabled_fails_like_py_spidev() -> None:
    """No /dev/spidev1.0 without a dtoverlay: open() raises from errno (spidev_module.c:1341)."""
    with pytest.raises(FileNotFoundError) as err:
        fake_spidev.SpiDev().open(1, 0)
    assert err.value.errno == 2
    fake_spidev.disable(0)  # dtparam=spi=off
    with pytest.raises(FileNotFoundError):
        fake_spidev.SpiDev(0, 0)
    with pytest.raises(TypeError):
        fake_spidev.SpiDev().open("0", 0)


def test_panel_on_a_bus_that_is_not_enabled_is_device_not_found() -> None:
    """luma.core turns ENOENT into DeviceNotFoundError (luma/core/interface/serial.py:313-315)."""
    import luma.core.error

    import hw_sim
    from hw_sim.clock import VirtualClock
    from hw_sim.world import World

    with hw_sim.installed(World(VirtualClock())):
        SimPanel.attach(1, 0, "ili9341")  # wired, but spi1 is not switched on
        with pytest.raises(luma.core.error.DeviceNotFoundError, match="SPI device not found"):
            Panel.from_config(**panel_settings({"display": {"kind": "ili9341", "spi_port": 1}}))
