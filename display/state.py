"""What the front display is asked to show: one immutable value per frame.

The daemon builds a :class:`DisplayState` from its state machine; the renderer
turns it (plus the latest low-res camera frame) into pixels. Keeping it a plain
frozen dataclass means the display thread can read it without locks: the daemon
swaps the whole object, it never mutates one in place.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum


class Mode(StrEnum):
    """What the panel shows as a whole."""

    STANDBY = "standby"
    RECORDING = "recording"
    STEALTH = "stealth"
    OFF = "off"


class Alert(StrEnum):
    """Alert codes, most severe first: the banner shows them in this order.

    One enum for the daemon (which raises and clears them) and the renderer
    (which draws them); a ``StrEnum`` so a code is also its plain string.
    """

    CAMERA_FAULT = "camera_fault"
    STORAGE_FULL = "storage_full"
    STORAGE_ERROR = "storage_error"
    KEY_MISSING = "key_missing"
    MIC_FAULT = "mic_fault"
    STORAGE_LOW = "storage_low"
    CLOCK_UNSYNCED = "clock_unsynced"


MODES = tuple(m.value for m in Mode)
PRERECORD = ("on", "armed", "off")
STANDBY_VIEWS = ("live", "notice", "off")
LANGUAGES = ("de", "en")

#: Alert codes as strings, most severe first (the order of :class:`Alert`).
ALERT_CODES = tuple(a.value for a in Alert)


@dataclass(frozen=True)
class DisplayState:
    """Everything the front display depends on apart from the camera image and the time.

    ``prerecord``: ``"on"`` means the pre-record buffer runs permanently (by
    configuration), ``"armed"`` means the officer armed it by hand; in both the
    camera is buffering and the panel says so. ``alerts`` is a tuple of codes
    from :data:`ALERT_CODES`; unknown codes are ignored by the renderer.
    """

    mode: str = "standby"
    recording_elapsed_s: float = 0.0
    prerecord: str = "off"
    alerts: tuple[str, ...] = ()
    language: str = "de"
    standby_view: str = "live"
    mirror: bool = True

    def __post_init__(self) -> None:
        for name, value, allowed in (
            ("mode", self.mode, MODES),
            ("prerecord", self.prerecord, PRERECORD),
            ("standby_view", self.standby_view, STANDBY_VIEWS),
            ("language", self.language, LANGUAGES),
        ):
            if value not in allowed:
                raise ValueError(f"DisplayState.{name}={value!r}: expected one of {allowed}")
        if not isinstance(self.alerts, tuple):
            object.__setattr__(self, "alerts", tuple(self.alerts))


@dataclass(frozen=True)
class DisplaySnapshot:
    """What the daemon published at its last change; the elapsed time is derived when read.

    The daemon swaps one of these whole on every change of state, stealth,
    pre-record or alerts, so the display thread can never see half of a change
    (a recording mode with the elapsed time of standby).
    """

    state: DisplayState
    recording_since: float | None = None

    def at(self, now: float) -> DisplayState:
        """The state to render at monotonic time ``now``."""
        if self.recording_since is None:
            return self.state
        return replace(self.state, recording_elapsed_s=max(0.0, now - self.recording_since))


def active_alerts(state: DisplayState) -> tuple[str, ...]:
    """Known alert codes of ``state``, most severe first, without duplicates."""
    present = set(state.alerts)
    return tuple(code for code in ALERT_CODES if code in present)


def panel_on(state: DisplayState) -> bool:
    """Whether the panel should be lit at all (stealth and off keep it dark).

    In standby with ``standby_view="off"`` the panel stays dark unless an alert
    is pending: a full card or a camera fault must not go unnoticed.
    """
    if state.mode in ("stealth", "off"):
        return False
    if state.mode == "standby" and state.standby_view == "off":
        return bool(active_alerts(state))
    return True


def uses_live(state: DisplayState) -> bool:
    """Whether this state shows the camera image (and so needs a fresh frame)."""
    if state.mode == "recording":
        return True
    return state.mode == "standby" and state.standby_view == "live"
