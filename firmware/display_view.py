"""The daemon's state as the front display shows it: one frozen snapshot per change."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from display import Alert, DisplaySnapshot, DisplayState, Mode

from .states import State


def snapshot(state: State, *, stealth: bool, alerts: Iterable[Alert], clock_source: str,
             armed: bool, prerecord_mode: str, display: Mapping[str, Any],
             recording_since: float | None) -> DisplaySnapshot:
    """What the panel shows; the elapsed time is derived from ``recording_since`` when read."""
    if stealth:
        mode = Mode.STEALTH
    elif state.recording or state is State.STOPPING:
        mode = Mode.RECORDING  # suspended too: still capturing, held in RAM
    else:
        mode = Mode.STANDBY
    shown = set(alerts)
    if clock_source == "unsynced":
        shown.add(Alert.CLOCK_UNSYNCED)
    prerecord = "off"
    if armed and prerecord_mode != "off":
        prerecord = "armed" if prerecord_mode == "armed" else "on"
    view = DisplayState(mode=mode, prerecord=prerecord, alerts=tuple(sorted(shown)),
                        language=display["language"], standby_view=display["standby_view"],
                        mirror=display["mirror"])
    return DisplaySnapshot(view, recording_since if mode == Mode.RECORDING else None)
