"""One recording as the writer thread sees it: the segment writer plus what it still owes storage.

A session runs only on the evidence writer's thread (``recorder.io_worker``).
When a write fails it suspends itself at once: it releases the space reserve
(on a full medium), closes the segment in progress as well as storage allows,
and from then on holds every packet in its own backlog, a ring of whole GOPs
capped like the pre-record buffer (120 s, ``held_max_bytes``). The loop learns
of the fault from the returned :class:`Fault`; packets never go back to the
pre-record buffer. One exception: when the card fills mid-GOP and the reserve
freed room, the rest of that GOP still goes into its segment (its frames cannot
be decoded without the keyframe already there), and the segment closes at the
next keyframe. :meth:`resume` writes the backlog once storage works again,
:meth:`close` writes what fits of it and finishes the recording.
"""

from __future__ import annotations

import errno
import logging
from collections.abc import Callable
from dataclasses import dataclass

from .packet import VIDEO, Packet
from .ringbuffer import MAX_SECONDS, PreRecordBuffer
from .segmenter import RecordingHandle, RecordingStats, RecordingWriter

log = logging.getLogger("bodycam")

FULL_ERRNOS = (errno.ENOSPC, errno.EDQUOT)
#: Room kept free when closing a recording on a full medium: final chunk, trailer,
#: manifest, audit entries and checkpoint.
CLOSE_MARGIN = 512 * 1024
#: The manifest's gap reason for footage held in RAM that did not fit at a stop on a
#: full card (office/report_model.py knows it by its start).
DROPPED_REASON = "held in RAM, dropped: the card was full at the stop"


@dataclass(frozen=True)
class Fault:
    """A write or fsync failed: what, whether the medium is full, the reserve bytes freed."""

    error: OSError
    full: bool
    freed: int


@dataclass(frozen=True)
class Begun:
    """A recording began (``fault`` None), or began holding its footage in RAM."""

    recording_id: str | None
    preroll_packets: int
    preroll_s: float
    fault: Fault | None


@dataclass(frozen=True)
class Closed:
    """How a recording ended: ``error`` None if its manifest is signed on storage."""

    recording_id: str | None
    stats: RecordingStats
    error: OSError | None
    dropped_s: float = 0.0
    dropped_from_pts_us: int | None = None


class RecordingSession:
    """Owns a recording's writer and its not-yet-durable backlog (see the module docstring)."""

    def __init__(self, begin: Callable[[], RecordingHandle],
                 make_writer: Callable[[RecordingHandle], RecordingWriter], *,
                 release_room: Callable[[], int], free_bytes: Callable[[], int],
                 held_max_bytes: int) -> None:
        self._begin = begin
        self._make_writer = make_writer
        self._release_room = release_room
        self._free_bytes = free_bytes
        self._held = PreRecordBuffer(seconds=MAX_SECONDS, max_bytes=held_max_bytes)
        self._writer: RecordingWriter | None = None
        self.holding = False
        #: The card filled mid-GOP: the rest of the GOP goes to the reserve's room.
        self._finishing_gop = False
        self.stats = RecordingStats()

    @property
    def recording_id(self) -> str | None:
        """The recording's id, once storage let it begin."""
        return self._writer.recording_id if self._writer is not None else None

    # -- the path (writer thread) ----------------------------------------------------------

    def begin(self, preroll: list[Packet]) -> Begun:
        """Begin the recording and write its pre-roll with one fsync."""
        span = (preroll[-1].pts_us - preroll[0].pts_us) / 1e6 if preroll else 0.0
        try:
            self._open()
        except OSError as e:  # not even begun: the whole pre-roll waits in RAM
            for pkt in preroll:
                self._held.append(pkt)
            return Begun(None, len(preroll), span, self._fail(e))
        assert self._writer is not None
        try:
            self._writer.write_preroll(preroll)
        except OSError as e:
            fault = self._fail(e)
            self._hold_undurable(preroll)
            return Begun(self.recording_id, len(preroll), span, fault)
        return Begun(self.recording_id, len(preroll), span, None)

    def write(self, pkt: Packet) -> Fault | None:
        """One live packet: written, or held while storage is failing."""
        if self._finishing_gop and pkt.stream == VIDEO and pkt.keyframe:
            self._suspend("storage full")  # this keyframe begins what waits in RAM
        if self.holding or self._writer is None:
            w = self._writer
            if w is not None and w.takes_tail and len(self._held) == 0 \
                    and not (pkt.stream == VIDEO and pkt.keyframe):
                w.write_tail(pkt)  # the rest of the cut segment's GOP: it needs that keyframe
            else:
                self._held.append(pkt)
            return None
        writer = self._writer
        before = (writer.stats.frames, writer.stats.audio_packets)
        try:
            writer.write(pkt)
        except OSError as e:
            # A seal can fail before the packet went in (at a keyframe): then it waits
            # in RAM with what follows; one that went in stays with the writer.
            taken = (writer.stats.frames, writer.stats.audio_packets) != before
            fault = None
            if self._finishing_gop:  # already reported: the rest of the GOP did not fit
                log.error("storage: the rest of the GOP did not fit (%s)", e)
                self._suspend("storage full")
            else:
                fault = self._fail(e, finish_gop=taken)
            if not taken:
                if not self.holding:
                    self._suspend("storage full" if fault is not None and fault.full
                                  else "storage error")
                self._held.append(pkt)
            return fault
        return None

    def flush_due(self, now_pts_us: int) -> Fault | None:
        """Seal and fsync what has waited longer than the fsync interval."""
        if self._writer is None or self.holding:
            return None
        try:
            self._writer.flush_due(now_pts_us)
        except OSError as e:  # mid-GOP, like a live write: the GOP may finish in the reserve
            return self._fail(e, finish_gop=True)
        return None

    def bookmark(self, pts_us: int, utc: float) -> Fault | None:
        """Mark a moment in the manifest."""
        if self._writer is None:
            return None
        try:
            self._writer.bookmark(pts_us, utc)
        except OSError as e:
            return self._fail(e)
        return None

    def add_gap(self, start_pts_us: int, end_pts_us: int, reason: str) -> Fault | None:
        """A stretch the manifest lists as missing while the footage goes on (no sound)."""
        if self._writer is None:
            return None
        try:
            self._writer.add_gap(start_pts_us, end_pts_us, reason)
        except OSError as e:
            return self._fail(e)
        return None

    def interrupt(self, reason: str) -> Fault | None:
        """The footage stopped (camera stall): close the segment, record the gap."""
        if self._writer is None:
            return None
        try:
            self._writer.interrupt(reason)
        except OSError as e:
            return self._fail(e)
        return None

    def resume(self) -> OSError | None:
        """Storage is back: begin (if it never did) and write the backlog; None if all done."""
        if self._finishing_gop:
            self._suspend("storage full")
        try:
            if self._writer is None:
                self._open()
            assert self._writer is not None
            held = self._held.take(None)
            try:
                self._writer.write_preroll(held)
            except OSError:
                self._hold_undurable(held)
                raise
        except OSError as e:
            return e
        self.holding = False
        return None

    def close(self) -> Closed:
        """Write what the backlog fits (oldest first, room left to close) and finish."""
        writer = self._writer
        if writer is None:  # storage never let it begin
            held = self._held.take(None)
            lost = (held[-1].pts_us - held[0].pts_us) / 1e6 if held else 0.0
            return Closed(None, self.stats, OSError(errno.EIO, "the recording never began"),
                          lost, held[0].pts_us if held else None)
        dropped_s, dropped_from = 0.0, None
        self._finishing_gop = False  # the GOP in progress ends with the recording
        try:
            if self.holding:  # last try to get what waited in RAM onto storage
                kept, lost = self._fit(self._held.take(None))
                if lost:
                    dropped_s = (lost[-1].pts_us - lost[0].pts_us) / 1e6
                    dropped_from = lost[0].pts_us
                    # The signed manifest names it too, as a gap from the last frame kept.
                    last_kept = kept[-1].pts_us if kept else writer.stats.durable_pts_us
                    writer.add_gap(last_kept if last_kept is not None else lost[0].pts_us,
                                   lost[-1].pts_us + writer.frame_us, DROPPED_REASON)
                writer.write_preroll(kept)
            self.stats = writer.close()
        except OSError as e:
            self.stats = writer.stats
            return Closed(writer.recording_id, writer.stats, e, dropped_s, dropped_from)
        return Closed(writer.recording_id, self.stats, None, dropped_s, dropped_from)

    # -- internals -------------------------------------------------------------------------

    def _open(self) -> None:
        self._writer = self._make_writer(self._begin())
        self.stats = self._writer.stats

    def _fail(self, e: OSError, *, finish_gop: bool = False) -> Fault:
        """Suspend: free the reserve on a full medium, close the segment, hold from now on
        (a live write with ``finish_gop`` first finishes its GOP in the reserve's room)."""
        full = e.errno in FULL_ERRNOS
        freed = self._release_room() if full else 0
        if finish_gop and full and freed and self._writer is not None and not self.holding \
                and not self._finishing_gop:
            # Frames after this one cannot be decoded without the GOP's keyframe, which is
            # in this segment: the reserve's room takes the rest of the GOP (write()).
            self._finishing_gop = True
            return Fault(e, full, freed)
        self._suspend("storage full" if full else "storage error")
        return Fault(e, full, freed)

    def _suspend(self, reason: str) -> None:
        """Close the segment as well as storage allows and hold every packet from now on."""
        self._finishing_gop = False
        if not self.holding and self._writer is not None:
            # If the segment cannot be closed now, the writer keeps its last frames (they
            # need that segment's keyframe) and finishes it before writing the backlog.
            self._writer.interrupt(reason)
        self.holding = True

    def _hold_undurable(self, packets: list[Packet]) -> None:
        """Keep in the backlog what of ``packets`` did not reach storage."""
        durable = self._writer.stats.durable_pts_us if self._writer is not None else None
        for pkt in packets:
            if durable is None or pkt.pts_us > durable:
                self._held.append(pkt)

    def _fit(self, held: list[Packet]) -> tuple[list[Packet], list[Packet]]:
        """(what fits the free space less :data:`CLOSE_MARGIN`, what does not)."""
        if not held:
            return held, []
        try:
            budget = self._free_bytes() - CLOSE_MARGIN
        except OSError:
            budget = 0
        used = 0
        for i, pkt in enumerate(held):
            used += pkt.size + pkt.size // 32 + 188  # TS and record overhead, generously
            if used > budget:
                return held[:i], held[i:]
        return held, []
