"""Power cuts as the card sees them, through `bodycam run --sim`, verify and export.

The simulated medium keeps only what was fsync'd at a cut (hw_sim/medium.py). A
sample of the sweep of bench/crash_sweep.py (every operation of a short scenario,
strict and torn; `make crash-sweep` runs all of them) and the findings that made
the fixes: bookmarks that vanished, a pre-roll that was all or nothing.
"""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

from bench import crash_sweep
from hw_sim.frametag import frame_numbers

CONFIG = """
[camera]
width = 320
height = 240
lores_width = 160
lores_height = 120
[prerecord]
seconds = 4
[storage]
reserve_mib = 1
min_free_mib = 1
[display]
enabled = false
"""


def _device(tmp: Path) -> crash_sweep.Setup:
    setup = crash_sweep.make_setup(tmp)
    setup.config.write_text(CONFIG)
    return setup


def _cut_run(setup: crash_sweep.Setup, data: Path, scenario: str) -> None:
    path = setup.work / "s.toml"
    path.write_text(scenario)
    status = crash_sweep.boot(setup.run_args(data, path), setup.work / "cut.log")
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL
    path.write_text("duration = 1.0\n")
    status = crash_sweep.boot(setup.run_args(data, path), setup.work / "restart.log")
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, \
        (setup.work / "restart.log").read_text()


def test_a_bookmark_survives_a_cut_two_seconds_later_with_long_segments(tmp_path: Path) -> None:
    # 60 s segments: no new segment or manifest fsyncs the directory after the bookmark.
    setup, data = _device(tmp_path), tmp_path / "data"
    _cut_run(setup, data, 'duration = 20.0\n[[event]]\nat = 5.0\naction = "press"\n'
                          '[[event]]\nat = 7.0\naction = "press"\n'
                          '[[event]]\nat = 9.0\naction = "power_cut"\n')
    code, report = setup.export(data, tmp_path / "out")
    assert code == 3, "cut by power loss: incomplete, untampered"
    (rec,) = report["verification"]["recordings"]
    assert rec["status"] == "truncated"
    assert len(rec["bookmarks"]) == 1, "the officer felt the bookmark cue 2 s before the cut"
    frames = frame_numbers(report["recordings"][0]["mp4"])
    assert frames[0] <= 1 * 30 and frames == list(range(frames[0], frames[-1] + 1))
    assert frames[-1] >= (9.0 - 1.0) * 30 - 1, "at most the fsync interval lost"


def test_a_cut_inside_the_preroll_write_keeps_what_was_written(tmp_path: Path) -> None:
    setup, data = _device(tmp_path), tmp_path / "ref"
    trace = tmp_path / "trace.jsonl"
    scenario = tmp_path / "ref.toml"
    scenario.write_text('duration = 8.0\n[[event]]\nat = 5.0\naction = "press"\n')
    assert crash_sweep.boot([*setup.run_args(data, scenario), "--storage-trace", str(trace)],
                            tmp_path / "ref.log") == 0
    ops = [json.loads(line) for line in trace.read_text().splitlines()]
    seg_writes = [o for o in ops if o["kind"] == "write" and "seg-000000" in o["path"]
                  and o["offset"] > 0]
    fsyncs = [o for o in ops if o["kind"] == "fsync" and "seg-000000" in o["path"]]
    # The 4-5 s pre-roll goes out at the press as one GOP chunk a second, each fsync'd.
    burst = [o for o in seg_writes if o["t"] == seg_writes[0]["t"]]
    assert len(burst) >= 4
    synced_in_burst = [o for o in fsyncs if o["t"] == burst[0]["t"]]
    assert len(synced_in_burst) >= len(burst), "an fsync after every second of pre-roll"
    # Cut right after the fourth pre-roll chunk is written (not yet fsync'd), strict.
    cut_at = burst[3]["op"]
    _cut_run(setup, tmp_path / "cut",
             f'duration = 8.0\n[[event]]\nat = 5.0\naction = "press"\n'
             f'[[event]]\nat = 8.0\naction = "power_cut"\nop = {cut_at}\n')
    code, report = setup.export(tmp_path / "cut", tmp_path / "out")
    assert code == 3
    (rec,) = report["verification"]["recordings"]
    assert rec["status"] == "truncated" and rec["problems"]
    frames = frame_numbers(report["recordings"][0]["mp4"])
    # The three chunks fsync'd before the cut are kept, oldest first: 3 s of pre-roll.
    assert frames == list(range(frames[0], frames[0] + 90))


def test_sweep_sample_every_cut_passes(tmp_path: Path) -> None:
    figures = crash_sweep.sweep(tmp_path, limit=14, jobs=1)
    assert figures["cuts"] >= 12 and figures["modes"] == ["strict", "torn"]
    assert figures["findings"] == [], json.dumps(figures["findings"], indent=1)
    assert figures["worst_loss_s"] <= crash_sweep.FSYNC_S + 1 / crash_sweep.FPS
