"""End to end: the watermark in an exported recording, read back with real OCR.

A simulated device on an RTC clock (so the watermark must say so) pre-records,
is pressed, records and stops; the recording is verified and exported to MP4.
Frames on both sides of every second boundary, in the pre-roll and after the
press, are read with Tesseract: each must show the UTC second the frame was
captured in, computed from the signed recording start and the frame's pts, then
the device and officer id. The frame tags must still decode on every frame.
"""

from __future__ import annotations

import json
from contextlib import contextmanager
from datetime import UTC, datetime
from fractions import Fraction
from pathlib import Path

import av
import pytest

import firmware.run as runmod
from firmware.cli import main
from hw_sim.frametag import read_tag
from office.verify import verify_tree
from tests.ocr import read_watermarks, tesseract

FPS = 30
PRESS, PREROLL, HOLD_AT = 9.0, 4.0, 12.0


@pytest.fixture
def rtc_clock(monkeypatch):
    """The simulated device's wall clock reports an RTC, not NTP."""
    real = runmod.simulated_device

    @contextmanager
    def on_rtc(conf, fast, trace=None):
        with real(conf, fast, trace) as world:
            world.clock.set_source("rtc")
            yield world

    monkeypatch.setattr(runmod, "simulated_device", on_rtc)


def _run_and_export(tmp: Path, capsys) -> tuple[Path, dict, dict]:
    keys = tmp / "keys"
    assert main(["keys", "custodian", "--out", str(keys / "office")]) == 0
    assert main(["keys", "device", "--device-id", "SIM-0042", "--custodian-pub",
                 str(keys / "office" / "custodian.pub"), "--out", str(keys / "id")]) == 0
    (tmp / "scenario.toml").write_text(
        f'duration = 16.0\n[[event]]\nat = {PRESS}\naction = "press"\n'
        f'[[event]]\nat = {HOLD_AT}\naction = "hold"\nseconds = 3.5\n')
    (tmp / "config.toml").write_text(
        f'[prerecord]\nseconds = {PREROLL}\n[watermark]\nofficer_id = "4711"\n')
    assert main(["run", "--sim", "--fast", "--data-dir", str(tmp / "data"),
                 "--identity", str(keys / "id"), "--scenario", str(tmp / "scenario.toml"),
                 "--config", str(tmp / "config.toml")]) == 0
    capsys.readouterr()
    report = verify_tree(tmp / "data", [keys / "id" / "device.pub"])
    (rec,) = report.recordings
    assert rec.status == "intact"
    assert main(["export", str(tmp / "data"), "--custodian-key",
                 str(keys / "office" / "custodian.key"), "--device-pub",
                 str(keys / "id" / "device.pub"), "--out", str(tmp / "export")]) == 0
    (mp4,) = (tmp / "export").glob("*.mp4")
    sidecar = json.loads(mp4.with_suffix(".json").read_text())
    return mp4, rec.check.info, sidecar


def test_exported_frames_show_their_own_utc_second_and_the_device(tmp_path, capsys, rtc_clock):
    tesseract()  # fail (CI) or skip (elsewhere) before the run if there is no OCR
    mp4, signed, sidecar = _run_and_export(tmp_path, capsys)
    assert signed["clock_source"] == "rtc"
    # The MP4's pts 0 is the recording's first frame: the signed start_pts_us.
    assert sidecar["first_pts_us"] == signed["start_pts_us"]

    tags, frames = [], []
    with av.open(str(mp4)) as container:
        tb = container.streams.video[0].time_base
        for frame in container.decode(video=0):
            y = frame.to_ndarray(format="gray")
            tags.append(read_tag(y))
            frames.append((frame.pts, y))
    # The tags decode on every frame: one unbroken run from the pre-roll's keyframe on.
    assert tags == list(range(tags[0], tags[0] + len(tags)))
    first_tag = tags[0]
    assert round((PRESS - PREROLL) * FPS) - FPS < first_tag <= round((PRESS - PREROLL) * FPS)

    def utc_second(pts: int) -> int:
        offset_us = round(Fraction(pts) * tb * 1_000_000)
        return (signed["utc_start_us"] + offset_us) // 1_000_000

    # The last frame before and the first frame after each second boundary.
    boundaries = [i for i in range(1, len(frames))
                  if utc_second(frames[i][0]) != utc_second(frames[i - 1][0])]
    press_index = round(PRESS * FPS) - first_tag
    assert any(b < press_index for b in boundaries), "no second boundary in the pre-roll"
    assert any(b > press_index for b in boundaries), "no second boundary after the press"
    sample = sorted({j for b in boundaries for j in (b - 1, b)} | {0, len(frames) - 1})
    read = read_watermarks([frames[i][1] for i in sample])
    for i, lines in zip(sample, read, strict=True):
        stamp = datetime.fromtimestamp(utc_second(frames[i][0]), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        where = f"frame {i} (tag {tags[i]}, {'pre-roll' if i < press_index else 'live'})"
        assert lines == [f"{stamp} RTC", "SIM-0042 officer 4711"], where
