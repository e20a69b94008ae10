"""Which gesture does what, in which state: the button half of the daemon's transition table.

docs/GESTURES.md is this table in words. It is a pure function so the table can
be read (and tested) apart from the loop that acts on it.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from .gestures import Gesture
from .states import State


class Action(Enum):
    """What the daemon does about a gesture."""

    NONE = "none"
    ARM = "arm"
    DISARM = "disarm"
    START = "start"
    STOP = "stop"
    BOOKMARK = "bookmark"
    STEALTH = "stealth"


@dataclass(frozen=True)
class Controls:
    """The configuration the table depends on."""

    prerecord_mode: str  # "on", "armed" or "off"
    start: str  # "press" or "double_press"
    bookmark: bool
    stealth_gesture: bool  # a long hold toggles stealth


def action_for(gesture: Gesture, state: State, armed: bool, controls: Controls) -> Action:
    """The action for ``gesture`` in ``state`` (the tail of a starting gesture is the caller's)."""
    if gesture is Gesture.LONG_HOLD:  # even when its press started a recording: a covert start
        return Action.STEALTH
    # With a stealth gesture on the same button, a hold acts when let go, so
    # that holding on to the long hold does not also stop or disarm.
    hold = Gesture.HOLD_RELEASED if controls.stealth_gesture else Gesture.HOLD
    if state.idle or state is State.STOPPING:  # a start goes on behind the close in progress
        if controls.prerecord_mode == "armed":
            if not armed:
                return Action.ARM if gesture is Gesture.PRESS else Action.NONE
            if gesture is hold:
                return Action.DISARM
        # "press" starts at contact, except in armed mode, where a hold must stay
        # free to disarm: there it starts on release (the pre-roll still reaches
        # back from the contact, so nothing is lost).
        if controls.start == "double_press":
            starts_on = Gesture.DOUBLE_PRESS
        else:
            starts_on = Gesture.PRESS if controls.prerecord_mode == "armed" else Gesture.DOWN
        return Action.START if gesture is starts_on else Action.NONE
    if state.recording:
        if gesture is hold:
            return Action.STOP
        if gesture is Gesture.PRESS and controls.bookmark:
            return Action.BOOKMARK
    return Action.NONE
