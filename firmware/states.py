"""The daemon's states, one enum: what the camera is doing with the footage right now.

``SUSPENDED`` and ``FAULT`` are both a storage fault, seen from the officer the
same way (the fault cue, the banner), and the run summary and the audit log call
both ``fault`` (:attr:`State.public`). Inside the daemon they are different
states: in ``SUSPENDED`` a recording is still running and its footage is held in
RAM by the recording writer until storage comes back; in ``FAULT`` nothing is
being recorded and storage is down. ``STARTING`` is the moment between the press
and the writer thread's answer that the recording began (its id is known from
then on); the transition to ``recording`` is reported once it has.
"""

from __future__ import annotations

from enum import Enum


class State(Enum):
    """One state of the daemon (docs/ARCHITECTURE.md has the transition table)."""

    STANDBY = "standby"
    STARTING = "starting"
    RECORDING = "recording"
    SUSPENDED = "suspended"
    STOPPING = "stopping"
    FAULT = "fault"

    @property
    def public(self) -> str:
        """The name the run summary, the audit log and systemd's status line use."""
        if self is State.SUSPENDED:
            return "fault"
        return "recording" if self is State.STARTING else self.value

    @property
    def recording(self) -> bool:
        """A recording is open and takes packets (written, or held in RAM)."""
        return self in (State.STARTING, State.RECORDING, State.SUSPENDED)

    @property
    def idle(self) -> bool:
        """No recording open: a start gesture may begin one."""
        return self in (State.STANDBY, State.FAULT)
