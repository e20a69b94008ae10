"""The daemon's life cycle: start, housekeeping tick, reload, shutdown.

A mixin of :class:`firmware.daemon.Daemon` (which keeps the state machine): what
has to happen around the recording whatever state it is in. Opening the parts
is ``firmware.assembly``'s; the order here is what matters: the evidence writer
drains before the audit log's last entries, the display stops before the panel
goes dark, the watchdog is pinged from the loop itself.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from dataclasses import replace
from typing import Any

from display import Alert, DisplayState
from drivers.button import Button
from drivers.camera import Camera
from drivers.clock import Clock, Timer
from recorder.io_worker import IoWorker
from recorder.packet import Packet
from recorder.ringbuffer import PreRecordBuffer

from . import assembly
from .audit_queue import QueuedAudit
from .camera_watch import CameraWatch
from .cues import Cues
from .events import DaemonEvents
from .front_display import FrontDisplay
from .recording import Recording, Store
from .settings import Settings
from .sound import Sound
from .storage_supervisor import StorageSupervisor
from .timebase import FrameTimes, Timebase
from .watchdog import Notifier

log = logging.getLogger("bodycam")

HOUSEKEEPING_S = 0.25
#: The front panel comes up after the first packet is in the pre-record buffer, or
#: this long after the camera started if none came (it then shows the camera fault).
DISPLAY_AFTER_S = 1.0
Conf = dict[str, dict[str, Any]]


class LifeCycle(ABC):
    """Start, tick, reload and shutdown of the daemon (see the module docstring)."""

    conf: Conf
    settings: Settings
    clock: Clock
    worker: IoWorker
    audit: QueuedAudit
    key_problem: str | None
    prerecord_mode: str
    buffer: PreRecordBuffer
    storage: StorageSupervisor
    watch: CameraWatch
    timebase: Timebase
    notifier: Notifier
    recording: Recording | None
    store: Store | None
    camera: Camera | None
    button: Button | None
    cues: Cues | None
    display: FrontDisplay | None
    sound: Sound
    events: DaemonEvents
    started_at: float
    _housekeeping: Timer | None
    _reload: Conf | None
    _terminate: bool
    _stopped: bool
    _next_ping: float
    _display_timer: Timer | None

    @abstractmethod
    def on_packet(self, pkt: Packet) -> None: ...

    @abstractmethod
    def _button_changed(self, pressed: bool, t: float) -> None: ...

    @abstractmethod
    def display_state(self) -> DisplayState: ...

    @abstractmethod
    def stop_recording(self, why: str) -> None: ...

    @abstractmethod
    def _alert(self, code: Alert, on: bool) -> None: ...

    @abstractmethod
    def _audit(self, event: str, **fields: Any) -> None: ...

    def start(self, *, hardware: bool = True) -> None:
        """Start the camera and the button, and begin pre-recording. Without ``hardware``
        nothing is opened and packets come from the caller (the benchmarks)."""
        cam = self.conf["camera"]
        self.started_at = self.clock.monotonic()
        self._audit("boot", prerecord=self.prerecord_mode, seconds=self.buffer.seconds,
                    **key_store_note(self.store))
        self.storage.start()
        if self.key_problem:
            self._alert(Alert.KEY_MISSING, True)
            log.error("%s", self.key_problem)
            self._audit("key_missing", problem=self.key_problem)
        self._housekeeping = self.clock.call_later(HOUSEKEEPING_S, self._tick)
        if not hardware:
            return
        try:
            device = self.store.identity.device_id if self.store is not None else ""
            stamp = assembly.watermark(self.conf, FrameTimes(self.timebase), device)
            self.camera = assembly.open_camera(self.conf, self.clock, self.on_packet, stamp)
            if stamp is not None:  # fonts and glyphs now, not on the camera thread's first frame
                stamp.prepare(self.camera.size)
            self.cues = assembly.open_cues(self.conf, self.clock, self.audit, self.events.cue)
            self.button = assembly.open_button(self.conf, self.clock, self._button_changed)
            self.camera.start()
        except Exception as e:  # the hardware libraries' own errors: no camera, no GPIO
            self.worker.close()  # what was queued (the boot entry) is written before we go
            raise assembly.hardware_error(e) from None
        self.watch.started(self.camera)
        self.sound.start(self.on_packet)  # a missing microphone is an alert, never a stop
        log.info("standby: camera %s %dx%d@%d, pre-record %s (%g s)", self.camera.model,
                 cam["width"], cam["height"], cam["fps"], self.prerecord_mode, self.buffer.seconds)
        self.notifier.ready(f"standby, pre-record {self.prerecord_mode}")
        # Ready once the camera runs. The panel (luma, SPI, its first frame: a few hundred
        # ms on the loop) comes up once the first packet is in the pre-record buffer
        # (display_due, from on_packet), or after DISPLAY_AFTER_S without one.
        self._display_timer = self.clock.call_later(DISPLAY_AFTER_S, self._start_display)

    def display_due(self) -> None:
        """The first packet is buffered: bring the panel up next on the loop."""
        timer, self._display_timer = self._display_timer, None
        if timer is not None:
            timer.cancel()
            self.clock.call_soon_threadsafe(self._start_display)

    def _start_display(self) -> None:
        """Open the front panel; without one the camera records all the same."""
        self._display_timer = None
        if not self.conf["display"]["enabled"] or self.camera is None or self._stopped \
                or self.display is not None:
            return
        try:
            self.display = assembly.open_front_display(self.conf, self.camera, self.display_state,
                                                       self.clock)
        except Exception as e:  # a missing or broken panel: whatever its libraries raise
            log.error("front display unavailable (%s); recording is not affected", e)
            self._audit("display_unavailable", error=str(e))
            return
        self.display.start()

    def request_reload(self, conf: Conf) -> None:
        """New configuration (SIGHUP); applied on the loop. Only the pre-record length
        changes while running; everything else takes effect at the next start."""
        self._reload = conf

    def _apply_reload(self, conf: Conf) -> None:
        seconds = conf["prerecord"]["seconds"]
        changed = {f"{sec}.{key}": value for sec, keys in conf.items() for key, value in keys.items()
                   if self.conf[sec][key] != value}
        self.conf["prerecord"]["seconds"] = seconds
        self.settings = replace(self.settings,
                                prerecord=replace(self.settings.prerecord, seconds=seconds))
        self.buffer.seconds = seconds
        later = sorted(k for k in changed if k != "prerecord.seconds")
        log.info("configuration reloaded: pre-record %g s%s", seconds,
                 f"; at the next start: {', '.join(later)}" if later else "")
        self._audit("config", prerecord_seconds=seconds, changed=sorted(changed), pending=later)

    def request_stop(self) -> None:
        """Ask for a clean shutdown; safe from a signal handler (only sets a flag)."""
        self._terminate = True

    def shutdown(self) -> None:
        """Close any recording, stop the camera, drop the pre-record buffer, drain the writer."""
        if self._stopped:
            return
        self._stopped = True
        self.notifier.stopping()
        if self.recording is not None:  # recording, or suspended with footage in RAM
            self.stop_recording("shutdown")
        if self._housekeeping is not None:
            self._housekeeping.cancel()
        if self._display_timer is not None:
            self._display_timer.cancel()
        self.storage.cancel()
        for part in (self.display, self.sound, self.camera, self.button, self.cues):
            if part is None:
                continue
            try:  # one part failing to close must not keep the others (or the log) open
                if isinstance(part, FrontDisplay):
                    part.stop()
                else:
                    part.close()
            except Exception as e:  # whatever the hardware library raises
                log.error("closing %s failed: %s", type(part).__name__, e)
        self.buffer.clear()
        self.worker.wait_idle()
        self.worker.deliver()  # the recording's close is reported before the last entries
        self._audit("shutdown")
        self.audit.checkpoint()
        self.worker.close()
        self.notifier.close()
        log.info("shut down cleanly")
        self.clock.stop()

    def _tick(self) -> None:
        if self._terminate:
            self.shutdown()
            return
        if self._reload is not None:
            conf, self._reload = self._reload, None
            self._apply_reload(conf)
        now = self.clock.monotonic()
        if self.notifier.interval is not None and now >= self._next_ping:
            # From the loop itself: a loop that hangs stops the pings, and systemd restarts us.
            self.notifier.ping()
            self._next_ping = now + self.notifier.interval
        sensor_now = self.timebase.sensor_us(now)
        if self.recording is not None and sensor_now is not None:
            self.recording.flush_due(sensor_now)
        self.watch.tick(now)
        self.storage.tick(now)
        self.timebase.check()
        self._housekeeping = self.clock.call_later(HOUSEKEEPING_S, self._tick)


def key_store_note(store: Store | None) -> dict[str, str]:
    """What the boot audit entry says about where the device key lives."""
    from evidence.signer import FILE_KEY_WARNING, KeyStore

    if store is None:
        return {}
    ident = store.identity
    note = {"key_store": ident.key_store.value}
    if ident.key_store is KeyStore.FILE:
        note["key_warning"] = FILE_KEY_WARNING
    return note
