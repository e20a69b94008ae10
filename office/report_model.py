"""What the evidence report shows, as plain data: the one place that reads verify's results.

``bodycam verify`` speaks in format terms (statuses such as ``truncated`` or
``reordered``, problems with byte offsets). The report speaks to a person. This
module turns one :class:`office.verify.RecordingResult` into a
:class:`RecordingView`; the page and its JSON are drawn from views alone, so when
verify's statuses change (Evidence v2) only :func:`verdict_of`, :data:`STATUS_WORDS`
and :func:`recording_view` follow.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import Enum
from typing import Any

from evidence.timefmt import iso_or_none
from office.verify import RecordingResult


class Verdict(Enum):
    """The three answers a non-specialist needs."""

    INTACT = "intact"
    INCOMPLETE = "incomplete"
    PROBLEM = "problem"


class Mark(Enum):
    """Kinds of things on a recording's timeline."""

    PREROLL = "pre-roll"
    PRESS = "press"
    BOOKMARK = "bookmark"
    GAP = "gap"
    DROPPED = "dropped"  # footage held in RAM during a full card, dropped at the stop
    FAULT = "fault"
    RECOVERED = "recovered"
    CLOCK_STEP = "clock step"
    STOP = "stop"


#: verify's statuses in words a person reads (unknown ones fall back to PROBLEM).
STATUS_WORDS: dict[str, tuple[Verdict, str]] = {
    "intact": (Verdict.INTACT, "Intact: every file is present and unaltered, and every "
               "signature checks."),
    "truncated": (Verdict.INCOMPLETE, "Incomplete: the recording was cut off (power loss or "
                  "a storage failure). What is there is genuine and unaltered."),
    "tampered": (Verdict.PROBLEM, "Problem: a file was altered after it was recorded."),
    "missing": (Verdict.PROBLEM, "Problem: a file or a recording is missing."),
    "reordered": (Verdict.PROBLEM, "Problem: files were put out of their order."),
    "duplicated": (Verdict.PROBLEM, "Problem: a file or recording appears twice."),
    "foreign": (Verdict.PROBLEM, "Problem: not made by the camera whose key was given."),
    "malformed": (Verdict.PROBLEM, "Problem: a file is damaged or not a bodycam evidence file."),
}


def verdict_of(status: str) -> tuple[Verdict, str]:
    """A verify status as a verdict and a sentence."""
    return STATUS_WORDS.get(status, (Verdict.PROBLEM, f"Problem: {status}."))


@dataclass(frozen=True)
class Moment:
    """One thing on the timeline, in seconds from the recording's first frame."""

    kind: Mark
    start_s: float
    label: str
    end_s: float | None = None  # for stretches (pre-roll, gap, dropped footage)
    pts_us: int | None = None  # sensor time, where a frame can be shown
    source: str = "manifest (signed)"

    def as_dict(self) -> dict[str, Any]:
        """JSON form."""
        d = asdict(self)
        d["kind"] = self.kind.value
        return d


@dataclass
class Thumb:
    """A decoded frame shown under the timeline."""

    caption: str
    offset_s: float
    pts_us: int
    data_uri: str


@dataclass
class RecordingView:
    """One recording as the report shows it."""

    rel: str
    device_id: str
    recording_id: str
    seq: int | None
    status: str
    verdict: Verdict
    words: str
    details: list[str]
    notes: list[str]
    utc_start: str | None
    utc_end: str | None
    clock_source: str
    duration_s: float
    frames: int
    segments: int
    t0_us: int | None
    officer: str | None = None  # the format carries no officer yet: None means "not recorded"
    preroll_s: float | None = None
    moments: list[Moment] = field(default_factory=list)
    thumbs: list[Thumb] = field(default_factory=list)

    def offset(self, pts_us: int) -> float:
        """Seconds from the first frame to sensor time ``pts_us``."""
        return round((pts_us - (self.t0_us or 0)) / 1e6, 3)

    def as_dict(self) -> dict[str, Any]:
        """JSON form (thumbnails as their captions and times, not their pixels)."""
        d = {k: v for k, v in asdict(self).items() if k not in ("moments", "thumbs", "verdict")}
        d["verdict"] = self.verdict.value
        d["moments"] = [m.as_dict() for m in self.moments]
        d["thumbnails"] = [{"caption": t.caption, "offset_s": t.offset_s, "pts_us": t.pts_us}
                           for t in self.thumbs]
        return d


def recording_view(result: RecordingResult) -> RecordingView:
    """The report's view of one verified recording (manifest facts only; the audit
    log's moments are added by :mod:`office.report_audit`)."""
    c = result.check
    info = c.info
    totals = c.totals()
    verdict, words = verdict_of(result.status)
    firsts = [s.pts_range[0] for s in c.segments if s.pts_range[0] is not None]
    t0 = min(firsts) if firsts else info.get("start_pts_us")
    start_us = info.get("utc_start_us")
    # A recording's UTC start is its first frame's; the end follows from the footage.
    end_us = start_us + round(totals["seconds"] * 1e6) if start_us is not None else None
    view = RecordingView(
        rel=c.rel, device_id=c.device_id or "?", recording_id=c.recording_id,
        seq=c.recording_seq, status=result.status, verdict=verdict, words=words,
        details=[p.text() for p in c.problems], notes=list(c.notes),
        utc_start=iso_or_none(start_us), utc_end=iso_or_none(end_us),
        clock_source=str(info.get("clock_source", "unknown")),
        duration_s=float(totals["seconds"]), frames=int(totals["frames"]),
        segments=int(totals["segments"]), t0_us=t0)
    for b in info.get("bookmarks", []):
        label = b.get("label") or "bookmark"
        view.moments.append(Moment(Mark.BOOKMARK, view.offset(b["pts_us"]), label,
                                   pts_us=b["pts_us"]))
    for g in info.get("gaps", []):
        start, end = view.offset(g["start_pts_us"]), view.offset(g["end_pts_us"])
        kind = Mark.DROPPED if str(g["reason"]).startswith(DROPPED_PREFIX) else Mark.GAP
        view.moments.append(Moment(kind, start, f"{g['reason']} ({end - start:.1f} s)",
                                   end_s=end, pts_us=g["start_pts_us"]))
    return view


#: How a gap for footage dropped at a stop on a full card begins its reason (the
#: daemon writes it into the signed manifest).
DROPPED_PREFIX = "held in RAM, dropped"
