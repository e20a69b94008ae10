"""What the officer sees, hears and feels: cue patterns on the LED, vibration and buzzer lines.

The officer presses the button without looking, so every state change answers
with a pattern they can tell apart by feel and sound (docs/CUES.md):

- ``start``: 2 short pulses on all lines, then the red LED stays lit while recording;
- ``reminder``: every ``reminder_seconds`` while recording, 2 short pulses of
  vibration and buzzer (the LED stays lit);
- ``stop``: one long pulse on all lines, the LED dark after it;
- ``bookmark``: one short pulse of vibration and buzzer;
- ``armed`` / ``disarmed``: one short / one medium pulse on all lines;
- ``fault``: 3 groups of 3 fast pulses on all lines.

Patterns are timers on the daemon's clock, never sleeps, so they cannot hold
up the recording path or the button: a call returns after switching the first
step. A new cue pre-empts the one in progress (its timers are cancelled and the
lines go straight to the new pattern's first step). Stealth switches every line
off at once and silences every cue until it ends; the cues are still written to
the audit log, marked as silenced. All methods run on the clock's loop, like the
rest of the daemon.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol

from drivers.clock import Clock, Timer
from drivers.cue_lines import NAMES, CueLines

log = logging.getLogger("bodycam")

#: A short pulse: on, then off (seconds). Start, reminder, bookmark, armed.
SHORT_ON, SHORT_OFF = 0.150, 0.150
#: The stop pulse: long enough to feel different from any short one.
LONG_ON = 1.0
#: The disarm pulse: between short and long, so arm and disarm differ by feel.
MEDIUM_ON = 0.400
#: Fault: groups of FAULT_PULSES fast pulses, FAULT_GAP of quiet after each group.
FAULT_ON, FAULT_OFF, FAULT_GAP = 0.075, 0.075, 0.500
FAULT_PULSES, FAULT_GROUPS = 3, 3
#: Default reminder interval while recording (as Axon's 2 minutes).
REMINDER_SECONDS = 120.0

ALL = NAMES
FEEL_AND_SOUND = ("vibration", "buzzer")


class Cue(StrEnum):
    """The cue patterns, by the name the audit log gives them."""

    START = "start"
    REMINDER = "reminder"
    STOP = "stop"
    BOOKMARK = "bookmark"
    ARMED = "armed"
    DISARMED = "disarmed"
    FAULT = "fault"


class AuditSink(Protocol):
    """Where the cues (and the daemon) log what they did: the audit log, or its queue."""

    def append(self, event: str, **fields: Any) -> object: ...


@dataclass(frozen=True)
class Pattern:
    """Which lines pulse, and each pulse as (on seconds, off seconds after it)."""

    lines: tuple[str, ...]
    pulses: tuple[tuple[float, float], ...]

    def edges(self) -> list[tuple[float, bool]]:
        """(offset from the start, level) of every switch of the pattern's lines."""
        out, t = [], 0.0
        for on_s, off_s in self.pulses:
            out += [(t, True), (t + on_s, False)]
            t += on_s + off_s
        return out

    @property
    def duration(self) -> float:
        """Seconds from the first switch until the lines return to their steady state."""
        return sum(on_s + off_s for on_s, off_s in self.pulses)


def _fault_pulses() -> tuple[tuple[float, float], ...]:
    group = [(FAULT_ON, FAULT_OFF)] * (FAULT_PULSES - 1) + [(FAULT_ON, FAULT_GAP)]
    return tuple(group * FAULT_GROUPS)


PATTERNS: dict[Cue, Pattern] = {
    Cue.START: Pattern(ALL, ((SHORT_ON, SHORT_OFF),) * 2),
    Cue.REMINDER: Pattern(FEEL_AND_SOUND, ((SHORT_ON, SHORT_OFF),) * 2),
    Cue.STOP: Pattern(ALL, ((LONG_ON, SHORT_OFF),)),
    Cue.BOOKMARK: Pattern(FEEL_AND_SOUND, ((SHORT_ON, SHORT_OFF),)),
    Cue.ARMED: Pattern(ALL, ((SHORT_ON, SHORT_OFF),)),
    Cue.DISARMED: Pattern(ALL, ((MEDIUM_ON, SHORT_OFF),)),
    Cue.FAULT: Pattern(ALL, _fault_pulses()),
}


class Cues:
    """Plays cue patterns on ``lines`` with timers on ``clock``; logs each cue to ``audit``.

    ``reminder_seconds`` 0 turns the reminder off. ``enabled=False`` keeps every
    line off for good (the recording LED included); cues are still audit-logged.
    """

    def __init__(
        self,
        clock: Clock,
        lines: CueLines,
        audit: AuditSink,
        *,
        reminder_seconds: float = REMINDER_SECONDS,
        enabled: bool = True,
        on_cue: Callable[[float, str], None] | None = None,
    ) -> None:
        if reminder_seconds < 0:
            raise ValueError("reminder_seconds must be 0 (off) or positive")
        self._clock = clock
        self._lines = lines
        self._audit = audit
        self.reminder_seconds = float(reminder_seconds)
        self.enabled = enabled
        #: Hears (monotonic time, what) for every cue and stealth change: the simulation's
        #: cue timeline names its bursts with them (``hw_sim.cue_timeline``).
        self._on_cue = on_cue
        self._recording = False
        self._recording_since = 0.0
        self._stealth = False
        self._closed = False
        self._playing: str | None = None
        self._timers: list[Timer] = []
        self._reminder: Timer | None = None
        self._show_steady()

    # -- state -----------------------------------------------------------------------------

    @property
    def recording(self) -> bool:
        """Whether the cues believe a recording is running (LED lit, reminders due)."""
        return self._recording

    @property
    def stealth(self) -> bool:
        """Whether every cue is silenced and every line dark."""
        return self._stealth

    @property
    def playing(self) -> str | None:
        """Name of the pattern in progress, if any."""
        return self._playing

    # -- events from the daemon ------------------------------------------------------------

    def recording_started(self) -> None:
        """Two pulses on every line, then the LED stays lit; reminders start counting."""
        self._recording = True
        self._recording_since = self._clock.monotonic()
        self._schedule_reminder(1)
        self._play(Cue.START)

    def recording_stopped(self) -> None:
        """One long pulse on every line; the LED is dark after it and reminders stop."""
        self._end_recording()
        self._play(Cue.STOP)

    def bookmark(self) -> None:
        """One short pulse of vibration and buzzer; the recording LED stays lit."""
        self._play(Cue.BOOKMARK)

    def fault(self, kind: str, *, recording_ended: bool = False) -> None:
        """Fast triple pulses on every line. With ``recording_ended`` (a storage failure
        ended the recording) the LED is dark after it and reminders stop, without the
        stop cue: the fault pattern is the one the officer must notice."""
        if recording_ended:
            self._end_recording()
        self._play(Cue.FAULT, kind=kind)

    def armed(self, on: bool = True) -> None:
        """Pre-record armed (one short pulse) or disarmed (one medium pulse), all lines."""
        self._play(Cue.ARMED if on else Cue.DISARMED)

    def set_stealth(self, on: bool) -> None:
        """Stealth on: every line off at once, every cue silenced. Off: the steady
        state (LED lit while recording) comes back; missed cues are not replayed."""
        if self._closed or bool(on) == self._stealth:
            return
        self._stealth = bool(on)
        self._cancel_pattern()
        self._show_steady()
        self._heard(self._clock.monotonic(), f"stealth {'on' if on else 'off'}")
        self._log("stealth", on=self._stealth)

    def close(self) -> None:
        """Cancel every timer, switch every line off and release the lines."""
        if self._closed:
            return
        self._cancel_pattern()
        if self._reminder is not None:
            self._reminder.cancel()
            self._reminder = None
        self._closed = True
        self._lines.close()

    # -- machinery -------------------------------------------------------------------------

    def _end_recording(self) -> None:
        self._recording = False
        if self._reminder is not None:
            self._reminder.cancel()
            self._reminder = None

    def _schedule_reminder(self, n: int) -> None:
        """Reminder ``n`` at exactly start + n * interval, so reminders never drift."""
        if self._reminder is not None:
            self._reminder.cancel()
            self._reminder = None
        if self.reminder_seconds > 0 and not self._closed:
            when = self._recording_since + n * self.reminder_seconds
            self._reminder = self._clock.call_at(when, self._remind, n)

    def _remind(self, n: int) -> None:
        self._reminder = None
        self._play(Cue.REMINDER, n=n)
        self._schedule_reminder(n + 1)

    def _play(self, name: Cue, **fields: Any) -> None:
        if self._closed:
            return
        now = self._clock.monotonic()
        preempted = self._playing
        self._cancel_pattern()
        silenced = "disabled" if not self.enabled else "stealth" if self._stealth else None
        if silenced is None:
            pattern = PATTERNS[name]
            self._playing = name
            edges = pattern.edges()
            self._show(pattern.lines, edges[0][1])  # straight from the old pattern: no glitch
            for offset, on in edges[1:]:
                self._timers.append(self._clock.call_at(now + offset, self._show, pattern.lines, on))
            self._timers.append(self._clock.call_at(now + pattern.duration, self._finish))
        else:
            self._show_steady()
        label = f"{name} {fields['kind']}" if "kind" in fields else name
        self._heard(now, label + (f" (silenced: {silenced})" if silenced else ""))
        extra = {k: v for k, v in (("silenced", silenced), ("preempted", preempted)) if v}
        self._log("cue", name=name, **fields, **extra)

    def _heard(self, t: float, label: str) -> None:
        if self._on_cue is not None:
            self._on_cue(t, label)

    def _cancel_pattern(self) -> None:
        for timer in self._timers:
            timer.cancel()
        self._timers.clear()
        self._playing = None

    def _finish(self) -> None:
        self._timers.clear()
        self._playing = None
        self._show_steady()

    def _steady(self) -> dict[str, bool]:
        """Between patterns: only the LED, and only while recording, out of stealth."""
        lit = self._recording and self.enabled and not self._stealth
        return {name: (name == "led" and lit) for name in NAMES}

    def _show_steady(self) -> None:
        for name, on in self._steady().items():
            self._lines.set(name, on)

    def _show(self, pattern_lines: Iterable[str], on: bool) -> None:
        """The pattern's lines at ``on``, every other line at its steady level."""
        chosen = set(pattern_lines)
        for name, steady in self._steady().items():
            self._lines.set(name, on if name in chosen else steady)

    def _log(self, event: str, **fields: Any) -> None:
        """Audit first-class, but a cue must play even when storage (and so the log) fails."""
        try:
            self._audit.append(event, **fields)
        except OSError as e:
            log.warning("audit log unavailable for %s %s: %s", event, fields, e)
