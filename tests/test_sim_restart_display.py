"""The simulation for the people who test with it: a restart continues the clock,
--display-out never mixes two runs and gives a contact sheet with scenario times."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image

from firmware.cli import main
from hw_sim.contact_sheet import COLUMNS, LABEL_H, PAD, SCALE, SHEET
from tests.test_e2e_sim import keys, run_sim, write  # noqa: F401

SHORT = 'duration = 6.0\n[[event]]\nat = 2.0\naction = "press"\n'


def test_a_restart_on_the_same_data_directory_continues_the_clock(
        tmp_path, keys, capsys) -> None:  # noqa: F811
    run_sim(tmp_path, keys, SHORT, "", capsys)
    first_log = (tmp_path / "data" / "audit.log").read_text().splitlines()
    last_utc = json.loads(first_log[-1])["utc"]
    run_sim(tmp_path, keys, SHORT, "", capsys)
    assert main(["verify", str(tmp_path / "data"), "--device-pub", str(keys["pub"]),
                 "--json"]) == 0
    a, b = json.loads(capsys.readouterr().out)["recordings"]
    assert a["utc_start"] < last_utc < b["utc_start"], (a["utc_start"], last_utc, b["utc_start"])
    boots = [json.loads(line) for line in (tmp_path / "data" / "audit.log").read_text()
             .splitlines() if '"event":"boot"' in line]
    assert len(boots) == 2 and boots[1]["utc"] > last_utc


def _run_with_panel(tmp: Path, keys: dict, out: Path) -> int:  # noqa: F811
    scenario = write(tmp / "panel.toml",
                     'duration = 8.0\n[[event]]\nat = 2.0\naction = "press"\n'
                     '[[event]]\nat = 4.0\naction = "storage_full"\nfree_bytes = 0\n'
                     '[[event]]\nat = 6.0\naction = "storage_free"\n')
    return main(["run", "--sim", "--fast", "--data-dir", str(tmp / "data"), "--identity",
                 str(keys["id"]), "--scenario", str(scenario), "--display-out", str(out)])


def test_display_out_writes_a_contact_sheet_and_never_mixes_two_runs(
        tmp_path, keys, capsys) -> None:  # noqa: F811
    out = tmp_path / "panel"
    assert _run_with_panel(tmp_path, keys, out) == 0
    capsys.readouterr()
    frames = sorted(out.glob("frame_*.png"))
    sheet = Image.open(out / SHEET)
    w, h = Image.open(frames[0]).size
    cols = min(COLUMNS, len(frames))
    rows = -(-len(frames) // cols)
    cell_w, cell_h = round(w * SCALE) + PAD, round(h * SCALE) + LABEL_H + PAD
    assert sheet.size == (cols * cell_w + PAD, rows * cell_h + PAD)
    # Every frame is in its cell, in order: the last frame's picture is the last cell's.
    px = np.asarray(sheet.convert("RGB")).astype(int)
    n = len(frames) - 1
    x, y = PAD + (n % cols) * cell_w, PAD + (n // cols) * cell_h
    cell = px[y:y + round(h * SCALE), x:x + round(w * SCALE)]
    small = np.asarray(Image.open(frames[-1]).convert("RGB").resize(
        (round(w * SCALE), round(h * SCALE)))).astype(int)
    assert np.abs(cell - small).mean() < 2
    # Each has its time written under it (white text on the dark label strip).
    label = px[y + round(h * SCALE):y + round(h * SCALE) + LABEL_H, x:x + cell_w - PAD]
    assert (label.min(axis=2) > 200).sum() > 20
    before = {p.name: p.stat().st_mtime_ns for p in out.iterdir()}
    assert _run_with_panel(tmp_path, keys, out) == 2
    err = capsys.readouterr().err
    assert err == (f"bodycam: --display-out {out}: holds frames of an earlier run "
                   "(contact_sheet.png); choose an empty folder or remove them\n")
    assert {p.name: p.stat().st_mtime_ns for p in out.iterdir()} == before


def test_what_gestures_md_says_of_short_holds_and_the_6_s_start(tmp_path, keys, capsys) -> None:  # noqa: F811
    summary = run_sim(tmp_path, keys,
                      'duration = 24.0\n[[event]]\nat = 1.0\naction = "press"\n'
                      '[[event]]\nat = 3.0\naction = "hold"\nseconds = 2.0\n'   # a bookmark
                      '[[event]]\nat = 8.0\naction = "hold"\nseconds = 3.5\n'   # stop
                      '[[event]]\nat = 14.0\naction = "hold"\nseconds = 6.5\n',  # start, then dark
                      "[cues]\nreminder_seconds = 0\n", capsys)
    assert len(summary["recordings"]) == 2
    first = [t for t in summary["transitions"] if t["to"] == "stopping"][0]["t"]
    assert 11.4 < first < 11.6, "the 2 s hold did not stop the recording"
    entries = [json.loads(line) for line in (tmp_path / "data" / "audit.log").read_text()
               .splitlines()]
    assert sum(1 for e in entries if e["event"] == "bookmark") == 1
    starts = [e for e in entries if e["event"] == "cue" and e["name"] == "start"]
    stealth = [e for e in entries if e["event"] == "stealth"]
    # The 6 s hold's start cue plays at the contact, 6 s before stealth: not covert.
    assert starts[1].get("silenced") is None and [e["on"] for e in stealth] == [True]
    assert (stealth[0]["mono_us"] - starts[1]["mono_us"]) / 1e6 > 5.9
