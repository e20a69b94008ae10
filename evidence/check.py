"""Checks across files: a recording's segments and manifest, a device's chain.

``reader`` checks one file at a time; this module checks that the files of a
recording belong together (same device, same recording, indices 0..n without
gaps or repeats, each header naming the hash of the segment before it, the
manifest listing exactly these files) and that a device's recordings chain
into one another. Each problem found is classed as in docs/FORMAT.md §9.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from evidence import canonical
from evidence.canonical import CanonicalError
from evidence.consistency import manifest_matches_files
from evidence.framing import MAGIC_LEN, MANIFEST_VERSIONS, RECORD_HEAD, SEGMENT_VERSIONS
from evidence.layout import SEGMENT_FILE
from evidence.manifest import MANIFEST_NAME, span_us
from evidence.manifest_reader import ManifestScan, scan_manifest
from evidence.reader import (
    DUPLICATED,
    FOREIGN,
    INTEGRITY_KINDS,
    MALFORMED,
    MISSING,
    REORDERED,
    TAMPERED,
    TRUNCATED,
    SegmentScan,
    scan_segment,
)
from evidence.sigcheck import AnyKey, open_regular, sig_len

SEG_FILE = SEGMENT_FILE
INTACT = "intact"
#: The status of a recording is its most specific problem: the order in which
#: kinds win when a recording has several.
PRIORITY = (FOREIGN, DUPLICATED, REORDERED, MISSING, TAMPERED, MALFORMED, TRUNCATED)


@dataclass(frozen=True)
class Problem:
    """One problem: class, file (relative to the tree root), place in it, what."""

    kind: str
    file: str
    place: str
    message: str

    def text(self) -> str:
        """One line for people."""
        where = f"{self.file} ({self.place})" if self.place else self.file
        return f"{self.kind.upper()}: {where}: {self.message}"


@dataclass
class RecordingCheck:
    """Everything known about one recording directory after checking it."""

    dir: Path
    rel: str
    device_id: str = ""
    recording_id: str = ""
    recording_seq: int | None = None
    key_source: str = ""
    manifest: ManifestScan | None = None
    segments: list[SegmentScan] = field(default_factory=list)  # good ones, in index order
    scans: list[SegmentScan] = field(default_factory=list)  # every segment file
    #: One file per index, in order, whatever its state: its verified chunks are
    #: what a forced export may use.
    usable: list[SegmentScan] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    start_prev: str | None = None
    info: dict[str, Any] = field(default_factory=dict)

    def add(self, kind: str, file: str, place: str, message: str) -> None:
        """Record a problem."""
        self.problems.append(Problem(kind, file, place, message))

    @property
    def status(self) -> str:
        """intact, truncated, or the most specific integrity problem."""
        kinds = {p.kind for p in self.problems}
        for kind in PRIORITY:
            if kind in kinds:
                return kind
        return INTACT

    @property
    def integrity_ok(self) -> bool:
        """No problem other than truncation."""
        return not any(p.kind in INTEGRITY_KINDS for p in self.problems)

    @property
    def manifest_sha(self) -> str | None:
        """Hex hash of the manifest file, if it verified."""
        if self.manifest is not None and self.manifest.doc is not None:
            return self.manifest.sha256.hex()
        return None

    def totals(self) -> dict[str, Any]:
        """Verified chunks, frames and seconds over the good segments."""
        chunks = sum(len(s.chunks) for s in self.segments)
        frames = sum(s.frames for s in self.segments)
        firsts = [s.pts_range[0] for s in self.segments if s.pts_range[0] is not None]
        lasts = [s.pts_range[1] for s in self.segments if s.pts_range[1] is not None]
        dur = span_us(frames, min(firsts, default=None), max(lasts, default=None))
        return {"segments": len(self.segments), "chunks": chunks, "frames": frames,
                "seconds": round(dur / 1e6, 3)}


def peek_json(path: Path) -> dict[str, Any] | None:
    """The first record's JSON of a segment or manifest, unverified (to learn ids)."""
    try:
        with open_regular(path) as f:  # never a FIFO, device or symlink a hostile tree plants
            head = f.read(MAGIC_LEN + RECORD_HEAD.size)
            if len(head) < MAGIC_LEN + RECORD_HEAD.size:
                return None
            version = SEGMENT_VERSIONS.get(head[:MAGIC_LEN]) or MANIFEST_VERSIONS.get(
                head[:MAGIC_LEN])
            if version is None:
                return None
            slen = sig_len(version)
            _, length = RECORD_HEAD.unpack_from(head, MAGIC_LEN)
            if length > 1 << 24 or length <= slen:
                return None
            body = f.read(length)
        return canonical.decode_object(body[:-slen], strict=False)
    except (OSError, CanonicalError):
        return None


def _rel(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)


def check_recording(rec: RecordingCheck, root: Path, key: AnyKey | None) -> None:
    """Scan and cross-check the files of one recording directory."""
    mpath = rec.dir / MANIFEST_NAME
    if mpath.is_file():
        rec.manifest = scan_manifest(mpath, key)
        for f in rec.manifest.findings:
            rec.add(f.kind, _rel(mpath, root), "manifest", f.message)
    mdoc = rec.manifest.doc if rec.manifest is not None else None
    files = sorted((int(m.group(1)), p) for p in rec.dir.iterdir()
                   if (m := SEG_FILE.fullmatch(p.name)) and p.is_file())
    scans = [(index, scan_segment(p, key)) for index, p in files]
    rec.scans = [s for _, s in scans]
    if mdoc is not None:
        rec.recording_id, rec.recording_seq = mdoc["recording_id"], mdoc["recording_seq"]
        rec.start_prev = mdoc["start_prev_hash"]
        rec.info = mdoc
    else:
        first = next((s.header for _, s in scans if s.header is not None), None)
        if first is not None:
            rec.recording_id, rec.recording_seq = first["recording_id"], first["recording_seq"]
            rec.info = first
        else:
            rec.recording_id = rec.dir.name
    if rec.recording_id != rec.dir.name:
        rec.notes.append(f"directory name {rec.dir.name} differs from recording id "
                         f"{rec.recording_id}")
    by_index: dict[int, list[SegmentScan]] = {}
    sha_to_file = {s.sha256: s.path.name for _, s in scans}
    for file_index, scan in scans:
        rel = _rel(scan.path, root)
        for f in scan.findings:
            place = f"byte {f.offset}" if f.offset is not None else "end of file"
            rec.add(f.kind, rel, place, f.message)
        h = scan.header
        if h is None:  # cut before its header was complete, or header unreadable
            by_index.setdefault(file_index, []).append(scan)
            continue
        if h["device_id"] != rec.device_id and rec.device_id:
            rec.add(FOREIGN, rel, "header", f"segment of device {h['device_id']!r}, not "
                    f"{rec.device_id!r}")
            continue
        if h["recording_id"] != rec.recording_id or h["recording_seq"] != rec.recording_seq:
            rec.add(FOREIGN, rel, "header", f"segment belongs to recording "
                    f"{h['recording_id']} (#{h['recording_seq']}), not {rec.recording_id}")
            continue
        if h["segment_index"] != file_index:
            twin = [s for _, s in scans if s is not scan and s.sha256 == scan.sha256]
            if twin:
                rec.add(DUPLICATED, rel, "header", f"copy of {twin[0].path.name}")
                continue
            rec.add(REORDERED, rel, "header", f"file holds segment {h['segment_index']}, "
                    f"not {file_index}")
        by_index.setdefault(h["segment_index"], []).append(scan)
    _check_sequence(rec, root, by_index)
    _check_manifest(rec, root, mdoc, sha_to_file, files)


def _check_sequence(rec: RecordingCheck, root: Path,
                    by_index: dict[int, list[SegmentScan]]) -> None:
    """Indices 0..n, one file each, each chained to the one before it."""
    if not by_index:
        return
    top = max(by_index)
    prev: SegmentScan | None = None
    for index in range(top + 1):
        group = by_index.get(index)
        if not group:
            rec.add(MISSING, _rel(rec.dir, root), f"segment {index}",
                    f"segment {index} is missing (seg-{index:06d}.bcs)")
            prev = None
            continue
        scan = group[0]
        for extra in group[1:]:
            kind = DUPLICATED if extra.sha256 == scan.sha256 else TAMPERED
            rec.add(kind, _rel(extra.path, root), "header",
                    f"a second file claims segment {index}")
        if scan.header is not None:
            expected = prev.sha256.hex() if prev is not None else (
                rec.start_prev if index == 0 else None)
            if index == 0 and rec.start_prev is None:
                rec.start_prev = scan.header["prev_hash"]
            if expected is not None and scan.header["prev_hash"] != expected:
                what = (f"segment {index - 1} was altered or replaced" if index
                        else "it does not start where the manifest says the chain stood")
                rec.add(TAMPERED, _rel(scan.path, root), "header",
                        f"chain broken: {what}")
        if scan.ok:
            rec.segments.append(scan)
        if scan.header is not None:
            rec.usable.append(scan)
        prev = scan


def _check_manifest(rec: RecordingCheck, root: Path, mdoc: dict[str, Any] | None,
                    sha_to_file: dict[bytes, str], files: list[tuple[int, Path]]) -> None:
    mrel = _rel(rec.dir / MANIFEST_NAME, root)
    if mdoc is None:
        if rec.manifest is None:
            rec.notes.append("no manifest: the recording was not finished (power lost and the "
                             "device has not booted since)")
            if rec.segments or files:
                rec.add(TRUNCATED, mrel, "", "manifest missing: recording not finished")
        return
    if mdoc["device_id"] != rec.device_id:
        rec.add(FOREIGN, mrel, "manifest", f"manifest of device {mdoc['device_id']!r}")
        return
    if mdoc["recovered"]:
        rec.notes.append("closed by recovery at boot after an interrupted recording")
        # Recovery signs what it found, which is only what was left: never intact.
        rec.add(TRUNCATED, mrel, "manifest", "closed by recovery at boot after an "
                "interrupted recording: files as found, possibly fewer than were written")
        if all(e["complete"] for e in mdoc["segments"]):  # a cut segment says it itself
            _interrupted(rec, mrel, mdoc["start_pts_us"])
    entries = mdoc["segments"]
    expected_prev = entries[-1]["sha256"] if entries else mdoc["start_prev_hash"]
    if mdoc["prev_hash"] != expected_prev:
        rec.add(MALFORMED, mrel, "manifest", "prev_hash is not the last segment's hash")
    present = {p.name for _, p in files}
    listed = set()
    for n, entry in enumerate(entries):
        name = entry["file"]
        listed.add(name)
        want = bytes.fromhex(entry["sha256"])
        if entry["index"] != n or name != f"seg-{n:06d}.bcs":
            rec.add(MALFORMED, mrel, f"segment entry {n}", "entries out of order")
        if name not in present:
            where = sha_to_file.get(want)
            if where:
                rec.add(REORDERED, _rel(rec.dir / where, root), "",
                        f"manifest lists this file as {name}")
            else:
                rec.add(MISSING, _rel(rec.dir / name, root), "",
                        "listed in the manifest but not present")
            continue
        scan = next((s for s in rec.scans if s.path.name == name), None)
        if scan is None:
            continue
        if scan.sha256 != want:
            where = sha_to_file.get(want)
            if where and where != name:
                rec.add(REORDERED, _rel(scan.path, root), "",
                        f"manifest expects the content of {where} here")
            else:
                state = "complete" if entry["complete"] else f"cut at {entry['size']} bytes"
                rec.add(TAMPERED, _rel(scan.path, root), "",
                        f"does not match the manifest (which recorded it {state}, "
                        f"{entry['size']} bytes)")
        elif not entry["complete"]:
            rec.add(TRUNCATED, _rel(scan.path, root), f"after chunk {entry['chunks'] - 1}",
                    "cut (power loss or storage failure), as the manifest recorded")
    for name in sorted(present - listed):
        scan = next((s for s in rec.scans if s.path.name == name), None)
        if scan is not None and (scan.sha256 in {bytes.fromhex(e["sha256"]) for e in entries}):
            continue  # already reported as a copy or a reordering
        if not any(p.file.endswith(name) and p.kind == FOREIGN for p in rec.problems):
            rec.add(TAMPERED, _rel(rec.dir / name, root), "", "file is not in the manifest")
    manifest_matches_files(rec, mrel, mdoc)
    # A finished, unrecovered manifest must describe only complete segments.
    if not mdoc["recovered"] and any(not e["complete"] for e in entries):
        rec.notes.append("storage failure while recording: manifest lists cut segments")


def _interrupted(rec: RecordingCheck, mrel: str, start_us: int) -> None:
    """A recording closed by recovery lost what was not yet on storage when the power
    went, even when every segment file is whole: say what is known to be missing.
    (A start of 0 names no footage: nothing was ever due.)"""
    firsts = [s.pts_range[0] for s in rec.segments if s.pts_range[0] is not None]
    lasts = [s.pts_range[1] for s in rec.segments if s.pts_range[1] is not None]
    if not firsts:
        if start_us:
            rec.add(TRUNCATED, mrel, "", "interrupted by power loss before any footage "
                    "reached storage: the whole recording, pre-roll included, is missing")
        return
    first, last = min(firsts), max(lasts)
    if start_us and first > start_us:
        rec.add(TRUNCATED, mrel, "start", f"the first {(first - start_us) / 1e6:.3f} s of "
                "the recording (its pre-roll) are missing: power was lost while they were "
                "being written")
    rec.add(TRUNCATED, mrel, "end", f"interrupted by power loss: the footage ends "
            f"{(last - (start_us or first)) / 1e6:.3f} s after the start; what the camera "
            "captured after that never reached storage")


def check_chain(recs: list[RecordingCheck], root: Path) -> None:
    """One device's recordings must chain: each starts where the one before ended."""
    ordered = sorted((r for r in recs if r.recording_seq is not None),
                     key=lambda r: r.recording_seq or 0)
    for a, b in zip(ordered, ordered[1:], strict=False):
        if a.recording_seq == b.recording_seq:
            b.add(DUPLICATED, b.rel, "", f"recording number {b.recording_seq} appears twice "
                  f"(also {a.rel})")
            continue
        if a.manifest is None:
            a.add(MISSING, _rel(a.dir / MANIFEST_NAME, root), "",
                  f"manifest missing although a later recording ({b.recording_id}) exists")
            continue
        if a.manifest_sha is None or b.start_prev is None:
            continue
        if b.start_prev != a.manifest_sha:
            b.add(MISSING, b.rel, "chain",
                  f"does not continue from {a.recording_id}: a recording between "
                  f"#{a.recording_seq} and #{b.recording_seq} is missing or was replaced")
