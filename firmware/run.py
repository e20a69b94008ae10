"""``bodycam run``: assemble the daemon on the device's hardware or the simulated one.

The two paths differ only below the drivers: with ``--sim`` the simulated
``picamera2``/``lgpio`` (under the real rpi-lgpio's ``RPi.GPIO``)/``spidev`` are
installed under their real names and the clock is the simulation's; the daemon
and drivers are the same code.
"""

from __future__ import annotations

import argparse
import logging
import math
import re
import signal
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from evidence.errors import BodycamError, KeyFileError
from office.progress import SILENT, Progress

from . import config as configmod
from .assembly import cue_pins
from .daemon import Daemon
from .events import NO_EVENTS

if TYPE_CHECKING:
    from hw_sim.run_record import RunRecord

log = logging.getLogger("bodycam")

#: Camera keys the simulation picks itself unless the config file sets them:
#: 1080p through libx264 would make a 60 s scenario take minutes on 2 cores.
SIM_CAMERA = {"width": 640, "height": 480, "lores_width": 320, "lores_height": 240}


def load_config(args: argparse.Namespace) -> dict[str, dict[str, Any]]:
    """The checked configuration with the command line's overrides applied."""
    base = configmod.defaults()
    if args.sim:
        base["camera"].update(SIM_CAMERA)
    conf = configmod.load(args.config, base) if args.config else base
    if args.data_dir:
        conf["storage"]["data_dir"] = str(args.data_dir)
    if args.identity:
        conf["identity"]["dir"] = str(args.identity)
    return conf


def _open_evidence(conf: dict[str, dict[str, Any]], clock: Any) -> tuple[Any, Any, str | None]:
    """(store, audit log, key problem). Without a usable identity there is no store:
    the daemon runs (pre-record, display) but refuses to record: fail closed."""
    from evidence import keys
    from evidence.auditlog import AuditLog
    from evidence.layout import AUDIT_LOG
    from recorder.store import EvidenceStore

    data_dir = Path(conf["storage"]["data_dir"])
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise BodycamError(f"{data_dir}: cannot create the data directory "
                           f"({e.strerror}); choose another --data-dir") from None
    identity, problem = None, None
    try:
        identity = keys.load_identity(Path(conf["identity"]["dir"]),
                                      conf["identity"].get("tpm_tcti") or None)
    except KeyFileError as e:
        problem = f"no usable device identity, recording disabled: {e.message}"
    store = None
    if identity is not None:
        store = EvidenceStore(data_dir, identity, now=clock.time, audit_clock=clock)
        audit = store.audit  # one writer for the file: the store signs its checkpoints
    else:
        audit = AuditLog(data_dir / AUDIT_LOG, None, clock=clock)
    for note in audit.notes:
        log.warning("audit log: %s", note)
    if store is not None:
        for line in store.recover():
            log.warning("recovery: %s", line)
            audit.append("recovery", detail=line)
    return store, audit, problem


def run(args: argparse.Namespace) -> dict[str, Any] | None:
    """Run the daemon until the duration ends or SIGTERM/SIGINT; returns a summary: the
    data directory, the end time and the final state; with ``--sim`` also the run's
    recordings, state changes, refusals and cue timeline (``hw_sim.run_record``)."""
    trace = getattr(args, "storage_trace", None)
    board = getattr(args, "board", None)
    if not args.sim and (args.scenario or args.fast or args.display_out or trace or board):
        raise BodycamError("--scenario, --fast, --board, --display-out and --storage-trace "
                           "need --sim; add --sim")
    if args.duration is not None and args.duration <= 0:
        raise BodycamError(f"--duration {args.duration:g}: not positive; give a positive "
                           "number of seconds")
    if args.display_out is not None:
        _check_display_out(args.display_out)
    conf = load_config(args)
    scenario = None
    if args.sim:
        from hw_sim.scenario import load_scenario

        if args.scenario:
            try:
                scenario = load_scenario(args.scenario)
            except ValueError as e:  # hw_sim.scenario.ScenarioError: one line, file:line key
                raise BodycamError(f"{e}; see docs/SIMULATION.md") from None
    duration = args.duration if args.duration is not None else (
        scenario.duration if scenario is not None else None
    )

    with ExitStack() as stack:
        board = board or (scenario.board if scenario is not None else None)
        world = (stack.enter_context(simulated_device(conf, args.fast, trace=trace,
                                                      board=board or "pi5"))
                 if args.sim else None)
        if scenario is not None and world is not None:
            # Before the evidence store opens: a power cut may be placed at any operation
            # on the medium, boot-time recovery included.
            scenario.arm_op_cuts(world)
        if world is not None:
            clock: Any = world.clock
        else:
            from drivers.clock import SystemClock

            clock = SystemClock()
        sim_panel = _attach_sim_panel(conf, world) if world is not None and args.display_out else None
        store, audit, problem = _open_evidence(conf, clock)
        stack.callback(audit.close)
        if sim_panel is not None and args.display_out is not None:
            stack.callback(_save_panel, sim_panel, args.display_out, world)
        record = _run_record() if world is not None else None
        daemon = Daemon(conf, clock, store=store, audit=audit, key_problem=problem,
                        events=record if record is not None else NO_EVENTS)
        _run_daemon(daemon, clock, world, scenario, duration, args)
    summary = {
        "data_dir": conf["storage"]["data_dir"],
        "ended_utc": datetime.fromtimestamp(clock.time(), UTC).isoformat().replace("+00:00", "Z"),
    }
    if record is not None:
        summary.update(record.summary(daemon.started_at))
    summary["final_state"] = daemon.state.public
    if (record is not None and world is not None and daemon.cues is not None
            and world.frame_origin is not None):
        from hw_sim.cue_timeline import timeline

        summary["cue_timeline"] = timeline(
            world.gpio.history,
            cue_pins(conf["cues"]),
            world.frame_origin,
            active_high=conf["cues"]["active_high"],
            labels=record.cues,
        )
    return summary


def _run_record() -> RunRecord:
    """The simulation's record of the run (imported only with ``--sim``)."""
    from hw_sim.run_record import RunRecord

    return RunRecord()


_REC_NAME = re.compile(r"^[0-9]{6}-([0-9]{8}T[0-9]{6}Z)-")


def resume_utc(data_dir: Path) -> float:
    """Where a simulated restart's wall clock starts: a whole second after the last time
    the data directory recorded (audit entries, recording names), so two recordings
    never share a start time; the fixed start of the hw_sim clock on a fresh one."""
    from hw_sim.clock import DEFAULT_START_UTC

    last = DEFAULT_START_UTC - 1.0
    stamps: list[str] = []
    try:
        with open(data_dir / "audit.log", "rb") as f:
            for line in f:
                m = _AUDIT_UTC.search(line)
                if m:
                    stamps.append(m.group(1).decode())
    except OSError:
        pass
    try:
        stamps += [m.group(1) for p in (data_dir / "recordings").iterdir()
                   if (m := _REC_NAME.match(p.name))]
    except OSError:
        pass
    for stamp in stamps:
        for fmt in ("%Y-%m-%dT%H:%M:%S.%fZ", "%Y%m%dT%H%M%SZ"):
            try:
                t = datetime.strptime(stamp, fmt).replace(tzinfo=UTC).timestamp()
            except ValueError:
                continue
            last = max(last, t)
            break
    return max(DEFAULT_START_UTC, math.floor(last) + 1.0)


_AUDIT_UTC = re.compile(rb'"utc":"([0-9T:.\-]+Z)"')


def simulated_device(conf: dict[str, dict[str, Any]], fast: bool,
                     trace: Path | None = None, board: str = "pi5") -> Any:
    """The simulated device (``hw_sim.device``): a context manager yielding its world,
    its wall clock resumed after the data directory's last recorded time.
    ``board``: pi4 or pi5."""
    from hw_sim.device import simulated_device as build

    return build(conf, fast, start_utc=resume_utc(Path(conf["storage"]["data_dir"])),
                 trace=trace, board=board)


def _save_panel(sim_panel: Any, out: Path, world: Any) -> None:
    from hw_sim.contact_sheet import SHEET, contact_sheet

    sim_panel.save(out)
    origin = world.frame_origin if world.frame_origin is not None else 0.0
    contact_sheet(list(sim_panel.frames), origin, out / SHEET)
    log.info("front panel frames written to %s (every frame with its time: %s)", out, SHEET)


#: What ``--display-out`` writes; a folder already holding any of it is refused, so
#: frames of two runs never mix.
_PANEL_FILES = ("frame_*.png", "last.png", "display.gif", "contact_sheet.png")


def _check_display_out(out: Path) -> None:
    if out.exists() and not out.is_dir():
        raise BodycamError(f"--display-out {out}: is a file; give a folder")
    earlier = sorted(p for pattern in _PANEL_FILES for p in out.glob(pattern)) if out.is_dir() else []
    if earlier:
        raise BodycamError(f"--display-out {out}: holds frames of an earlier run "
                           f"({earlier[0].name}); choose an empty folder or remove them")


def _attach_sim_panel(conf: dict[str, dict[str, Any]], world: Any) -> Any:
    """A simulated panel on the display's SPI port that keeps what the glass showed."""
    from hw_sim.panel import SimPanel

    disp = conf["display"]
    size = {"width": disp["width"], "height": disp["height"]} if disp["width"] else {}
    return SimPanel.attach(
        disp["spi_port"], disp["spi_device"], disp["kind"], **size,
        dc_pin=disp["dc_pin"], backlight_pin=disp["backlight_pin"],
        backlight_active_low=disp["backlight_active_low"],
        realtime=True, capture_interval_s=0.2, clock=world.clock.monotonic,
    )


def _run_daemon(daemon: Daemon, clock: Any, world: Any, scenario: Any, duration: float | None,
                args: argparse.Namespace) -> None:
    """Start, run the loop until shutdown (duration, signal), close cleanly."""

    def on_signal(signum: int, _frame: Any) -> None:
        log.info("signal %s: closing down", signal.Signals(signum).name)
        daemon.request_stop()

    def on_hup(_signum: int, _frame: Any) -> None:
        # Only flags are set here; the loop applies the change between callbacks.
        if args.config is None:
            log.warning("SIGHUP: no --config file to reload")
            return
        try:
            daemon.request_reload(load_config(args))
        except BodycamError as e:
            log.error("SIGHUP: configuration not reloaded: %s", e.message)
        except Exception as e:  # a pathological file must never end the daemon
            log.error("SIGHUP: configuration not reloaded: %s", " ".join(str(e).split())[:200])

    progress = SILENT
    old = {s: signal.signal(s, on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
    old[signal.SIGHUP] = signal.signal(signal.SIGHUP, on_hup)
    try:
        if scenario is not None:
            scenario.apply(world)  # the microphone's clock is set before it opens
        daemon.start()
        if scenario is not None:
            scenario.schedule(world)
        if duration is not None:
            if world is not None:  # scenario time 0 is the camera's first frame
                world.on_frame_origin(lambda origin: clock.call_at(origin + duration, daemon.shutdown))
            else:
                clock.call_later(duration, daemon.shutdown)
        if args.fast and world is not None and duration is not None:
            progress = _show_progress(world, clock, duration)
        clock.run()
        daemon.shutdown()
    finally:
        for s, h in old.items():
            signal.signal(s, h)
        progress.done()


def _show_progress(world: Any, clock: Any, duration: float) -> Progress:
    """On a terminal, one line with the scenario time, updated every virtual second;
    log lines clear it first so they stay readable."""
    progress = Progress.on_terminal()
    if not progress.active:
        return progress

    def clear_first(_record: logging.LogRecord) -> bool:
        progress.done()
        return True

    for handler in logging.getLogger().handlers:
        handler.addFilter(clear_first)

    def start(origin: float) -> None:
        def show() -> None:
            t = clock.monotonic() - origin
            progress(f"scenario {t:.0f} of {duration:.0f} s")
            if t + 1.0 < duration:
                clock.call_later(1.0, show)
        show()

    world.on_frame_origin(start)
    return progress

