"""What the daemon reports to whoever watches a run, beyond the audit log and the journal.

On the device nobody does: the audit log and journald hold the record, and the
daemon keeps no list that grows with uptime. The simulation passes a
``hw_sim.run_record.RunRecord``, which keeps what ``bodycam run --sim`` prints
at the end (recordings, transitions, refusals, the cue timeline's labels).
Every method is called on the daemon's loop.
"""

from __future__ import annotations

from typing import Protocol

from recorder.segmenter import RecordingStats


class DaemonEvents(Protocol):
    """The observer of one daemon run (:data:`NO_EVENTS` on the device)."""

    def transition(self, t: float, old: str, new: str, why: str) -> None:
        """The reported state changed at monotonic ``t`` (names as :attr:`State.public`)."""
        ...

    def recorded(self, recording_id: str, stats: RecordingStats) -> None:
        """A recording was closed (or left for recovery to close)."""
        ...

    def refused(self) -> None:
        """A start gesture was refused (no key, no room)."""
        ...

    def cue(self, t: float, label: str) -> None:
        """A cue played (or was silenced) at monotonic ``t``: ``"start"``, ``"stealth on"``."""
        ...


class _NoEvents:
    """Nobody watching: the device."""

    def transition(self, t: float, old: str, new: str, why: str) -> None:
        pass

    def recorded(self, recording_id: str, stats: RecordingStats) -> None:
        pass

    def refused(self) -> None:
        pass

    def cue(self, t: float, label: str) -> None:
        pass


#: The observer the device runs with.
NO_EVENTS: DaemonEvents = _NoEvents()
