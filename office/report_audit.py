"""The device's audit log, read for people: a table in words, and timeline moments.

The log's chain and checkpoints are verified by :func:`evidence.auditlog.
verify_audit_log`; here only intact entries are read (a line whose own hash does
not match is shown as such, never interpreted). Moments taken from the log are
labelled as such on the page: the log is hash-chained and signed at checkpoints,
but its positions on a recording's timeline are placed by the monotonic clock,
to within a housekeeping tick.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evidence.auditlog import open_line
from office.report_model import Mark, Moment, RecordingView

AUDIT_SOURCE = "audit log"


@dataclass(frozen=True)
class AuditRow:
    """One line of the audit log as the report shows it."""

    line: int
    seq: int | None
    utc: str
    event: str
    words: str
    intact: bool
    doc: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {"line": self.line, "seq": self.seq, "utc": self.utc, "event": self.event,
                "words": self.words, "intact": self.intact}


def _f(doc: dict[str, Any], key: str, default: str = "?") -> str:
    v = doc.get(key)
    return default if v is None else str(v)


_WORDS: dict[str, Callable[[dict[str, Any]], str]] = {
    "boot": lambda d: f"camera started (pre-record {_f(d, 'prerecord')}, {_f(d, 'seconds')} s)",
    "shutdown": lambda d: "camera shut down",
    "recovery": lambda d: f"recovery at start-up: {_f(d, 'detail')}",
    "key_missing": lambda d: f"no usable device key, recording disabled: {_f(d, 'problem')}",
    "display_unavailable": lambda d: f"front display unavailable: {_f(d, 'error')}",
    "config": lambda d: f"configuration reloaded: pre-record {_f(d, 'prerecord_seconds')} s",
    "button": lambda d: "button pressed" if d.get("pressed") else "button released",
    "record_refused": lambda d: f"recording refused: {_f(d, 'reason')}",
    "recording_started": lambda d: (f"recording {_f(d, 'recording')} started with "
                                    f"{_f(d, 'preroll_s')} s of pre-roll"),
    "recording_stopped": lambda d: (f"recording {_f(d, 'recording')} closed and signed: "
                                    f"{_f(d, 'frames')} frames, {_f(d, 'segments')} segment(s)"),
    "recording_unclosed": lambda d: (f"recording {_f(d, 'recording')} could not be closed "
                                     f"({_f(d, 'error')}); closed at the next start-up"),
    "bookmark": lambda d: f"bookmark in recording {_f(d, 'recording')}",
    "prerecord_armed": lambda d: "pre-record armed",
    "prerecord_disarmed": lambda d: "pre-record disarmed, buffer discarded",
    "prerecord_shortfall": lambda d: (f"pre-roll shorter than wanted: {_f(d, 'covered_s')} s "
                                      f"of {_f(d, 'wanted_s')} s"),
    "state": lambda d: f"state {_f(d, 'old')} → {_f(d, 'new')} ({_f(d, 'why')})",
    "storage_error": lambda d: f"storage error: {_f(d, 'error')}",
    "storage_recovered": lambda d: "storage working again",
    "storage_low": lambda d: "storage nearly full",
    "storage_reserve_restored": lambda d: "storage reserve back in place",
    "held_footage_dropped": lambda d: (f"footage held in RAM did not fit on the full card: "
                                       f"{_f(d, 'seconds')} s dropped"),
    "clock_step": lambda d: (f"wall clock stepped by {_f(d, 'step_s')} s (clock source now "
                             f"{_f(d, 'source')})"),
    "camera_stall": lambda d: f"camera stalled: no frames for {_f(d, 'silent_s')} s",
    "camera_restart": lambda d: "camera pipeline restarted",
    "camera_restart_failed": lambda d: f"camera restart failed: {_f(d, 'error')}",
    "camera_resumed": lambda d: f"camera delivering frames again after {_f(d, 'gap_s')} s",
    "stealth": lambda d: "stealth on (cues and display dark)" if d.get("on") else "stealth off",
    "cue": lambda d: f"cue: {_f(d, 'name')}",
    "audit.checkpoint": lambda d: f"signed checkpoint over the {_f(d, 'count')} entries before",
    "audit.torn_line": lambda d: f"line {_f(d, 'line')} was torn by a crash (recorded at restart)",
}


def event_words(doc: dict[str, Any]) -> str:
    """One entry in words (unknown events: their name and fields)."""
    event = str(doc.get("event", "?"))
    fn = _WORDS.get(event)
    if fn is not None:
        return fn(doc)
    extra = {k: v for k, v in doc.items()
             if k not in ("event", "seq", "utc", "mono_us", "prev", "hash")}
    return f"{event} {extra}" if extra else event


def read_rows(path: Path) -> list[AuditRow]:
    """Every line of the log; lines that are not intact entries are shown as such."""
    try:
        data = path.read_bytes()
    except OSError:
        return []
    rows = []
    for n, line in enumerate(data.split(b"\n"), start=1):
        if not line:
            continue
        opened = open_line(line)
        if opened is None:
            rows.append(AuditRow(n, None, "", "?", "not an intact entry (torn or altered)",
                                 False, {}))
            continue
        doc = opened[0]
        rows.append(AuditRow(n, doc["seq"], str(doc.get("utc", "")), doc["event"],
                             event_words(doc), True, doc))
    return rows


def _num(v: Any) -> float | None:
    return float(v) if isinstance(v, int | float) and not isinstance(v, bool) else None


def add_moments(view: RecordingView, rows: Iterable[AuditRow]) -> None:
    """Put the audit log's press, faults, clock steps and stop on ``view``'s timeline.

    The entries from the recording's ``recording_started`` up to its stop (or the
    next start-up) belong to it; monotonic times become recording offsets through
    the start entry's sensor time, or else through its pre-roll length.
    """
    entries = [r.doc for r in rows if r.intact]
    start = next((i for i, d in enumerate(entries) if d["event"] == "recording_started"
                  and d.get("recording") == view.recording_id), None)
    if start is None:
        return
    first = entries[start]
    preroll = _num(first.get("preroll_s"))
    view.preroll_s = preroll
    press_pts, now_pts = first.get("press_pts_us"), first.get("now_pts_us")
    mono0 = _num(first.get("mono_us")) or 0.0
    if isinstance(press_pts, int) and isinstance(now_pts, int) and view.t0_us is not None:
        press_s = view.offset(press_pts)
        now_s = view.offset(now_pts)
    else:
        press_s = now_s = preroll or 0.0

    def at(doc: dict[str, Any]) -> float:
        return round(now_s + ((_num(doc.get("mono_us")) or mono0) - mono0) / 1e6, 3)

    if press_s > 0:
        view.moments.append(Moment(Mark.PREROLL, 0.0, f"pre-roll ({press_s:.1f} s before the "
                                   "press)", end_s=press_s, source=AUDIT_SOURCE))
    view.moments.append(Moment(Mark.PRESS, press_s, "press: recording started",
                               pts_us=press_pts if isinstance(press_pts, int) else None,
                               source=AUDIT_SOURCE))
    stopped: dict[str, Any] | None = None
    for doc in entries[start + 1:]:
        event = doc["event"]
        if event in ("boot", "recovery"):
            break
        if event in ("recording_stopped", "recording_unclosed") and \
                doc.get("recording") == view.recording_id:
            stopped = doc if event == "recording_stopped" else None
            break
        moment = _moment(view, doc, at(doc))
        if moment is not None:
            view.moments.append(moment)
    end = view.duration_s
    if stopped is not None:
        # The stop itself, which is later than the last frame when footage held in RAM
        # was dropped on a full card.
        end = max(end, at(stopped))
        why = next((d.get("why") for d in reversed(entries[start:]) if d["event"] == "state"
                    and d.get("new") == "stopping"), None)
        label = f"stop ({why})" if why else "stop"
    else:
        label = "cut off: not closed by the camera (power loss or storage failure)"
    view.moments.append(Moment(Mark.STOP, end, label, source=AUDIT_SOURCE))


def _moment(view: RecordingView, doc: dict[str, Any], t: float) -> Moment | None:
    event = doc["event"]
    if event in ("storage_error", "camera_stall", "camera_restart_failed"):
        return Moment(Mark.FAULT, t, event_words(doc), source=AUDIT_SOURCE)
    if event in ("storage_recovered", "camera_resumed"):
        return Moment(Mark.RECOVERED, t, event_words(doc), source=AUDIT_SOURCE)
    if event == "clock_step":
        return Moment(Mark.CLOCK_STEP, t, event_words(doc), source=AUDIT_SOURCE)
    if event == "held_footage_dropped" and not any(m.kind is Mark.DROPPED for m in view.moments):
        # Older firmware named the dropped footage only here, not in the manifest.
        secs = _num(doc.get("seconds")) or 0.0
        begin = view.offset(doc["from_pts_us"]) if isinstance(doc.get("from_pts_us"), int) \
            else t
        return Moment(Mark.DROPPED, begin, event_words(doc), end_s=round(begin + secs, 3),
                      source=AUDIT_SOURCE)
    return None
