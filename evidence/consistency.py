"""Signed fields must agree with the files they describe (docs/FORMAT.md §9, step 4).

A manifest is signed, but a verifier still compares what it says (start values,
per-segment counts, totals, bookmarks and gaps) with the segment headers and the
chunks it can check itself: a device bug or a stolen key shows as a
disagreement, and a reader of the manifest alone would otherwise be misled.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from evidence.manifest import span_us
from evidence.reader import MALFORMED

if TYPE_CHECKING:
    from evidence.check import RecordingCheck

_START = ("utc_start_us", "clock_source", "start_pts_us", "recording_id", "recording_seq")


def manifest_matches_files(rec: RecordingCheck, mrel: str, mdoc: dict[str, Any]) -> None:
    """Add a *malformed* problem for each signed manifest field the files contradict."""
    scans = {s.path.name: s for s in rec.scans}
    first = next((s for s in rec.segments if s.header is not None
                  and s.header["segment_index"] == 0), None)
    if first is not None and first.header is not None:
        for name in _START:
            if mdoc[name] != first.header[name]:
                rec.add(MALFORMED, mrel, "manifest", f"{name} {mdoc[name]!r} differs from "
                        f"segment 0's header ({first.header[name]!r})")
    frames = 0
    firsts, lasts = [], []
    for entry in mdoc["segments"]:
        frames += entry["frames"]
        if entry["frames"] and entry["first_pts_us"] is not None:
            firsts.append(entry["first_pts_us"])
            lasts.append(entry["last_pts_us"])
        scan = scans.get(entry["file"])
        if scan is None or scan.sha256.hex() != entry["sha256"]:
            continue  # reported already as missing, reordered or tampered
        first_pts, last_pts = scan.pts_range
        seen = {"chunks": len(scan.chunks), "frames": scan.frames, "size": scan.size,
                "payload_bytes": scan.payload_bytes, "first_pts_us": first_pts,
                "last_pts_us": last_pts, "complete": scan.complete}
        for key, value in seen.items():
            if entry[key] != value:
                rec.add(MALFORMED, mrel, f"segment entry {entry['index']}",
                        f"{key} {entry[key]!r} differs from the file ({value!r})")
    if mdoc["frames"] != frames:
        rec.add(MALFORMED, mrel, "manifest", f"frames {mdoc['frames']} is not the sum over "
                f"its segments ({frames})")
    duration = span_us(frames, min(firsts, default=None), max(lasts, default=None))
    if mdoc["duration_us"] != duration:
        rec.add(MALFORMED, mrel, "manifest", f"duration_us {mdoc['duration_us']} differs "
                f"from the segments ({duration})")
    _events_listed(rec, mrel, mdoc)


def _events_listed(rec: RecordingCheck, mrel: str, mdoc: dict[str, Any]) -> None:
    """Every bookmark and gap signed into a segment must be in the manifest."""
    listed = {"bookmark": list(mdoc["bookmarks"]), "gap": list(mdoc["gaps"])}
    for scan in rec.scans:
        for event in scan.events:
            doc = {k: v for k, v in event.items() if k != "kind"}
            pool = listed[event["kind"]]
            if doc in pool:
                pool.remove(doc)
            else:
                rec.add(MALFORMED, mrel, "manifest", f"the {event['kind']} signed in "
                        f"{Path(scan.path).name} is not in the manifest")
