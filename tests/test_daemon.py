"""The daemon's state machine, driven directly: simulated camera and button, a fake evidence
store, the fast virtual clock. What the officer would notice: which state the camera is in,
which frames reach storage, and that footage waits in RAM (not in the pre-record buffer)
while storage fails."""

from __future__ import annotations

import errno
import threading
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from display import Mode
from evidence.signer import KeyStore
from firmware import config
from firmware.daemon import Daemon
from firmware.run import SIM_CAMERA, simulated_device
from firmware.states import State
from hw_sim.run_record import RunRecord


class FakeSegment:
    def __init__(self, store: FakeStore) -> None:
        self.store = store
        self.frames: list[tuple[int, int, int]] = []  # (frames, first_pts_us, last_pts_us)
        self.closed = False

    def write_chunk(self, data: bytes, /, *, frames: int, first_pts_us: int,
                    last_pts_us: int) -> None:
        self.store.check()
        self.frames.append((frames, first_pts_us, last_pts_us))

    def sync(self) -> None:
        self.store.check()


class FakeRecording:
    def __init__(self, store: FakeStore, rec_id: str) -> None:
        self.store = store
        self.id = rec_id
        self.segments: list[FakeSegment] = []
        self.gaps: list[tuple[int, int, str]] = []
        self.bookmarks: list[int] = []
        self.finished = False

    def open_segment(self) -> FakeSegment:
        self.store.check()
        seg = FakeSegment(self.store)
        self.segments.append(seg)
        return seg

    def close_segment(self, seg: FakeSegment) -> None:
        self.store.check()
        seg.closed = True

    def add_bookmark(self, pts_us: int, utc: float, label: str = "") -> None:
        self.bookmarks.append(pts_us)

    def add_gap(self, start_pts_us: int, end_pts_us: int, reason: str) -> None:
        self.gaps.append((start_pts_us, end_pts_us, reason))

    def finish(self) -> None:
        self.store.check()
        self.finished = True

    def frames(self) -> int:
        return sum(n for seg in self.segments for n, _a, _b in seg.frames)


class FakeStore:
    """An evidence store whose every write fails while ``failing`` is set."""

    def __init__(self) -> None:
        self.failing: OSError | None = None
        self.recordings: list[FakeRecording] = []
        # The watermark names the device; the boot entry says where its key lives.
        self.identity = SimpleNamespace(device_id="FAKE-1", key_store=KeyStore.FILE)
        self.thread_names: set[str] = set()

    def check(self) -> None:
        self.thread_names.add(threading.current_thread().name)
        if self.failing is not None:
            raise self.failing

    def begin_recording(self, utc_start: float, clock_source: str,
                        start_pts_us: int) -> FakeRecording:
        self.check()
        rec = FakeRecording(self, f"rec-{len(self.recordings) + 1}")
        self.recordings.append(rec)
        return rec


class ListAudit:
    signer = None

    def __init__(self) -> None:
        self.entries: list[tuple[str, dict[str, Any]]] = []
        self.hook: Any = None

    def append(self, event: str, **fields: Any) -> dict[str, Any]:
        if self.hook is not None:
            self.hook(event, fields)
        self.entries.append((event, fields))
        return fields

    def checkpoint(self) -> dict[str, Any]:
        return {}

    def events(self) -> list[str]:
        return [e for e, _ in self.entries]


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[dict[str, Any]]:
    conf = config.defaults()
    conf["camera"].update(SIM_CAMERA)
    conf["camera"].update(width=160, height=120, lores_width=160, lores_height=120)
    conf["display"]["enabled"] = False
    conf["cues"]["reminder_seconds"] = 0
    conf["prerecord"]["seconds"] = 2
    conf["storage"]["data_dir"] = str(tmp_path / "data")
    (tmp_path / "data").mkdir()
    with simulated_device(conf, fast=True) as world:
        store, audit = FakeStore(), ListAudit()
        daemon = Daemon(conf, world.clock, store=store, audit=audit, events=RunRecord())
        daemon.start()
        yield {"daemon": daemon, "world": world, "store": store, "audit": audit,
               "clock": world.clock}
        daemon.shutdown()


def run_to(rig: dict[str, Any], scenario_s: float) -> None:
    world = rig["world"]
    if world.frame_origin is None:
        rig["clock"].run(until=rig["clock"].monotonic() + 0.2)
    rig["clock"].run(until=world.at(scenario_s))


def states(daemon: Daemon) -> list[tuple[str, str]]:
    record = daemon.events
    assert isinstance(record, RunRecord)
    return [(old, new) for _t, old, new, _why in record.transitions]


def test_press_records_and_hold_closes_on_the_writer_thread(rig) -> None:
    daemon, world, store = rig["daemon"], rig["world"], rig["store"]
    run_to(rig, 0.5)
    world.press(world.at(3.0))
    world.hold(world.at(6.0), 3.2)
    run_to(rig, 12.0)
    assert states(daemon) == [("standby", "recording"), ("recording", "stopping"),
                              ("stopping", "standby")]
    (rec,) = store.recordings
    assert rec.finished and all(seg.closed for seg in rec.segments)
    # Pre-roll from the keyframe at or before 1 s (2 s before the press), every frame to the stop.
    first = rec.segments[0].frames[0][1]
    last = rec.segments[-1].frames[-1][2]
    fps = daemon.conf["camera"]["fps"]
    assert rec.frames() == round((last - first) / 1e6 * fps) + 1
    assert store.thread_names == {"evidence-io"}, "the loop never touched storage"
    assert daemon.state is State.STANDBY and daemon.recording is None


def test_a_failing_write_suspends_and_the_footage_waits_with_the_writer(rig) -> None:
    daemon, world, store = rig["daemon"], rig["world"], rig["store"]
    run_to(rig, 0.5)
    world.press(world.at(1.0))
    run_to(rig, 4.0)
    store.failing = OSError(errno.EIO, "card went away")
    run_to(rig, 5.0)
    assert daemon.state is State.SUSPENDED and daemon.state.public == "fault"
    assert len(daemon.buffer) == 0, "held footage never goes back to the pre-record buffer"
    assert daemon.snapshot.state.mode == Mode.RECORDING, "still capturing, held in RAM"
    run_to(rig, 9.0)
    assert daemon.state is State.SUSPENDED  # retried with back-off, still failing
    store.failing = None
    run_to(rig, 20.0)
    assert daemon.state is State.RECORDING
    assert ("fault", "recording") in states(daemon)
    (rec,) = store.recordings
    # The segment whose close failed kept its last frames with the writer, which
    # finished it first: no footage is missing, so the seam is no gap.
    assert len(rec.segments) >= 2 and rec.gaps == []
    # What waited in RAM went out in order, with nothing skipped, seam included
    # (chunks of sound alone carry no frames).
    frames = [f for seg in rec.segments for f in seg.frames if f[0]]
    frame_us = round(1e6 / daemon.conf["camera"]["fps"])
    assert all(a[2] < b[1] <= a[2] + frame_us * 3 // 2
               for a, b in zip(frames, frames[1:], strict=False))
    assert "storage_recovered" in rig["audit"].events()


def test_a_recording_storage_cannot_begin_is_begun_at_the_retry(rig) -> None:
    daemon, world, store = rig["daemon"], rig["world"], rig["store"]
    run_to(rig, 3.0)
    store.failing = OSError(errno.EIO, "no card")
    world.press(world.at(3.5))
    run_to(rig, 4.0)
    assert daemon.state is State.SUSPENDED and store.recordings == []
    store.failing = None
    run_to(rig, 8.0)
    assert daemon.state is State.RECORDING
    (rec,) = store.recordings
    first = rec.segments[0].frames[0][1]
    trigger_us = daemon.timebase.sensor_us(world.at(3.5))
    assert first <= trigger_us - 2_000_000, "the pre-roll reaches back from the press"
    assert "recording_started" in rig["audit"].events()


def test_a_close_that_fails_ends_in_fault_and_storage_back_returns_to_standby(rig) -> None:
    daemon, world, store = rig["daemon"], rig["world"], rig["store"]
    run_to(rig, 0.5)
    world.press(world.at(1.0))
    world.hold(world.at(3.0), 3.2)
    run_to(rig, 6.1)
    store.failing = OSError(errno.EIO, "cannot finish")
    run_to(rig, 7.0)
    assert daemon.state is State.FAULT and daemon.recording is None
    assert "recording_unclosed" in rig["audit"].events()
    store.failing = None
    run_to(rig, 12.0)
    assert daemon.state is State.STANDBY
    assert states(daemon)[-2:] == [("stopping", "fault"), ("fault", "standby")]


def test_the_display_never_reads_half_a_stop(rig) -> None:
    """Sampled while the stop is being written, the display shows the recording with its
    elapsed time, or standby: never "recording, 0 s"."""
    daemon, world, audit = rig["daemon"], rig["world"], rig["audit"]
    seen = []

    def sample(event: str, fields: dict[str, Any]) -> None:  # on the writer thread, beside the loop
        stopping = (event == "recording_stopped" or fields.get("name") == "stop"
                    or fields.get("new") in ("stopping", "standby"))
        if stopping:
            seen.append(daemon.display_state())

    audit.hook = sample
    run_to(rig, 0.5)
    world.press(world.at(1.0))
    world.hold(world.at(4.0), 3.2)
    run_to(rig, 9.0)
    recording = [s for s in seen if s.mode == Mode.RECORDING]
    assert recording and any(s.mode == Mode.STANDBY for s in seen)
    # The stop is acted on 3 s into the recording (the hold), so any "recording" seen
    # during it shows at least that.
    assert all(s.recording_elapsed_s >= 3.0 for s in recording), \
        [s.recording_elapsed_s for s in recording]
    assert all(s.recording_elapsed_s == 0 for s in seen if s.mode == Mode.STANDBY)


def test_a_packet_callback_that_fails_does_not_end_the_recording(tmp_path) -> None:
    """As on the device's SystemClock: the failing callback is logged and the loop goes on."""
    conf = config.defaults()
    conf["camera"].update(width=160, height=120, lores_width=160, lores_height=120)
    conf["display"]["enabled"] = False
    conf["storage"]["data_dir"] = str(tmp_path)
    with simulated_device(conf, fast=True) as world:
        world.clock.contain_errors = True
        store = FakeStore()
        daemon = Daemon(conf, world.clock, store=store, audit=ListAudit())
        daemon.start()
        real = daemon.watch.packet
        calls = []

        def flaky(pkt) -> None:
            calls.append(pkt.pts_us)
            if len(calls) == 60:
                raise RuntimeError("a bug seen once")
            real(pkt)

        daemon.watch.packet = flaky  # type: ignore[method-assign]
        world.clock.run(until=world.clock.monotonic() + 0.2)
        world.press(world.at(1.0))
        world.hold(world.at(4.0), 3.2)
        world.clock.run(until=world.at(9.0))
        daemon.shutdown()
    (rec,) = store.recordings
    assert rec.finished and rec.frames() > 4 * conf["camera"]["fps"]
    assert daemon.state is State.STANDBY
