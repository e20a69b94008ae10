"""What a simulated run did, as ``bodycam run --sim`` prints it at the end.

The daemon reports to a :class:`firmware.events.DaemonEvents`; this one keeps
every report of the run (a scenario is minutes long), so tests and people can
read the recordings, the state changes and the cue timeline afterwards. The
device keeps none of it: its record is the audit log.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from recorder.segmenter import RecordingStats

from .cue_timeline import CueJournal


@dataclass
class RunRecord:
    """Every report of one daemon run (a :class:`firmware.events.DaemonEvents`)."""

    recordings: list[tuple[str, RecordingStats]] = field(default_factory=list)
    transitions: list[tuple[float, str, str, str]] = field(default_factory=list)
    refusals: int = 0
    cues: CueJournal = field(default_factory=CueJournal)

    def transition(self, t: float, old: str, new: str, why: str) -> None:
        self.transitions.append((t, old, new, why))

    def recorded(self, recording_id: str, stats: RecordingStats) -> None:
        self.recordings.append((recording_id, stats))

    def refused(self) -> None:
        self.refusals += 1

    def cue(self, t: float, label: str) -> None:
        self.cues(t, label)

    def summary(self, started_at: float) -> dict[str, Any]:
        """The JSON summary's recordings, transitions (``t`` from ``started_at``) and refusals."""
        return {
            "recordings": [
                {"id": rid, "frames": st.frames, "audio_packets": st.audio_packets,
                 "segments": st.segments,
                 "seconds": round(((st.last_pts_us or 0) - (st.first_pts_us or 0)) / 1e6, 3)}
                for rid, st in self.recordings
            ],
            "transitions": [
                {"t": round(t - started_at, 3), "from": old, "to": new, "why": why}
                for t, old, new, why in self.transitions
            ],
            "refused": self.refusals,
        }
