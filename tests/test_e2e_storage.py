"""End to end on the simulated device when storage fails: a full card, I/O errors, long
outages. Footage waits in RAM and reaches the card once it can; what cannot is named."""

from __future__ import annotations

import json

from firmware.cli import main
from hw_sim.frametag import frame_numbers
from tests.test_e2e_sim import FPS, _audit_events, _verified, export, keys, run_sim  # noqa: F401


def test_storage_full_mid_recording_holds_footage_in_ram(tmp_path, keys, capsys) -> None:  # noqa: F811
    summary = run_sim(
        tmp_path, keys,
        'duration = 30.0\n[[event]]\nat = 2.0\naction = "press"\n'
        '[[event]]\nat = 8.0\naction = "storage_full"\nfree_bytes = 0\n'
        '[[event]]\nat = 14.0\naction = "hold"\nseconds = 3.2\n'
        '[[event]]\nat = 22.0\naction = "press"\n',
        "", capsys,
    )
    assert summary["refused"] == 1, "a press with no room is refused"
    assert len(summary["recordings"]) == 1
    events = _audit_events(tmp_path / "data")
    kinds = [e["event"] for e in events]
    assert "storage_error" in kinds, "the reserve gave the audit log room for the fault"
    refused = [e for e in events if e["event"] == "record_refused"]
    assert refused and refused[0]["reason"] == "storage full"
    # Nothing corrupted, nothing lost: what waited in RAM went into the reserve's room.
    assert main(["verify", str(tmp_path / "data"), "--device-pub", str(keys["pub"])]) == 0
    capsys.readouterr()
    (mp4,) = export(tmp_path, keys)
    frames = frame_numbers(mp4)
    assert frames == list(range(0, frames[-1] + 1)) and frames[-1] >= round(17.2 * FPS) - 1


def test_io_errors_are_retried_and_the_recording_resumes_with_the_gap_recorded(
        tmp_path, keys, capsys) -> None:  # noqa: F811
    summary = run_sim(
        tmp_path, keys,
        'duration = 25.0\n[[event]]\nat = 2.0\naction = "press"\n'
        '[[event]]\nat = 8.0\naction = "io_error"\ncount = 4\nop = "any"\n'
        '[[event]]\nat = 18.0\naction = "hold"\nseconds = 3.2\n',
        "", capsys,
    )
    states = [(t["from"], t["to"]) for t in summary["transitions"]]
    assert ("recording", "fault") in states and ("fault", "recording") in states
    assert summary["final_state"] == "standby"
    assert main(["verify", str(tmp_path / "data"), "--device-pub", str(keys["pub"])]) == 0
    capsys.readouterr()
    (mp4,) = export(tmp_path, keys)
    sidecar = json.loads(mp4.with_suffix(".json").read_text())
    # A gap names footage missing; frames a failed close could not write wait in RAM
    # with the rest, so the seam may be no gap at all.
    gaps = sidecar["gaps"]
    assert [g["reason"] for g in gaps] in ([], ["storage error"])
    gap_s = sum((g["end_pts_us"] - g["start_pts_us"]) / 1e6 for g in gaps)
    assert gap_s <= 2.5
    frames = frame_numbers(mp4)
    assert sidecar["frames"] == len(frames) == summary["recordings"][0]["frames"]
    # Every frame is there once, except the stretch the gap names.
    missing = sorted(set(range(frames[0], frames[-1] + 1)) - set(frames))
    assert len(missing) <= round(gap_s * FPS) + 1 and len(frames) == len(set(frames))
    assert gaps or not missing


def test_a_long_storage_outage_keeps_the_footage_in_ram(tmp_path, keys, capsys) -> None:  # noqa: F811
    run_sim(
        tmp_path, keys,
        'duration = 40.0\n[[event]]\nat = 2.0\naction = "press"\n'
        '[[event]]\nat = 10.0\naction = "storage_full"\nfree_bytes = 0\n'
        '[[event]]\nat = 30.0\naction = "hold"\nseconds = 3.2\n',
        "[prerecord]\nseconds = 2\n", capsys,
    )
    assert main(["verify", str(tmp_path / "data"), "--device-pub", str(keys["pub"])]) == 0
    capsys.readouterr()
    (mp4,) = export(tmp_path, keys)
    frames = frame_numbers(mp4)
    # Pre-roll from 0 s (2 s wanted, GOP-aligned), then everything to the stop at 33.2 s:
    # the 23 s held in RAM during the outage went into the reserve's room at the stop.
    assert frames == list(range(0, frames[-1] + 1)) and frames[-1] >= round(33.2 * FPS) - 1


def test_shutdown_during_a_storage_outage_closes_the_recording(tmp_path, keys, capsys) -> None:  # noqa: F811
    summary = run_sim(
        tmp_path, keys,
        'duration = 12.0\n[[event]]\nat = 2.0\naction = "press"\n'
        '[[event]]\nat = 5.0\naction = "storage_full"\nfree_bytes = 0\n',
        "", capsys,
    )
    assert len(summary["recordings"]) == 1
    assert main(["verify", str(tmp_path / "data"), "--device-pub", str(keys["pub"])]) == 0
    capsys.readouterr()
    (mp4,) = export(tmp_path, keys)
    frames = frame_numbers(mp4)
    assert frames == list(range(0, frames[-1] + 1)) and frames[-1] >= round(12.0 * FPS) - 2


def test_repeated_io_errors_never_look_like_tampering(tmp_path, keys, capsys) -> None:  # noqa: F811
    run_sim(
        tmp_path, keys,
        'duration = 25.0\n[[event]]\nat = 2.0\naction = "press"\n'
        '[[event]]\nat = 10.0\naction = "io_error"\ncount = 8\nop = "write"\n'
        '[[event]]\nat = 20.0\naction = "hold"\nseconds = 3.2\n',
        "", capsys,
    )
    code = main(["verify", str(tmp_path / "data"), "--device-pub", str(keys["pub"])])
    assert code in (0, 3), capsys.readouterr().out
    capsys.readouterr()
    (mp4,) = export(tmp_path, keys, expect=code)
    frames = frame_numbers(mp4)
    missing = set(range(frames[0], frames[-1] + 1)) - set(frames)
    assert len(missing) <= 2 * FPS, "only the stretch around the failing writes is lost"
    assert frames[-1] >= round(23.2 * FPS) - 1


def test_a_stop_on_a_full_card_signs_what_fits_and_says_what_did_not(tmp_path, keys, capsys) -> None:  # noqa: F811
    run_sim(tmp_path, keys,
            'duration = 30.0\n[[event]]\nat = 3.0\naction = "press"\n'
            '[[event]]\nat = 6.0\naction = "storage_full"\nfree_bytes = 0\n'
            '[[event]]\nat = 20.0\naction = "hold"\nseconds = 3.5\n',
            "[storage]\nmin_free_mib = 1\nreserve_mib = 1\n", capsys)
    report = _verified(tmp_path, keys, capsys)
    assert report["exit_code"] == 0, "closed and signed, although the card is full"
    dropped = [e for e in _audit_events(tmp_path / "data") if e["event"] == "held_footage_dropped"]
    assert len(dropped) == 1 and dropped[0]["seconds"] > 5


def test_the_reserve_comes_back_for_the_next_full_card(tmp_path, keys, capsys) -> None:  # noqa: F811
    run_sim(tmp_path, keys,
            'duration = 40.0\n[[event]]\nat = 3.0\naction = "press"\n'
            '[[event]]\nat = 6.0\naction = "storage_full"\nfree_bytes = 0\n'
            '[[event]]\nat = 10.0\naction = "hold"\nseconds = 3.5\n'
            '[[event]]\nat = 16.0\naction = "storage_full"\nfree_bytes = 1000000000\n'  # offloaded
            '[[event]]\nat = 20.0\naction = "press"\n'
            '[[event]]\nat = 24.0\naction = "storage_full"\nfree_bytes = 0\n'
            '[[event]]\nat = 30.0\naction = "hold"\nseconds = 3.5\n', "", capsys)
    report = _verified(tmp_path, keys, capsys)
    assert [r["status"] for r in report["recordings"]] == ["intact", "intact"]
    events = [e["event"] for e in _audit_events(tmp_path / "data")]
    assert "storage_reserve_restored" in events


def test_a_stall_while_footage_waits_in_ram_is_a_gap_in_the_manifest(tmp_path, keys, capsys) -> None:  # noqa: F811
    run_sim(tmp_path, keys,
            'duration = 30.0\n[[event]]\nat = 3.0\naction = "press"\n'
            '[[event]]\nat = 6.0\naction = "storage_full"\nfree_bytes = 0\n'
            '[[event]]\nat = 8.0\naction = "camera_stall"\nseconds = 4.0\n'
            '[[event]]\nat = 16.0\naction = "storage_full"\nfree_bytes = 1000000000\n'
            '[[event]]\nat = 24.0\naction = "hold"\nseconds = 3.5\n', "", capsys)
    (rec,) = _verified(tmp_path, keys, capsys)["recordings"]
    assert rec["status"] == "intact"
    holes = [(g["reason"], (g["end_pts_us"] - g["start_pts_us"]) / 1e6) for g in rec["gaps"]]
    assert any(reason == "no frames" and 3.5 < length < 5 for reason, length in holes), holes


def test_a_press_storage_could_not_serve_is_started_when_it_can(tmp_path, keys, capsys) -> None:  # noqa: F811
    summary = run_sim(tmp_path, keys,
                      'duration = 25.0\n[[event]]\nat = 9.99\naction = "io_error"\ncount = 2\n'
                      '[[event]]\nat = 10.0\naction = "press"\n'
                      '[[event]]\nat = 20.0\naction = "hold"\nseconds = 3.5\n', "", capsys)
    assert len(summary["recordings"]) == 1
    (mp4,) = export(tmp_path, keys)
    frames = frame_numbers(mp4)
    # The 30 s pre-roll is measured from the press at 10 s (so it reaches back to the
    # camera's start), and nothing between the press and the retry is missing.
    assert frames[0] == 0
    assert frames == list(range(0, frames[-1] + 1)) and frames[-1] >= round(23.5 * FPS) - 1
