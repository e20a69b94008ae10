"""Builds the device's parts from the configuration: one place for daemon, doctor and bench.

Each function opens one part through its driver (``drivers/``), with the
configuration's keys mapped to the driver's arguments here and nowhere else.
The hardware libraries are imported by the drivers by their real names, so on
the simulation (``hw_sim.install``) the same functions open the simulated parts.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from drivers.clock import Clock
from drivers.cue_lines import NAMES as CUE_LINE_NAMES
from evidence.errors import BodycamError

if TYPE_CHECKING:
    import numpy as np

    from display import DisplayState
    from display.watermark import FrameStamp, Timebase
    from drivers.button import Button
    from drivers.camera import Camera, FramePainter
    from drivers.cue_lines import CueLines
    from drivers.panel import Panel
    from recorder.packet import Packet

    from .cues import AuditSink, Cues
    from .front_display import FrontDisplay

Section = Mapping[str, Any]
Conf = Mapping[str, Section]

#: ``Panel.from_config`` keywords a ``[display]`` section sets.
PANEL_KEYS = ("kind", "rotation", "spi_port", "spi_device", "spi_hz", "dc_pin", "rst_pin",
              "backlight_pin", "width", "height", "backlight_active_low")


def cue_pins(cues: Section) -> dict[str, int | None]:
    """The ``[cues]`` section's pins by line name; None where not fitted (-1)."""
    return {name: (cues[f"{name}_pin"] if cues[f"{name}_pin"] >= 0 else None)
            for name in CUE_LINE_NAMES}


def open_camera(conf: Conf, clock: Clock, on_packet: Callable[[Packet], None],
                painter: FramePainter | None = None) -> Camera:
    """The camera (picamera2) at the ``[camera]`` section's size, rate and GOP; ``painter``
    draws into each main-stream frame before encoding (the watermark)."""
    from drivers.camera import Camera

    cam = conf["camera"]
    return Camera(clock, on_packet, width=cam["width"], height=cam["height"], fps=cam["fps"],
                  bitrate=cam["bitrate"], gop_seconds=cam["gop_seconds"],
                  lores=(cam["lores_width"], cam["lores_height"]), painter=painter)


def watermark(conf: Conf, times: Timebase, device_id: str) -> FrameStamp | None:
    """The burned-in watermark the camera draws before encoding (docs/WATERMARK.md);
    None when ``[watermark]`` is off."""
    from display.watermark import FrameStamp, Position

    wm = conf["watermark"]
    if not wm["enabled"]:
        return None
    return FrameStamp(times, device_id, wm["officer_id"], Position(wm["position"]))


def open_button(conf: Conf, clock: Clock, on_change: Callable[[bool, float], None]) -> Button:
    """The record button's line (RPi.GPIO API), debounced on ``clock``."""
    from drivers.button import Button

    btn = conf["button"]
    return Button(btn["pin"], clock, on_change, active_low=btn["active_low"],
                  debounce_ms=btn["debounce_ms"])


def open_cue_lines(cues: Section) -> CueLines:
    """The LED, vibration and buzzer lines that are fitted."""
    from drivers.cue_lines import CueLines

    return CueLines(cue_pins(cues), active_high=cues.get("active_high", True))


def open_cues(conf: Conf, clock: Clock, audit: AuditSink,
              on_cue: Callable[[float, str], None] | None = None) -> Cues:
    """Cue patterns on the fitted lines, timed on ``clock``; ``on_cue`` hears each one."""
    from .cues import Cues

    cues = conf["cues"]
    return Cues(clock, open_cue_lines(cues), audit, reminder_seconds=cues["reminder_seconds"],
                enabled=cues["enabled"], on_cue=on_cue)


def panel_settings(conf: Conf) -> dict[str, Any]:
    """``Panel.from_config`` keywords: the configuration's defaults, then ``[display]``'s keys."""
    from .config import defaults

    display = {**defaults()["display"], **(conf.get("display") or {})}
    return {key: display[key] for key in PANEL_KEYS}


def open_panel(conf: Conf, **libraries: Any) -> Panel:
    """The front panel (luma.lcd over spidev); ``libraries`` may pass ``gpio``/``spi``."""
    from drivers.panel import Panel

    settings = panel_settings(conf)
    settings["width"] = settings["width"] or None  # 0: the controller's usual size
    settings["height"] = settings["height"] or None
    return Panel.from_config(**settings, **libraries)


def open_front_display(conf: Conf, camera: Camera, state: Callable[[], DisplayState],
                       clock: Clock) -> FrontDisplay:
    """The front panel with its own thread (not started), mirroring ``camera``'s lores stream."""
    from .front_display import FrontDisplay

    lores: Callable[[], np.ndarray | None] = camera.lores_frame
    return FrontDisplay(open_panel(conf), lores, state, clock.monotonic,
                        fps=conf["display"]["fps"])


def hardware_error(e: BaseException) -> BodycamError:
    """One line for the officer or technician when the camera or button cannot be opened."""
    if isinstance(e, ImportError):
        what = f"{e.name or e} is not installed"
        if e.name == "libcamera":  # picamera2 without the libcamera it runs on
            what = "picamera2 is not installed (its libcamera is missing)"
        return BodycamError(
            f"{what}: on Raspberry Pi OS run deploy.sh (it installs "
            "python3-picamera2 and the GPIO and SPI libraries), or use --sim", exit_code=1)
    return BodycamError(
        f"camera or button unavailable ({type(e).__name__}: {e}); check the ribbon "
        "cable and wiring, then run 'bodycam doctor'", exit_code=1)
