"""The segment writer's decisions: chunks per GOP, segments cut at keyframes, fsync cadence.

The evidence layer is replaced by an in-memory recorder of calls here, so these
tests see exactly what the writer hands over; the end-to-end tests run the real one.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from hw_sim.frametag import frame_numbers
from recorder.segmenter import RecordingWriter
from tests.conftest import BASE_US, h264_stream


@dataclass
class MemSegment:
    chunks: list[tuple[bytes, int, int, int]] = field(default_factory=list)
    syncs: int = 0
    closed: bool = False

    def write_chunk(self, data: bytes, *, frames: int, first_pts_us: int, last_pts_us: int) -> None:
        assert not self.closed
        self.chunks.append((data, frames, first_pts_us, last_pts_us))

    def sync(self) -> None:
        self.syncs += 1

    @property
    def ts(self) -> bytes:
        return b"".join(c[0] for c in self.chunks)


@dataclass
class MemRecording:
    id: str = "rec-1"
    segments: list[MemSegment] = field(default_factory=list)
    bookmarks: list[tuple[int, float, str]] = field(default_factory=list)
    finished: bool = False

    def open_segment(self) -> MemSegment:
        self.segments.append(MemSegment())
        return self.segments[-1]

    def close_segment(self, seg: MemSegment) -> None:
        seg.closed = True

    def add_bookmark(self, pts_us: int, utc: float, label: str = "") -> None:
        self.bookmarks.append((pts_us, utc, label))

    def add_gap(self, start_pts_us: int, end_pts_us: int, reason: str) -> None:
        raise AssertionError("no gaps here")

    def finish(self) -> None:
        self.finished = True


def write(packets, preroll: int = 0, **kw) -> tuple[MemRecording, RecordingWriter]:
    rec = MemRecording()
    w = RecordingWriter(rec, width=160, height=120, fps=30, **kw)
    w.write_preroll(packets[:preroll])
    for p in packets[preroll:]:
        w.write(p)
    w.close()
    return rec, w


def test_every_frame_exactly_once_across_segment_seams() -> None:
    packets = h264_stream(30 * 25)  # 25 s, 1 s GOP
    rec, w = write(packets, preroll=90, segment_seconds=10)
    assert rec.finished and all(s.closed for s in rec.segments)
    assert len(rec.segments) == 3  # 0-10 s, 10-20 s, 20-25 s
    seen: list[int] = []
    for seg in rec.segments:
        numbers = frame_numbers(seg.ts)
        assert numbers, "each segment decodes on its own"
        assert numbers[0] % 30 == 0, "each segment starts at a keyframe"
        seen += numbers
    assert seen == list(range(30 * 25))
    assert w.stats.frames == 30 * 25


def test_chunks_follow_gops_and_live_chunks_are_fsynced() -> None:
    packets = h264_stream(30 * 6)
    rec, w = write(packets, preroll=60)
    (seg,) = rec.segments
    frames = [c[1] for c in seg.chunks]
    # Pre-roll: two GOP chunks, then one chunk per live GOP.
    assert frames == [30] * 6
    # The pre-roll is made durable as it goes out (issue 16: one fsync at its end made a
    # power cut inside the burst lose all of it): one fsync per fsync_interval of its
    # footage (here per GOP), then one per live GOP, each as soon as its last frame is in.
    assert seg.syncs == 2 + 4
    for _data, n, first, last in seg.chunks:
        assert abs(last - first - (n - 1) * 1e6 / 30) <= 1


def test_a_live_gop_as_long_as_the_interval_is_durable_with_its_last_frame() -> None:
    """A sensor's frame duration is whole µs (libcamera's FrameDurationLimits: 33333 at
    30 fps), so a 1 s GOP's first frame is 999,990 µs before the next keyframe. The GOP
    must still be sealed and fsynced with its last frame, not one frame later at the
    next keyframe (capture to durable would then exceed fsync_interval plus one fsync:
    docs/RECORDING.md)."""
    packets = [replace(p, pts_us=BASE_US + n * 33_333) for n, p in enumerate(h264_stream(30 * 3))]
    rec = MemRecording()
    w = RecordingWriter(rec, width=160, height=120, fps=30, fsync_interval=1.0)
    w.write_preroll(packets[:30])
    for p in packets[30:60]:  # the second GOP, live, up to its last frame
        w.write(p)
    assert rec.segments[0].syncs == 2
    assert w.stats.durable_pts_us == packets[59].pts_us


def test_with_sound_the_held_back_frame_does_not_split_a_gop_into_two_chunks() -> None:
    """With two streams the muxer holds the newest frame back; sealing one frame sooner
    would leave that frame to the next keyframe as a chunk (and an fsync) of its own."""
    packets = [replace(p, pts_us=BASE_US + n * 33_333) for n, p in enumerate(h264_stream(30 * 6))]
    rec, w = write(packets, preroll=30, audio=True)
    (seg,) = rec.segments
    assert [c[1] for c in seg.chunks] == [29] + [30] * 5 + [1]  # the held frame, at close
    assert seg.syncs == 6  # one per chunk; the segment's close makes the last durable


def test_long_gop_still_fsyncs_within_the_interval() -> None:
    packets = h264_stream(30 * 8, gop=120)  # 4 s GOPs
    rec, w = write(packets, fsync_interval=1.0)
    (seg,) = rec.segments
    spans = [(last - first) / 1e6 for _, _, first, last in seg.chunks]
    assert max(spans) < 1.0
    assert seg.syncs >= 7


def test_recording_waits_for_a_keyframe_when_there_is_no_preroll() -> None:
    packets = h264_stream(30 * 3)
    rec, _ = write(packets[10:])
    numbers = frame_numbers(rec.segments[0].ts)
    assert numbers[0] == 30 and numbers[-1] == 89


def test_bookmark_goes_to_the_manifest() -> None:
    rec = MemRecording()
    w = RecordingWriter(rec, width=160, height=120, fps=30)
    w.bookmark(123, 1.5, "press")
    w.close()
    assert rec.bookmarks == [(123, 1.5, "press")]


def _with_sound(video: list, seconds: float) -> list:
    """Video packets interleaved with AAC of the same span, in arrival order (sound a
    little after the frame of the same moment), as the daemon hands them over."""
    import numpy as np

    from recorder.aac import SAMPLE_RATE, AacEncoder

    enc = AacEncoder()
    origin = video[0].pts_us
    k0 = origin * SAMPLE_RATE // 1_000_000
    sound = enc.encode(k0, np.zeros(int(seconds * SAMPLE_RATE), np.float32)) + enc.flush()
    return sorted(video + sound, key=lambda p: (p.pts_us + (20_000 if p.stream else 0)))


def test_with_sound_a_chunk_claims_only_the_frames_whose_bytes_it_holds() -> None:
    # The TS muxer holds back the newest packet with two streams; a chunk that claimed
    # it would make durable_pts_us a frame too late (a storage fault then loses it).
    video = list(h264_stream(30 * 4))
    rec, _w = write(_with_sound(video, 4.0), audio=True, segment_seconds=60)
    (seg,) = rec.segments
    claimed = []
    for _data, frames, first, last in seg.chunks:
        if frames:
            claimed.append((first, last, frames))
    # Chunk frame counts add up, and each chunk's first/last are frames it carries:
    # consecutive chunks neither overlap nor leave a frame between them.
    assert sum(f for _a, _b, f in claimed) == len(video)
    pts = [p.pts_us for p in video]
    for first, last, frames in claimed:
        assert pts.index(last) - pts.index(first) + 1 == frames
    for (_a, last, _f), (first, _b, _g) in zip(claimed, claimed[1:], strict=False):
        assert pts.index(first) == pts.index(last) + 1
    assert frame_numbers(seg.ts) == list(range(len(video)))


class FailingSegment(MemSegment):
    failing = False

    def write_chunk(self, data: bytes, *, frames: int, first_pts_us: int, last_pts_us: int) -> None:
        if FailingSegment.failing:
            raise OSError(5, "card went away")
        super().write_chunk(data, frames=frames, first_pts_us=first_pts_us,
                            last_pts_us=last_pts_us)


class FailingRecording(MemRecording):
    gaps: list = []

    def open_segment(self) -> MemSegment:
        self.segments.append(FailingSegment())
        return self.segments[-1]

    def add_gap(self, start_pts_us: int, end_pts_us: int, reason: str) -> None:
        self.gaps.append((start_pts_us, end_pts_us, reason))


def test_a_segment_whose_close_failed_keeps_the_rest_of_its_gop_and_is_finished_first() -> None:
    packets = list(h264_stream(30 * 3))  # keyframes at 0, 30, 60
    rec = FailingRecording()
    rec.gaps = []
    w = RecordingWriter(rec, width=160, height=120, fps=30, segment_seconds=60)
    for p in packets[:45]:
        w.write(p)
    FailingSegment.failing = True
    try:
        assert not w.interrupt("storage error"), "the close failed"
        assert w.takes_tail
        for p in packets[45:60]:  # the rest of the GOP: it needs the cut segment's keyframe
            w.write_tail(p)
    finally:
        FailingSegment.failing = False
    for p in packets[60:]:  # storage is back: the cut segment is finished first
        w.write(p)
    w.close()
    first, second = rec.segments
    assert first.closed and frame_numbers(first.ts) == list(range(60))
    assert frame_numbers(second.ts) == list(range(60, 90))
    assert rec.gaps == [], "nothing is missing at the seam"
