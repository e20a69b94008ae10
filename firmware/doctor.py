"""``bodycam doctor``: the technician's self-test, on the device or on the simulation.

Each check drives the same code the daemon runs (the camera, button and panel
drivers, ``evidence.keys``, the clock) and reports one line, PASS or FAIL,
with what to do about a failure. Exit code 0 only if every check passes, 1 if
any fails, 2 for a usage or configuration error (nothing was checked).

With ``--sim`` the checks run on the simulated hardware (``hw_sim``) on a fast
virtual clock; ``fault`` injects one failure so a test (or a curious
technician) sees the matching line fail. How each fault is made is in
docs/DOCTOR.md.

The camera, GPIO lines and panel can only be tested while the ``bodycam``
service is stopped: it holds them. On a device where the service is active
those lines fail with the command that stops it; the doctor never stops a
camera that may be recording by itself.
"""

from __future__ import annotations

import argparse
import errno
import grp
import json
import os
import pwd
import shutil
import stat
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from evidence.errors import BodycamError
from evidence.fsutil import fsync_dir

#: Faults ``--sim`` can inject (``args.fault``), each failing one line.
FAULTS = ("camera_stall", "storage_full", "storage_readonly", "no_identity", "clock_unsynced")
#: Clock time the camera runs for: two GOPs at the default one-second GOP.
CAMERA_SECONDS = 2.0
#: On the sim, the scripted press comes this long after the camera starts.
SIM_PRESS_AT = 0.5
#: What the service runs with (deploy.sh); the doctor reads it too unless told otherwise.
DEVICE_CONFIG = Path("/etc/bodycam/config.toml")
SERVICE = "bodycam"
SERVICE_USER = "bodycam"
#: The storage probe: large enough to reach the card, small enough to be quick.
PROBE_BYTES = 256 * 1024
#: Free space below this is a failure even if the probe fits.
MIN_FREE_FLOOR = 64 * 1024 * 1024
#: 8 colour bars in RGB565: white, yellow, cyan, green, magenta, red, blue, black.
COLOUR_BARS = (0xFFFF, 0xFFE0, 0x07FF, 0x07E0, 0xF81F, 0xF800, 0x001F, 0x0000)


@dataclass(frozen=True)
class Check:
    """One line of the checklist: a PASS, or a FAIL with what to do."""

    name: str
    ok: bool
    detail: str
    hint: str = ""


def passed(name: str, detail: str) -> Check:
    """A passing line."""
    return Check(name, True, detail)


def failed(name: str, detail: str, hint: str) -> Check:
    """A failing line; ``hint`` tells the technician what to do next."""
    return Check(name, False, detail, hint)


@dataclass
class Report:
    """The whole checklist, as text or JSON."""

    checks: list[Check]
    sim: bool
    fault: str | None
    config: str | None

    @property
    def ok(self) -> bool:
        """Whether every check passed."""
        return all(c.ok for c in self.checks)

    @property
    def exit_code(self) -> int:
        """0 if every check passed, else 1."""
        return 0 if self.ok else 1

    def text_lines(self) -> list[str]:
        """The checklist a person reads: one PASS/FAIL line per check, hints indented."""
        where = "simulation" if self.sim else "device"
        if self.fault:
            where += f", fault injected: {self.fault}"
        width = max(len(c.name) for c in self.checks)
        lines = [f"bodycam doctor ({where})"]
        for c in self.checks:
            lines.append(f"  {'PASS' if c.ok else 'FAIL'}  {c.name:<{width}}  {c.detail}")
            if not c.ok and c.hint:
                lines.append(f"        {'':<{width}}  -> {c.hint}")
        bad = sum(not c.ok for c in self.checks)
        lines.append("all checks passed" if not bad else f"{bad} of {len(self.checks)} checks failed")
        return lines

    def to_json(self) -> str:
        """The checklist for a program: ``ok``, ``sim``, ``fault``, ``config``, ``checks``."""
        return json.dumps({"ok": self.ok, "sim": self.sim, "fault": self.fault,
                           "config": self.config, "checks": [asdict(c) for c in self.checks]},
                          indent=2)


# -- storage -----------------------------------------------------------------------------------


def min_free_bytes(conf: dict[str, dict[str, Any]]) -> int:
    """Two segments at the configured bitrate (at least 64 MiB): room to finish a recording."""
    seg = conf["recording"]["segment_seconds"] * conf["camera"]["bitrate"] / 8
    return max(MIN_FREE_FLOOR, int(2 * seg))


def human(n: int) -> str:
    """Bytes for a person: ``1.5 GiB``."""
    if n < 1024:
        return f"{n} bytes"
    size, unit = n / 1024, "KiB"
    for bigger in ("MiB", "GiB"):
        if size < 1024:
            break
        size, unit = size / 1024, bigger
    return f"{size:.1f} {unit}"


def may_access(mode: int, owner: int, group: int, uid: int, gids: set[int], want: int) -> bool:
    """Whether a user (uid, gids) has the ``want`` bits (4 read, 2 write, 1 exec) by mode."""
    if uid == 0:
        return True
    if owner == uid:
        bits = (mode >> 6) & 7
    elif group in gids:
        bits = (mode >> 3) & 7
    else:
        bits = mode & 7
    return bits & want == want


def _service_user_lacks(path: Path, want: int) -> str | None:
    """If we are root on a device with the service user: why that user cannot use ``path``."""
    if os.geteuid() != 0:
        return None
    try:
        user = pwd.getpwnam(SERVICE_USER)
    except KeyError:
        return None
    gids = {user.pw_gid} | {g.gr_gid for g in grp.getgrall() if SERVICE_USER in g.gr_mem}
    st = path.stat()
    if may_access(st.st_mode, st.st_uid, st.st_gid, user.pw_uid, gids, want):
        return None
    what = {4: "read", 3: "write in", 1: "enter"}.get(want, "use")
    return (f"the service user '{SERVICE_USER}' cannot {what} {path} "
            f"(owner {st.st_uid}:{st.st_gid}, mode {stat.filemode(st.st_mode)})")


def check_storage(data_dir: Path, conf: dict[str, dict[str, Any]], *, device: bool) -> Check:
    """Write, fsync and remove a probe file in the data directory; enough room left?"""
    need = min_free_bytes(conf)
    if not data_dir.is_dir():
        return failed("storage", f"{data_dir}: no such directory",
                      "run deploy.sh (it creates /var/lib/bodycam) or pass --data-dir")
    probe = data_dir / f".doctor-{os.getpid()}.probe"
    created, free = False, None
    try:
        st = os.statvfs(data_dir)
        free = st.f_bavail * st.f_frsize
        fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        created = True
        try:
            view = memoryview(os.urandom(PROBE_BYTES))
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.unlink(probe)
        created = False
        fsync_dir(data_dir)
    except OSError as e:
        if created:
            try:
                os.unlink(probe)
            except OSError:
                pass
        reason = e.strerror or str(e)
        if e.errno == errno.ENOSPC:
            left = "" if free is None else f"; {human(free)} free"
            return failed("storage", f"{data_dir}: full ({reason}{left})",
                          "offload the evidence at the dock; never delete evidence by hand")
        if e.errno == errno.EROFS:
            return failed("storage", f"{data_dir}: not writable ({reason})",
                          "the card went read-only (file system errors): check 'dmesg', run fsck "
                          "or replace the card")
        if e.errno in (errno.EACCES, errno.EPERM):
            return failed("storage", f"{data_dir}: not writable ({reason})",
                          f"run the doctor as root or as '{SERVICE_USER}'; deploy.sh sets the owner")
        return failed("storage", f"{data_dir}: writing a probe failed ({reason})",
                      "check 'dmesg' for I/O errors; replace the card if they repeat")
    if free < need:
        return failed("storage", f"{data_dir}: only {human(free)} free, need {human(need)} "
                      "(two segments at the configured bitrate)",
                      "offload the evidence at the dock; never delete evidence by hand")
    if device:
        problem = _service_user_lacks(data_dir, 3)
        if problem:
            return failed("storage", problem, f"chown -R {SERVICE_USER}: {data_dir} (deploy.sh does)")
    return passed("storage", f"{data_dir}: writable (probe written, fsync'd, removed); "
                  f"{human(free)} free")


# -- keys, clock, service ----------------------------------------------------------------------


def check_identity(identity_dir: Path, *, device: bool) -> Check:
    """The device identity loads (``evidence.keys.load_identity``): the daemon may record."""
    from evidence import keys
    from evidence.errors import KeyFileError
    from evidence.primitives import key_id, x25519_raw

    try:
        ident = keys.load_identity(identity_dir)
    except KeyFileError as e:
        return failed("identity", e.message,
                      "provision the device: deploy.sh --device-id ID --custodian-pub FILE")
    if device:
        problem = (_service_user_lacks(identity_dir, 1)
                   or _service_user_lacks(identity_dir / keys.DEVICE_KEY, 4))
        if problem:
            return failed("identity", problem, "run deploy.sh again (it sets root:bodycam 0640)")
    kid = key_id(x25519_raw(ident.custodian_public_key))
    return passed("identity", f"device {ident.device_id} in {identity_dir}; "
                  f"custodian key {kid[:16]}")


def check_clock(clock: Any) -> Check:
    """Where wall time comes from: footage needs a trustworthy time stamp."""
    source = clock.source()
    now = datetime.fromtimestamp(clock.time(), UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    if source == "unsynced":
        return failed("clock", f"unsynced ({now}): recordings would carry an untrusted time",
                      "connect the device to a network with NTP, or fit an RTC battery")
    return passed("clock", f"{source} ({now})")


def check_service(sim: bool) -> tuple[Check, bool]:
    """(line, whether the service is running and so holds the camera and lines)."""
    if sim:
        return passed("service", "skipped (simulation)"), False
    systemctl = shutil.which("systemctl")
    if systemctl is None:
        return failed("service", "cannot check: systemctl not found",
                      "the device runs the service under systemd; install with deploy.sh"), False

    def ask(verb: str) -> tuple[str, str]:
        try:
            out = subprocess.run([systemctl, verb, SERVICE], capture_output=True, text=True,
                                 timeout=10, check=False)
        except (OSError, subprocess.SubprocessError) as e:
            return "", str(e)
        first = (out.stdout.strip().splitlines() or [""])[0]
        return first, " ".join(out.stderr.split())

    (enabled, err), (active, _) = ask("is-enabled"), ask("is-active")
    if enabled == "not-found" or "No such file" in err:
        return failed("service", "not installed", "install with deploy.sh"), False
    if not enabled:
        return failed("service", f"cannot ask systemd ({err or 'no answer'})",
                      "is this the device? the service runs under systemd"), False
    state = f"{enabled}, {active or 'unknown'}"
    if active == "failed":
        return failed("service", state, f"see 'journalctl -u {SERVICE}'; then "
                      f"'systemctl restart {SERVICE}'"), False
    if enabled != "enabled":
        return failed("service", state, f"systemctl enable --now {SERVICE} (deploy.sh does)"), \
            active == "active"
    if active == "active":
        return passed("service", state), True
    return passed("service", f"{state} (start it again after the doctor: "
                  f"systemctl start {SERVICE})"), False


# -- hardware ----------------------------------------------------------------------------------


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
    from drivers.button import Button
    from drivers.camera import Camera
    from recorder.packet import VIDEO

    cam_conf, btn_conf = conf["camera"], conf["button"]
    packets: list[Any] = []
    changes: list[tuple[bool, float]] = []
    camera: Any = None
    button: Any = None
    cam_check: Check | None = None
    btn_check: Check | None = None
    try:
        camera = Camera(clock, packets.append, width=cam_conf["width"], height=cam_conf["height"],
                        fps=cam_conf["fps"], bitrate=cam_conf["bitrate"],
                        gop_seconds=cam_conf["gop_seconds"],
                        lores=(cam_conf["lores_width"], cam_conf["lores_height"]))
    except Exception as e:  # no camera, busy, missing library: report it, do not crash
        cam_check = failed("camera", f"cannot open the camera ({_error(e)})",
                           _hint(e, "check the ribbon cable and camera_auto_detect=1; "
                                 "'rpicam-hello --list-cameras' lists what the system sees"))
    pin, low = btn_conf["pin"], btn_conf["active_low"]
    wiring = f"BCM {pin} ({'active low, pull-up' if low else 'active high, pull-down'})"
    try:
        button = Button(pin, clock, lambda down, t: changes.append((down, t)), active_low=low,
                        debounce_ms=btn_conf["debounce_ms"])
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
    from .daemon import cue_pins as daemon_cue_pins

    return {f"{name}_pin": pin for name, pin in daemon_cue_pins(conf["cues"]).items()
            if pin is not None}


def check_cues(conf: dict[str, dict[str, Any]]) -> Check:
    """Each cue line (LED, vibration, buzzer) is driven high and low and read back."""
    pins = cue_pins(conf)
    if not pins:
        return passed("cues", "no cue lines in the configuration")
    try:
        import RPi.GPIO as GPIO
    except ImportError as e:
        return failed("cues", f"cannot drive the lines ({_error(e)})", _hint(e, ""))

    results, bad = [], []
    try:
        GPIO.setwarnings(False)
        if GPIO.getmode() is None:
            GPIO.setmode(GPIO.BCM)
        for name, pin in pins.items():
            try:
                GPIO.setup(pin, GPIO.OUT, initial=GPIO.LOW)
                levels = []
                for level in (GPIO.HIGH, GPIO.LOW):
                    GPIO.output(pin, level)
                    levels.append(GPIO.input(pin) == level)
                (results if all(levels) else bad).append(f"{name} BCM {pin}")
            except Exception as e:
                bad.append(f"{name} BCM {pin} ({_error(e)})")
    finally:
        _cleanup_pins(list(pins.values()))
    if bad:
        return failed("cues", f"do not follow their output: {', '.join(bad)}",
                      "a short or a wrong pin number; check the wiring and [cues]")
    return passed("cues", f"driven high and low and read back: {', '.join(results)}")


def panel_settings(conf: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """``Panel.from_config`` keyword arguments: its defaults, then a ``[display]`` section's keys."""
    import inspect

    from drivers.panel import Panel

    params = inspect.signature(Panel.from_config).parameters
    settings = {name: p.default for name, p in params.items()
                if p.default is not inspect.Parameter.empty and name not in ("gpio", "spi")}
    for key, value in (conf.get("display") or {}).items():
        if key in settings:
            settings[key] = value
    return settings


def colour_bars(size: tuple[int, int]) -> Any:
    """Eight vertical colour bars, (height, width) big-endian RGB565, as a person checks a panel."""
    import numpy as np

    w, h = size
    columns = np.array(COLOUR_BARS, dtype=">u2")[np.arange(w) * len(COLOUR_BARS) // w]
    return np.ascontiguousarray(np.broadcast_to(columns, (h, w)))


def _rgb888(rgb565: Any) -> Any:
    import numpy as np

    v = rgb565.astype(np.uint16)
    r, g, b = (v >> 11) & 0x1F, (v >> 5) & 0x3F, v & 0x1F
    return np.stack([(r << 3) | (r >> 2), (g << 2) | (g >> 4), (b << 3) | (b >> 2)], -1).astype(
        np.uint8)


def check_panel(conf: dict[str, dict[str, Any]], world: Any | None,
                keep_open: Callable[[Any], None]) -> Check:
    """The panel initialises and takes a frame of colour bars (it stays up until the end)."""
    if (conf.get("display") or {}).get("enabled") is False:
        return passed("panel", "disabled in the configuration")
    try:
        from drivers.panel import Panel

        settings = panel_settings(conf)
    except ImportError as e:
        return failed("panel", f"the panel driver cannot be loaded ({_error(e)})",
                      "install the firmware with deploy.sh (luma.lcd, spidev)")
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
        panel = Panel.from_config(**settings)
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

        glass, want = sim_panel.glass(), _rgb888(bars)
        if not sim_panel.lit or not any(
                glass.shape == r.shape and np.array_equal(glass, r)
                for r in (np.rot90(want, k) for k in range(4))):
            return failed("panel", f"{what}, but the glass does not show them",
                          "the panel driver's command stream is wrong")
        return passed("panel", f"{what}; the simulated glass shows them")
    return passed("panel", f"{what}: look at the panel (an unplugged panel cannot be "
                  "detected on a write-only bus)")


def _close_all(devices: list[Any]) -> None:
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
            for name in ("panel", "camera", "button", "cues")]


# -- assembly ----------------------------------------------------------------------------------


@contextmanager
def _simulation(conf: dict[str, dict[str, Any]], fault: str | None) -> Iterator[Any]:
    """The simulated device ``bodycam run --sim`` uses, with the fault injected."""
    from .run import simulated_device

    with simulated_device(conf, fast=True) as world:
        if fault == "clock_unsynced":
            world.clock.set_source("unsynced")
        elif fault == "camera_stall":  # the sensor delivers nothing from now on
            world.stall_camera(CAMERA_SECONDS * 10, at=world.clock.monotonic())
        elif fault == "storage_full":
            world.inject_fault("storage_full", free_bytes=0)
        elif fault == "storage_readonly":
            world.inject_fault("storage_readonly")
        yield world


def _effective_args(args: argparse.Namespace) -> argparse.Namespace:
    """On the device, without --config, read the file the service runs with (if there is one)."""
    out = argparse.Namespace(**vars(args))
    if not args.sim and args.config is None and DEVICE_CONFIG.is_file():
        out.config = DEVICE_CONFIG
    return out


def diagnose(args: argparse.Namespace) -> Report:
    """Run every check; raises :class:`BodycamError` for usage or configuration errors."""
    from .run import load_config

    sim, fault = bool(args.sim), getattr(args, "fault", None)
    if fault is not None and not sim:
        raise BodycamError("a fault can only be injected with --sim; add --sim to test the "
                           "simulated device")
    if fault is not None and fault not in FAULTS:
        raise BodycamError(f"unknown fault {fault!r}; use one of {', '.join(FAULTS)}")
    args = _effective_args(args)
    conf = load_config(args)
    checks = [passed("config", str(args.config) if args.config else "defaults (no --config)")]
    data_dir = Path(conf["storage"]["data_dir"])
    identity_dir = Path(conf["identity"]["dir"])
    with ExitStack() as stack:
        service, busy = check_service(sim)
        world = stack.enter_context(_simulation(conf, fault)) if sim else None
        if world is not None:
            clock: Any = world.clock
            if fault == "no_identity":  # a directory that really holds no identity
                identity_dir = Path(stack.enter_context(tempfile.TemporaryDirectory())) / "identity"
        else:
            from drivers.clock import SystemClock

            clock = SystemClock()
        checks.append(check_clock(clock))
        checks.append(check_identity(identity_dir, device=not sim))
        checks.append(check_storage(data_dir, conf, device=not sim))
        if busy:
            checks.extend(hardware_busy())
        else:
            panels: list[Any] = []
            # Closed after the other checks: the colour bars stay up meanwhile.
            stack.callback(_close_all, panels)
            checks.append(check_panel(conf, world, panels.append))
            checks.extend(check_camera_and_button(conf, clock, world))
            checks.append(check_cues(conf))
        checks.append(service)
    return Report(checks, sim, fault, str(args.config) if args.config else None)


def main(args: argparse.Namespace) -> int:
    """``bodycam doctor``: print the checklist; 0 all pass, 1 a check failed, 2 usage/config."""
    try:
        report = diagnose(args)
    except BodycamError as e:
        print(f"bodycam: {e.message}", file=sys.stderr)
        return 2
    print(report.to_json() if args.json else "\n".join(report.text_lines()))
    return report.exit_code
