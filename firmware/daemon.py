"""The device daemon: pre-record in standby, record on the start gesture, stop on hold.

The daemon owns the state machine (:class:`firmware.states.State`) and only
decides; its collaborators do the work and report back through callbacks:

- the evidence writer thread (``recorder.io_worker``) seals, signs, writes and
  fsyncs; the recording in progress is a ``recorder.session.RecordingSession``
  that holds its own not-yet-durable footage when storage fails;
- the storage supervisor (free space, reserve, back-off, probe);
- the timebase (sensor µs, monotonic, UTC, clock steps);
- the camera watch (stall and restart);
- the sound (``firmware.sound``: what of the microphone goes where).

Transitions (``why`` in the audit log and in :class:`firmware.events.DaemonEvents`)::

    STANDBY   --start gesture-->  STARTING   --begun-->  RECORDING
    RECORDING --hold-->           STOPPING   --closed-->  STANDBY
    STARTING, RECORDING --write failed-->  SUSPENDED  --storage back-->  RECORDING
    SUSPENDED --hold-->           STOPPING   (what fits of the RAM backlog is written)
    STANDBY   --storage failed--> FAULT      --storage back-->  STANDBY
    STOPPING  --close failed-->   FAULT

Every callback runs on the clock's loop, so this class holds no locks; the
display thread reads only :attr:`snapshot`, one frozen value swapped per change.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from display import Alert, DisplaySnapshot, DisplayState
from drivers.button import Button
from drivers.camera import Camera
from drivers.clock import Clock, Timer
from drivers.storage import Storage
from recorder.io_worker import IoWorker
from recorder.packet import AUDIO, VIDEO, Packet
from recorder.ringbuffer import PreRecordBuffer
from recorder.segmenter import RecordingStats

from .audit_queue import AuditLogLike, QueuedAudit, chain_pins
from .audit_room import RoomForAudit
from .camera_watch import CameraWatch
from .cues import Cues
from .display_view import snapshot
from .events import NO_EVENTS, DaemonEvents
from .front_display import FrontDisplay
from .gesture_map import Action, Controls, action_for
from .gestures import Gesture, GestureRecognizer
from .lifecycle import LifeCycle
from .recording import Recording, Store
from .settings import Settings
from .sound import Sound
from .states import State
from .storage_supervisor import Limits, StorageSupervisor
from .timebase import Timebase
from .watchdog import Notifier

log = logging.getLogger("bodycam")

Conf = dict[str, dict[str, Any]]


class Daemon(LifeCycle):
    """Wires camera, button, buffer and evidence writer together on one clock."""

    def __init__(self, conf: Conf, clock: Clock, *, store: Store | None,
                 audit: AuditLogLike, key_problem: str | None = None,
                 on_state: Callable[[State], None] | None = None,
                 notifier: Notifier | None = None, events: DaemonEvents = NO_EVENTS) -> None:
        self.conf = conf
        self.settings = Settings.of(conf)
        self.clock = clock
        self.store = store
        pre = self.settings.prerecord
        self.worker = IoWorker(clock.call_soon_threadsafe, max_bytes=pre.max_mib << 20)
        clock.track_worker(self.worker.wait_idle)
        st = self.settings.storage
        disk = Storage(Path(st.data_dir), st.reserve_mib << 20)
        # On a full card the audit log makes room from the reserve (on the writer thread).
        self.audit = QueuedAudit(self.worker, RoomForAudit(audit, disk.release_reserve),
                                 pins=lambda: chain_pins(self.store), now=clock.monotonic)
        self.key_problem = key_problem if store is None else None
        self.on_state = on_state
        self.events = events
        self.state = State.STANDBY
        self._reported = self.state.public
        self.prerecord_mode: str = pre.mode
        self.armed = self.prerecord_mode == "on"
        self.buffer = PreRecordBuffer(seconds=pre.seconds, max_bytes=pre.max_mib << 20,
                                      on_shortfall=self._buffer_shortfall)
        self.recording: Recording | None = None
        self.camera: Camera | None = None
        self.button: Button | None = None
        btn, gest = self.settings.button, self.settings.gestures
        self.controls = Controls(self.prerecord_mode, gest.start, gest.bookmark,
                                 bool(btn.stealth_hold_seconds))
        self.gestures = GestureRecognizer(
            clock, self._gesture, hold_seconds=btn.hold_seconds,
            double_press_seconds=btn.double_press_seconds,
            long_hold_seconds=btn.stealth_hold_seconds or None)
        self.cues: Cues | None = None
        self.display: FrontDisplay | None = None
        self.stealth = False
        self.timebase = Timebase(clock)
        self.timebase.on_step(self._clock_stepped)
        self.alerts: frozenset[Alert] = frozenset()
        self.sound = Sound(conf["audio"], clock, self._audit, self._alert)
        self.storage = StorageSupervisor(
            clock, disk,
            Limits(st.min_free_mib << 20, st.reserve_mib << 20, st.nearly_full_percent),
            run_io=self._run_io, on_alert=self._alert, on_back=self._storage_back,
            audit=self._audit)
        self.watch = CameraWatch(clock, self.settings.camera.stall_seconds, on_stall=self._stalled,
                                 audit=self._audit, on_alert=self._alert)
        self._recording_since: float | None = None
        self.snapshot = DisplaySnapshot(DisplayState())
        self.notifier = notifier if notifier is not None else Notifier()
        self._next_ping = 0.0
        self._terminate = False
        self._reload: Conf | None = None
        self._housekeeping: Timer | None = None
        self._display_timer: Timer | None = None
        self._stopped = False
        self.started_at = clock.monotonic()
        self._publish()

    def display_state(self) -> DisplayState:
        """What the front panel should show now (read by the display thread)."""
        return self.snapshot.at(self.clock.monotonic())

    def _publish(self) -> None:
        """Swap in a new display snapshot: one reference, so a reader sees all of it or none."""
        self.snapshot = snapshot(
            self.state, stealth=self.stealth, alerts=self.alerts,
            clock_source=self.timebase.source(), armed=self.armed,
            prerecord_mode=self.prerecord_mode, display=self.conf["display"],
            recording_since=self._recording_since)

    # -- events ----------------------------------------------------------------------------

    def on_packet(self, pkt: Packet) -> None:
        """An encoded frame from the camera, or AAC from the microphone (on the loop)."""
        if pkt.stream == AUDIO:
            self._on_audio(pkt)
            return
        self.timebase.observe(pkt.pts_us,
                              self.camera.sensor_offset_us if self.camera is not None else None)
        self.watch.packet(pkt)
        if self.recording is not None and self.state is not State.STOPPING:
            self.recording.write(pkt)
        elif self.armed and self.prerecord_mode != "off":
            self.buffer.append(pkt)
        if self._display_timer is not None:
            self.display_due()

    def _on_audio(self, pkt: Packet) -> None:
        """Sound takes the video's path; ``firmware.sound`` decides what is kept."""
        if self.recording is not None and self.state is not State.STOPPING:
            if self.sound.live(pkt):
                self.recording.write(pkt)
        elif self.sound.in_prerecord and self.armed and self.prerecord_mode != "off":
            self.buffer.append(pkt)

    def _button_changed(self, pressed: bool, t: float) -> None:
        self._audit("button", pressed=pressed, t=round(t, 4))
        if pressed:
            self.gestures.pressed(t)
        else:
            self.gestures.released(t)

    def _gesture(self, gesture: Gesture, t_down: float) -> None:
        """Act on a gesture by the table in ``firmware.gesture_map`` (docs/GESTURES.md)."""
        log.debug("gesture %s (began %.3f)", gesture, t_down)
        if gesture is not Gesture.LONG_HOLD and self._recording_since is not None \
                and t_down <= self._recording_since:
            return  # the tail of the gesture that started this recording
        action = action_for(gesture, self.state, self.armed, self.controls)
        if action is Action.STEALTH:
            self._set_stealth(not self.stealth)
        elif action in (Action.ARM, Action.DISARM):
            self._arm(action is Action.ARM)
        elif action is Action.START:
            self.start_recording(t_down)
        elif action is Action.STOP:
            self.stop_recording("hold")
        elif action is Action.BOOKMARK:
            self._bookmark(t_down)

    # -- actions ---------------------------------------------------------------------------

    def start_recording(self, t_trigger: float) -> None:
        """Start a recording whose pre-roll is measured back from ``t_trigger``."""
        if self.store is None:
            self.events.refused()
            msg = self.key_problem or "no evidence store"
            log.error("recording refused: %s", msg)
            self._audit("record_refused", reason=msg)
            self._cue_fault("no_key")
            return
        try:
            free = self.storage.free_bytes()
        except OSError as e:  # the data directory is gone or unreadable
            self._storage_failed(e, full=False, freed=0)
            return
        if free < self.storage.limits.min_free:
            self.events.refused()
            self.storage.alert(Alert.STORAGE_FULL, True)
            log.error("recording refused: storage full (%d MiB free); offload the camera", free >> 20)
            self._audit("record_refused", reason="storage full", free_bytes=free)
            self._cue_fault("storage_full")
            return
        trigger_us = self.timebase.sensor_us(t_trigger)
        preroll = self.buffer.take(trigger_us) if trigger_us is not None else []
        first_us = preroll[0].pts_us if preroll else trigger_us
        utc_start = (self.timebase.utc_of_sensor_us(first_us) if first_us is not None
                     else self.clock.time())
        self.recording = Recording(self.settings, self.store, self.storage.storage, self.worker,
                                   on_fault=self._recording_fault, audit=self._audit)
        self.recording.press_pts_us = trigger_us
        self.recording.last_pts_us = next(
            (p.pts_us for p in reversed(preroll) if p.stream == VIDEO), None)
        self.sound.recording_started(self.recording, trigger_us, first_us)
        self._recording_since = self.clock.monotonic()
        self._set_state(State.STARTING, "start gesture", report=False)
        if self.cues is not None:
            self.cues.recording_started()
        # The clock source is read on the writer thread: on the device it asks systemd
        # (timedatectl, about 10 ms), which the loop must not wait for.
        self.recording.begin(preroll, utc_start=utc_start, clock_source=self.clock.source,
                             start_pts_us=first_us if first_us is not None else 0,
                             on_done=self._begun)

    def _begun(self, rec: Recording) -> None:
        """The writer began the recording and made its pre-roll durable."""
        if rec is self.recording and self.state is State.STARTING:
            self._announce(rec, f"recording {rec.recording_id}")

    def _announce(self, rec: Recording, why: str) -> None:
        rec.announced = True
        self._set_state(State.RECORDING, why)
        self.storage.recovered()  # a start that worked proves storage works
        log.info("recording %s: pre-roll %.2f s (%d packets) durable", rec.recording_id,
                 rec.preroll_s, rec.preroll_packets)
        # Sensor times of the press and of now let a report place later entries on the
        # recording's timeline.
        self._audit("recording_started", recording=rec.recording_id,
                    preroll_s=round(rec.preroll_s, 3), press_pts_us=rec.press_pts_us,
                    now_pts_us=self.timebase.sensor_us(self.clock.monotonic()))
        self.audit.checkpoint()

    def stop_recording(self, why: str) -> None:
        """Close the segment in progress and sign the recording's manifest."""
        rec = self.recording
        if rec is None or self.state is State.STOPPING:
            return
        self._set_state(State.STOPPING, why)
        if self.cues is not None:
            self.cues.recording_stopped()
        self.sound.recording_stopping(rec.last_pts_us)
        rec.close(on_done=self._closed)

    def _closed(self, rec: Recording, stats: RecordingStats, error: OSError | None,
                dropped: tuple[float, int] | None) -> None:
        if self.recording is rec:
            self.recording = None
            self._recording_since = None
        if rec.recording_id is None:  # storage never let it begin: nothing on storage to close
            lost_s, from_us = dropped if dropped is not None else (0.0, None)
            log.error("the recording could not begin before it was stopped; the %.1f s held in "
                      "RAM are lost", lost_s)
            self._audit("held_footage_dropped", seconds=round(lost_s, 3), from_pts_us=from_us)
            self._settle(State.FAULT if self.storage.down else State.STANDBY, "recording not begun")
            return
        rid = rec.recording_id
        if dropped is not None:
            lost_s, from_us = dropped
            log.error("storage full: the last %.1f s held in RAM do not fit; the recording "
                      "is closed without them", lost_s)
            self._audit("held_footage_dropped", seconds=round(lost_s, 3), from_pts_us=from_us,
                        recording=rid)
        if error is not None:
            # The manifest could not be signed onto storage: the segments stay as a
            # power cut leaves them, and recovery at the next boot closes the recording.
            log.error("recording %s could not be closed (%s); it is recovered at the next boot",
                      rid, error)
            self._audit("recording_unclosed", recording=rid, error=str(error))
            self.events.recorded(rid, stats)
            if self.recording is None:
                self._storage_failed(error, full=False, freed=0)
            else:
                self.storage.failed(error, full=False, freed=0)
            return
        self.storage.recovered()
        self.events.recorded(rid, stats)
        log.info("recording %s closed: %d frames in %d segment(s)", rid, stats.frames,
                 stats.segments)
        self._audit("recording_stopped", recording=rid, frames=stats.frames,
                    segments=stats.segments)
        self.audit.checkpoint()
        self._settle(State.STANDBY, "recording closed")

    def _settle(self, new: State, why: str) -> None:
        """After a close: to ``new``, unless a press during the close began the next one."""
        if self.recording is None:
            self._set_state(new, why)

    def _bookmark(self, t: float) -> None:
        pts = self.timebase.sensor_us(t)
        if self.recording is None or pts is None:
            return
        utc = self.timebase.utc_of_sensor_us(pts)
        self.recording.bookmark(pts, utc)
        if self.cues is not None:
            self.cues.bookmark()
        log.info("bookmark at %s", datetime.fromtimestamp(utc, UTC).isoformat())
        self._audit("bookmark", recording=self.recording.recording_id, pts_us=pts)

    def _arm(self, on: bool) -> None:
        self.armed = on
        if not on:
            self.buffer.clear()
        if self.cues is not None:
            self.cues.armed(on)
        log.info("pre-record %s", "armed" if on else "disarmed; buffer discarded")
        self._audit("prerecord_armed" if on else "prerecord_disarmed")
        self._publish()

    # -- storage ---------------------------------------------------------------------------

    def _recording_fault(self, rec: Recording, error: OSError, full: bool, freed: int) -> None:
        """The writer thread found storage failing under ``rec``; it holds the footage now."""
        self._storage_failed(error, full=full, freed=freed)
        if rec is self.recording and self.state in (State.STARTING, State.RECORDING):
            if self.cues is not None:
                self.cues.fault("storage")
            what = "full" if full else "error"
            self._set_state(State.SUSPENDED, f"storage {what}: recording held in RAM")

    def _storage_failed(self, error: OSError, *, full: bool, freed: int) -> None:
        self.storage.failed(error, full=full, freed=freed)
        if self.recording is None and self.state is not State.FAULT:
            self._recording_since = None
            if self.cues is not None:
                self.cues.fault("storage")
            self._set_state(State.FAULT, f"storage {'full' if full else 'error'}")

    def _storage_back(self) -> None:
        """The supervisor's probe passed: resume a held recording, or leave the fault."""
        rec = self.recording
        if rec is None:
            self.storage.recovered()
            if self.state is State.FAULT:
                self._set_state(State.STANDBY, "storage back")
            return
        rec.resume(on_done=self._resumed)

    def _resumed(self, rec: Recording, error: OSError | None) -> None:
        if error is not None:
            self.storage.still_failing(error)
            return
        self.storage.recovered()
        if rec is self.recording and self.state is State.SUSPENDED:
            if rec.announced:
                self._set_state(State.RECORDING, "storage back: recording resumed")
            else:  # storage let it begin (or take its pre-roll) only now
                self._announce(rec, f"recording {rec.recording_id}")

    def _run_io(self, job: Callable[[], Any], on_done: Callable[[Any], None]) -> None:
        if not self.worker.submit(job, on_done=on_done):
            log.error("evidence writer queue full: %s not run", getattr(job, "__name__", job))

    # -- housekeeping ----------------------------------------------------------------------

    def _stalled(self) -> None:
        """The camera watch saw no frames: the recording's segment is closed, a gap follows."""
        if self.cues is not None:
            self.cues.fault("camera_stall")
        if self.recording is not None:
            self.recording.interrupt("camera stall")

    def _clock_stepped(self, step: float, source: str) -> None:
        """Timestamps come from the sensor, so a step never moves them; only UTC labels change."""
        log.warning("wall clock stepped by %+.3f s; clock source now %s", step, source)
        self._audit("clock_step", step_s=round(step, 3), source=source)
        self._publish()

    def _set_state(self, new: State, why: str, *, report: bool = True) -> None:
        """Change state; ``report`` it (events, journal, systemd, audit log) from the
        last reported one, unless it is a step the officer cannot tell apart (STARTING)."""
        self.state = new
        if report:
            old, self._reported = self._reported, new.public
            self.events.transition(self.clock.monotonic(), old, new.public, why)
            log.info("state %s -> %s (%s)", old, new.public, why)
            self.notifier.status(f"{new.public}: {why}")
            self._audit("state", old=old, new=new.public, why=why)
        self._publish()
        if self.on_state is not None:
            self.on_state(new)

    def _alert(self, code: Alert, on: bool) -> None:
        self.alerts = self.alerts | {code} if on else self.alerts - {code}
        self._publish()

    def _audit(self, event: str, **fields: Any) -> None:
        """Queue an audit entry; a failing medium must not take the daemon down."""
        self.audit.append(event, **fields)  # with a signed checkpoint once a minute

    def _cue_fault(self, kind: str) -> None:
        if self.cues is not None:
            self.cues.fault(kind)

    def _set_stealth(self, on: bool) -> None:
        """Stealth: every cue and light off, the display dark; recording unaffected."""
        self.stealth = on
        log.info("stealth %s", "on" if on else "off")
        if self.cues is not None:
            self.cues.set_stealth(on)  # audit-logs the change itself
        else:
            self._audit("stealth", on=on)
        self._publish()
        if self.on_state is not None:
            self.on_state(self.state)

    def _buffer_shortfall(self, covered: float, wanted: float) -> None:
        self._audit("prerecord_shortfall", covered_s=round(covered, 2), wanted_s=wanted)

