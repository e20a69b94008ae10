"""End to end on the simulated hardware: press, record, stop, verify, export, decode.

These run the real ``bodycam`` command line (in-process, or as a subprocess
where the process must die or receive a signal) on the virtual clock, and read
back which captured frames the exported recording holds from the frame tags.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from firmware.cli import main
from hw_sim.frametag import frame_numbers

FPS = 30
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def keys(tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("keys")
    assert main(["keys", "custodian", "--out", str(d / "office")]) == 0
    assert main(["keys", "device", "--device-id", "SIM-7", "--custodian-pub",
                 str(d / "office" / "custodian.pub"), "--out", str(d / "id")]) == 0
    return {"key": d / "office" / "custodian.key", "pub": d / "id" / "device.pub", "id": d / "id"}


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def run_sim(tmp: Path, keys: dict, scenario: str, config: str = "", capsys=None,
            extra: tuple[str, ...] = ()) -> dict:
    """Run a scenario in-process; returns the JSON summary."""
    args = ["run", "--sim", "--fast", "--data-dir", str(tmp / "data"), "--identity", str(keys["id"]),
            "--scenario", str(write(tmp / "scenario.toml", scenario)), *extra]
    if config:
        args += ["--config", str(write(tmp / "config.toml", config))]
    assert main(args) == 0
    out = capsys.readouterr().out
    return json.loads(out[out.index("{"):])


def export(tmp: Path, keys: dict, expect: int = 0) -> list[Path]:
    out = tmp / f"export{len(list(tmp.glob('export*')))}"
    code = main(["export", str(tmp / "data"), "--custodian-key", str(keys["key"]),
                 "--device-pub", str(keys["pub"]), "--out", str(out)])
    assert code == expect
    return sorted(out.glob("*.mp4"))


def test_press_records_the_preroll_and_every_frame_until_the_hold(tmp_path, keys, capsys) -> None:
    press, preroll, hold_at = 20.0, 5.0, 31.4
    summary = run_sim(
        tmp_path, keys,
        f'duration = 40.0\n[[event]]\nat = {press}\naction = "press"\n'
        f'[[event]]\nat = {hold_at}\naction = "hold"\nseconds = 3.5\n',
        "[prerecord]\nseconds = 5\n[recording]\nsegment_seconds = 10\n",
        capsys,
    )
    assert [(t["from"], t["to"]) for t in summary["transitions"]] == [
        ("standby", "recording"), ("recording", "stopping"), ("stopping", "standby")]
    (rec,) = summary["recordings"]
    assert rec["segments"] == 2  # 15-25 s and 25-34.9 s: rolled over at a keyframe

    (mp4,) = export(tmp_path, keys)
    frames = frame_numbers(mp4)
    cutoff = round((press - preroll) * FPS)
    # First frame at or before T-D, and no earlier than one GOP (1 s) before it.
    assert cutoff - FPS < frames[0] <= cutoff
    # Every frame from there to the stop exactly once. With the stealth gesture on the
    # same button (6 s hold), a 3.5 s hold stops when it is let go (31.4 + 3.5 s, plus
    # the 30 ms debounce).
    assert frames == list(range(frames[0], frames[-1] + 1))
    assert round((hold_at + 3.5) * FPS) - 1 <= frames[-1] <= round((hold_at + 3.5) * FPS) + 1
    sidecar = json.loads(mp4.with_suffix(".json").read_text())
    # Frame 450 at 15 s, give or take the camera's whole-microsecond frame duration (33,333 µs).
    start = datetime.fromisoformat(sidecar["utc_start"].replace("Z", "+00:00"))
    assert abs((start - datetime(2026, 1, 15, 8, 0, 15, tzinfo=UTC)).total_seconds()) < 0.001


def test_bouncing_presses_make_one_transition_each(tmp_path, keys, capsys) -> None:
    summary = run_sim(
        tmp_path, keys,
        'duration = 20.0\n[[event]]\nat = 2.0\naction = "press"\n'
        '[[event]]\nat = 6.0\naction = "press"\n[[event]]\nat = 9.0\naction = "press"\n'
        '[[event]]\nat = 12.0\naction = "hold"\nseconds = 4\n',
        "", capsys,
    )
    # The simulated contacts bounce; still one start, two bookmarks, one stop.
    starts = [t for t in summary["transitions"] if t["to"] == "recording"]
    assert len(starts) == 1 and abs(starts[0]["t"] - 2.0) < 0.1
    assert len(summary["recordings"]) == 1
    lines = (tmp_path / "data" / "audit.log").read_text().splitlines()
    events = [json.loads(line)["event"] for line in lines]
    assert events.count("bookmark") == 2
    assert events.count("button") == 2 * 4, "one press and one release per contact, not per bounce"


def test_double_press_start_measures_preroll_from_the_first_press(tmp_path, keys, capsys) -> None:
    summary = run_sim(
        tmp_path, keys,
        'duration = 25.0\n[[event]]\nat = 4.0\naction = "press"\n'
        '[[event]]\nat = 10.0\naction = "double_press"\n'
        '[[event]]\nat = 18.0\naction = "hold"\nseconds = 3.2\n',
        '[gestures]\nstart = "double_press"\n[prerecord]\nseconds = 3\n',
        capsys,
    )
    starts = [t for t in summary["transitions"] if t["to"] == "recording"]
    assert len(starts) == 1, "a single press does not start a double-press camera"
    (mp4,) = export(tmp_path, keys)
    frames = frame_numbers(mp4)
    assert 6 * FPS < frames[0] <= 7 * FPS  # 10 s - 3 s, down to a keyframe


def test_without_identity_it_runs_but_refuses_to_record(tmp_path, capsys) -> None:
    code = main(["run", "--sim", "--fast", "--data-dir", str(tmp_path / "data"), "--identity",
                 str(tmp_path / "nothing"), "--scenario",
                 str(write(tmp_path / "s.toml", 'duration = 5.0\n[[event]]\nat = 1.0\naction = "press"\n'))])
    captured = capsys.readouterr()
    assert code == 0
    summary = json.loads(captured.out[captured.out.index("{"):])
    assert summary["refused"] == 1 and summary["recordings"] == []
    assert "recording refused" in captured.err and "identity" in captured.err
    assert not list((tmp_path / "data").rglob("*.seg*")), "fail closed: nothing written"


def test_no_plaintext_frame_reaches_storage(tmp_path, keys, capsys) -> None:
    run_sim(tmp_path, keys, 'duration = 12.0\n[[event]]\nat = 6.0\naction = "press"\n', "", capsys)
    (mp4,) = export(tmp_path, keys)
    plain = mp4.read_bytes()
    # Known frames: windows of coded picture data from the exported (decrypted) file.
    samples = [plain[i:i + 48] for i in range(len(plain) // 3, len(plain) - 4096, len(plain) // 10)]
    for path in (tmp_path / "data").rglob("*"):
        if not path.is_file():
            continue
        blob = path.read_bytes()
        for code in (b"\x00\x00\x00\x01\x67", b"\x00\x00\x00\x01\x65", b"\x00\x00\x01\x65"):
            assert code not in blob, f"H.264 start code in {path}"
        ts_sync = sum(1 for i in range(0, min(len(blob), 188 * 64), 188) if blob[i] == 0x47)
        assert ts_sync < 8, f"MPEG-TS packets in the clear in {path}"
        for s in samples:
            assert s not in blob, f"a frame's bytes appear in {path}"


def _bodycam(*args: str, **kw) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "firmware.cli", *args], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


def test_sigterm_closes_the_recording_cleanly(tmp_path, keys) -> None:
    data = tmp_path / "data"
    scenario = write(tmp_path / "s.toml", 'duration = 3600.0\n[[event]]\nat = 1.0\naction = "press"\n')
    proc = _bodycam("run", "--sim", "--data-dir", str(data), "--identity", str(keys["id"]),
                    "--scenario", str(scenario))
    deadline = time.monotonic() + 60
    while not list(data.glob("recordings/*/*")) and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(2.5)  # real-time simulation: a few seconds of recording
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert "shut down cleanly" in err
    assert main(["verify", str(data), "--device-pub", str(keys["pub"])]) == 0
    (mp4,) = export(tmp_path, keys)
    assert len(frame_numbers(mp4)) >= 2 * FPS


def test_power_cut_then_reboot_recovers_and_continues_the_chain(tmp_path, keys, capsys) -> None:
    data = tmp_path / "data"
    scenario = write(tmp_path / "cut.toml",
                     'duration = 30.0\n[[event]]\nat = 5.0\naction = "press"\n'
                     '[[event]]\nat = 17.5\naction = "power_cut"\n')
    proc = _bodycam("run", "--sim", "--fast", "--data-dir", str(data), "--identity", str(keys["id"]),
                    "--scenario", str(scenario), env={**os.environ, "PYTHONPATH": str(ROOT)})
    proc.communicate(timeout=120)
    assert proc.returncode == -signal.SIGKILL
    # Reboot: recovery runs first; then a new recording.
    summary = run_sim(tmp_path, keys, 'duration = 8.0\n[[event]]\nat = 2.0\naction = "press"\n', "", capsys)
    assert len(summary["recordings"]) == 1
    assert main(["verify", str(data), "--device-pub", str(keys["pub"])]) == 3  # incomplete, untampered
    verdict = capsys.readouterr().out
    assert "TAMPERED" not in verdict.upper().replace("UNTAMPERED", "")
    mp4s = export(tmp_path, keys, expect=3)
    assert len(mp4s) == 2
    cut = frame_numbers(mp4s[0])
    # Pre-roll from 0 s; everything captured more than the fsync interval (1 s) before the cut.
    assert cut[0] == 0
    assert cut == list(range(0, cut[-1] + 1))
    assert cut[-1] >= round((17.5 - 1.0) * FPS) - 1


def test_stealth_hold_darkens_every_cue_and_keeps_recording(tmp_path, keys, capsys) -> None:
    summary = run_sim(
        tmp_path, keys,
        'duration = 40.0\n[[event]]\nat = 2.0\naction = "press"\n'
        '[[event]]\nat = 6.0\naction = "hold"\nseconds = 6.5\n'      # stealth on, keeps recording
        '[[event]]\nat = 16.0\naction = "press"\n'                   # a bookmark, silently
        '[[event]]\nat = 20.0\naction = "hold"\nseconds = 3.5\n'     # stop, silently
        '[[event]]\nat = 26.0\naction = "hold"\nseconds = 6.5\n',    # records again; stealth off
        "[cues]\nreminder_seconds = 0\n",
        capsys,
    )
    assert [(t["from"], t["to"]) for t in summary["transitions"]] == [
        ("standby", "recording"), ("recording", "stopping"), ("stopping", "standby"),
        ("standby", "recording"), ("recording", "stopping"), ("stopping", "standby")]
    stop = [t["t"] for t in summary["transitions"] if t["to"] == "stopping"][0]
    assert 23.4 < stop < 23.6, "the 6.5 s hold toggled stealth and did not stop the recording"
    assert len(summary["recordings"]) == 2
    lines = (tmp_path / "data" / "audit.log").read_text().splitlines()
    entries = [json.loads(line) for line in lines]
    cues = [e for e in entries if e["event"] == "cue"]
    by_name = {}
    for e in cues:
        by_name.setdefault(e["name"], []).append(e)
    assert by_name["bookmark"][0].get("silenced") == "stealth"
    assert by_name["stop"][0].get("silenced") == "stealth"
    assert by_name["start"][0].get("silenced") is None
    assert by_name["start"][1].get("silenced") == "stealth"  # the covert second start
    assert [e["on"] for e in entries if e["event"] == "stealth"] == [True, False]


def test_cue_pins_follow_the_recording(tmp_path, keys, capsys, monkeypatch) -> None:
    from contextlib import contextmanager

    import firmware.run as runmod

    seen = {}
    real = runmod.simulated_device

    @contextmanager
    def keep(conf, fast, **kw):  # keep the world so its pin history can be read after the run
        with real(conf, fast, **kw) as world:
            seen["world"] = world
            yield world

    monkeypatch.setattr(runmod, "simulated_device", keep)
    run_sim(tmp_path, keys,
            'duration = 10.0\n[[event]]\nat = 2.0\naction = "press"\n'
            '[[event]]\nat = 5.0\naction = "hold"\nseconds = 3.2\n', "", capsys)
    world = seen["world"]
    led = [(round(t - world.frame_origin, 3), lv) for t, pin, lv in world.gpio.history if pin == 5]
    # Start: two 150 ms pulses from the press (+30 ms debounce), then lit; dark after the stop cue.
    assert led[0] == (0.0, 0), "off from boot"
    # Start: two 150 ms pulses from the press (debounced: 30 ms after the contact
    # settles), then lit until the stop cue ends; then dark.
    t0 = led[1][0]
    assert 2.03 <= t0 < 2.06
    assert [(round(t - t0, 3), lv) for t, lv in led[1:6]] == [
        (0.0, 1), (0.15, 0), (0.3, 1), (0.45, 0), (0.6, 1)]
    assert led[6][1] == 0 and len(led) == 7
    assert 9.0 < led[6][0] < 9.5  # released at 8.2 s, 1 s stop pulse


@pytest.mark.parametrize("board", ["pi4", "pi5"])
def test_camera_stall_resumes_the_recording_in_a_new_segment_with_the_gap(
        tmp_path, keys, capsys, board) -> None:
    # The front panel is on (--display-out), so the display thread asks for lores frames
    # all through the stall: that must not hold up the loop, the stop or the restart.
    summary = run_sim(
        tmp_path, keys,
        f'board = "{board}"\nduration = 25.0\n[[event]]\nat = 2.0\naction = "press"\n'
        '[[event]]\nat = 8.0\naction = "camera_stall"\nseconds = 5\n'
        '[[event]]\nat = 18.0\naction = "hold"\nseconds = 3.2\n',
        "[prerecord]\nseconds = 1\n", capsys, extra=("--display-out", str(tmp_path / "panel")),
    )
    (rec,) = summary["recordings"]
    assert rec["segments"] == 2
    assert main(["verify", str(tmp_path / "data"), "--device-pub", str(keys["pub"])]) == 0
    capsys.readouterr()
    (mp4,) = export(tmp_path, keys)
    sidecar = json.loads(mp4.with_suffix(".json").read_text())
    (gap,) = sidecar["gaps"]
    assert gap["reason"] == "camera stall"
    assert 4.9 <= (gap["end_pts_us"] - gap["start_pts_us"]) / 1e6 <= 7.5
    lines = [json.loads(line) for line in (tmp_path / "data" / "audit.log").read_text().splitlines()]
    events = [line["event"] for line in lines]
    assert "camera_stall" in events and "camera_restart" in events and "camera_resumed" in events
    # Frames the encoder still held when the sensor stopped (x264's frame threads on a
    # Pi 5) come out when the camera is stopped: they end the segment before the gap,
    # and are not taken for the camera resuming.
    frames = frame_numbers(mp4)
    restart = next(i for i in range(1, len(frames)) if frames[i] < frames[i - 1])  # tags from 0 again
    last_before = max(n for n in range(300) if n * 33_333 < 8_000_000)  # exposed before 8.0 s
    assert frames[:restart] == list(range(frames[0], last_before + 1))
    (resumed,) = [line for line in lines if line["event"] == "camera_resumed"]
    assert resumed["pts_us"] >= gap["end_pts_us"] > gap["start_pts_us"]


def test_front_display_shows_recording_and_leaves_the_recording_alone(tmp_path, keys, capsys) -> None:
    import numpy as np
    from PIL import Image

    scenario = ('duration = 7.0\n[[event]]\nat = 1.0\naction = "press"\n'
                '[[event]]\nat = 2.5\naction = "hold"\nseconds = 3.2\n')
    with_panel = tmp_path / "a"
    without = tmp_path / "b"
    with_panel.mkdir()
    without.mkdir()
    # On the virtual clock, so that both runs are frame-exact: with picamera2's own threads
    # a real-time run on a loaded machine drops frames at the sensor (no free buffer), which
    # says nothing about the display. The panel thread still runs at its own real-time pace.
    args = ["run", "--sim", "--fast", "--data-dir", str(with_panel / "data"), "--identity",
            str(keys["id"]), "--scenario", str(write(with_panel / "s.toml", scenario)),
            "--display-out", str(with_panel / "panel")]
    assert main(args) == 0
    out = capsys.readouterr().out
    a = json.loads(out[out.index("{"):])
    b = run_sim(without, keys, scenario, "[display]\nenabled = false\n", capsys)
    assert a["recordings"][0]["frames"] == b["recordings"][0]["frames"]
    assert [(t["from"], t["to"]) for t in a["transitions"]] == [
        (t["from"], t["to"]) for t in b["transitions"]]

    frames = sorted((with_panel / "panel").glob("frame_*.png"))
    assert len(frames) >= 15 and (with_panel / "panel" / "display.gif").exists()

    def red_share(path: Path) -> float:
        top = np.asarray(Image.open(path).convert("RGB"))[:60].astype(int)
        red = (top[..., 0] > 180) & (top[..., 1] < 60) & (top[..., 2] < 60)
        return float(red.mean())

    shares = [red_share(f) for f in frames]
    assert max(shares) > 0.3, "the red REC badge fills the top of the panel while recording"
    assert min(shares) < 0.05, "and is gone in standby"


def _audit_events(data: Path) -> list[dict]:
    return [json.loads(line) for line in (data / "audit.log").read_text().splitlines()]


def test_clock_step_leaves_timestamps_monotonic_and_is_logged(tmp_path, keys, capsys) -> None:
    run_sim(
        tmp_path, keys,
        'duration = 14.0\n[[event]]\nat = 2.0\naction = "press"\n'
        '[[event]]\nat = 5.0\naction = "clock_step"\nseconds = -3600\nsource = "rtc"\n'
        '[[event]]\nat = 9.0\naction = "hold"\nseconds = 3.2\n',
        "", capsys,
    )
    steps = [e for e in _audit_events(tmp_path / "data") if e["event"] == "clock_step"]
    assert len(steps) == 1 and round(steps[0]["step_s"]) == -3600 and steps[0]["source"] == "rtc"
    (mp4,) = export(tmp_path, keys)
    frames = frame_numbers(mp4)
    assert frames == list(range(frames[0], frames[-1] + 1))
    sidecar = json.loads(mp4.with_suffix(".json").read_text())
    assert sidecar["utc_start"].startswith("2026-01-15T08:00:00"), "UTC of the first frame, before the step"


def test_sighup_reloads_the_prerecord_length_while_running(tmp_path, keys) -> None:
    data = tmp_path / "data"
    config = write(tmp_path / "c.toml", "[prerecord]\nseconds = 30\n[display]\nenabled = false\n")
    scenario = write(tmp_path / "s.toml", "duration = 3600.0\n")
    proc = _bodycam("run", "--sim", "--data-dir", str(data), "--identity", str(keys["id"]),
                    "--scenario", str(scenario), "--config", str(config))
    deadline = time.monotonic() + 60
    while not (data / "audit.log").exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(1.0)
    config.write_text("[prerecord]\nseconds = 12\n[display]\nenabled = false\n")
    proc.send_signal(signal.SIGHUP)
    time.sleep(1.5)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert "configuration reloaded: pre-record 12 s" in err
    (entry,) = [e for e in _audit_events(data) if e["event"] == "config"]
    assert entry["prerecord_seconds"] == 12 and entry["changed"] == ["prerecord.seconds"]


def test_presses_during_state_changes(tmp_path, keys, capsys) -> None:
    # A press 70 ms after a stop was acted on (the stop cue still playing) starts the
    # next recording at once, measured from its own contact.
    summary = run_sim(
        tmp_path, keys,
        'duration = 20.0\n[[event]]\nat = 1.0\naction = "press"\n'
        '[[event]]\nat = 2.0\naction = "hold"\nseconds = 3.2\n'     # stop, acted on at 5.23 s
        '[[event]]\nat = 5.3\naction = "press"\n'                  # next recording at once
        '[[event]]\nat = 9.0\naction = "hold"\nseconds = 3.2\n',
        "", capsys,
    )
    starts = [round(t["t"], 2) for t in summary["transitions"] if t["to"] == "recording"]
    stops = [round(t["t"], 2) for t in summary["transitions"] if t["to"] == "stopping"]
    assert len(summary["recordings"]) == 2
    assert starts[0] < 1.1 and 5.3 <= starts[1] < 5.4
    assert 5.2 <= stops[0] < 5.3 and 12.2 <= stops[1] < 12.3


def test_armed_mode_press_arms_hold_disarms(tmp_path, keys, capsys) -> None:
    summary = run_sim(
        tmp_path, keys,
        'duration = 30.0\n[[event]]\nat = 2.0\naction = "press"\n'        # arm
        '[[event]]\nat = 5.0\naction = "hold"\nseconds = 4\n'              # disarm, discard
        '[[event]]\nat = 12.0\naction = "press"\n'                         # arm again
        '[[event]]\nat = 20.0\naction = "press"\n'                         # record
        '[[event]]\nat = 24.0\naction = "hold"\nseconds = 3.2\n',
        '[prerecord]\nmode = "armed"\nseconds = 30\n', capsys,
    )
    assert len(summary["recordings"]) == 1
    kinds = [e["event"] for e in _audit_events(tmp_path / "data")]
    assert kinds.count("prerecord_armed") == 2 and kinds.count("prerecord_disarmed") == 1
    (mp4,) = export(tmp_path, keys)
    frames = frame_numbers(mp4)
    # Nothing from before the second arming (12 s) is kept; from then on all of it.
    assert 12 * FPS <= frames[0] <= 13 * FPS


def test_power_lost_inside_the_first_segment_header_is_truncation_not_foreign(
        tmp_path, keys, capsys) -> None:
    run_sim(tmp_path, keys, 'duration = 6.0\n[[event]]\nat = 2.0\naction = "press"\n', "", capsys)
    (rec,) = (tmp_path / "data" / "recordings").iterdir()
    (rec / "manifest.bcm").unlink()  # as if the power went before anything else was written
    seg = rec / "seg-000000.bcs"
    seg.write_bytes(seg.read_bytes()[:50])
    assert main(["verify", str(tmp_path / "data"), "--device-pub", str(keys["pub"])]) == 3
    out = capsys.readouterr().out
    assert "TRUNCATED" in out and "FOREIGN" not in out


def test_run_without_a_camera_library_says_what_to_do(tmp_path, keys, capsys) -> None:
    try:
        import picamera2  # noqa: F401
    except ImportError:
        pass
    else:
        pytest.skip("picamera2 is installed here")
    code = main(["run", "--data-dir", str(tmp_path / "d"), "--identity", str(keys["id"]),
                 "--duration", "1"])
    err = capsys.readouterr().err
    assert code == 1
    assert "picamera2 is not installed" in err and "--sim" in err and "Traceback" not in err


def _verified(tmp_path, keys, capsys) -> dict:
    main(["verify", str(tmp_path / "data"), "--device-pub", str(keys["pub"]), "--json"])
    return json.loads(capsys.readouterr().out)


def test_verify_with_another_devices_key_is_foreign_not_tampered(
        tmp_path, keys, capsys) -> None:
    run_sim(tmp_path, keys, 'duration = 6.0\n[[event]]\nat = 2.0\naction = "press"\n', "", capsys)
    other = tmp_path / "other"
    assert main(["keys", "device", "--device-id", "OTHER-1", "--custodian-pub",
                 str(keys["id"] / "custodian.pub"), "--out", str(other)]) == 0
    capsys.readouterr()
    assert main(["verify", str(tmp_path / "data"), "--device-pub", str(other / "device.pub"),
                 "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert [r["status"] for r in report["recordings"]] == ["foreign"]
    assert report["audit_log"]["ok"], report["audit_log"]["problems"]
    # With the right key the checkpoints are checked, and verify.
    main(["verify", str(tmp_path / "data"), "--device-pub", str(keys["pub"]), "--json"])
    good = json.loads(capsys.readouterr().out)["audit_log"]
    assert good["ok"] and good["checkpoints"] >= 1


def test_board_needs_sim_and_names_its_choices(tmp_path, capsys) -> None:
    assert main(["run", "--board", "pi4", "--data-dir", str(tmp_path / "d")]) == 2
    assert "--board" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_:
        main(["run", "--sim", "--board", "pi3"])
    assert exit_.value.code == 2 and "pi4" in capsys.readouterr().err
    bad = write(tmp_path / "s.toml", 'board = "pi3"\nduration = 1\n')
    assert main(["run", "--sim", "--fast", "--scenario", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "line 1" in err and "board" in err and err.count("\n") == 1


def test_display_on_an_spi_bus_that_is_not_enabled_leaves_the_camera_recording(
        tmp_path, keys, capsys) -> None:
    """Only spi0 exists with dtparam=spi=on: a panel on bus 1 is "SPI device not found"."""
    scenario = 'duration = 4.0\n[[event]]\nat = 1.0\naction = "press"\n' \
               '[[event]]\nat = 2.5\naction = "hold"\nseconds = 1.2\n'
    summary = run_sim(tmp_path, keys, scenario, "[display]\nenabled = true\nspi_port = 1\n", capsys)
    assert summary["recordings"] and summary["recordings"][0]["frames"] > 0
    unavailable = [e for e in _audit_events(tmp_path / "data") if e.get("event") == "display_unavailable"]
    assert len(unavailable) == 1 and "SPI device not found" in unavailable[0]["error"]
