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
from evidence.auditlog import iter_checkpoints
from evidence.canonical import CanonicalError
from evidence.fsutil import sha256_file
from evidence.layout import RECORDING_INFO, SEGMENT_FILE
from evidence.manifest import SegmentEntry, manifest_bytes, manifest_path
from evidence.manifest_reader import scan_manifest
from evidence.reader import SegmentScan, scan_segment

if TYPE_CHECKING:
    from recorder.store import EvidenceStore

_REC_DIR = re.compile(r"^([0-9]{6,})-")
_SEG_FILE = SEGMENT_FILE
RECOVERY_NOTE = ("closed by recovery at boot: the recording was interrupted (power loss or "
                 "crash); files are listed as found")


def _events(scans: list[tuple[int, SegmentScan]]) -> tuple[list[dict[str, Any]],
                                                            list[dict[str, Any]]]:
    """Bookmarks and gaps as signed into the segments (never from events.jsonl)."""
    marks: list[dict[str, Any]] = []
    gaps: list[dict[str, Any]] = []
    for _, scan in scans:
        for event in scan.events:
            doc = {k: v for k, v in event.items() if k != "kind"}
            (marks if event["kind"] == "bookmark" else gaps).append(doc)
    return marks, gaps


def _recover_recording(store: EvidenceStore, rec_dir: Path, seq: int) -> str | None:
    own_key = store.identity.public
    seg_files = sorted((int(m.group(1)), p) for p in rec_dir.iterdir()
                       if (m := _SEG_FILE.fullmatch(p.name)))
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
    # Start values come from a signed header only: recording.json is a cache an
    # attacker can edit. Without any verified header there is no footage to
    # describe; the manifest then says the start is unknown.
    header = next((s.header for _, s in scans if s.header is not None), None)
    base = header or {"clock_source": "unsynced", "utc_start_us": 0, "start_pts_us": 0}
    start_prev = None
    if scans and scans[0][1].header is not None:
        start_prev = scans[0][1].header["prev_hash"]
    elif info is not None and not scans:
        start_prev = info.get("start_prev_hash")  # nothing recorded: only the link
    marks, gaps = _events(scans)
    fields = {
        "bookmarks": marks,
        "clock_source": base["clock_source"],
        "counter": store.counter.next(),
        "counter_kind": store.counter.kind.value,
        "device_id": store.identity.device_id,
        "device_key": store.identity.public_key_raw.hex(),
        "device_key_alg": store.identity.public.alg.label,
        "finished_utc_us": int(round(store.now() * 1_000_000)),
        "gaps": gaps,
        "note": RECOVERY_NOTE,
        "recording_id": header["recording_id"] if header else rec_dir.name,
        "recording_seq": header["recording_seq"] if header else seq,
        "recovered": True,
        "start_prev_hash": start_prev or store.chain.head.hex(),
        "start_pts_us": int(base.get("start_pts_us", 0)),
        "utc_start_us": int(base.get("utc_start_us", 0)),
    }
    entries = [SegmentEntry.from_scan(index, scan) for index, scan in scans]
    store.write_manifest(rec_dir, manifest_bytes(fields, entries, store.identity.device_signer))
    cut = [e for e in entries if not e.complete]
    frames = sum(e.frames for e in entries)
    what = (f"{len(cut)} segment(s) cut ({', '.join(e.file for e in cut)})" if cut
            else "all segments complete" if frames else "no footage reached storage")
    extra = ""
    return (f"recovered recording {rec_dir.name}: {len(entries)} segment(s), {what}, "
            f"{frames} frames verified; recovered manifest written{extra}")


def _newest_on_disk(store: EvidenceStore, recs: list[tuple[int, Path]]) -> tuple[int, int]:
    """The highest counter value in the newest recordings and the audit log's
    checkpoints, and the latest segment opening time (UTC µs) there."""
    top, latest = 0, 0
    for _, rec_dir in recs[-2:]:
        for path in sorted(rec_dir.iterdir()):
            if _SEG_FILE.fullmatch(path.name):
                header = scan_segment(path, store.identity.public).header
                top = max(top, header.get("counter", 0) if header else 0)
                latest = max(latest, header["opened_utc_us"] if header else 0)
        if manifest_path(rec_dir).exists():
            doc = scan_manifest(manifest_path(rec_dir), store.identity.public).doc
            top = max(top, doc.get("counter", 0) if doc else 0)
    for doc in iter_checkpoints(store.audit.path):
        top = max(top, doc.get("counter", 0))
    return top, latest


def _counter_at_boot(store: EvidenceStore, recs: list[tuple[int, Path]]) -> str | None:
    """Compare the counter with what is on the card, and say in the signed log what
    is missing: one value is what a power cut takes (the item being written when it
    hit); more were removed, or the card was swapped, and stay a gap to the verifier."""
    newest, latest_utc = _newest_on_disk(store, recs)
    wall = int(store.now() * 1_000_000)
    if wall < latest_utc:  # a clock that went back across the reboot is a clock step
        store.audit.append("clock_step", step_s=round((wall - latest_utc) / 1e6, 3),
                           source="boot", why="wall clock at boot is before the newest evidence")
    now = store.counter.current()
    if now <= newest:
        return None
    if now == newest + 1:
        store.audit.lost.append(now)
        return f"counter {now} is on no item: lost to the interruption"
    store.audit.append("counter.gap", first=newest + 1, last=now,
                       why="signed items missing at boot: removed from the card, or lost")
    return f"counter values {newest + 1}..{now} are on no item on the card (logged)"


def recover_store(store: EvidenceStore) -> list[str]:
    """Recover every open recording in ``store``, oldest first; return what was done."""
    lines: list[str] = []
    recs: list[tuple[int, Path]] = []
    for path in store.recordings_dir.iterdir():
        m = _REC_DIR.match(path.name)
        if path.is_dir() and m:
            recs.append((int(m.group(1)), path))
    recs.sort()
    note = _counter_at_boot(store, recs)
    if note:
        lines.append(note)
    for seq, rec_dir in recs:
        if manifest_path(rec_dir).exists():
            continue
        try:
            line = _recover_recording(store, rec_dir, seq)
        except OSError:
            store.audit.lost.append(store.counter.current())  # the manifest's value
            raise
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
    top = max((seq for seq, d in recs if d.exists()), default=0)
    if top > chain.recording_seq:
        chain.recording_seq = top
        changed = True
    elif any(seq >= chain.recording_seq and not d.exists() for seq, d in recs) \
            and top < chain.recording_seq:
        # The newest number was taken for a directory a power cut left empty (nothing
        # signed ever named it) and recovery removed: hand it out again, so the numbers
        # a verifier sees stay continuous instead of showing a recording as missing.
        lines.append(f"recording number {chain.recording_seq} was never used; it is "
                     "handed out again")
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
