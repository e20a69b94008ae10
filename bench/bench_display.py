"""Front display: host CPU per mirrored frame, bus bytes per frame, and the live view's frame rate.

Figures (one run, interleaved, so the ratios are fair on a shared machine):

- ``<panel>_ours_ms`` / ``<panel>_stock_ms``: median CPU time (``time.process_time``)
  per frame, YUV420 640x480 in -> panel bytes out. Ours: ``display.render`` (numpy
  sampling + colour table, mirrored) and ``Panel.show_rgb565`` (RGB565 over
  ``writebytes2``). Stock: Pillow converts YUV to RGB (chroma upsampled, YCbCr
  merge), crops, resizes (nearest, like ours) and mirrors, then luma.lcd's
  ``display()`` on the same panel class. Both over the same counting-only fake SPI
  bus; luma's default and full-frame framebuffers are both measured and the
  cheaper one is the baseline. ``<panel>_cpu_ratio`` = stock / ours.
  ``<panel>_ours_with_rec_overlay_ms``: ours while recording (badge, timer, frame);
  ``<panel>_ours_lores_at_panel_size_ms``: ours when the camera's lores stream is
  configured at the panel's size (the ISP scales; chroma is spread 2x here).
- ``<panel>_ours_bus_bytes`` / ``<panel>_stock_bus_bytes``: bytes per whole frame,
  ``<panel>_bus_fps_limit`` / ``<panel>_stock_bus_fps_limit`` at ``spi_hz``.
- ``<panel>_sim_live_fps`` and ``<panel>_sim_share_of_bus_limit``: the display
  thread driving the simulated panel with bus timing on (a transfer takes its
  bits' time), asked for more frames than the bus can carry.
"""

from __future__ import annotations

import json
import statistics
import time
from typing import Any

import luma.core.interface.serial
import luma.lcd.device
import numpy as np
from luma.core.framebuffer import diff_to_previous, full_frame
from PIL import Image

from display import DisplayState, render
from drivers.panel import Panel
from firmware.front_display import FrontDisplay
from hw_sim import fake_spidev
from hw_sim.panel import SimPanel
from hw_sim.scene import Scene

SPI_HZ = 32_000_000
LORES = (640, 480)
REPS = 40
BLOCKS = 4
SIM_SECONDS = 3.0
PANELS = {"ili9341": (320, 240), "st7789": (240, 240)}


class Pins:
    """Minimal RPi.GPIO surface for luma (levels only)."""

    BCM, OUT, IN, HIGH, LOW = 11, 0, 1, 1, 0

    def __init__(self) -> None:
        self.levels: dict[int, int] = {}

    def setmode(self, mode: int) -> None:
        pass

    def setup(self, pin: int, direction: int, initial: int = -1, **_: object) -> None:
        self.levels[pin] = 0

    def output(self, pin: int, value: int) -> None:
        self.levels[pin] = 1 if value else 0

    def cleanup(self, *_: object) -> None:
        pass


def frames(n: int) -> list[np.ndarray]:
    """Camera lores frames of the simulated scene (moving ball, text, gradient)."""
    scene = Scene(*LORES)
    return [scene.render(i, i / 30, 1.7e9 + i / 30) for i in range(n)]


def stock_frame(lores: np.ndarray, size: tuple[int, int]) -> Image.Image:
    """The usual Pillow way: YUV -> RGB, crop to the panel's aspect, resize, mirror."""
    w, h = LORES
    y = Image.frombuffer("L", (w, h), lores[:h].tobytes())
    chroma = lores[h:].reshape(-1)
    q = (w // 2) * (h // 2)
    u = Image.frombuffer("L", (w // 2, h // 2), chroma[:q].tobytes()).resize((w, h))
    v = Image.frombuffer("L", (w // 2, h // 2), chroma[q:].tobytes()).resize((w, h))
    rgb = Image.merge("YCbCr", (y, u, v)).convert("RGB")
    pw, ph = size
    crop_w = min(w, h * pw // ph)
    crop_h = min(h, w * ph // pw)
    left, top = (w - crop_w) // 2, (h - crop_h) // 2
    rgb = rgb.crop((left, top, left + crop_w, top + crop_h)).resize(size, Image.Resampling.NEAREST)
    return rgb.transpose(Image.Transpose.FLIP_LEFT_RIGHT)


def luma_device(kind: str, size: tuple[int, int], framebuffer: object) -> Any:
    serial = luma.core.interface.serial.spi(spi=fake_spidev.SpiDev(), gpio=Pins(),
                                            bus_speed_hz=SPI_HZ, gpio_DC=24, gpio_RST=25)
    if kind == "ili9341":
        dev = luma.lcd.device.ili9341(serial, width=size[0], height=size[1], gpio=Pins(),
                                      framebuffer=framebuffer)
    else:
        dev = luma.lcd.device.st7789(serial, width=size[0], height=size[1], gpio=Pins())
    dev.persist = True
    return dev


def _settings(kind: str, size: tuple[int, int]) -> dict[str, Any]:
    """``Panel.from_config`` keywords: the configuration's defaults for this panel and bus."""
    from firmware.assembly import panel_settings

    return panel_settings({"display": {"kind": kind, "width": size[0], "height": size[1],
                                       "spi_hz": SPI_HZ}})


def cpu_per_frame(kind: str, lores: list[np.ndarray]) -> dict[str, float]:
    size = PANELS[kind]
    fake_spidev.reset()
    fake_spidev.attach(0, 0, keep=0)  # counting-only bus: no panel, no copies
    panel = Panel.from_config(**_settings(kind, size), gpio=Pins(), spi=fake_spidev.SpiDev())
    stock = {"luma_default": luma_device(kind, size, diff_to_previous(num_segments=25))}
    if kind == "ili9341":
        stock["luma_full_frame"] = luma_device(kind, size, full_frame())
    state = DisplayState(mode="standby", prerecord="off", mirror=True)
    recording = DisplayState(mode="recording", recording_elapsed_s=754, mirror=True)
    port = fake_spidev.port(0, 0)
    small = [Scene(*size).render(i, i / 30, 1.7e9) for i in range(4)]
    paths = {
        "ours": lambda f, i: panel.show_rgb565(render(state, f, panel.size, i / 15), full=True),
        "ours_lores_at_panel_size": lambda f, i: panel.show_rgb565(
            render(state, small[i % 4], panel.size, i / 15), full=True),
        "ours_rec": lambda f, i: panel.show_rgb565(render(recording, f, panel.size, i / 15),
                                                   full=True),
        **{name: (lambda f, i, dev=dev: dev.display(stock_frame(f, size)))
           for name, dev in stock.items()},
    }
    times: dict[str, list[float]] = {k: [] for k in paths}
    bus: dict[str, int] = {}
    # Blocks of consecutive frames per path (steady state, as in a display loop), the
    # blocks taking turns so that machine noise falls on every path alike.
    for block in range(BLOCKS):
        for name, show in paths.items():
            for rep in range(REPS // BLOCKS):
                i = block * REPS + rep
                before, t0 = port.bytes_written, time.process_time()
                show(lores[i % len(lores)], i)
                times[name].append(time.process_time() - t0)
                bus[name] = port.bytes_written - before
    medians = {k: statistics.median(v) * 1000 for k, v in times.items()}
    baseline = min((k for k in stock), key=lambda k: medians[k])
    out = {
        f"{kind}_ours_ms": round(medians["ours"], 3),
        f"{kind}_ours_with_rec_overlay_ms": round(medians["ours_rec"], 3),
        f"{kind}_ours_lores_at_panel_size_ms": round(medians["ours_lores_at_panel_size"], 3),
        f"{kind}_stock_ms": round(medians[baseline], 3),
        f"{kind}_stock_variant": baseline,
        f"{kind}_cpu_ratio": round(medians[baseline] / medians["ours"], 1),
        f"{kind}_ours_bus_bytes": bus["ours"],
        f"{kind}_stock_bus_bytes": bus[baseline],
        f"{kind}_bus_fps_limit": round(SPI_HZ / 8 / bus["ours"], 1),
        f"{kind}_stock_bus_fps_limit": round(SPI_HZ / 8 / bus[baseline], 1),
    }
    for name in stock:
        out[f"{kind}_{name}_ms"] = round(medians[name], 3)
    return out


def sim_live_fps(kind: str, lores: list[np.ndarray]) -> dict[str, float]:
    """The live view on the simulated panel with real bus timing."""
    size = PANELS[kind]
    fake_spidev.reset()
    pins = Pins()
    sim = SimPanel.attach(0, 0, kind, width=size[0], height=size[1], realtime=True,
                          dc_level=lambda: pins.levels.get(24, 0), max_frames=1)
    panel = Panel.from_config(**_settings(kind, size), gpio=pins, spi=fake_spidev.SpiDev())
    clock = {"i": 0}

    def latest() -> np.ndarray:
        clock["i"] += 1
        return lores[clock["i"] % len(lores)]

    state = DisplayState(mode="recording", recording_elapsed_s=42)
    display = FrontDisplay(panel, latest, lambda: state, time.monotonic,
                           fps=min(60.0, panel.bus_fps * 1.5))
    start_frames = sim.windows_completed
    start = time.monotonic()
    display.start()
    time.sleep(SIM_SECONDS)
    display.stop(blank=False)
    elapsed = time.monotonic() - start
    fps = (sim.windows_completed - start_frames) / elapsed
    return {
        f"{kind}_sim_live_fps": round(fps, 1),
        f"{kind}_sim_share_of_bus_limit": round(fps / panel.bus_fps, 3),
        f"{kind}_sim_frames_dropped": display.stats.frames_dropped,
    }


def run() -> dict:
    """All figures as one flat dict (see the module docstring)."""
    lores = frames(8)
    out: dict[str, object] = {"spi_hz": SPI_HZ, "lores": f"{LORES[0]}x{LORES[1]}",
                              "reps": REPS}
    for kind in PANELS:
        out.update(cpu_per_frame(kind, lores))
    for kind in PANELS:
        out.update(sim_live_fps(kind, lores))
    fake_spidev.reset()
    return out


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
