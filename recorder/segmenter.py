"""One recording: packets in, sealed and fsync'd segments out, with no time shift.

The pre-roll is written the moment the recording starts; after that every live
packet goes straight into the current segment's MPEG-TS stream. The TS bytes
are cut into chunks, one per GOP, or sooner when ``fsync_interval`` of sensor
time has piled up or ``chunk_max_bytes`` is reached, and each chunk is sealed
and flushed by the evidence layer; the file is fsync'd after every live chunk,
so footage captured more than about ``fsync_interval`` ago is on storage.
(picamera2's CircularOutput2 keeps the last buffer-length of seconds in RAM
until the file is closed; this writer never holds more than one chunk.)

Segments roll over at the first keyframe after ``segment_seconds``, so every
segment starts with a keyframe and no packet is lost or repeated at a seam.

Audio packets (``audio=True``) go into whichever segment is open when they
arrive, as a second elementary stream of its TS: each lands in exactly one
segment, so a seam inside speech loses and repeats nothing. Sound from before
the recording's first keyframe, or while no segment is open (a camera stall),
is left out; chunk sizes, seals and fsyncs follow the video as before.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Generic, Protocol, TypeVar

from .packet import AUDIO, VIDEO, Packet
from .tsmux import TsMuxer

log = logging.getLogger(__name__)

#: While the pre-roll goes out at the press, fsync after at most this many bytes
#: (or ``fsync_interval`` of footage, whichever comes first).
PREROLL_SYNC_BYTES = 4 * 1024 * 1024


class SegmentSink(Protocol):
    """One open segment file (``recorder.segment_file.Segment``)."""

    def write_chunk(self, data: bytes, /, *, frames: int, first_pts_us: int,
                    last_pts_us: int) -> None: ...

    def sync(self) -> None: ...


S = TypeVar("S", bound=SegmentSink)


class RecordingHandle(Protocol[S]):
    """One recording in the evidence store (``recorder.store.Recording``), whose
    segments are of type ``S``."""

    @property
    def id(self) -> str: ...

    def open_segment(self) -> S: ...

    def close_segment(self, seg: S) -> None: ...

    def add_bookmark(self, pts_us: int, utc: float, label: str = "") -> None: ...

    def add_gap(self, start_pts_us: int, end_pts_us: int, reason: str) -> None: ...

    def finish(self) -> None: ...


@dataclass
class RecordingStats:
    """What a recording holds so far (for the daemon's log and the benchmarks)."""

    segments: int = 0
    frames: int = 0
    audio_packets: int = 0
    chunks: int = 0
    bytes_sealed: int = 0
    fsyncs: int = 0
    first_pts_us: int | None = None
    last_pts_us: int | None = None
    durable_pts_us: int | None = None
    segment_files: list[str] = field(default_factory=list)


class RecordingWriter(Generic[S]):
    """Writes one recording through an evidence-store recording handle.

    ``recording`` is what ``EvidenceStore.begin_recording`` returns; this class
    only decides where chunks and segments begin and when to fsync.
    """

    def __init__(
        self,
        recording: RecordingHandle[S],
        *,
        width: int,
        height: int,
        fps: float,
        segment_seconds: float = 60.0,
        fsync_interval: float = 1.0,
        chunk_max_bytes: int = 4 * 1024 * 1024,
        gap_seconds: float = 2.0,
        preroll_sync_seconds: float | None = None,
        preroll_sync_bytes: int = PREROLL_SYNC_BYTES,
        audio: bool = False,
    ) -> None:
        self._rec = recording
        self._audio = audio
        self._size = (width, height)
        self._fps = fps
        self._segment_us = round(segment_seconds * 1e6)
        self._fsync_us = round(fsync_interval * 1e6)
        self._frame_us = round(1e6 / fps)
        self._gap_us = round(gap_seconds * 1e6)
        self._chunk_max = chunk_max_bytes
        self._burst_sync_us = round((fsync_interval if preroll_sync_seconds is None
                                     else preroll_sync_seconds) * 1e6)
        self._burst_sync_bytes = preroll_sync_bytes
        self._unsynced_first_us: int | None = None  # sealed, not yet fsync'd: from here
        self._unsynced_bytes = 0
        self._origin_us: int | None = None
        self._seg: S | None = None
        self._mux: TsMuxer | None = None
        self._seg_start_us = 0
        # TS bytes out of the muxer, not yet in a chunk (which frames they hold, the
        # muxer knows: see _unsealed_frames).
        self._pending: list[bytes] = []
        self._pending_bytes = 0
        self._seg_frames_sealed = 0  # video frames of this segment in sealed chunks
        self._sealed_last_us: int | None = None  # the newest frame in a sealed chunk
        # A chunk whose write failed: retried as it was (same bytes, its nonce is spent)
        # before anything newer, so new footage never needs that nonce again.
        self._retry: tuple[bytes, int, int, int] | None = None
        self._closed = False
        self._unclosed: str | None = None  # an interrupted segment's close failed: why
        self._gap: tuple[int | None, str] | None = None
        self.stats = RecordingStats()

    @property
    def recording_id(self) -> str:
        return self._rec.id

    # -- the path --------------------------------------------------------------------------

    def write_preroll(self, packets: Iterable[Packet]) -> None:
        """Write the whole pre-roll at once, oldest first, durable as it goes: an fsync
        after every ``fsync_interval`` of footage or ``preroll_sync_bytes`` sealed, so a
        power cut in the middle keeps what was written before it (a single fsync at
        the end would make the whole burst all or nothing)."""
        for pkt in packets:
            self._write(pkt, live=False)
        if self._seal() or self.stats.chunks:
            self._sync()

    def write(self, pkt: Packet) -> None:
        """Write one live packet; seals and fsyncs a chunk when one is due."""
        self._write(pkt, live=True)

    def flush_due(self, now_pts_us: int) -> None:
        """Seal and fsync pending bytes older than the fsync interval.

        Called from a timer so a camera that stops delivering packets cannot
        leave footage in RAM.
        """
        first = self._oldest_unsealed_us
        if first is not None and now_pts_us - first >= self._fsync_us and self._seal():
            self._sync()

    def bookmark(self, pts_us: int, utc: float, label: str = "") -> None:
        """Mark a moment (the officer pressed while recording)."""
        self._rec.add_bookmark(pts_us=pts_us, utc=utc, label=label)

    @property
    def frame_us(self) -> int:
        """One frame's duration at the recording's rate (µs)."""
        return self._frame_us

    def add_gap(self, start_pts_us: int, end_pts_us: int, reason: str) -> None:
        """Record a stretch with no footage (camera stall) in the manifest."""
        self._rec.add_gap(start_pts_us=start_pts_us, end_pts_us=end_pts_us, reason=reason)

    def interrupt(self, reason: str) -> bool:
        """The footage stopped (camera stall, storage fault): close the segment in
        progress now; the next packet opens a new segment of the same recording and
        the stretch between is recorded in the manifest as a gap.

        Returns False if the segment could not be closed (storage failing): its
        frames not yet written stay here, with the segment, and the next write (or
        :meth:`close`) first finishes that segment, so those frames, which need its
        keyframe, are never orphaned. Until then the segment is left as a power cut
        would leave it, its verified prefix intact.
        """
        if self._seg is None:
            if self._gap is None and self.stats.segments:  # between segments already
                self._gap = (self.stats.durable_pts_us, reason)
            return True
        self._unclosed = reason
        try:
            self._seal()  # what is pending first, the stream left open (see write_tail)
            self._finish_unclosed()
        except OSError as e:
            log.error("segment could not be closed (%s); its last frames wait in RAM", e)
            return False
        return True

    @property
    def unclosed(self) -> bool:
        """Whether an interrupted segment still waits for storage to be finished."""
        return self._unclosed is not None

    @property
    def takes_tail(self) -> bool:
        """Whether the interrupted segment's stream is still open, so the rest of its
        last GOP can join it in RAM (:meth:`write_tail`)."""
        return self._unclosed is not None and self._mux is not None and not self._mux.closed

    def write_tail(self, pkt: Packet) -> None:
        """While storage fails: a frame that continues the interrupted segment's last GOP
        (or sound), muxed into it in RAM; it reaches storage when the segment is finished.
        Frames after the next keyframe wait in the session's backlog instead."""
        if not self.takes_tail:
            raise RuntimeError("no interrupted segment takes a tail")
        if pkt.stream == AUDIO:
            self._write_audio(pkt)
        elif pkt.stream == VIDEO:
            self._mux_video(pkt)

    def _finish_unclosed(self) -> None:
        """Close the interrupted segment (its last chunk, its trailer); raises while
        storage still fails. The gap to the next segment starts after its last frame."""
        reason = self._unclosed
        assert reason is not None
        self._close_segment()
        self._unclosed = None
        self._gap = (self.stats.durable_pts_us, reason)

    def close(self) -> RecordingStats:
        """Close the segment in progress and finish the recording: nothing stays in RAM."""
        if self._closed:
            return self.stats
        self._closed = True
        self._close_segment()
        self._rec.finish()
        return self.stats

    # -- internals -------------------------------------------------------------------------

    def _write(self, pkt: Packet, *, live: bool) -> None:
        if self._closed:
            raise RuntimeError("recording is closed")
        if self._unclosed is not None:
            self._finish_unclosed()
        if pkt.stream == AUDIO:
            self._write_audio(pkt)
            return
        if pkt.stream != VIDEO:
            return
        last = self.stats.last_pts_us
        if self._seg is not None and last is not None and pkt.pts_us - last >= self._gap_us:
            # Frames stopped and came back inside one segment (a camera stall while the
            # footage waited in RAM): the manifest names the hole.
            self._rec.add_gap(start_pts_us=last, end_pts_us=pkt.pts_us, reason="no frames")
        if self._seg is None:
            if not pkt.keyframe:
                return  # a segment must start at a keyframe
            self._open_segment(pkt.pts_us)
        elif pkt.keyframe:
            # Chunk per GOP; segment per segment_seconds, cut at this keyframe. Sound
            # that came after the last seal, with no frame, rides in the next chunk:
            # chunks (and their I/O) follow the video as without sound.
            if (self._unsealed_frames or self._retry is not None) and self._seal():
                self._sealed(live)
            if pkt.pts_us - self._seg_start_us >= self._segment_us:
                self._close_segment()
                self._open_segment(pkt.pts_us)
        self._mux_video(pkt)
        if self._pending_bytes >= self._chunk_max or (live and self._interval_due()):
            self._seal()
            self._sealed(live)

    @property
    def _first_unsealed(self) -> int:
        """Index in the open segment's stream of the first video frame in no chunk (a
        chunk waiting for its retry counts as sealed: its frames are in it)."""
        return self._seg_frames_sealed + (self._retry[1] if self._retry is not None else 0)

    @property
    def _unsealed_frames(self) -> int:
        """Video frames of the open segment handed to the muxer and in no chunk yet (the
        one the muxer holds back included)."""
        mux = self._mux
        return 0 if mux is None else mux.video_frames_muxed - self._first_unsealed

    @property
    def _oldest_unsealed_us(self) -> int | None:
        """Sensor µs of the oldest of :attr:`_unsealed_frames`, None if there is none."""
        if not self._unsealed_frames:
            return None
        assert self._mux is not None
        return self._mux.video_pts(self._first_unsealed)

    def _interval_due(self) -> bool:
        """Seal now: the frames a seal would hold, with the next frame, span the fsync
        interval, so nothing captured longer ago than that stays only in RAM.

        Counted over the frames out of the muxer (with sound it holds the newest one
        back, so a seal one frame sooner would leave that frame as a chunk of its own
        at the keyframe). Half a frame of slack, as in :meth:`_sealed`: frame times are
        whole µs (33333 at 30 fps), and a GOP of exactly the interval must not wait
        for its next keyframe.
        """
        mux, first = self._mux, self._oldest_unsealed_us
        if mux is None or first is None or mux.video_frames_out <= self._first_unsealed:
            return False
        last_out = mux.video_pts(mux.video_frames_out - 1)
        return last_out + self._frame_us - first >= self._fsync_us - self._frame_us // 2

    def _mux_video(self, pkt: Packet) -> None:
        """Mux one frame into the open segment's stream; its bytes join the pending chunk."""
        mux = self._mux
        assert mux is not None
        mux.mux(pkt)
        data = mux.take()
        self._pending.append(data)
        self._pending_bytes += len(data)
        st = self.stats
        st.frames += 1
        if st.first_pts_us is None:
            st.first_pts_us = pkt.pts_us
        st.last_pts_us = pkt.pts_us

    def _sealed(self, live: bool) -> None:
        """A chunk was sealed: live, fsync it at once; in the pre-roll burst, once
        enough footage or bytes are waiting for their fsync."""
        first = self._unsynced_first_us
        # Half a frame of slack: a GOP of exactly fsync_interval whose frame times are
        # rounded down to whole microseconds (33333 us at 30 fps) still counts as one.
        if live or first is None or (
            (self.stats.last_pts_us or 0) + self._frame_us - first
            >= self._burst_sync_us - self._frame_us // 2
            or self._unsynced_bytes >= self._burst_sync_bytes
        ):
            self._sync()

    def _write_audio(self, pkt: Packet) -> None:
        if not self._audio or self._mux is None or self._origin_us is None \
                or pkt.pts_us < self._origin_us:
            return
        self._mux.mux(pkt)
        data = self._mux.take()
        self._pending.append(data)
        self._pending_bytes += len(data)
        self.stats.audio_packets += 1

    def _open_segment(self, start_us: int) -> None:
        if self._origin_us is None:
            self._origin_us = start_us
        self._seg = self._rec.open_segment()
        self._seg_frames_sealed = 0
        self._mux = TsMuxer(self._origin_us, *self._size, self._fps, audio=self._audio)
        if self._gap is not None:
            gap_start, reason = self._gap
            self._gap = None
            # A gap is footage missing: a seam where the next frame follows the last one
            # on storage (the footage waited in RAM, none was lost) is no gap.
            if gap_start is None or start_us - gap_start > self._frame_us * 3 // 2:
                self._rec.add_gap(
                    start_pts_us=gap_start if gap_start is not None else start_us,
                    end_pts_us=start_us, reason=reason,
                )
        self._seg_start_us = start_us
        self.stats.segments += 1

    def _seal(self) -> bool:
        """Hand the pending TS bytes to the evidence layer as one chunk; False if none.

        A chunk whose write failed is written again first, unchanged."""
        if self._retry is not None:
            data, frames, first_us, last_us = self._retry
            assert self._seg is not None  # a retry is of the open segment's chunk
            self._seg.write_chunk(data, frames=frames, first_pts_us=first_us,
                                  last_pts_us=last_us)
            self._retry = None
            self._seg_frames_sealed += frames
            if frames:
                self._sealed_last_us = last_us
            self.stats.chunks += 1
            self.stats.bytes_sealed += len(data)
            if not self._pending:
                return True
        if not self._pending:
            return False
        data = b"".join(self._pending)
        # Frames whose bytes are in this chunk: with sound, the muxer still holds the newest
        # packet, which goes out with the next chunk (recorder/tsmux.py).
        assert self._mux is not None and self._seg is not None
        # Their times, from the muxer: the chunk claims only frames whose bytes it holds.
        frames = self._mux.video_frames_out - self._seg_frames_sealed
        if frames:
            first_us = self._mux.video_pts(self._seg_frames_sealed)
            last_us = self._mux.video_pts(self._seg_frames_sealed + frames - 1)
        else:  # sound only
            last_us = self._sealed_last_us if self._sealed_last_us is not None \
                else (self.stats.last_pts_us or 0)
            first_us = last_us
        chunk = (data, frames, first_us, last_us)
        self._pending.clear()
        self._pending_bytes = 0
        try:
            self._seg.write_chunk(chunk[0], frames=chunk[1], first_pts_us=chunk[2],
                                  last_pts_us=chunk[3])
        except OSError:
            self._retry = chunk
            raise
        self._seg_frames_sealed += frames
        if frames:
            self._sealed_last_us = last_us
        self.stats.chunks += 1
        self.stats.bytes_sealed += len(data)
        if self._unsynced_first_us is None:
            self._unsynced_first_us = first_us
        self._unsynced_bytes += len(data)
        return True

    def _sync(self) -> None:
        if self._seg is None:
            return
        self._seg.sync()
        self.stats.fsyncs += 1
        # Only frames in sealed chunks: with sound, the muxer may still hold the newest.
        if self._sealed_last_us is not None:
            self.stats.durable_pts_us = self._sealed_last_us
        self._unsynced_first_us = None
        self._unsynced_bytes = 0

    def _close_segment(self) -> None:
        if self._seg is None:
            return
        assert self._mux is not None
        tail = self._mux.close()
        if tail:
            self._pending.append(tail)
        self._seal()
        self._rec.close_segment(self._seg)
        self.stats.durable_pts_us = self._sealed_last_us = self.stats.last_pts_us
        self._unsynced_first_us = None
        self._unsynced_bytes = 0
        self._seg = None
        self._mux = None
