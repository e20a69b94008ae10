"""The device daemon: pre-record in standby, record on the start gesture, stop on hold.

States:

- ``standby``: the camera runs; the pre-record buffer (RAM only) holds the
  last N seconds when pre-record is on (or armed).
- ``recording``: the pre-roll has been written; every packet goes straight to
  the segment writer, which seals and fsyncs as it goes.
- ``stopping``: the segment in progress is being closed and the manifest signed.
- ``fault``: storage failed under a recording; the camera keeps running and
  pre-record with it, and the officer can try again.

Every callback runs on the clock's loop, so this class holds no locks.
Every transition is logged to stderr and written to the audit log.
"""

from __future__ import annotations

import errno
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from display import DisplayState
from display.watermark import FrameStamp, Position
from drivers.button import Button
from drivers.camera import Camera
from drivers.clock import Clock, Timer
from drivers.cue_lines import CueLines
from drivers.panel import Panel
from drivers.storage import Storage
from evidence.errors import BodycamError
from recorder.packet import Packet
from recorder.ringbuffer import MAX_SECONDS as MAX_PREROLL_SECONDS
from recorder.ringbuffer import PreRecordBuffer
from recorder.segmenter import RecordingStats, RecordingWriter

from .audit_room import RoomForAudit
from .cues import Cues
from .front_display import FrontDisplay
from .gestures import GestureRecognizer
from .watchdog import Notifier

log = logging.getLogger("bodycam")

STANDBY, RECORDING, STOPPING, FAULT = "standby", "recording", "stopping", "fault"
HOUSEKEEPING_S = 0.25
#: A wall-clock jump at least this large between two ticks is a clock step.
CLOCK_STEP_S = 1.0
#: Room kept free when closing a recording on a full medium: final chunk, trailer,
#: manifest, audit entries and checkpoint.
CLOSE_MARGIN = 512 * 1024
#: How often free space is read.
STORAGE_CHECK_S = 5.0
#: Retrying failed storage: first after this long, doubling up to the maximum.
RETRY_FIRST_S, RETRY_MAX_S = 1.0, 30.0
_FULL = (errno.ENOSPC, errno.EDQUOT)
#: The manifest's gap reason for footage held in RAM that did not fit at a stop on a
#: full card (office/report_model.py knows it by its start).
DROPPED_REASON = "held in RAM, dropped: the card was full at the stop"


@dataclass
class Summary:
    """What a run of the daemon produced (printed by ``bodycam run``)."""

    recordings: list[tuple[str, RecordingStats]]
    refused: int
    transitions: list[tuple[float, str, str, str]]


class Daemon:
    """Wires camera, button, buffer and evidence writer together on one clock."""

    def __init__(
        self,
        conf: dict[str, dict[str, Any]],
        clock: Clock,
        *,
        store: Any | None,
        audit: Any,
        key_problem: str | None = None,
        on_state: Callable[[str], None] | None = None,
        notifier: Notifier | None = None,
    ) -> None:
        self.conf = conf
        self.clock = clock
        self.store = store
        self.audit = audit
        self.key_problem = key_problem if store is None else None
        self.on_state = on_state
        self.state = STANDBY
        pre = conf["prerecord"]
        self.prerecord_mode: str = pre["mode"]
        self.armed = self.prerecord_mode == "on"
        self.buffer = PreRecordBuffer(
            seconds=pre["seconds"],
            max_bytes=pre["max_mib"] * 1024 * 1024,
            on_shortfall=self._buffer_shortfall,
        )
        self.writer: RecordingWriter | None = None
        self.camera: Camera | None = None
        self.button: Button | None = None
        self.gestures = GestureRecognizer(
            clock,
            self._gesture,
            hold_seconds=conf["button"]["hold_seconds"],
            double_press_seconds=conf["button"]["double_press_seconds"],
            long_hold_seconds=conf["button"]["stealth_hold_seconds"] or None,
        )
        self.cues: Cues | None = None
        self.display: FrontDisplay | None = None
        self.stealth = False
        self.clock_source = clock.source()
        self._wall_offset = clock.time() - clock.monotonic()
        self._pts_offset_us: int | None = None  # monotonic µs minus sensor µs
        self._last_packet_at: float | None = None
        self._stalled_since: float | None = None
        #: What the front display and doctor show: storage_low, storage_full,
        #: camera_fault, clock_unsynced, key_missing.
        self.alerts: frozenset[str] = frozenset()  # replaced, never mutated: the display reads it
        self._recording_since: float | None = None
        self.storage = Storage(Path(conf["storage"]["data_dir"]), conf["storage"]["reserve_mib"] << 20)
        self.audit = RoomForAudit(audit, self.storage.release_reserve)
        self._suspended = False  # a recording waits in RAM for storage to come back
        self._pending_trigger: float | None = None  # a press storage could not serve yet
        self._retry: Timer | None = None
        self._retry_delay = RETRY_FIRST_S
        self._next_storage_check = 0.0
        self._housekeeping: Timer | None = None
        self.notifier = notifier if notifier is not None else Notifier()
        self._next_ping = 0.0
        self._terminate = False
        self._reload: dict[str, dict[str, Any]] | None = None
        self._stopped = False
        self.started_at = clock.monotonic()
        self.summary = Summary([], 0, [])

    # -- life cycle ------------------------------------------------------------------------

    def start(self) -> None:
        """Start the camera and the button, and begin pre-recording."""
        cam = self.conf["camera"]
        self.started_at = self.clock.monotonic()
        self._audit("boot", prerecord=self.prerecord_mode, seconds=self.buffer.seconds)
        if not self.storage.ensure_reserve():
            log.warning("no room for the %d MiB storage reserve", self.conf["storage"]["reserve_mib"])
        self._check_storage(self.clock.monotonic())
        if self.key_problem:
            self._alert("key_missing", True)
            log.error("%s", self.key_problem)
            self._audit("key_missing", problem=self.key_problem)
        try:
            self._open_hardware()
            self.camera.start()
        except ImportError as e:
            raise BodycamError(
                f"{e.name or e} is not installed: on Raspberry Pi OS run deploy.sh (it installs "
                "python3-picamera2 and the GPIO and SPI libraries), or use --sim", exit_code=1
            ) from None
        except Exception as e:  # the hardware libraries' own errors: no camera, no GPIO
            raise BodycamError(
                f"camera or button unavailable ({type(e).__name__}: {e}); check the ribbon "
                "cable and wiring, then run 'bodycam doctor'", exit_code=1) from None
        self._last_packet_at = self.clock.monotonic()  # a camera that never delivers is a stall too
        log.info(
            "standby: camera %s %dx%d@%d, pre-record %s (%g s)",
            self.camera.model, cam["width"], cam["height"], cam["fps"],
            self.prerecord_mode, self.buffer.seconds,
        )
        self._start_display()
        self.notifier.ready(f"standby, pre-record {self.prerecord_mode}")
        self._housekeeping = self.clock.call_later(HOUSEKEEPING_S, self._tick)

    def _open_hardware(self) -> None:
        """Camera, cue lines and button through their drivers."""
        cam, btn = self.conf["camera"], self.conf["button"]
        stamp = self._watermark()
        self.camera = Camera(
            self.clock,
            self.on_packet,
            width=cam["width"],
            height=cam["height"],
            fps=cam["fps"],
            bitrate=cam["bitrate"],
            gop_seconds=cam["gop_seconds"],
            lores=(cam["lores_width"], cam["lores_height"]),
            painter=stamp,
        )
        if stamp is not None:  # fonts and glyphs now, not on the camera thread's first frame
            stamp.prepare(self.camera.size)
        cues = self.conf["cues"]
        self.cue_lines = CueLines(cue_pins(cues), active_high=cues["active_high"])
        self.cues = Cues(
            self.clock, self.cue_lines, self.audit,
            reminder_seconds=cues["reminder_seconds"], enabled=cues["enabled"],
        )
        self.button = Button(
            btn["pin"],
            self.clock,
            self._button_changed,
            active_low=btn["active_low"],
            debounce_ms=btn["debounce_ms"],
        )

    def _watermark(self) -> FrameStamp | None:
        """The burned-in watermark the camera draws before encoding (docs/WATERMARK.md)."""
        wm = self.conf["watermark"]
        if not wm["enabled"]:
            return None
        device = self.store.identity.device_id if self.store is not None else ""
        return FrameStamp(FrameTimes(self), device, wm["officer_id"], Position(wm["position"]))

    def _start_display(self) -> None:
        """Open the front panel; without one the camera records all the same."""
        disp = self.conf["display"]
        if not disp["enabled"] or self.camera is None:
            return
        try:
            panel = Panel.from_config(
                kind=disp["kind"], rotation=disp["rotation"], spi_port=disp["spi_port"],
                spi_device=disp["spi_device"], spi_hz=disp["spi_hz"], dc_pin=disp["dc_pin"],
                rst_pin=disp["rst_pin"], backlight_pin=disp["backlight_pin"],
                width=disp["width"] or None, height=disp["height"] or None,
                backlight_active_low=disp["backlight_active_low"],
            )
        except Exception as e:  # a missing or broken panel: whatever its libraries raise
            log.error("front display unavailable (%s); recording is not affected", e)
            self._audit("display_unavailable", error=str(e))
            return
        self.display = FrontDisplay(
            panel, self.camera.lores_frame, self.display_state, self.clock.monotonic, fps=disp["fps"]
        )
        self.display.start()

    def display_state(self) -> DisplayState:
        """What the front panel should show now (read by the display thread)."""
        disp = self.conf["display"]
        if self.stealth:
            mode = "stealth"
        elif self.state in (RECORDING, STOPPING) or self._suspended:
            mode = "recording"  # suspended: still capturing, held in RAM
        else:
            mode = "standby"
        since = self._recording_since
        alerts = set(self.alerts)  # a frozenset, swapped whole by the loop
        if self.clock_source == "unsynced":
            alerts.add("clock_unsynced")
        prerecord = "off"
        if self.armed and self.prerecord_mode != "off":
            prerecord = "armed" if self.prerecord_mode == "armed" else "on"
        return DisplayState(
            mode=mode,
            recording_elapsed_s=0.0 if since is None else max(0.0, self.clock.monotonic() - since),
            prerecord=prerecord,
            alerts=tuple(sorted(alerts)),
            language=disp["language"],
            standby_view=disp["standby_view"],
            mirror=disp["mirror"],
        )

    def request_reload(self, conf: dict[str, dict[str, Any]]) -> None:
        """New configuration (SIGHUP); applied on the loop. Only the pre-record length
        changes while running; everything else takes effect at the next start."""
        self._reload = conf

    def _apply_reload(self, conf: dict[str, dict[str, Any]]) -> None:
        seconds = conf["prerecord"]["seconds"]
        changed = {
            f"{sec}.{key}": value for sec, keys in conf.items() for key, value in keys.items()
            if self.conf[sec][key] != value
        }
        self.conf["prerecord"]["seconds"] = seconds
        if not self._suspended:
            self.buffer.seconds = seconds
        later = sorted(k for k in changed if k != "prerecord.seconds")
        log.info("configuration reloaded: pre-record %g s%s", seconds,
                 f"; at the next start: {', '.join(later)}" if later else "")
        self._audit("config", prerecord_seconds=seconds, changed=sorted(changed),
                    pending=later)

    def request_stop(self) -> None:
        """Ask for a clean shutdown; safe from a signal handler (only sets a flag)."""
        self._terminate = True

    def shutdown(self) -> None:
        """Close any recording, stop the camera, drop the pre-record buffer."""
        if self._stopped:
            return
        self._stopped = True
        self.notifier.stopping()
        if self.writer is not None:  # recording, or suspended with footage in RAM
            self.stop_recording("shutdown")
        if self._housekeeping is not None:
            self._housekeeping.cancel()
        for part in (self.display, self.camera, self.button, self.cues):
            if part is None:
                continue
            try:  # one part failing to close must not keep the others (or the log) open
                part.stop() if part is self.display else part.close()
            except Exception as e:  # whatever the hardware library raises
                log.error("closing %s failed: %s", type(part).__name__, e)
        self.buffer.clear()
        self._audit("shutdown")
        self._checkpoint()
        self.notifier.close()
        log.info("shut down cleanly")
        self.clock.stop()

    # -- events ----------------------------------------------------------------------------

    def on_packet(self, pkt: Packet) -> None:
        """An encoded frame from the camera (on the loop)."""
        now_us = round(self.clock.monotonic() * 1e6)
        offset = now_us - pkt.pts_us
        if self._pts_offset_us is None or offset < self._pts_offset_us:
            self._pts_offset_us = offset
        self._last_packet_at = self.clock.monotonic()
        if self._stalled_since is not None:
            self._camera_resumed(pkt)
        if self.state == RECORDING and self.writer is not None:
            try:
                self.writer.write(pkt)
            except OSError as e:
                self._storage_failed(e)
        elif self._suspended or self._pending_trigger is not None or (
                self.armed and self.prerecord_mode != "off"):
            self.buffer.append(pkt)

    def _button_changed(self, pressed: bool, t: float) -> None:
        self._audit("button", pressed=pressed, t=round(t, 4))
        if pressed:
            self.gestures.pressed(t)
        else:
            self.gestures.released(t)

    def _gesture(self, name: str, t_down: float) -> None:
        """Map gestures to actions; see docs/GESTURES.md for the table."""
        log.debug("gesture %s (began %.3f)", name, t_down)
        if name == "long_hold":  # even when its press started a recording: a covert start
            self._set_stealth(not self.stealth)
            return
        if self._recording_since is not None and t_down <= self._recording_since:
            return  # the tail of the gesture that started this recording
        # With a stealth gesture on the same button, a hold acts when let go, so
        # that holding on to the long hold does not also stop or disarm.
        hold = "hold_released" if self.gestures.long_hold_seconds else "hold"
        start = self.conf["gestures"]["start"]
        recording = self.state == RECORDING or self._suspended  # suspended: held in RAM
        if not recording and self.state in (STANDBY, FAULT):
            if self.prerecord_mode == "armed":
                if not self.armed:
                    if name == "press":
                        self._arm(True)
                    return
                if name == hold:
                    self._arm(False)
                    return
            # "press" starts at contact, except in armed mode, where a hold must stay
            # free to disarm: there it starts on release (the pre-roll still reaches
            # back from the contact, so nothing is lost).
            if start == "double_press":
                starts_on = "double_press"
            else:
                starts_on = "press" if self.prerecord_mode == "armed" else "down"
            if name == starts_on:
                self.start_recording(t_down)
        elif recording:
            if name == hold:
                self.stop_recording("hold")
            elif name == "press" and self.conf["gestures"]["bookmark"]:
                self._bookmark(t_down)

    # -- actions ---------------------------------------------------------------------------

    def start_recording(self, t_trigger: float) -> None:
        """Start a recording whose pre-roll is measured back from ``t_trigger``."""
        if self.store is None:
            self.summary.refused += 1
            msg = self.key_problem or "no evidence store"
            log.error("recording refused: %s", msg)
            self._audit("record_refused", reason=msg)
            self._cue("fault", "no_key")
            return
        try:
            free = self.storage.free_bytes()
        except OSError as e:  # the data directory is gone or unreadable
            self._storage_failed(e)
            return
        if free < self.conf["storage"]["min_free_mib"] << 20:
            self.summary.refused += 1
            self._alert("storage_full", True)
            log.error("recording refused: storage full (%d MiB free); offload the camera", free >> 20)
            self._audit("record_refused", reason="storage full", free_bytes=free)
            self._cue("fault", "storage_full")
            return
        trigger_us = self._sensor_us(t_trigger)
        wanted = self.conf["prerecord"]["seconds"]
        preroll = self.buffer.take(trigger_us, wanted) if trigger_us is not None else []
        self.buffer.seconds = wanted  # it may have been holding more for a pending press
        first_us = preroll[0].pts_us if preroll else trigger_us
        utc_start = self._utc_of(first_us) if first_us is not None else self.clock.time()
        cam, rec_conf = self.conf["camera"], self.conf["recording"]
        try:
            rec = self.store.begin_recording(
                utc_start=utc_start,
                clock_source=self.clock.source(),
                start_pts_us=first_us if first_us is not None else 0,
            )
            self.writer = RecordingWriter(
                rec,
                width=cam["width"],
                height=cam["height"],
                fps=cam["fps"],
                segment_seconds=rec_conf["segment_seconds"],
                fsync_interval=rec_conf["fsync_interval"],
                chunk_max_bytes=rec_conf["chunk_max_kib"] * 1024,
                gap_seconds=cam["stall_seconds"],
            )
            self._recording_since = self.clock.monotonic()
            self._set_state(RECORDING, f"recording {rec.id}")
            self.writer.write_preroll(preroll)
        except OSError as e:
            if self.writer is None:
                # The recording could not even begin: remember the press, keep the footage
                # in RAM, and start it when storage comes back.
                self._pending_trigger = t_trigger
                self.buffer.seconds = MAX_PREROLL_SECONDS
            self._storage_failed(e)
            # What did not reach storage goes back to RAM, to be written on a retry
            # (a suspended recording) or by the next press.
            durable = self.writer.stats.durable_pts_us if self.writer is not None else None
            for pkt in preroll:
                if durable is None or pkt.pts_us > durable:
                    self.buffer.append(pkt)
            return
        self._pending_trigger = None
        self._storage_back()  # a start that worked proves storage works
        preroll_s = (preroll[-1].pts_us - preroll[0].pts_us) / 1e6 if preroll else 0.0
        self._cue("recording_started")
        log.info("recording %s: pre-roll %.2f s (%d packets) durable", rec.id, preroll_s, len(preroll))
        # Sensor times of the press and of now let a report place later entries on the
        # recording's timeline.
        self._audit("recording_started", recording=rec.id, preroll_s=round(preroll_s, 3),
                    press_pts_us=trigger_us, now_pts_us=self._sensor_us(self.clock.monotonic()))

    def stop_recording(self, why: str) -> None:
        """Close the segment in progress and sign the recording's manifest."""
        writer = self.writer
        if writer is None:
            return
        self._set_state(STOPPING, why)
        self._cue("recording_stopped")
        try:
            if self._suspended:  # last try to get what waited in RAM onto storage
                self._write_held(writer, fit=True)
            stats = writer.close()
        except OSError as e:
            # The manifest could not be signed onto storage: the segments stay as a
            # power cut leaves them, and recovery at the next boot closes the recording.
            self.writer = None
            self._recording_since = None
            self._suspended = False
            self.buffer.seconds = self.conf["prerecord"]["seconds"]
            log.error("recording %s could not be closed (%s); it is recovered at the next boot",
                      writer.recording_id, e)
            self._audit("recording_unclosed", recording=writer.recording_id, error=str(e))
            self.summary.recordings.append((writer.recording_id, writer.stats))
            self._storage_failed(e)
            return
        self.writer = None
        self._recording_since = None
        self._storage_back()
        self.summary.recordings.append((writer.recording_id, stats))
        log.info(
            "recording %s closed: %d frames in %d segment(s)",
            writer.recording_id, stats.frames, stats.segments,
        )
        self._audit(
            "recording_stopped", recording=writer.recording_id, frames=stats.frames,
            segments=stats.segments,
        )
        self._checkpoint()
        self._set_state(STANDBY, "recording closed")

    def _bookmark(self, t: float) -> None:
        pts = self._sensor_us(t)
        if self.writer is None or pts is None:
            return
        try:
            self.writer.bookmark(pts, self._utc_of(pts))
        except OSError as e:
            self._storage_failed(e)
            return
        self._cue("bookmark")
        log.info("bookmark at %s", datetime.fromtimestamp(self._utc_of(pts), UTC).isoformat())
        self._audit("bookmark", recording=self.writer.recording_id, pts_us=pts)

    def _arm(self, on: bool) -> None:
        self.armed = on
        if not on:
            self.buffer.clear()
        self._cue("armed", on)
        log.info("pre-record %s", "armed" if on else "disarmed; buffer discarded")
        self._audit("prerecord_armed" if on else "prerecord_disarmed")

    # -- helpers ---------------------------------------------------------------------------

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
        if self.writer is not None and self._pts_offset_us is not None:
            try:
                self.writer.flush_due(self._sensor_us(now) or 0)
            except OSError as e:
                self._storage_failed(e)
        stall = self.conf["camera"]["stall_seconds"]
        if self._last_packet_at is not None and now - self._last_packet_at >= stall:
            self._camera_stalled(now)
        if now >= self._next_storage_check:
            self._check_storage(now)
        self._check_clock(now)
        self._housekeeping = self.clock.call_later(HOUSEKEEPING_S, self._tick)

    def _sensor_us(self, t_monotonic: float) -> int | None:
        if self._pts_offset_us is None:
            return None
        return round(t_monotonic * 1e6) - self._pts_offset_us

    def frame_utc_us(self, sensor_us: int) -> int:
        """UTC in µs of the frame captured at ``sensor_us``: the one mapping the recording's
        signed start and the watermark both use, so they agree to the µs.

        Any thread (it reads two numbers the loop replaces). Before the first packet has
        set the offset, the sensor clock is taken as the monotonic clock: libcamera's
        SensorTimestamp is CLOCK_BOOTTIME, the same on a board that never suspends, and
        the simulation's sensor runs on the virtual monotonic clock.
        """
        offset = self._pts_offset_us or 0
        return sensor_us + offset + round((self.clock.time() - self.clock.monotonic()) * 1e6)

    def _utc_of(self, pts_us: int) -> float:
        return self.frame_utc_us(pts_us) / 1e6

    def _set_state(self, new: str, why: str) -> None:
        old, self.state = self.state, new
        self.summary.transitions.append((self.clock.monotonic(), old, new, why))
        log.info("state %s -> %s (%s)", old, new, why)
        self.notifier.status(f"{new}: {why}")
        self._audit("state", old=old, new=new, why=why)
        if self.on_state is not None:
            self.on_state(new)

    def _storage_failed(self, e: OSError) -> None:
        """A write or fsync failed. A recording in progress is suspended, not ended:
        its segment is closed (or left cut, if even that fails), new footage waits
        in RAM, and storage is retried with back-off; nothing written is touched."""
        full = e.errno in _FULL
        freed = self.storage.release_reserve() if full else 0
        alert = "storage_full" if full else "storage_error"
        self._alert(alert, True)
        if full:
            self._alert("storage_low", False)
        log.error("storage %s: %s%s", "full" if full else "error", e,
                  f"; released the {freed >> 20} MiB reserve" if freed else "")
        self._audit("storage_error", error=str(e), errno=e.errno or 0, freed_reserve=freed)
        if self.writer is not None and not self._suspended:
            self._suspended = True
            self.buffer.seconds = MAX_PREROLL_SECONDS
            self.writer.interrupt("storage full" if full else "storage error")
            self._cue("fault", "storage")
            self._set_state(FAULT, f"storage {'full' if full else 'error'}: recording held in RAM")
        elif self.writer is None and self.state != FAULT:
            self._recording_since = None
            self._cue("fault", "storage")
            self._set_state(FAULT, f"storage {'full' if full else 'error'}")
        if self._retry is None:
            self._retry = self.clock.call_later(self._retry_delay, self._retry_storage)
            self._retry_delay = min(self._retry_delay * 2, RETRY_MAX_S)

    def _retry_storage(self) -> None:
        """Try storage again: put the reserve back, write what waited in RAM, resume."""
        self._retry = None
        if self.state != FAULT:
            return
        try:
            if self.storage.free_bytes() < self.conf["storage"]["min_free_mib"] << 20:
                raise OSError(errno.ENOSPC, "still below storage.min_free_mib")
            self.storage.probe()
            if not self.storage.ensure_reserve():
                raise OSError(errno.EIO, "the storage reserve could not be written")
            if self.writer is not None:
                self._write_held(self.writer)
        except OSError as e:
            log.warning("storage still failing (%s); next try in %.0f s", e, self._retry_delay)
            self._retry = self.clock.call_later(self._retry_delay, self._retry_storage)
            self._retry_delay = min(self._retry_delay * 2, RETRY_MAX_S)
            return
        self._storage_back()
        if self.writer is not None:
            self._set_state(RECORDING, "storage back: recording resumed")
        else:
            self._set_state(STANDBY, "storage back")
            if self._pending_trigger is not None:
                log.info("starting the recording pressed for during the storage fault")
                self.start_recording(self._pending_trigger)

    def _write_held(self, writer: RecordingWriter, *, fit: bool = False) -> None:
        """Write the footage held in RAM during a storage fault; on failure, keep in RAM
        what did not reach storage (from its first keyframe on) for the next try.

        With ``fit`` (the recording is being closed on a full medium), only as much
        as the free space takes is written, oldest first, leaving room to close the
        segment and sign the manifest; the rest is logged as lost.
        """
        held = self.buffer.take(None)
        if fit and held:
            try:
                budget = self.storage.free_bytes() - CLOSE_MARGIN
            except OSError:
                budget = 0
            used, keep = 0, len(held)
            for i, pkt in enumerate(held):
                used += pkt.size + pkt.size // 32 + 188  # TS and record overhead, generously
                if used > budget:
                    keep = i
                    break
            if keep < len(held):
                lost_s = (held[-1].pts_us - held[keep].pts_us) / 1e6
                log.error("storage full: the last %.1f s held in RAM do not fit; the recording "
                          "is closed without them", lost_s)
                self._audit("held_footage_dropped", seconds=round(lost_s, 3),
                            from_pts_us=held[keep].pts_us, recording=writer.recording_id)
                # The signed manifest names it too, as a gap from the last frame kept.
                frame_us = round(1e6 / self.conf["camera"]["fps"])
                last_kept = held[keep - 1].pts_us if keep else writer.stats.durable_pts_us
                writer.add_gap(last_kept if last_kept is not None else held[keep].pts_us,
                               held[-1].pts_us + frame_us, DROPPED_REASON)
                held = held[:keep]
        try:
            writer.write_preroll(held)
        except OSError:
            durable = writer.stats.durable_pts_us
            for pkt in held:
                if durable is None or pkt.pts_us > durable:
                    self.buffer.append(pkt)
            raise
        self._suspended = False
        self.buffer.seconds = self.conf["prerecord"]["seconds"]

    def _storage_back(self) -> None:
        """Storage works again: clear its alerts and the retry schedule."""
        if self._retry is not None:
            self._retry.cancel()
            self._retry = None
        self._retry_delay = RETRY_FIRST_S
        if {"storage_full", "storage_error"} & self.alerts:
            try:
                room = self.storage.free_bytes() >= self.conf["storage"]["min_free_mib"] << 20
            except OSError:
                room = False
            if room:
                self._alert("storage_full", False)
            self._alert("storage_error", False)
            if room:  # a close that fitted into the reserve's room is not a recovery
                self._audit("storage_recovered")

    def _check_clock(self, now: float) -> None:
        """Notice a wall-clock step (NTP, RTC, hand-set): log it and the clock source.

        Timestamps come from the sensor's monotonic clock, so a step never moves
        them; only the UTC labels of later recordings change.
        """
        offset = self.clock.time() - now
        step = offset - self._wall_offset
        self._wall_offset = offset
        if abs(step) < CLOCK_STEP_S:
            return
        self.clock_source = self.clock.source()
        log.warning("wall clock stepped by %+.3f s; clock source now %s", step, self.clock_source)
        self._audit("clock_step", step_s=round(step, 3), source=self.clock_source)

    def _check_storage(self, now: float) -> None:
        """Read free space: warn when nearly full; clear a full alert once there is room."""
        self._next_storage_check = now + STORAGE_CHECK_S
        st = self.conf["storage"]
        try:
            free, total = self.storage.free_bytes(), self.storage.total_bytes()
        except OSError as e:
            log.error("cannot read free space of %s: %s", self.storage.data_dir, e)
            return
        low = free < total * st["nearly_full_percent"] / 100
        if low and "storage_low" not in self.alerts and "storage_full" not in self.alerts:
            log.warning("storage nearly full: %d MiB free of %d MiB", free >> 20, total >> 20)
            self._audit("storage_low", free_bytes=free, total_bytes=total)
            self._alert("storage_low", True)
        elif not low:
            self._alert("storage_low", False)
        if self.state != FAULT:  # in a fault the retry owns the alert
            self._alert("storage_full", free < st["min_free_mib"] << 20)
            if not self.storage.reserved and free >= (st["min_free_mib"] + st["reserve_mib"]) << 20:
                if self.storage.ensure_reserve():
                    log.info("storage reserve of %d MiB back in place", st["reserve_mib"])
                    self._audit("storage_reserve_restored")

    def _alert(self, code: str, on: bool) -> None:
        self.alerts = self.alerts | {code} if on else self.alerts - {code}

    def _audit(self, event: str, **fields: Any) -> None:
        """Append to the audit log; a failing medium must not take the daemon down."""
        try:
            self.audit.append(event, **fields)
        except OSError as e:
            log.error("audit log write failed (%s): %s %s", e, event, fields)

    def _camera_stalled(self, now: float) -> None:
        """No packets for ``camera.stall_seconds``: close the segment, restart the camera.

        Retried every stall period until packets flow again; a recording in
        progress continues in a new segment, the gap recorded in its manifest.
        """
        assert self._last_packet_at is not None and self.camera is not None
        if self._stalled_since is None:
            self._stalled_since = self._last_packet_at
            self._alert("camera_fault", True)
            log.error("camera stalled: no frames for %.1f s; restarting the camera pipeline",
                      now - self._last_packet_at)
            self._audit("camera_stall", silent_s=round(now - self._last_packet_at, 3))
            self._cue("fault", "camera_stall")
            if self.writer is not None:
                try:
                    self.writer.interrupt("camera stall")
                except OSError as e:
                    self._storage_failed(e)
        try:
            self.camera.stop()
            self.camera.start()
        except Exception as e:  # the camera library's errors are not ours to enumerate
            log.error("camera restart failed: %s", e)
            self._audit("camera_restart_failed", error=str(e))
        else:
            self._audit("camera_restart")
        self._last_packet_at = now

    def _camera_resumed(self, pkt: Packet) -> None:
        assert self._stalled_since is not None
        gap = self.clock.monotonic() - self._stalled_since
        self._stalled_since = None
        self._alert("camera_fault", False)
        log.warning("camera delivering frames again after %.1f s", gap)
        self._audit("camera_resumed", gap_s=round(gap, 3), pts_us=pkt.pts_us)

    def _cue(self, name: str, *args: Any) -> None:
        if self.cues is not None:
            getattr(self.cues, name)(*args)

    def _set_stealth(self, on: bool) -> None:
        """Stealth: every cue and light off, the display dark; recording unaffected."""
        self.stealth = on
        log.info("stealth %s", "on" if on else "off")
        if self.cues is not None:
            self.cues.set_stealth(on)  # audit-logs the change itself
        else:
            self._audit("stealth", on=on)
        if self.on_state is not None:
            self.on_state(self.state)

    def _checkpoint(self) -> None:
        # A signed checkpoint pins the audit chain so far to this device's key.
        if getattr(self.audit, "signer", None) is not None:
            try:
                self.audit.checkpoint()
            except OSError as e:
                log.error("audit checkpoint failed: %s", e)

    def _buffer_shortfall(self, covered: float, wanted: float) -> None:
        self._audit("prerecord_shortfall", covered_s=round(covered, 2), wanted_s=wanted)


class FrameTimes:
    """The daemon's sensor-time to UTC mapping for the camera thread: the watermark's
    :class:`display.watermark.Timebase` (the timebase module slots in here)."""

    def __init__(self, daemon: Daemon) -> None:
        self._daemon = daemon

    def utc_us(self, sensor_us: int) -> int:
        """UTC (µs) of the frame captured at ``sensor_us``."""
        return self._daemon.frame_utc_us(sensor_us)

    def clock_source(self) -> str:
        """The clock source the daemon last read (``ntp``, ``rtc``, ``unsynced``)."""
        return self._daemon.clock_source


def cue_pins(cues: dict[str, Any]) -> dict[str, int | None]:
    """The ``[cues]`` section's pins by line name; None where not fitted (-1)."""
    return {name: (cues[f"{name}_pin"] if cues[f"{name}_pin"] >= 0 else None)
            for name in ("led", "vibration", "buzzer")}


def default_audit_path(data_dir: Path) -> Path:
    """Where the audit log lives under the data directory."""
    return data_dir / "audit.log"
