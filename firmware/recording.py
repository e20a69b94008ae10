"""The loop's handle on the recording in progress: every call becomes a writer-thread job.

The loop decides; :class:`recorder.session.RecordingSession` does the work on
the evidence writer's thread, in the order the loop asked. Results come back as
callbacks on the loop.

When the writer's queue is full (storage has been slower than the camera for
as long as ``prerecord.max_mib`` of footage takes), the loop does not wait: the
packet is not queued, the segment in progress is closed behind what is queued,
and packets are skipped until the queue is half empty and a keyframe comes; the
hole is a gap in the manifest ("storage too slow"), the audit log and the
journal say how long it was. docs/RECORDING.md has the figures.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any, Protocol

from drivers.storage import Storage
from evidence.identity import DeviceIdentity
from recorder.io_worker import IoWorker
from recorder.packet import VIDEO, Packet
from recorder.segmenter import RecordingHandle, RecordingStats, RecordingWriter
from recorder.session import Begun, Closed, Fault, RecordingSession

from .settings import Settings

log = logging.getLogger("bodycam")

#: Reason written into the manifest's gap for footage the full queue could not take.
TOO_SLOW = "storage too slow"


class Store(Protocol):
    """The evidence store a recording begins in (``recorder.store.EvidenceStore``)."""

    @property
    def identity(self) -> DeviceIdentity: ...

    def begin_recording(self, utc_start: float, clock_source: str,
                        start_pts_us: int) -> RecordingHandle: ...


class Recording:
    """One recording, seen from the loop (see the module docstring)."""

    def __init__(self, settings: Settings, store: Store, storage: Storage, worker: IoWorker, *,
                 on_fault: Callable[[Recording, OSError, bool, int], None],
                 audit: Callable[..., None]) -> None:
        cam, rc = settings.camera, settings.recording
        self._store = store
        self._worker = worker
        self._on_fault = on_fault
        self._audit = audit
        self._begin_args: dict[str, Any] = {}
        self.session = RecordingSession(
            self._begin_in_store,
            functools.partial(RecordingWriter, width=cam.width, height=cam.height, fps=cam.fps,
                              segment_seconds=rc.segment_seconds,
                              fsync_interval=rc.fsync_interval,
                              chunk_max_bytes=rc.chunk_max_kib * 1024,
                              gap_seconds=cam.stall_seconds,
                              audio=settings.audio.enabled),
            release_room=storage.release_reserve, free_bytes=storage.free_bytes,
            held_max_bytes=settings.prerecord.max_mib << 20)
        self.recording_id: str | None = None
        #: Whether the loop has reported this recording as begun (its id in the audit log).
        self.announced = False
        self.preroll_s = 0.0
        self.preroll_packets = 0
        #: Sensor time of the press that started it (the audit entry's ``press_pts_us``).
        self.press_pts_us: int | None = None
        #: Sensor time of the newest video frame handed to the writer thread.
        self.last_pts_us: int | None = None
        self._skipping_since: int | None = None  # pts of the first packet the full queue refused
        self.skipped = 0

    def _begin_in_store(self) -> RecordingHandle:
        args = dict(self._begin_args)
        args["clock_source"] = args["clock_source"]()  # here, on the writer thread
        return self._store.begin_recording(**args)

    # -- calls from the loop ---------------------------------------------------------------

    def begin(self, preroll: list[Packet], *, utc_start: float, clock_source: Callable[[], str],
              start_pts_us: int, on_done: Callable[[Recording], None]) -> None:
        """Begin in the store and write the pre-roll (one fsync), on the writer thread."""
        self._begin_args = {"utc_start": utc_start, "clock_source": clock_source,
                            "start_pts_us": start_pts_us}

        def done(result: Begun) -> None:
            self.preroll_s, self.preroll_packets = result.preroll_s, result.preroll_packets
            self.recording_id = result.recording_id
            if result.fault is not None:
                self._fault(result.fault)  # held in RAM from the start: resumed by a retry
            else:
                on_done(self)

        self._submit(self.session.begin, preroll, on_done=done)

    def write(self, pkt: Packet) -> None:
        """A live packet; never waits (a full queue skips to a keyframe, see above)."""
        if self._skipping_since is not None:
            if not (pkt.keyframe and pkt.stream == VIDEO
                    and self._worker.queued_bytes <= self._worker.max_bytes // 2):
                self.skipped += 1
                return
            lost_s = (pkt.pts_us - self._skipping_since) / 1e6
            log.warning("evidence writer caught up; %.2f s of footage were skipped", lost_s)
            self._audit("writer_caught_up", skipped_s=round(lost_s, 3), packets=self.skipped)
            self._skipping_since, self.skipped = None, 0
        if not self._worker.submit(self.session.write, pkt, on_done=self._fault, nbytes=pkt.size,
                                   report_none=False):
            self._skipping_since, self.skipped = pkt.pts_us, 1
            log.error("evidence writer queue full (%d MiB waiting): skipping to a keyframe",
                      self._worker.queued_bytes >> 20)
            self._audit("writer_queue_full", pts_us=pkt.pts_us,
                        queued_bytes=self._worker.queued_bytes)
            self._submit(self.session.interrupt, TOO_SLOW, on_done=self._fault, report_none=False)
            return
        if pkt.stream == VIDEO:
            self.last_pts_us = pkt.pts_us

    def flush_due(self, now_pts_us: int) -> None:
        """Seal and fsync what waited longer than the fsync interval."""
        self._submit(self.session.flush_due, now_pts_us, on_done=self._fault, report_none=False)

    def bookmark(self, pts_us: int, utc: float) -> None:
        """A bookmark in the manifest."""
        self._submit(self.session.bookmark, pts_us, utc, on_done=self._fault, report_none=False)

    def add_gap(self, start_pts_us: int, end_pts_us: int, reason: str) -> None:
        """A stretch the manifest lists as missing (no sound, say); the footage goes on."""
        self._submit(self.session.add_gap, start_pts_us, end_pts_us, reason, on_done=self._fault,
                     report_none=False)

    def interrupt(self, reason: str) -> None:
        """Close the segment now (camera stall); the next keyframe opens a new one."""
        self._submit(self.session.interrupt, reason, on_done=self._fault, report_none=False)

    def resume(self, on_done: Callable[[Recording, OSError | None], None]) -> None:
        """Storage is back: write what waited in RAM."""
        def done(error: OSError | None) -> None:
            if error is None:
                self.recording_id = self.session.recording_id
            on_done(self, error)

        self._submit(self.session.resume, on_done=done)

    def close(self, on_done: Callable[[Recording, RecordingStats, OSError | None,
                                       tuple[float, int] | None], None]) -> None:
        """Write what fits of the backlog, close the segment, sign the manifest."""
        def done(result: Closed) -> None:
            self.recording_id = result.recording_id or self.recording_id
            dropped = None
            if result.dropped_from_pts_us is not None:
                dropped = (result.dropped_s, result.dropped_from_pts_us)
            on_done(self, result.stats, result.error, dropped)

        self._submit(self.session.close, on_done=done)

    # -- internals -------------------------------------------------------------------------

    def _submit(self, job: Callable[..., Any], *args: Any, on_done: Callable[[Any], None],
                report_none: bool = True) -> None:
        # Control jobs carry no footage bytes, so only MAX_JOBS can refuse them.
        if not self._worker.submit(job, *args, on_done=on_done, report_none=report_none):
            log.error("evidence writer queue full: %s not run", job.__name__)

    def _fault(self, fault: Fault) -> None:
        self._on_fault(self, fault.error, fault.full, fault.freed)
