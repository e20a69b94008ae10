"""Scenario files: every kind of mistake names the line and key; events land on time."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import hw_sim
from hw_sim.clock import VirtualClock
from hw_sim.scenario import ACTIONS, ScenarioError, load_scenario, parse_scenario
from hw_sim.world import PRESS_SECONDS, CameraSpec, Fault, World

SCENARIOS = Path(hw_sim.__file__).parent / "scenarios"
REPO = Path(hw_sim.__file__).parent.parent


def _error(text: str) -> str:
    with pytest.raises(ScenarioError) as info:
        parse_scenario(text, "demo.toml")
    message = str(info.value)
    assert "\n" not in message
    return message


OK_HEAD = 'duration = 40.0\n[[event]]\nat = 12.0\naction = "press"\n\n'


@pytest.mark.parametrize(("text", "expected"), [
    pytest.param('duration = 40.0\n[[event]]\nat = 12.0\naction = press\n',
                 "demo.toml line 4: TOML syntax error: Invalid value (column 10)", id="syntax"),
    pytest.param(OK_HEAD + '[[event]]\nat = 13.0\naction = "prss"\n',
                 "demo.toml line 8: event 2 key 'action': unknown action 'prss' (expected one of "
                 + ", ".join(ACTIONS) + ")", id="unknown-action"),
    pytest.param(OK_HEAD + '[[event]]\nat = 30.0\naction = "hold"\n',
                 "demo.toml line 6: event 2 key 'seconds': missing (action 'hold' needs "
                 "'seconds')", id="missing-key"),
    pytest.param(OK_HEAD + '[[event]]\naction = "press"\n',
                 "demo.toml line 6: event 2 key 'at': missing (a required key)", id="missing-at"),
    pytest.param('duration = "40"\n',
                 "demo.toml line 1: key 'duration': expected a number, got string '40'",
                 id="wrong-type"),
    pytest.param(OK_HEAD + '[[event]]\nat = 30\naction = "hold"\nseconds = "3.5"\n',
                 "demo.toml line 9: event 2 key 'seconds': expected a number, got string '3.5'",
                 id="wrong-type-event"),
    pytest.param(OK_HEAD + '[[event]]\nat = 40.5\naction = "press"\n',
                 "demo.toml line 7: event 2 key 'at': 40.5 is outside 0..40 (the duration)",
                 id="out-of-range"),
    pytest.param('duration = 0\n', "demo.toml line 1: key 'duration': must be > 0, got 0",
                 id="bad-duration"),
    pytest.param(OK_HEAD + '[[event]]\nat = 1\naction = "camera_stall"\nseconds = -2\n',
                 "demo.toml line 9: event 2 key 'seconds': must be > 0, got -2", id="negative"),
    pytest.param(OK_HEAD + '[[event]]\nat = 1\naction = "press"\nsecond = 2\n',
                 "demo.toml line 9: event 2 key 'second': unknown key for action 'press' "
                 "(allowed: at, action, note)", id="unknown-key"),
    pytest.param('duration = 40\nspeed = 2\n',
                 "demo.toml line 2: key 'speed': unknown top-level key (expected one of "
                 "duration, description, seed, event)", id="unknown-top-key"),
    pytest.param('[[event]]\nat = 1\naction = "press"\n',
                 "demo.toml line 1: key 'duration': missing (a required key)", id="no-duration"),
])
def test_errors_name_file_line_and_key(text: str, expected: str) -> None:
    assert _error(text) == expected


def test_missing_file_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match=r"nope\.toml: cannot read"):
        load_scenario(tmp_path / "nope.toml")


def test_bundled_scenarios_load_and_demo_is_as_promised() -> None:
    files = sorted(SCENARIOS.glob("*.toml"))
    assert {p.name for p in files} >= {"demo.toml", "faults.toml", "gestures.toml"}
    for path in files:
        load_scenario(path)
    demo = load_scenario(SCENARIOS / "demo.toml")
    assert demo.duration == 60.0
    assert [(e.at, e.action, e.params) for e in demo.events] == [
        (40.0, "press", {}), (45.0, "press", {}), (50.0, "hold", {"seconds": 3.5})]


def test_every_action_and_its_optional_keys_parse() -> None:
    sc = parse_scenario(
        'duration = 10\nseed = 3\ndescription = "all"\n'
        '[[event]]\nat = 0\naction = "press"\nnote = "at frame 0"\n'
        '[[event]]\nat = 1\naction = "double_press"\n'
        '[[event]]\nat = 2\naction = "hold"\nseconds = 1\n'
        '[[event]]\nat = 3\naction = "camera_stall"\nseconds = 0.5\n'
        '[[event]]\nat = 4\naction = "clock_step"\nseconds = -30\nsource = "rtc"\n'
        '[[event]]\nat = 5\naction = "storage_full"\n'
        '[[event]]\nat = 6\naction = "io_error"\ncount = 3\nop = "fsync"\n'
        '[[event]]\nat = 7\naction = "storage_free"\n'
        '[[event]]\nat = 10\naction = "power_cut"\n')
    assert sc.seed == 3 and sc.description == "all"
    assert sorted(e.action for e in sc.events) == sorted(ACTIONS)
    assert sc.events[5].params == {"free_bytes": 0}  # defaults filled in
    assert sc.events[6].params == {"count": 3, "op": "fsync"}
    assert sc.events[0].note == "at frame 0" and sc.events[0].line == 4


@pytest.fixture
def world() -> Iterator[World]:
    w = World(VirtualClock(), camera=CameraSpec(size=(160, 120), lores_size=(80, 60)))
    with hw_sim.installed(w):
        yield w


def test_schedule_binds_time_zero_to_the_first_frame(world: World) -> None:
    sc = parse_scenario(
        'duration = 3\n'
        '[[event]]\nat = 1.0\naction = "press"\n'
        '[[event]]\nat = 1.5\naction = "clock_step"\nseconds = -60\nsource = "unsynced"\n'
        '[[event]]\nat = 2.0\naction = "storage_full"\n'
        '[[event]]\nat = 2.5\naction = "io_error"\n')
    seen: list[Fault] = []
    world.on_fault("storage_full", seen.append)
    world.gpio.configure_input(17, 22)
    edges: list[float] = []
    world.gpio.add_edge_listener(17, lambda _p, _lv, t: edges.append(t))
    sc.schedule(world, stop_at_end=True)  # before the camera starts: waits for frame 0
    world.clock.call_later(0.25, _start_camera)
    world.clock.run()
    origin = world.frame_origin
    assert origin == 1000.25
    assert world.clock.monotonic() == origin + 3  # stopped at the end
    assert edges[0] == origin + 1.0 and max(edges) < origin + 1.0 + PRESS_SECONDS + 0.01
    assert world.clock.source() == "unsynced"
    assert world.clock.time() == pytest.approx(world.clock.monotonic() - 1000 + 1_768_464_000 - 60)
    assert [(f.at, f.params) for f in seen] == [(origin + 2.0, {"free_bytes": 0})]
    assert [f.params for f in world.faults["io_error"]] == [{"count": 1, "op": "write"}]
    assert world.camera_device.frames_captured == 90  # frames 0..89: 3 s at 30 fps


def _start_camera() -> None:
    from picamera2 import Picamera2

    Picamera2().start()


def test_camera_stall_from_a_scenario(world: World) -> None:
    sc = parse_scenario('duration = 2\n[[event]]\nat = 0.5\naction = "camera_stall"\n'
                        'seconds = 1.0\n')
    sc.schedule(world, stop_at_end=True)
    _start_camera()
    world.clock.run()
    assert world.camera_device.frames_captured == 60 - 30


POWER_CUT = """
import atexit, sys
sys.path.insert(0, {repo!r})
import hw_sim
from hw_sim.clock import VirtualClock
from hw_sim.scenario import parse_scenario
from hw_sim.world import CameraSpec, World
w = World(VirtualClock(), camera=CameraSpec(size=(64, 64), lores_size=(32, 32)))
hw_sim.install(w)
atexit.register(lambda: print("atexit ran", flush=True))
from picamera2 import Picamera2
parse_scenario('duration = 5\\n[[event]]\\nat = 0.5\\naction = "power_cut"\\n').schedule(w)
Picamera2().start()
try:
    w.clock.run()
finally:
    print("finally ran", flush=True)
"""


def test_power_cut_kills_the_process_without_clean_up(tmp_path: Path) -> None:
    script = tmp_path / "cut.py"
    script.write_text(POWER_CUT.format(repo=str(REPO)))
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                          timeout=60, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    assert "ran" not in proc.stdout
