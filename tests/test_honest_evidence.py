"""Sidecars, verify and the audit log say what happened on a failing card, no more, no less."""

from __future__ import annotations

import json

from firmware.cli import main
from hw_sim.frametag import frame_numbers
from office.report_model import DROPPED_PREFIX
from recorder.session import DROPPED_REASON
from tests.test_e2e_sim import _audit_events, _verified, export, keys, run_sim  # noqa: F401

SMALL_RESERVE = "[storage]\nmin_free_mib = 1\nreserve_mib = 1\n"


def test_footage_that_waited_in_ram_and_was_all_written_leaves_no_gap(
        tmp_path, keys, capsys) -> None:  # noqa: F811
    run_sim(tmp_path, keys,
            'duration = 16.0\n[[event]]\nat = 2.0\naction = "press"\n'
            '[[event]]\nat = 6.0\naction = "io_error"\ncount = 2\nop = "write"\n'
            '[[event]]\nat = 9.0\naction = "hold"\nseconds = 3.5\n', "", capsys)
    (rec,) = _verified(tmp_path, keys, capsys)["recordings"]
    (mp4,) = export(tmp_path, keys)
    capsys.readouterr()
    frames = frame_numbers(mp4)
    # No frame is missing, so no gap is named: a seam after a storage error is no gap.
    assert frames == list(range(frames[0], frames[-1] + 1))
    assert rec["gaps"] == [] and json.loads(mp4.with_suffix(".json").read_text())["gaps"] == []
    assert rec["verified"]["segments"] >= 2, "the error did cut the segment"


def test_footage_dropped_at_a_stop_on_a_full_card_is_listed_with_its_seconds(
        tmp_path, keys, capsys) -> None:  # noqa: F811
    run_sim(tmp_path, keys,
            'duration = 30.0\n[[event]]\nat = 3.0\naction = "press"\n'
            '[[event]]\nat = 6.0\naction = "storage_full"\nfree_bytes = 0\n'
            '[[event]]\nat = 20.0\naction = "hold"\nseconds = 3.5\n', SMALL_RESERVE, capsys)
    (dropped,) = [e for e in _audit_events(tmp_path / "data")
                  if e["event"] == "held_footage_dropped"]
    (rec,) = _verified(tmp_path, keys, capsys)["recordings"]
    (gap,) = rec["gaps"]
    assert gap["reason"] == DROPPED_REASON and DROPPED_REASON.startswith(DROPPED_PREFIX)
    # From the last frame kept to one frame after the last one dropped.
    assert abs(gap["seconds"] - dropped["seconds"]) < 0.1 and gap["seconds"] > 5
    assert main(["verify", str(tmp_path / "data"), "--device-pub", str(keys["pub"])]) == 0
    text = capsys.readouterr().out
    assert f"gap: {gap['seconds']:.3f} s of footage missing" in text and DROPPED_REASON in text
    (mp4,) = export(tmp_path, keys)
    (side_gap,) = json.loads(mp4.with_suffix(".json").read_text())["gaps"]
    assert side_gap["seconds"] == gap["seconds"]
    # The card is still full: the close fitted into the reserve, storage did not recover.
    assert "storage_recovered" not in [e["event"] for e in _audit_events(tmp_path / "data")]
    # The report draws it after the last frame kept, up to the stop at the hold.
    assert main(["report", str(tmp_path / "data"), "--device-pub", str(keys["pub"]), "--out",
                 str(tmp_path / "report")]) == 0
    doc = json.loads((tmp_path / "report" / "data-report.json").read_text())
    moments = {m["kind"]: m for m in doc["recordings"][0]["moments"]}
    assert abs(moments["dropped"]["end_s"] - moments["dropped"]["start_s"] - gap["seconds"]) < 0.01
    assert abs(moments["stop"]["start_s"] - moments["dropped"]["end_s"]) < 0.2
    assert 20.0 + 3.0 < moments["stop"]["start_s"] < 20.0 + 3.7, "the 3 s hold from 20 s"


def test_presses_refused_on_a_full_card_reach_the_audit_log(tmp_path, keys, capsys) -> None:  # noqa: F811
    summary = run_sim(tmp_path, keys,
                      'duration = 10.0\n[[event]]\nat = 1.0\naction = "storage_full"\n'
                      'free_bytes = 0\n[[event]]\nat = 3.0\naction = "press"\n'
                      '[[event]]\nat = 6.0\naction = "press"\n', "", capsys)
    assert summary["refused"] == 2 and summary["recordings"] == []
    kinds = [e["event"] for e in _audit_events(tmp_path / "data")]
    assert kinds.count("record_refused") == 2 and kinds.count("button") == 4
    assert kinds.count("cue") >= 2 and kinds[-1] == "audit.checkpoint"
    report = _verified(tmp_path, keys, capsys)
    assert report["exit_code"] == 0 and report["recordings"] == []
    assert report["audit_log"]["ok"] and report["audit_log"]["checkpoints"] == 1
    assert any("no recordings" in n for n in report["notes"])
    assert main(["report", str(tmp_path / "data"), "--device-pub", str(keys["pub"]), "--out",
                 str(tmp_path / "report")]) == 0
    html = (tmp_path / "report" / "data-report.html").read_text()
    assert html.count("recording refused: storage full") == 2


def test_storage_recovered_is_logged_when_the_card_has_room_again(tmp_path, keys, capsys) -> None:  # noqa: F811
    run_sim(tmp_path, keys,
            'duration = 24.0\n[[event]]\nat = 3.0\naction = "press"\n'
            '[[event]]\nat = 6.0\naction = "storage_full"\nfree_bytes = 0\n'
            '[[event]]\nat = 10.0\naction = "storage_free"\n'
            '[[event]]\nat = 16.0\naction = "hold"\nseconds = 3.5\n', SMALL_RESERVE, capsys)
    events = _audit_events(tmp_path / "data")
    kinds = [e["event"] for e in events]
    assert kinds.count("storage_recovered") == 1
    assert kinds.index("storage_error") < kinds.index("storage_recovered")
    # Nothing was dropped: the footage held in RAM went to the card once it had room.
    (rec,) = _verified(tmp_path, keys, capsys)["recordings"]
    assert rec["status"] == "intact" and rec["gaps"] == []
    (mp4,) = export(tmp_path, keys)
    frames = frame_numbers(mp4)
    assert frames == list(range(frames[0], frames[-1] + 1)) and frames[-1] >= round(19.5 * 30) - 1
