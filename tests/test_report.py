"""``bodycam report``: the page names what happened, its thumbnails show the right frames,
and it renders in a real browser (headless Chromium)."""

from __future__ import annotations

import base64
import contextlib
import io
import json
import re
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from firmware.cli import main
from hw_sim.frametag import read_tag
from office.report_html import THUMB_BORDER
from office.report_svg import COLOURS
from office.verify import verify_tree
from tests.tools import require

FPS = 30

# Two recordings: the first with a bookmark and a camera stall (a real gap), the second
# with a bookmark and no gap.
SCENARIO = """duration = 30.0
[[event]]
at = 4.0
action = "press"
[[event]]
at = 7.0
action = "press"
[[event]]
at = 9.0
action = "camera_stall"
seconds = 3.0
[[event]]
at = 14.0
action = "hold"
seconds = 3.5
[[event]]
at = 20.0
action = "press"
[[event]]
at = 23.0
action = "press"
[[event]]
at = 25.0
action = "hold"
seconds = 3.5
"""


def _quiet(*argv: str) -> int:
    with contextlib.redirect_stdout(io.StringIO()):
        return main(list(argv))


@pytest.fixture(scope="module")
def made(tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("report")
    assert _quiet("keys", "custodian", "--out", str(d / "office")) == 0
    assert _quiet("keys", "device", "--device-id", "SIM-R", "--custodian-pub",
                  str(d / "office" / "custodian.pub"), "--out", str(d / "id")) == 0
    (d / "s.toml").write_text(SCENARIO)
    assert _quiet("run", "--sim", "--fast", "--data-dir", str(d / "data"), "--identity",
                  str(d / "id"), "--scenario", str(d / "s.toml")) == 0
    assert _quiet("report", str(d / "data"), "--device-pub", str(d / "id" / "device.pub"),
                  "--custodian-key", str(d / "office" / "custodian.key"), "--out",
                  str(d / "out")) == 0
    return {"dir": d, "html": d / "out" / "data-report.html",
            "json": d / "out" / "data-report.json", "pub": d / "id" / "device.pub",
            "data": d / "data", "key": d / "office" / "custodian.key"}


def _sections(html: str) -> list[str]:
    return html.split('<section class="recording"')[1:]


def test_the_page_names_every_recording_bookmark_and_gap(made) -> None:
    html = made["html"].read_text()
    results = verify_tree(made["data"], [made["pub"]]).recordings
    sections = _sections(html)
    assert len(results) == len(sections) == 2
    for result, section in zip(results, sections, strict=True):
        info = result.check.info
        assert result.check.recording_id in section and "Intact" in section
        t0 = min(s.pts_range[0] for s in result.check.segments)
        marks = re.findall(r"<td[^>]*>(\d+\.\d) s</td><td><i[^>]*></i>bookmark</td>", section)
        assert marks == [f"{(b['pts_us'] - t0) / 1e6:.1f}" for b in info["bookmarks"]]
        gaps = re.findall(r"<td[^>]*>(\d+\.\d)–(\d+\.\d) s</td><td><i[^>]*></i>([^<]*)</td>",
                          section)
        gaps = [g for g in gaps if "pre-roll" not in g[2]]
        assert [(s, e, reason.split(" (")[0]) for s, e, reason in gaps] == [
            (f"{(g['start_pts_us'] - t0) / 1e6:.1f}", f"{(g['end_pts_us'] - t0) / 1e6:.1f}",
             g["reason"]) for g in info["gaps"]]
    # The scripted story, in words: a bookmark 7 s into the first recording (the press
    # at 4 s kept the 4 s before it), the stall from 9 s, a bookmark in the second.
    assert "7.0 s</td><td><i" in sections[0] and "camera stall" in sections[0]
    assert "pre-roll (4.0 s before the press)" in sections[0]
    assert "No gaps" in sections[1] and sections[1].count("></i>bookmark</td>") == 1
    doc = json.loads(made["json"].read_text())
    assert [r["recording_id"] for r in doc["recordings"]] == [
        r.check.recording_id for r in results]
    assert doc["verdict"] == "intact" and doc["audit_log"]["ok"] is True
    # Self-contained: nothing to run, nothing fetched from anywhere.
    assert "<script" not in html.lower()
    assert not re.search(r"""(src|href)=["'](?!data:|#)""", html), "only data: and #anchors"


def _thumbs(section: str) -> list[tuple[str, np.ndarray]]:
    found = re.findall(r'<img alt="([^"]*)" src="data:image/jpeg;base64,([^"]+)"', section)
    return [(alt, np.asarray(Image.open(io.BytesIO(base64.b64decode(b))).convert("L")))
            for alt, b in found]


def test_thumbnails_show_the_frames_they_name(made) -> None:
    first, second = _sections(made["html"].read_text())
    thumbs = dict(_thumbs(first))
    assert set(thumbs) == {"start", "bookmark at 7.0 s", "before the gap at 9.0 s",
                           "after the gap, at 12.0 s"}, list(thumbs)
    # Frame n is captured at n / fps from the camera's start; the first recording's
    # pre-roll reaches back to frame 0.
    assert read_tag(thumbs["start"]) == 0
    assert abs(read_tag(thumbs["bookmark at 7.0 s"]) - 7 * FPS) <= 1
    assert abs(read_tag(thumbs["before the gap at 9.0 s"]) - 9 * FPS) <= 2
    later = _thumbs(second)
    assert [alt for alt, _ in later][0] == "start" and len(later) == 2
    # After the stall the camera restarted and counts frames from 0 again: the bookmark
    # frame lies as far after the start frame as its caption says.
    seconds = float(later[1][0].removeprefix("bookmark at ").removesuffix(" s"))
    assert abs(read_tag(later[1][1]) - read_tag(later[0][1]) - seconds * FPS) <= 1


def _chromium_or_fail() -> str:
    return require("chromium", "chromium")


def _boxes(rgb: np.ndarray, colour: tuple[int, int, int], side: int = 40) -> list[tuple]:
    """Rectangles drawn with a border of ``colour``: (top, left, bottom, right)."""
    mask = (np.abs(rgb.astype(int) - colour) <= 3).all(axis=2)
    out = []
    ys, xs = np.nonzero(mask)
    for y, x in zip(ys, xs, strict=True):
        if (y and mask[y - 1, x]) or (x and mask[y, x - 1]):
            continue
        if not (mask[y, x:x + side].all() and mask[y:y + side, x].all()):
            continue
        w = int(np.argmin(mask[y, x:])) or mask.shape[1] - x
        h = int(np.argmin(mask[y:, x])) or mask.shape[0] - y
        out.append((int(y), int(x), int(y + h), int(x + w)))
    return out


def test_the_page_renders_in_chromium_with_timeline_and_thumbnails(made, tmp_path) -> None:
    chromium = _chromium_or_fail()
    shot = tmp_path / "shot.png"
    subprocess.run(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--no-first-run", f"--user-data-dir={tmp_path / 'profile'}", "--hide-scrollbars",
         "--force-device-scale-factor=1", "--window-size=1100,2600",
         f"--screenshot={shot}", made["html"].as_uri()],
        check=True, capture_output=True, timeout=120)
    rgb = np.asarray(Image.open(shot).convert("RGB"))

    def count(kind: str) -> int:
        return int((np.abs(rgb.astype(int) - COLOURS[kind]) <= 3).all(axis=2).sum())

    # The timeline: the footage bar, the pre-roll before the press, the stall's gap.
    assert count("footage") > 5000 and count("pre-roll") > 1000 and count("gap") > 300
    # The thumbnails: framed boxes whose insides are the frames themselves, readable
    # down to the frame tag the simulated camera drew.
    boxes = _boxes(rgb, THUMB_BORDER)
    assert len(boxes) >= 4, boxes
    top, left, bottom, right = boxes[0]
    inside = np.asarray(Image.fromarray(rgb[top + 4:bottom - 4, left + 4:right - 4]).convert("L"))
    assert inside.shape == (240, 320)
    assert read_tag(inside) == 0 and inside.std() > 20


def test_an_output_folder_that_cannot_be_written_is_exit_2(made, tmp_path, capsys) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    code = main(["report", str(made["data"]), "--device-pub", str(made["pub"]), "--out",
                 str(blocker / "out")])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("bodycam: cannot write") and "choose another --out" in err


def test_another_custodians_key_is_exit_2(made, tmp_path, capsys) -> None:
    assert main(["keys", "custodian", "--out", str(tmp_path / "other")]) == 0
    capsys.readouterr()
    code = main(["report", str(made["data"]), "--device-pub", str(made["pub"]),
                 "--custodian-key", str(tmp_path / "other" / "custodian.key"), "--out",
                 str(tmp_path / "out")])
    assert code == 2 and "wrong custodian key" in capsys.readouterr().err


def test_the_page_prints_to_pdf(made, tmp_path) -> None:
    chromium = _chromium_or_fail()
    pdf = tmp_path / "report.pdf"
    subprocess.run(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--no-first-run", f"--user-data-dir={tmp_path / 'profile'}", "--no-pdf-header-footer",
         f"--print-to-pdf={pdf}", made["html"].as_uri()],
        check=True, capture_output=True, timeout=120)
    data = pdf.read_bytes()
    pages = len(re.findall(rb"/Type\s*/Page[^s]", data))
    # A real PDF of several pages (the summary, two recordings, the audit log).
    assert data.startswith(b"%PDF") and pages >= 3, pages
