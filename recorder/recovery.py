"""Boot-time recovery: close what a power cut or crash left open.

A recording without a manifest was interrupted. Its files stay exactly as they
are (a cut segment is hashed as it is, never repaired or rewritten); the
device writes a *recovered* manifest that lists them, marks the cut one
incomplete, and continues the hash chain from there. The chain state is then
checked against the newest manifest on disk and fixed up if a crash came
between writing a manifest and saving the state.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from evidence import canonical
from evidence.canonical import CanonicalError
from evidence.fsutil import sha256_file
from evidence.layout import EVENTS, RECORDING_INFO, SEGMENT_FILE
from evidence.manifest import SegmentEntry, manifest_bytes, manifest_path
from evidence.reader import scan_segment

if TYPE_CHECKING:
    from recorder.store import EvidenceStore

_REC_DIR = re.compile(r"^([0-9]{6,})-")
_SEG_FILE = SEGMENT_FILE
RECOVERY_NOTE = ("closed by recovery at boot: the recording was interrupted (power loss or "
                 "crash); files are listed as found")


def _events(recording_dir: Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]], bool]:
    """Bookmarks and gaps from events.jsonl; flags a torn last line."""
    marks: list[dict[str, Any]] = []
    gaps: list[dict[str, Any]] = []
    torn = False
    try:
        data = (recording_dir / EVENTS).read_bytes()
    except OSError:
        return marks, gaps, torn
    for line in data.split(b"\n"):
        if not line:
            continue
        try:
            doc = canonical.decode_object(line)
            kind = doc.pop("kind")
        except (CanonicalError, KeyError):
            torn = True
            continue
        if kind == "bookmark" and set(doc) == {"label", "pts_us", "utc_us"}:
            marks.append(doc)
        elif kind == "gap" and set(doc) == {"end_pts_us", "reason", "start_pts_us"}:
            gaps.append(doc)
    return marks, gaps, torn


def _recover_recording(store: EvidenceStore, rec_dir: Path, seq: int) -> str | None:
    own_key = store.identity.signing_key.public_key()
    seg_files = sorted((int(m.group(1)), p) for p in rec_dir.iterdir()
                       if (m := _SEG_FILE.match(p.name)))
    info = read_recording_info(rec_dir)
    if not seg_files and info is None:
        leftovers = list(rec_dir.iterdir())
        if all(p.name.endswith(".tmp") and p.is_file() for p in leftovers):
            # Created just before a crash: holds nothing, or only the temporary file of a
            # recording.json that was never completed (not evidence: it never got its name).
            for p in leftovers:
                p.unlink()
            rec_dir.rmdir()
            return f"removed empty recording directory {rec_dir.name} (left by a crash)"
        return f"left {rec_dir.name} alone: no segments and no recording.json"
    scans = [(index, scan_segment(path, own_key)) for index, path in seg_files]
    header = next((s.header for _, s in scans if s.header is not None), None)
    base = info or header or {}
    start_prev = base.get("start_prev_hash")
    if start_prev is None and scans and scans[0][1].header is not None:
        start_prev = scans[0][1].header["prev_hash"]
    marks, gaps, torn = _events(rec_dir)
    fields = {
        "bookmarks": marks,
        "clock_source": str(base.get("clock_source", "unknown"))[:32],
        "device_id": store.identity.device_id,
        "device_key": store.identity.public_key_raw.hex(),
        "finished_utc_us": int(round(store.now() * 1_000_000)),
        "gaps": gaps,
        "note": RECOVERY_NOTE,
        "recording_id": rec_dir.name,
        "recording_seq": seq,
        "recovered": True,
        "start_prev_hash": start_prev or store.chain.head.hex(),
        "start_pts_us": int(base.get("start_pts_us", 0)),
        "utc_start_us": int(base.get("utc_start_us", 0)),
    }
    entries = [SegmentEntry.from_scan(index, scan) for index, scan in scans]
    store.write_manifest(rec_dir, manifest_bytes(fields, entries, store.identity.signing_key))
    cut = [e for e in entries if not e.complete]
    frames = sum(e.frames for e in entries)
    what = (f"{len(cut)} segment(s) cut ({', '.join(e.file for e in cut)})" if cut
            else "all segments complete" if frames else "no footage reached storage")
    extra = "; torn last line in events.jsonl ignored" if torn else ""
    return (f"recovered recording {rec_dir.name}: {len(entries)} segment(s), {what}, "
            f"{frames} frames verified; recovered manifest written{extra}")


def recover_store(store: EvidenceStore) -> list[str]:
    """Recover every open recording in ``store``, oldest first; return what was done."""
    lines: list[str] = []
    recs: list[tuple[int, Path]] = []
    for path in store.recordings_dir.iterdir():
        m = _REC_DIR.match(path.name)
        if path.is_dir() and m:
            recs.append((int(m.group(1)), path))
    recs.sort()
    for seq, rec_dir in recs:
        if manifest_path(rec_dir).exists():
            continue
        line = _recover_recording(store, rec_dir, seq)
        if line:
            lines.append(line)
    chain = store.chain
    present = [(seq, d) for seq, d in recs if manifest_path(d).exists()]
    changed = False
    if present:
        seq, newest = present[-1]
        if seq >= chain.recording_seq:
            head, _ = sha256_file(manifest_path(newest))
            if head != chain.head:
                chain.head = head
                chain.head_ref = f"recordings/{newest.name}/{manifest_path(newest).name}"
                lines.append(f"chain state moved to the manifest of {newest.name}")
                changed = True
    top = max((seq for seq, _ in recs), default=0)
    if top > chain.recording_seq:
        chain.recording_seq = top
        changed = True
    if changed:
        chain.save(store.data_dir)
    return lines


def read_recording_info(recording_dir: Path) -> dict[str, Any] | None:
    """recording.json of a recording, or None if missing or unreadable."""
    try:
        doc = canonical.decode_object((Path(recording_dir) / RECORDING_INFO).read_bytes()
                                      .rstrip(b"\n"))
    except (OSError, CanonicalError):
        return None
    return doc
