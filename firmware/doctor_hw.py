"""The doctor's hardware lines: camera, button, cue lines and panel, opened as the daemon opens them.

Every part is built by ``firmware.assembly`` from the configuration, the way
the daemon builds it, so a PASS here means the daemon's own wiring works.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from . import assembly
from .checklist import SERVICE, SERVICE_USER, Check, failed, passed

#: Clock time the camera runs for: two GOPs at the default one-second GOP.
CAMERA_SECONDS = 2.0
#: On the sim, the scripted press comes this long after the camera starts.
SIM_PRESS_AT = 0.5
#: 8 colour bars in RGB565: white, yellow, cyan, green, magenta, red, blue, black.
COLOUR_BARS = (0xFFFF, 0xFFE0, 0x07FF, 0x07E0, 0xF81F, 0xF800, 0x001F, 0x0000)


def _error(e: BaseException) -> str:
    text = " ".join(str(e).split())
    return f"{type(e).__name__}: {text}" if text else type(e).__name__


def _hint(e: BaseException, otherwise: str) -> str:
    """What to do about a hardware library's exception: missing library, permission, or else."""
    if isinstance(e, ImportError):
        return ("a library is missing: install with deploy.sh (picamera2, spidev and rpi-lgpio, "
                "which provides RPi.GPIO)")
    from drivers.gpio_claim import ChipUnavailable  # light: no hardware library behind it

    if isinstance(e, PermissionError | ChipUnavailable):
        return (f"permission denied: run as root or as '{SERVICE_USER}' (a member of the video, "
                "gpio and spi groups)")
    return otherwise


def check_camera_and_button(conf: dict[str, dict[str, Any]], clock: Any,
                            world: Any | None) -> list[Check]:
    """Run the camera for :data:`CAMERA_SECONDS` of clock time with the button listening.

    On the simulation the world presses the button half a second in, so the line
    is seen going down and up through the driver; on a device nobody is asked to
    press it and the line must read released.
    """
    from recorder.packet import VIDEO

    cam_conf, btn_conf = conf["camera"], conf["button"]
    packets: list[Any] = []
    changes: list[tuple[bool, float]] = []
    camera: Any = None
    button: Any = None
    cam_check: Check | None = None
    btn_check: Check | None = None
    try:
        camera = assembly.open_camera(conf, clock, packets.append)
    except Exception as e:  # no camera, busy, missing library: report it, do not crash
        cam_check = failed("camera", f"cannot open the camera ({_error(e)})",
                           _hint(e, "check the ribbon cable and camera_auto_detect=1; "
                                 "'rpicam-hello --list-cameras' lists what the system sees"))
    pin, low = btn_conf["pin"], btn_conf["active_low"]
    wiring = f"BCM {pin} ({'active low, pull-up' if low else 'active high, pull-down'})"
    try:
        button = assembly.open_button(conf, clock, lambda down, t: changes.append((down, t)))
    except Exception as e:
        btn_check = failed("button", f"{wiring}: cannot set up the line ({_error(e)})",
                           _hint(e, "another program holds the line, or button.pin is wrong"))
    idle_pressed = button.pressed if button is not None else False
    start = clock.monotonic()
    try:
        if camera is not None:
            try:
                camera.start()
            except Exception as e:
                cam_check = failed("camera", f"cannot start the camera ({_error(e)})",
                                   _hint(e, "check the ribbon cable; see 'rpicam-hello "
                                         "--list-cameras'"))
        if world is not None and button is not None:
            world.press(start + SIM_PRESS_AT)
        if cam_check is None or button is not None:  # something to listen to
            clock.run(until=start + CAMERA_SECONDS)
        if cam_check is None:
            cam_check = _judge_camera(camera, [p for p in packets if p.stream == VIDEO], cam_conf)
    finally:
        if camera is not None:
            try:
                camera.close()
            except Exception as e:
                cam_check = cam_check or failed("camera", f"closing failed ({_error(e)})", "")
        if button is not None:
            button.close()
            _cleanup_pins([pin])
    if btn_check is None:
        btn_check = _judge_button(wiring, idle_pressed, changes, simulated=world is not None)
    assert cam_check is not None  # every path above judged the camera
    return [cam_check, btn_check]


def _judge_camera(camera: Any, packets: list[Any], cam_conf: dict[str, Any]) -> Check:
    fps, stall = cam_conf["fps"], cam_conf["stall_seconds"]
    if not packets:
        return failed("camera", f"no frames in {CAMERA_SECONDS:g} s",
                      "the camera stalled or is not connected: reseat the ribbon cable; "
                      "see 'rpicam-hello --list-cameras' and 'dmesg'")
    keyframes = sum(p.keyframe for p in packets)
    times = [p.pts_us / 1e6 for p in packets]
    gap = max((b - a for a, b in zip(times, times[1:], strict=False)), default=0.0)
    span = times[-1] - times[0]
    measured = (len(packets) - 1) / span if span > 0 else 0.0
    size = "x".join(map(str, camera.size))
    what = (f"{camera.model} {size}: {len(packets)} frames, {keyframes} keyframes in "
            f"{CAMERA_SECONDS:g} s ({measured:.1f} fps of {fps})")
    try:
        lores = camera.lores_frame()
    except Exception as e:
        return failed("camera", f"{what}; the low-resolution stream failed ({_error(e)})",
                      "the front display would stay dark; check camera.lores_width/height")
    if lores is not None:
        what += f", lores {lores.shape[1]}x{lores.shape[0] * 2 // 3}"
    if not keyframes:
        return failed("camera", f"{what}: no keyframe", "the encoder is misconfigured; "
                      "check camera.gop_seconds")
    if gap > stall:
        return failed("camera", f"{what}: a {gap:.2f} s gap (stall limit {stall:g} s)",
                      "the camera stalls: reseat the ribbon cable; check 'dmesg'")
    if len(packets) > 1 and measured < fps / 2:
        return failed("camera", f"{what}: too slow", "check the camera.fps setting and 'dmesg'")
    return passed("camera", what)


def _judge_button(wiring: str, idle_pressed: bool, changes: list[tuple[bool, float]],
                  *, simulated: bool) -> Check:
    if idle_pressed:
        return failed("button", f"{wiring}: reads pressed while nobody presses it",
                      "a stuck button or a short on the line; or button.active_low is wrong")
    seen = [down for down, _t in changes]
    if simulated:
        if seen != [True, False]:
            return failed("button", f"{wiring}: a simulated press gave {seen or 'nothing'}",
                          "the button driver did not see the line change")
        return passed("button", f"{wiring}: reads released; a simulated press was seen down and up")
    if seen:
        return passed("button", f"{wiring}: reads released; a press was seen")
    return passed("button", f"{wiring}: reads released")


def _cleanup_pins(pins: list[int]) -> None:
    import RPi.GPIO as GPIO

    for pin in pins:
        try:
            GPIO.cleanup(pin)
        except Exception:  # nothing to clean up
            pass


def cue_pins(conf: dict[str, dict[str, Any]]) -> dict[str, int]:
    """The fitted cue outputs, as the daemon reads them (-1 = not fitted), by key name."""
    return {f"{name}_pin": pin for name, pin in assembly.cue_pins(conf["cues"]).items()
            if pin is not None}


def check_cues(conf: dict[str, dict[str, Any]]) -> Check:
    """Each cue line (LED, vibration, buzzer) is switched on and off through the daemon's
    driver (``drivers.cue_lines``) and its level read back."""
    pins = cue_pins(conf)
    if not pins:
        return passed("cues", "no cue lines in the configuration")
    try:
        lines = assembly.open_cue_lines(conf["cues"])
    except Exception as e:  # a missing library, a pin another program holds
        return failed("cues", f"cannot drive the lines ({_error(e)})", _hint(e, ""))
    results, bad = [], []
    try:
        for name in lines.names:
            label = f"{name}_pin BCM {lines.pins[name]}"
            try:
                levels = []
                for on in (True, False):
                    lines.set(name, on)
                    levels.append(lines.read(name) == on)
                (results if all(levels) else bad).append(label)
            except Exception as e:
                bad.append(f"{label} ({_error(e)})")
    finally:
        lines.close()
    if bad:
        return failed("cues", f"do not follow their output: {', '.join(bad)}",
                      "a short or a wrong pin number; check the wiring and [cues]")
    return passed("cues", f"driven high and low and read back: {', '.join(results)}")


def colour_bars(size: tuple[int, int]) -> Any:
    """Eight vertical colour bars, (height, width) big-endian RGB565, as a person checks a panel."""
    import numpy as np

    w, h = size
    columns = np.array(COLOUR_BARS, dtype=">u2")[np.arange(w) * len(COLOUR_BARS) // w]
    return np.ascontiguousarray(np.broadcast_to(columns, (h, w)))


def check_panel(conf: dict[str, dict[str, Any]], world: Any | None,
                keep_open: Callable[[Any], None]) -> Check:
    """The panel initialises and takes a frame of colour bars (it stays up until the end)."""
    if (conf.get("display") or {}).get("enabled") is False:
        return passed("panel", "disabled in the configuration")
    settings = assembly.panel_settings(conf)
    where = f"{settings['kind']} on SPI {settings['spi_port']}.{settings['spi_device']}"
    sim_panel = None
    try:
        if world is not None:
            from hw_sim.panel import SimPanel

            sim_panel = SimPanel.attach(
                settings["spi_port"], settings["spi_device"], settings["kind"],
                width=settings["width"], height=settings["height"], dc_pin=settings["dc_pin"],
                backlight_pin=settings["backlight_pin"],
                backlight_active_low=settings["backlight_active_low"])
        panel = assembly.open_panel(conf)
    except Exception as e:
        return failed("panel", f"{where}: cannot initialise ({_error(e)})",
                      _hint(e, "SPI must be on (dtparam=spi=on, then reboot); check the "
                            "[display] pins"))
    keep_open(panel)
    bars = colour_bars(panel.size)
    try:
        sent = panel.show_rgb565(bars, full=True)
    except Exception as e:
        return failed("panel", f"{where}: sending a frame failed ({_error(e)})",
                      "check the SPI wiring and 'dmesg'")
    size = "x".join(map(str, panel.size))
    what = f"{where}, {size}: initialised, colour bars sent ({sent} bytes)"
    if sim_panel is not None:
        import numpy as np

        from display.rgb565 import unpack

        glass, want = sim_panel.glass(), unpack(bars)
        if not sim_panel.lit or not any(
                glass.shape == r.shape and np.array_equal(glass, r)
                for r in (np.rot90(want, k) for k in range(4))):
            return failed("panel", f"{what}, but the glass does not show them",
                          "the panel driver's command stream is wrong")
        return passed("panel", f"{what}; the simulated glass shows them")
    return passed("panel", f"{what}: look at the panel (an unplugged panel cannot be "
                  "detected on a write-only bus)")


def close_all(devices: list[Any]) -> None:
    """Close what the checks opened; a device failing to close must not hide the report."""
    for device in devices:
        try:
            device.close()
        except Exception:
            pass


def hardware_busy() -> list[Check]:
    """The lines the running service holds, failed with the way to free them."""
    hint = (f"the running '{SERVICE}' service holds it: 'systemctl stop {SERVICE}', run the "
            f"doctor, then 'systemctl start {SERVICE}'")
    return [failed(name, "not tested: in use by the bodycam service", hint)
            for name in ("panel", "camera", "button", "cues", "microphone")]


