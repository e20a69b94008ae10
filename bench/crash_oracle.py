"""What a cut must keep: the oracle of the crash sweep (bench/crash_sweep.py).

The uncut reference run says which frames each recording holds, when each bookmark
or gap was recorded, and (from its trace) which bytes each operation wrote; a cut
after operation k is then judged from what ``bodycam export --json`` reports.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

FPS = 30
FSYNC_S = 1.0
#: One frame of slack on every time bound (frames are 1/FPS apart).
SLACK_S = 1.0 / FPS
#: A bookmark press is acted on once the contact has settled (debounce) and written then.
CUE_S = 0.1


@dataclass
class RefRecording:
    """One recording of the uncut run, as the custodian sees it."""

    seq: int
    frames: list[int]
    start_pts_us: int
    events: list[tuple[float, str, int]]  # (scenario time recorded, kind, pts offset)
    files: list[str] = field(default_factory=list)  # segment paths in the trace's terms
    #: (segment path, end offset of a chunk, frame number of its last frame)
    chunk_ends: list[tuple[str, int, int]] = field(default_factory=list)

    def time_of(self, pts_us: int) -> float:
        return self.frames[0] / FPS + (pts_us - self.start_pts_us) / 1e6


@dataclass
class Reference:
    """The uncut run: its operations (the trace), its recordings, its pre-roll bursts."""

    ops: list[dict[str, Any]]
    recordings: list[RefRecording]
    bursts: list[tuple[int, int]]  # first and last op of each pre-roll burst


def frames_of(mp4: str | None) -> list[int]:
    """Frame numbers (frame tags) of an exported MP4, in order; none without one."""
    if not mp4:
        return []
    from hw_sim.frametag import frame_numbers
    return frame_numbers(mp4)


def written_frames(rec_dir: Path, rec: RefRecording) -> None:
    """Where each chunk of the reference recording ends in its files, and its last frame.

    The one place the sweep reads the evidence format itself (evidence.reader): a cut
    inside the pre-roll burst is judged by what had been *written*, and only the
    files say which bytes hold which frames.
    """
    from evidence.primitives import SIG_LEN
    from evidence.reader import scan_segment
    for seg in sorted(rec_dir.glob("seg-*.bcs")):
        rel = f"recordings/{rec_dir.name}/{seg.name}"
        rec.files.append(rel)
        for chunk in scan_segment(seg, None).chunks:
            if chunk.frames:
                last = rec.frames[0] + round((chunk.last_pts_us - rec.start_pts_us) * FPS / 1e6)
                rec.chunk_ends.append((rel, chunk.ct_offset + chunk.ct_len + SIG_LEN, last))


def cut_time(ref: Reference, op: int) -> float:
    t = ref.ops[op - 1]["t"]
    return -1.0 if t is None else t


def phase(ref: Reference, rec: RefRecording, op: int) -> str:
    """Where a cut after ``op`` falls for ``rec``: before it began, in its pre-roll burst
    (the operations at the instant its directory is made), or after."""
    a, b = ref.bursts[ref.recordings.index(rec)]
    return "before" if op < a else "burst" if op <= b else "after"


def newest_written(ref: Reference, rec: RefRecording, op: int) -> int | None:
    """The newest frame of ``rec`` whose chunk was wholly handed to the OS by ``op``."""
    written: dict[str, int] = {}
    for o in ref.ops[:op]:
        if o["kind"] == "write" and o["path"] in rec.files:
            written[o["path"]] = max(written.get(o["path"], 0), o["offset"] + o["bytes"])
    return max((last for path, end, last in rec.chunk_ends if end <= written.get(path, 0)),
               default=None)


def required_frames(ref: Reference, rec: RefRecording, op: int) -> list[int]:
    """Frames of ``rec`` a cut after ``op`` must keep: none before the press was acted on;
    in the burst, what was written more than ``fsync_interval`` of footage before the
    newest written frame; after it, what was captured ``fsync_interval`` before the cut."""
    where = phase(ref, rec, op)
    if where == "before":
        return []
    if where == "burst":
        newest = newest_written(ref, rec, op)
        if newest is None:
            return []
        bound = newest / FPS - FSYNC_S - SLACK_S
    else:
        bound = cut_time(ref, op) - FSYNC_S - SLACK_S
    return [f for f in rec.frames if f / FPS <= bound]


def check_nothing_lost(ref: Reference, op: int, findings: list[str]) -> None:
    for rec in ref.recordings:
        need = required_frames(ref, rec, op)
        if need:
            findings.append(f"recording #{rec.seq} vanished ({len(need)} frames due)")


def check_cut(ref: Reference, op: int, code: int, report: dict[str, Any],
              result: dict[str, Any]) -> None:
    findings: list[str] = result["findings"]
    verification = report.get("verification", {})
    statuses = {r["recording_seq"]: r for r in verification.get("recordings", [])}
    if verification.get("exit_code") not in (0, 3):
        findings.append(f"verify exit {verification.get('exit_code')}: "
                        f"{verification.get('counts')}")
    for r in statuses.values():
        if r["status"] not in ("intact", "truncated"):
            findings.append(f"recording #{r['recording_seq']} {r['status']}: "
                            + "; ".join(p["message"] for p in r["problems"])[:300])
    exported = {i["recording_id"]: i for i in report.get("recordings", [])}
    t_cut = cut_time(ref, op)
    for rec in ref.recordings:
        need = required_frames(ref, rec, op)
        got = statuses.get(rec.seq)
        if got is None:
            if need:
                findings.append(f"recording #{rec.seq} vanished ({len(need)} frames due)")
            continue
        item = exported.get(got["recording_id"], {})
        frames = frames_of(item.get("mp4"))
        if frames != rec.frames[:len(frames)]:
            findings.append(f"recording #{rec.seq}: frames are not the reference's from its "
                            f"first on ({frames[:3]}...{frames[-3:]})")
        missing = [f for f in need if f not in set(frames)]
        if missing:
            findings.append(f"recording #{rec.seq}: {len(missing)} frames due but lost "
                            f"({missing[0]}..{missing[-1]}, cut at {t_cut:.3f} s)")
        kept_set = set(frames)
        if phase(ref, rec, op) == "burst":  # what had been written and did not survive
            newest = newest_written(ref, rec, op)
            lost = [f for f in rec.frames if newest is not None and f <= newest
                    and f not in kept_set]
            result["written_lost_s"] = max(result["written_lost_s"], len(lost) / FPS)
        else:  # what the camera had captured before the cut and did not survive
            lost = [f for f in rec.frames if f / FPS <= t_cut and f not in kept_set]
            result["loss_s"] = max(result["loss_s"], len(lost) / FPS)
        if len(frames) < len(rec.frames) and got["status"] != "truncated":
            findings.append(f"recording #{rec.seq} lost {len(rec.frames) - len(frames)} "
                            f"frames but verifies {got['status']}")
        kept = {b["pts_us"] - got["start_pts_us"] for b in got["bookmarks"]} | {
            g["end_pts_us"] - got["start_pts_us"] for g in got["gaps"]}
        for t_event, kind, offset in rec.events:
            if t_cut >= t_event + FSYNC_S and offset not in kept:
                findings.append(f"recording #{rec.seq}: {kind} recorded at {t_event:.3f} s "
                                f"missing after a cut at {t_cut:.3f} s")
