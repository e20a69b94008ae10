"""``bodycam doctor`` on the simulation: healthy, each injected fault, usage errors, and the
device-only paths that can run anywhere (service state through a stand-in systemctl)."""

from __future__ import annotations

import argparse
import json
import os
import re
import stat
from pathlib import Path

import pytest

import hw_sim
from evidence import keys
from firmware import doctor
from hw_sim.clock import VirtualClock
from hw_sim.world import World

SMALL = """
[camera]
width = 320
height = 240
lores_width = 160
lores_height = 120
"""
NAMES = ["config", "clock", "identity", "storage", "panel", "camera", "button", "cues", "microphone",
         "service"]


@pytest.fixture(scope="module")
def identity(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("keys")
    _, pub = keys.create_custodian(d / "office")
    keys.create_device("SIM-DOC-1", pub, d / "id")
    return d / "id"


@pytest.fixture
def setup(tmp_path: Path, identity: Path) -> dict[str, Path]:
    (tmp_path / "data").mkdir()
    config = tmp_path / "config.toml"
    config.write_text(SMALL)
    return {"data": tmp_path / "data", "identity": identity, "config": config}


def ns(setup: dict[str, Path], *, sim: bool = True, as_json: bool = True,
       fault: str | None = None, **over: object) -> argparse.Namespace:
    values = {"sim": sim, "json": as_json, "config": setup["config"], "data_dir": setup["data"],
              "identity": setup["identity"], "fault": fault}
    values.update(over)
    return argparse.Namespace(**values)


def run_json(args: argparse.Namespace, capsys: pytest.CaptureFixture[str]) -> tuple[int, dict]:
    code = doctor.main(args)
    return code, json.loads(capsys.readouterr().out)


def by_name(report: dict) -> dict[str, dict]:
    return {c["name"]: c for c in report["checks"]}


def test_healthy_simulation_passes_every_line(setup, capsys) -> None:
    code, report = run_json(ns(setup), capsys)
    assert code == 0 and report["ok"] is True and report["sim"] is True
    assert [c["name"] for c in report["checks"]] == NAMES
    lines = by_name(report)
    assert all(c["ok"] for c in report["checks"]), report
    assert "SIM-DOC-1" in lines["identity"]["detail"]
    assert "keyframes" in lines["camera"]["detail"] and "320x240" in lines["camera"]["detail"]
    assert "seen down and up" in lines["button"]["detail"]
    assert "simulated glass shows them" in lines["panel"]["detail"]
    assert lines["service"]["detail"] == "skipped (simulation)"
    assert lines["clock"]["detail"].startswith("ntp")
    # The simulated microphone's bursts (-6 dBFS, 10 % of the time) and its exact clock.
    assert "level -2" in lines["microphone"]["detail"] and "+0 ppm" in lines["microphone"]["detail"]
    assert list(setup["data"].iterdir()) == []  # the probe file is gone


def test_text_checklist(setup, capsys) -> None:
    assert doctor.main(ns(setup, as_json=False)) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "bodycam doctor (simulation)"
    assert out[-1] == "all checks passed"
    assert [line.split()[0] for line in out[1:-1]] == ["PASS"] * len(NAMES)


@pytest.mark.parametrize("fault, line, words", [
    ("camera_stall", "camera", "no frames in 2 s"),
    ("storage_full", "storage", "No space left on device"),
    ("storage_readonly", "storage", "Read-only file system"),
    ("no_identity", "identity", "no such identity directory"),
    ("clock_unsynced", "clock", "unsynced"),
    ("mic_missing", "microphone", "No such device"),
])
def test_each_fault_fails_its_line_only(setup, capsys, fault, line, words) -> None:
    code, report = run_json(ns(setup, fault=fault), capsys)
    assert code == 1 and report["ok"] is False and report["fault"] == fault
    failed = {c["name"]: c for c in report["checks"] if not c["ok"]}
    assert list(failed) == [line]
    assert words in failed[line]["detail"]
    assert failed[line]["hint"]
    assert list(setup["data"].iterdir()) == []  # a failed probe is cleaned up too


def test_fault_in_text_mode_shows_fail_and_hint(setup, capsys) -> None:
    assert doctor.main(ns(setup, as_json=False, fault="storage_full")) == 1
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "bodycam doctor (simulation, fault injected: storage_full)"
    storage = next(i for i, line in enumerate(out) if line.split()[1:2] == ["storage"])
    assert out[storage].split()[0] == "FAIL"
    assert out[storage + 1].strip().startswith("-> offload the evidence")
    assert out[-1] == f"1 of {len(NAMES)} checks failed"


def test_missing_data_dir_and_custodian_private_key_fail(setup, tmp_path, capsys) -> None:
    bad_id = tmp_path / "bad-id"
    bad_id.mkdir()
    for name in ("device.key", "device.pub", "custodian.pub"):
        (bad_id / name).write_bytes((setup["identity"] / name).read_bytes())
    (bad_id / "custodian.key").write_text("-----BEGIN PRIVATE KEY-----\n")
    code, report = run_json(ns(setup, data_dir=tmp_path / "nowhere", identity=bad_id), capsys)
    lines = by_name(report)
    assert code == 1
    assert "no such directory" in lines["storage"]["detail"]
    assert "custodian PRIVATE key" in lines["identity"]["detail"]


def test_storage_below_two_segments_fails(setup, capsys) -> None:
    from hw_sim.fake_storage import StorageSim

    world = World(VirtualClock())
    medium = StorageSim(world, setup["data"])
    conf = {"recording": {"segment_seconds": 60.0}, "camera": {"bitrate": 9_000_000}}
    need = doctor.min_free_bytes(conf)
    assert need == 135_000_000
    medium.install()
    try:
        world.inject_fault("storage_full", free_bytes=need - 1)
        check = doctor.check_storage(setup["data"], conf, device=False)
        assert not check.ok and "need 128.7 MiB" in check.detail
        world.inject_fault("storage_full", free_bytes=need + doctor.PROBE_BYTES)
        assert doctor.check_storage(setup["data"], conf, device=False).ok
    finally:
        medium.uninstall()


def test_config_pins_reach_the_button_check(setup, capsys) -> None:
    setup["config"].write_text(SMALL + "[button]\npin = 22\nactive_low = false\n")
    code, report = run_json(ns(setup), capsys)
    button = by_name(report)["button"]
    assert code == 0 and button["ok"]
    assert button["detail"].startswith("BCM 22 (active high, pull-down)")


def test_cue_lines_are_driven_and_read_back() -> None:
    world = World(VirtualClock())
    with hw_sim.installed(world):
        check = doctor.check_cues({"cues": {"led_pin": 5, "vibration_pin": -1, "buzzer_pin": 6}})
    assert check.ok and "led_pin BCM 5" in check.detail and "buzzer_pin BCM 6" in check.detail
    assert [lv for _t, lv in world.gpio.outputs(5)] == [0, 1, 0]
    assert [lv for _t, lv in world.gpio.outputs(6)] == [0, 1, 0]
    # -1 means "not fitted": that line is skipped, never driven.
    assert doctor.cue_pins({"cues": {"led_pin": -1, "vibration_pin": 6, "buzzer_pin": -1}}) == {
        "vibration_pin": 6}


@pytest.mark.parametrize("over, message", [
    ({"fault": "meteor"}, "unknown fault 'meteor'"),
    ({"fault": "camera_stall", "sim": False}, "only be injected with --sim"),
])
def test_usage_errors_exit_2(setup, capsys, over, message) -> None:
    assert doctor.main(ns(setup, **over)) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("bodycam: ") and message in captured.err
    assert captured.err.count("\n") == 1


def test_config_error_exits_2(setup, capsys) -> None:
    setup["config"].write_text("[camera]\nfps = 500\n")
    assert doctor.main(ns(setup)) == 2
    err = capsys.readouterr().err
    assert "camera.fps" in err and "out of range" in err


def fake_systemctl(tmp_path: Path, enabled: str, active: str, monkeypatch) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    script = bin_dir / "systemctl"
    script.write_text(f"""#!/bin/sh
case "$1" in
  is-enabled) echo {enabled} ;;
  is-active) echo {active} ;;
esac
""")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")


def test_running_service_holds_the_hardware(setup, tmp_path, capsys, monkeypatch) -> None:
    fake_systemctl(tmp_path, "enabled", "active", monkeypatch)
    code, report = run_json(ns(setup, sim=False), capsys)
    lines = by_name(report)
    assert code == 1
    assert lines["service"] == {"name": "service", "ok": True, "detail": "enabled, active",
                                "hint": ""}
    for name in ("camera", "button", "cues", "panel"):
        assert not lines[name]["ok"] and "in use by the bodycam service" in lines[name]["detail"]
        assert "systemctl stop bodycam" in lines[name]["hint"]
    assert lines["storage"]["ok"] and lines["identity"]["ok"]


@pytest.mark.parametrize("enabled, active, ok, words", [
    ("enabled", "inactive", True, "start it again"),
    ("enabled", "failed", False, "enabled, failed"),
    ("disabled", "inactive", False, "disabled, inactive"),
    ("not-found", "inactive", False, "not installed"),
])
def test_service_states(tmp_path, monkeypatch, enabled, active, ok, words) -> None:
    fake_systemctl(tmp_path, enabled, active, monkeypatch)
    check, busy = doctor.check_service(sim=False)
    assert check.ok is ok and words in check.detail and busy is False


def test_service_user_access_rules() -> None:
    mode = stat.S_IFDIR | 0o750
    assert doctor.may_access(mode, 0, 999, 999, {999}, 3) is False  # group r-x: no write
    assert doctor.may_access(mode, 999, 999, 999, {999}, 3) is True  # owner rwx
    assert doctor.may_access(stat.S_IFREG | 0o640, 0, 998, 999, {998}, 4) is True
    assert doctor.may_access(stat.S_IFREG | 0o600, 0, 998, 999, {998}, 4) is False
    assert doctor.may_access(stat.S_IFREG | 0o600, 5, 5, 0, set(), 4) is True  # root


def test_colour_bars_are_eight_bars_left_to_right() -> None:
    bars = doctor.colour_bars((320, 240))
    assert bars.shape == (240, 320) and bars.dtype.str == ">u2"
    assert [int(v) for v in bars[0, 20::40]] == list(doctor.COLOUR_BARS)
    assert doctor.human(135_000_000) == "128.7 MiB" and doctor.human(10) == "10 bytes"


def test_no_gpio_chip_access_gets_the_group_hint() -> None:
    from drivers.gpio_claim import ChipUnavailable
    from firmware import doctor_hw

    hint = doctor_hw._hint(ChipUnavailable("cannot open the GPIO chip"), "another program holds the line")
    assert hint.startswith("permission denied") and "gpio" in hint


def test_microphone_clock_rate_is_measured_and_a_wild_one_fails(setup, capsys) -> None:
    from firmware import config
    from firmware.doctor_mic import check_microphone
    from firmware.run import simulated_device

    conf = config.defaults()
    conf["storage"]["data_dir"] = str(setup["data"])
    for ppm, ok in ((300.0, True), (8000.0, False)):
        with simulated_device(conf, fast=True) as world:
            world.mic_clock_ppm = ppm
            world.set_frame_origin(world.clock.monotonic())
            line = check_microphone(conf, world.clock)
        assert line.ok is ok, line
        measured = float(re.search(r"clock ([+-]\d+) ppm", line.detail).group(1))
        assert abs(measured - ppm) < 100  # 6 s of 1 ms USB packets: good to about 100 ppm
