"""Fifty power cuts at random moments on one device, then a custodian checks everything.

Each boot runs the real ``bodycam run --sim`` in a forked child, which the
scenario's ``power_cut`` kills with SIGKILL (no clean-up of any kind runs), at
a moment drawn from: before the press, during the trigger (the pre-roll being
written), just after it, at a segment seam, and during the stop. The next boot
recovers what the cut left. At the end every recording must verify as intact
or truncated by power loss, never as tampered, the chain must be unbroken, and
every frame captured more than the fsync interval (1 s) before each cut must
be in the export.
"""

from __future__ import annotations

import json
import os
import random
import signal
from pathlib import Path

from firmware.cli import main
from hw_sim.frametag import frame_numbers

FPS = 30
CUTS = 50
SEGMENT_S = 5.0
CONFIG = f"""
[camera]
width = 320
height = 240
lores_width = 160
lores_height = 120
[prerecord]
seconds = 2
[recording]
segment_seconds = {SEGMENT_S}
[display]
enabled = false
"""


def plan(rng: random.Random) -> tuple[str, float, float | None, float | None]:
    """(kind, cut time, press time or None, hold time or None) in scenario seconds."""
    press = round(rng.uniform(2.5, 4.0), 3)
    kind = rng.choice(["before", "trigger", "after", "seam", "stop"])
    hold = None
    if kind == "before":
        return kind, round(rng.uniform(0.5, press - 0.2), 3), press, None
    if kind == "trigger":
        cut = press + rng.uniform(0.0, 0.08)
    elif kind == "after":
        cut = press + rng.uniform(0.1, 1.5)
    elif kind == "seam":  # the pre-roll starts 2-3 s before the press; seams every 5 s from there
        cut = press + rng.uniform(2.0, 9.0)
    else:
        hold = press + rng.uniform(1.0, 3.0)
        cut = hold + 3.0 + rng.uniform(0.0, 0.3)  # the stop is acted on at release, 3.2 s
    return kind, round(cut, 3), press, hold


def boot(data: Path, identity: Path, scenario: Path, config: Path) -> int:
    """Run one boot of the simulated device in a forked child; returns its wait status."""
    pid = os.fork()
    if pid == 0:  # the child: the device until its power is cut
        code = 1
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, 1)
            os.dup2(devnull, 2)
            code = main(["run", "--sim", "--fast", "--data-dir", str(data), "--identity",
                         str(identity), "--scenario", str(scenario), "--config", str(config)])
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    return status


def test_fifty_power_cuts_lose_nothing_older_than_the_fsync_interval(tmp_path: Path, capsys) -> None:
    office, ident, data = tmp_path / "office", tmp_path / "id", tmp_path / "data"
    assert main(["keys", "custodian", "--out", str(office)]) == 0
    assert main(["keys", "device", "--device-id", "SOAK-1", "--custodian-pub",
                 str(office / "custodian.pub"), "--out", str(ident)]) == 0
    config = tmp_path / "config.toml"
    config.write_text(CONFIG)
    rng = random.Random(20261125)
    plans: list[tuple[str, float, float]] = []  # per boot: kind, press, cut
    for n in range(CUTS):
        kind, cut, press, hold = plan(rng)
        events = [f'[[event]]\nat = {press}\naction = "press"\n']
        if hold is not None:
            events.append(f'[[event]]\nat = {round(hold, 3)}\naction = "hold"\nseconds = 3.2\n')
        events.append(f'[[event]]\nat = {cut}\naction = "power_cut"\n')
        scenario = tmp_path / f"cut{n}.toml"
        scenario.write_text(f"duration = {cut + 5}\n" + "".join(events))
        status = boot(data, ident, scenario, config)
        assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL, (n, kind, status)
        plans.append((kind, press, cut))
    # The last boot: recovery of the fiftieth cut, then a clean recording.
    last = tmp_path / "last.toml"
    last.write_text('duration = 8.0\n[[event]]\nat = 3.0\naction = "press"\n')
    assert boot(data, ident, last, config) == 0
    capsys.readouterr()

    code = main(["verify", str(data), "--device-pub", str(ident / "device.pub"), "--json"])
    report = json.loads(capsys.readouterr().out)
    assert code == 3, "incomplete (power loss) but untampered"
    statuses = [r["status"] for r in report["recordings"]]
    assert set(statuses) <= {"intact", "truncated"}, report["counts"]
    assert all(not r["problems"] or r["status"] == "truncated" for r in report["recordings"])

    out = tmp_path / "export"
    assert main(["export", str(data), "--custodian-key", str(office / "custodian.key"),
                 "--device-pub", str(ident / "device.pub"), "--out", str(out)]) == 3
    capsys.readouterr()
    # Which boot made which recording: the audit log is one hash chain across boots.
    per_boot: list[list[str]] = []
    for line in (data / "audit.log").read_text().splitlines():
        entry = json.loads(line)
        if entry["event"] == "boot":
            per_boot.append([])
        elif entry["event"] == "state" and entry["new"] == "recording":
            per_boot[-1].append(entry["why"].removeprefix("recording "))
    assert len(per_boot) == CUTS + 1
    made = 0
    for (kind, press, cut), ids in zip(plans, per_boot, strict=False):
        if kind == "before" or not ids:
            # Cut before the press was acted on (the contact settles 30 ms after it).
            assert cut < press + 0.1, (kind, press, cut)
            continue
        (rid,) = ids
        made += 1
        frames = frame_numbers(out / f"SOAK-1_{rid}.mp4")
        assert frames == list(range(frames[0], frames[-1] + 1)), (kind, rid)
        assert frames[0] <= round((press - 2.0) * FPS), (kind, "pre-roll")
        # Everything captured more than the fsync interval before the cut is there
        # (or up to the stop, for a cut that came just after a completed stop).
        assert frames[-1] >= round((cut - 1.0) * FPS) - 1, (kind, press, cut, frames[-1])
    assert made >= CUTS // 2
    assert len(list(out.glob("*.mp4"))) == made + 1
