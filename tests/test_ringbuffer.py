"""Property tests of the pre-record buffer: the pre-roll an officer gets on a press."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from recorder.packet import AUDIO, Packet
from recorder.ringbuffer import PreRecordBuffer


def make_stream(gop_lengths: list[int], fps: float, sizes: list[int]) -> list[Packet]:
    """Packets of consecutive GOPs; frame n at n/fps seconds (plus a sensor base)."""
    base = 5_000_000_000
    out = []
    n = 0
    for gop in gop_lengths:
        for i in range(gop):
            size = sizes[n % len(sizes)]
            data = n.to_bytes(4, "big") + bytes(max(0, size - 4))
            out.append(Packet(data, i == 0, base + round(n * 1e6 / fps)))
            n += 1
    return out


def frame_no(pkt: Packet) -> int:
    return int.from_bytes(pkt.data[:4], "big")


streams = st.fixed_dictionaries(
    {
        "gops": st.lists(st.integers(1, 90), min_size=1, max_size=40),
        "fps": st.sampled_from([5.0, 10.0, 15.0, 24.0, 25.0, 29.97, 30.0, 60.0]),
        "sizes": st.lists(st.integers(4, 5000), min_size=1, max_size=8),
        "seconds": st.floats(0.0, 120.0),
        "delay": st.floats(0.0, 2.0),
    }
)


@settings(max_examples=300, deadline=None)
@given(streams)
def test_preroll_starts_at_keyframe_covering_the_wanted_seconds(case: dict) -> None:
    stream = make_stream(case["gops"], case["fps"], case["sizes"])
    buf = PreRecordBuffer(seconds=case["seconds"], max_bytes=10**12)
    for pkt in stream:
        buf.append(pkt)
    # The gesture is recognised up to `delay` after it started.
    trigger = stream[-1].pts_us - round(case["delay"] * 1e6)
    preroll = buf.take(trigger)
    cutoff = trigger - round(case["seconds"] * 1e6)

    assert preroll, "a trigger after the first keyframe always gets footage"
    assert preroll[0].keyframe
    # A contiguous suffix of what the camera produced: nothing lost, nothing twice.
    first = frame_no(preroll[0])
    assert [frame_no(p) for p in preroll] == list(range(first, len(stream)))
    keyframes = [p.pts_us for p in stream if p.keyframe]
    if keyframes[0] <= cutoff:
        # At least the wanted length, and at most one GOP more.
        assert preroll[0].pts_us <= cutoff
        later = [k for k in keyframes if k > preroll[0].pts_us]
        assert not later or later[0] > cutoff
    else:
        # The camera has not run that long: everything since it started.
        assert preroll[0].pts_us == keyframes[0]
    assert len(buf) == 0 and buf.nbytes == 0


@settings(max_examples=200, deadline=None)
@given(streams, st.integers(1000, 400_000))
def test_byte_cap_is_never_exceeded_and_evicts_whole_gops(case: dict, cap: int) -> None:
    stream = make_stream(case["gops"], case["fps"], case["sizes"])
    shortfalls: list[tuple[float, float]] = []
    buf = PreRecordBuffer(
        seconds=case["seconds"], max_bytes=cap, on_shortfall=lambda c, w: shortfalls.append((c, w))
    )
    for pkt in stream:
        buf.append(pkt)
        assert buf.nbytes <= cap
    covered = buf.covered_seconds
    preroll = buf.take(stream[-1].pts_us)
    if preroll:
        assert preroll[0].keyframe
        first = frame_no(preroll[0])
        assert [frame_no(p) for p in preroll] == list(range(first, first + len(preroll)))
    if buf.evicted_for_cap and covered < case["seconds"]:
        assert shortfalls, "a buffer cut short by the byte cap is reported"
    assert all(c < w for c, w in shortfalls)


def test_length_can_change_at_run_time() -> None:
    stream = make_stream([30] * 20, 30.0, [1000])
    buf = PreRecordBuffer(seconds=10, max_bytes=10**9, trigger_slack=0)
    for pkt in stream:
        buf.append(pkt)
    assert 10 <= buf.covered_seconds < 12
    buf.seconds = 3
    assert 3 <= buf.covered_seconds < 5
    with pytest.raises(ValueError):
        buf.seconds = 121


def test_packets_before_the_first_keyframe_are_dropped_and_audio_rides_along() -> None:
    buf = PreRecordBuffer(seconds=1)
    buf.append(Packet(b"p", False, 0))
    assert len(buf) == 0
    buf.append(Packet(b"k", True, 10))
    buf.append(Packet(b"a", False, 11, stream=AUDIO))
    buf.append(Packet(b"p", False, 20))
    assert [p.data for p in buf.take(20)] == [b"k", b"a", b"p"]


def test_clear_discards_everything() -> None:
    buf = PreRecordBuffer(seconds=5)
    for pkt in make_stream([30] * 3, 30.0, [100]):
        buf.append(pkt)
    buf.clear()
    assert buf.nbytes == 0 and buf.take(10**12) == []
