"""Power cuts at every operation on the medium: the sweep of issue 16.

One short scenario (pre-record, press, bookmark, segment roll-overs every 5 s,
stop, a second recording) is recorded once with ``bodycam run --sim
--storage-trace``; that numbers every operation on the simulated medium (write,
fsync, create, rename, link, unlink, mkdir; a TPM counter increment once the
simulation has one). Then, for every operation k and each mode (strict, torn):

1. a fresh device runs the same scenario with ``power_cut`` at ``op = k``
   (``bodycam run --sim`` in a forked child, killed by the cut);
2. it boots again on what the medium kept (recovery runs);
3. ``bodycam export --json`` (which verifies) reports on the evidence.

Each cut must pass: the restart exits 0 without a traceback; verify never says
anything but intact or truncated; a recording that lost footage is truncated;
its frames (read back from the frame tags) are the reference recording's from
its first frame on, without a hole, and include every frame captured more than
``fsync_interval`` before the cut, or, while the pre-roll is being written at
the press, every frame written more than ``fsync_interval`` of footage before
the newest written one; every bookmark or gap recorded more than
``fsync_interval`` before the cut is there.

``make crash-sweep`` runs it all and prints JSON; ``tests/test_crash_sweep.py``
runs a sample. Only the CLI is driven; the one look inside the format is
``crash_oracle.written_frames``, which maps the reference run's bytes to frames.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import multiprocessing
import os
import shutil
import signal
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.crash_oracle import (
    CUE_S,
    FPS,
    FSYNC_S,
    Reference,
    RefRecording,
    check_cut,
    check_nothing_lost,
    cut_time,
    frames_of,
    written_frames,
)

SEGMENT_S = 5
PREROLL_S = 6
CONFIG = f"""
[camera]
width = 320
height = 240
lores_width = 160
lores_height = 120
fps = {FPS}
[prerecord]
seconds = {PREROLL_S}
[recording]
segment_seconds = {SEGMENT_S}
fsync_interval = {FSYNC_S}
[storage]
reserve_mib = 1
min_free_mib = 1
[display]
enabled = false
"""
DURATION = 20.0
#: press at 6.5 s (6 s of pre-roll), bookmark at 8.5 s, roll-overs, stop by a hold at
#: 12 s (acted on at 15 s), a second recording from 17 s to the end of the scenario.
EVENTS = [(6.5, "press", ""), (8.5, "press", ""), (12.0, "hold", "seconds = 3.2\n"),
          (17.0, "press", "")]


def scenario_text(cut: tuple[int, str] | None = None) -> str:
    lines = [f"duration = {DURATION}\n"]
    for at, action, extra in EVENTS:
        lines.append(f'[[event]]\nat = {at}\naction = "{action}"\n{extra}')
    if cut is not None:
        op, mode = cut
        lines.append(f'[[event]]\nat = {DURATION}\naction = "power_cut"\nop = {op}\n'
                     f'mode = "{mode}"\nseed = {op}\n')
    return "".join(lines)


# -- running the device and the office tools ------------------------------------------------

def boot(argv: list[str], log: Path) -> int:
    """``bodycam`` with ``argv`` in a forked child (stdout/stderr to ``log``); wait status."""
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            os.dup2(fd, 1)
            os.dup2(fd, 2)
            from firmware.cli import main
            code = main(argv)
        except BaseException:  # the child must never return into the parent's code
            import traceback
            traceback.print_exc()
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    return status


def bodycam_json(argv: list[str]) -> tuple[int, dict[str, Any]]:
    """Run a ``bodycam`` office command in this process; its exit code and JSON output."""
    from firmware.cli import main
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        code = main([*argv, "--json"])
    try:
        return code, json.loads(out.getvalue())
    except json.JSONDecodeError:
        return code, {}


@dataclass
class Setup:
    """Keys, config and scenario files shared by every cut."""

    work: Path
    identity: Path
    custodian_key: Path
    device_pub: Path
    config: Path

    def run_args(self, data: Path, scenario: Path) -> list[str]:
        return ["run", "--sim", "--fast", "--data-dir", str(data), "--identity",
                str(self.identity), "--scenario", str(scenario), "--config", str(self.config)]

    def export(self, data: Path, out: Path) -> tuple[int, dict[str, Any]]:
        return bodycam_json(["export", str(data), "--custodian-key", str(self.custodian_key),
                             "--device-pub", str(self.device_pub), "--out", str(out)])


def _preload() -> None:
    """Import what every boot needs once, before forking: a boot then costs its run only."""
    import importlib
    for name in ("firmware.cli", "firmware.run", "firmware.daemon", "drivers.camera",
                 "drivers.button", "drivers.panel", "hw_sim.libcamera_sim", "hw_sim.kernel",
                 "hw_sim.pins", "hw_sim.lgpio_loader", "hw_sim.fake_storage", "hw_sim.scenario",
                 "office.export", "office.verify",
                 "recorder.store", "recorder.segmenter", "hw_sim.frametag"):
        importlib.import_module(name)


def make_setup(work: Path) -> Setup:
    _preload()
    from evidence import keys
    priv, pub = keys.create_custodian(work / "office")
    keys.create_device("SWEEP-1", pub, work / "id")
    config = work / "config.toml"
    config.write_text(CONFIG)
    return Setup(work, work / "id", priv, work / "id" / "device.pub", config)


# -- the reference run ------------------------------------------------------------------

def reference(setup: Setup) -> Reference:
    data, trace = setup.work / "ref-data", setup.work / "ref-trace.jsonl"
    scenario = setup.work / "ref.toml"
    scenario.write_text(scenario_text())
    status = boot([*setup.run_args(data, scenario), "--storage-trace", str(trace)],
                  setup.work / "ref.log")
    if not (os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0):
        raise RuntimeError(f"reference run failed; see {setup.work / 'ref.log'}")
    ops = [json.loads(line) for line in trace.read_text().splitlines()]
    code, report = setup.export(data, setup.work / "ref-export")
    if code != 0:
        raise RuntimeError(f"reference run does not export intact (exit {code})")
    verified = {r["recording_id"]: r for r in report["verification"]["recordings"]}
    recs = []
    for item in report["recordings"]:
        v = verified[item["recording_id"]]
        rec = RefRecording(v["recording_seq"], frames_of(item["mp4"]), v["start_pts_us"], [])
        rec.events = sorted(
            [(rec.time_of(b["pts_us"]) + CUE_S, "bookmark", b["pts_us"] - rec.start_pts_us)
             for b in v["bookmarks"]]
            + [(rec.time_of(g["end_pts_us"]), "gap", g["end_pts_us"] - rec.start_pts_us)
               for g in v["gaps"]])
        written_frames(data / "recordings" / item["recording_id"], rec)
        recs.append(rec)
    recs.sort(key=lambda r: r.seq)
    bursts = []
    for op in ops:  # a burst: every operation at the instant a recording directory is made
        if op["kind"] == "mkdir" and op["path"].startswith("recordings/"):
            same = [o["op"] for o in ops if o["t"] == op["t"] and o["op"] >= op["op"]]
            bursts.append((op["op"], max(same)))
    return Reference(ops, recs, bursts)


# -- one cut ------------------------------------------------------------------------------

def cut_once(setup: Setup, ref: Reference, op: int, mode: str) -> dict[str, Any]:
    """Run, cut after operation ``op``, restart, export; return the verdict of the checks."""
    work = Path(tempfile.mkdtemp(prefix=f"cut{op}{mode[0]}-", dir=setup.work))
    data = work / "data"
    findings: list[str] = []
    result: dict[str, Any] = {"op": op, "mode": mode, "findings": findings, "loss_s": 0.0,
                              "written_lost_s": 0.0}
    try:
        scenario = work / "cut.toml"
        scenario.write_text(scenario_text((op, mode)))
        status = boot(setup.run_args(data, scenario), work / "cut.log")
        if not (os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL):
            findings.append(f"the run was not cut (status {status})")
            return result
        again = work / "restart.toml"
        again.write_text("duration = 1.0\n")
        status = boot(setup.run_args(data, again), work / "restart.log")
        log = (work / "restart.log").read_text(errors="replace")
        if not (os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0):
            findings.append(f"restart failed (status {status}): {log.strip()[-300:]}")
        if "Traceback" in log:
            findings.append("traceback at restart")
        if not (data / "recordings").is_dir() or not any((data / "recordings").iterdir()):
            check_nothing_lost(ref, op, findings)
            return result
        code, report = setup.export(data, work / "export")
        if code == 2 and not report:  # "no bodycam recordings found": nothing survived
            check_nothing_lost(ref, op, findings)
            return result
        check_cut(ref, op, code, report, result)
    finally:
        if not findings:
            shutil.rmtree(work, ignore_errors=True)
    return result


# -- the sweep ----------------------------------------------------------------------------

_SETUP: Setup | None = None
_REF: Reference | None = None


def _init(setup: Setup, ref: Reference) -> None:
    global _SETUP, _REF
    _SETUP, _REF = setup, ref


def _one(job: tuple[int, str]) -> dict[str, Any]:
    assert _SETUP is not None and _REF is not None
    return cut_once(_SETUP, _REF, *job)


def cut_points(ref: Reference) -> list[int]:
    """Every operation boundary of the reference run (TPM counter increments included)."""
    return [o["op"] for o in ref.ops]


def sample(ref: Reference, n: int) -> list[tuple[int, str]]:
    """About ``n`` cuts for CI: each burst's edges and middle, the operations on events
    and on segment and manifest names, then evenly spaced others; strict and torn by turns."""
    picks: set[int] = set()
    for a, b in ref.bursts:
        picks.update({a, a + 1, (a + b) // 2, b - 1, b})
    for o in ref.ops:
        if "events" in o["path"] or (o["kind"] in ("create", "rename", "link")
                                     and o["path"].startswith("recordings/")):
            picks.add(o["op"])
    rest = [o for o in cut_points(ref) if o not in picks]
    step = max(1, len(rest) // max(1, n - len(picks)))
    picks.update(rest[::step])
    chosen = sorted(picks)
    if len(chosen) > n:
        chosen = chosen[:: -(-len(chosen) // n)]
    return [(op, ("strict", "torn")[i % 2]) for i, op in enumerate(chosen)]


def sweep(work: Path, *, ops: list[int] | None = None, limit: int | None = None,
          modes: tuple[str, ...] = ("strict", "torn"), jobs: int = 1) -> dict[str, Any]:
    """Run the sweep in ``work``; return the figures (cuts, worst loss, findings)."""
    started = time.perf_counter()
    setup = make_setup(work)
    ref = reference(setup)
    if limit is not None:
        jobs_list = sample(ref, limit)
        points = sorted({op for op, _ in jobs_list})
    else:
        points = ops if ops is not None else cut_points(ref)
        jobs_list = [(op, mode) for op in points for mode in modes]
    if jobs > 1:
        ctx = multiprocessing.get_context("fork")
        with ctx.Pool(jobs, initializer=_init, initargs=(setup, ref)) as pool:
            results = pool.map(_one, jobs_list, chunksize=1)
    else:
        _init(setup, ref)
        results = [_one(j) for j in jobs_list]
    burst_ops = [o for a, b in ref.bursts for o in ref.ops[a - 1:b]]
    findings = [{"op": r["op"], "mode": r["mode"], "t": cut_time(ref, r["op"]),
                 "kind": ref.ops[r["op"] - 1]["kind"], "path": ref.ops[r["op"] - 1]["path"],
                 "finding": f} for r in results for f in r["findings"]]
    return {
        "scenario": "pre-record 6 s, press 6.5 s, bookmark 8.5 s, 5 s segments, stop 15 s, "
                    "second recording 17-20 s; 320x240 at 30 fps",
        "operations": len(ref.ops),
        "cut_points": len(points),
        "cuts": len(results),
        "modes": sorted({mode for _, mode in jobs_list}),
        "fsync_interval_s": FSYNC_S,
        "worst_loss_s": round(max((r["loss_s"] for r in results), default=0.0), 3),
        "worst_loss_in_preroll_write_s": round(
            max((r["written_lost_s"] for r in results), default=0.0), 3),
        "preroll_write_ops": [b - a + 1 for a, b in ref.bursts],
        "preroll_write_fsyncs": [sum(o["kind"] == "fsync" and "seg-" in o["path"]
                                     for o in ref.ops[a - 1:b]) for a, b in ref.bursts],
        "preroll_write_bytes": sum(o.get("bytes", 0) for o in burst_ops if "seg-" in o["path"]),
        "findings": findings,
        "wall_seconds": round(time.perf_counter() - started, 1),
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.crash_sweep", description=(__doc__ or "").split(
        "\n")[0])
    p.add_argument("--sample", type=int, help="cut at this many points only (CI)")
    p.add_argument("--op", type=int, action="append", help="cut at this operation only")
    p.add_argument("--mode", choices=("strict", "torn"), action="append")
    p.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1))
    p.add_argument("--keep", type=Path, help="work here and keep it (default: a temp dir)")
    args = p.parse_args(argv)
    modes = tuple(args.mode) if args.mode else ("strict", "torn")
    if args.keep:
        args.keep.mkdir(parents=True, exist_ok=True)
        figures = sweep(args.keep, ops=args.op, limit=args.sample, modes=modes, jobs=args.jobs)
    else:
        with tempfile.TemporaryDirectory(prefix="crash-sweep-") as d:
            figures = sweep(Path(d), ops=args.op, limit=args.sample, modes=modes,
                            jobs=args.jobs)
    print(json.dumps(figures, indent=2))
    return 1 if figures["findings"] else 0


if __name__ == "__main__":
    sys.exit(main())
