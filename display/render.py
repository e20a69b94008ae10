"""The pure renderer: (state, latest camera frame, panel size, time) -> panel pixels.

No hardware, no threads, no clock of its own: the same inputs give the same
pixels, so tests check what the glass will show without a panel, and the
display thread can be replaced or slowed without touching this.
"""

from __future__ import annotations

import numpy as np

from display import screens, yuv
from display.screens import Spec
from display.state import DisplayState, active_alerts, panel_on, uses_live
from display.text import format_elapsed

#: Several alerts take turns in the banner, this long each.
ALERT_CYCLE_S = 2.5
#: The REC dot is lit for the first half of every second.
BLINK_PERIOD_S = 1.0


def current_alert(state: DisplayState, now_s: float) -> str | None:
    """The alert shown at ``now_s``: the most severe first, taking turns every 2.5 s."""
    alerts = active_alerts(state)
    if not alerts:
        return None
    return alerts[int(now_s // ALERT_CYCLE_S) % len(alerts)]


def spec_for(state: DisplayState, now_s: float) -> Spec:
    """What the overlay depends on at ``now_s`` (the renderer's cache key)."""
    recording = state.mode == "recording"
    return Spec(
        language=state.language,
        recording=recording,
        prerecord="off" if recording else state.prerecord,
        alert=current_alert(state, now_s),
        elapsed=format_elapsed(state.recording_elapsed_s) if recording else "",
        dot_on=recording and (now_s % BLINK_PERIOD_S) < BLINK_PERIOD_S / 2,
    )


def _base(state: DisplayState, lores: np.ndarray | None) -> str:
    if uses_live(state):
        return "live" if lores is not None else "no_camera"
    if state.mode == "standby" and state.standby_view == "notice":
        return "notice"
    return "blank"


def render(state: DisplayState, lores: np.ndarray | None, size: tuple[int, int], now_s: float,
           *, colour_space: str = "rec709") -> np.ndarray:
    """The panel picture for ``state`` as a ``(h, w)`` array of big-endian RGB565 (``>u2``).

    ``lores`` is the camera's low-res frame, planar I420 of shape ``(h*3//2, w)``
    (picamera2's ``lores`` stream in YUV420), or None when there is none yet.
    ``size`` is the panel's ``(width, height)`` as the viewer sees it.
    ``now_s`` is any monotonic time in seconds; it drives the blinking REC dot
    and the turn-taking of several alerts. The result is a new array the
    caller may keep or modify; ``result.view(np.uint8)`` is the bus byte order.
    States in which the panel is dark (:func:`display.panel_on` is False) give
    an all-black picture.
    """
    size = (int(size[0]), int(size[1]))
    if not panel_on(state):
        return screens.blank(size)
    spec = spec_for(state, now_s)
    base = _base(state, lores)
    if base == "live":
        assert lores is not None
        frame = yuv.to_rgb565(lores, size, state.mirror, colour_space)
        screens.overlay(size, spec).apply(frame)
        return frame
    frame, _ = screens.status_frame(size, base, spec)
    return frame.copy()


def layout(state: DisplayState, size: tuple[int, int], now_s: float,
           live: bool = True) -> dict[str, list[tuple[int, int, int, int]]]:
    """Where each element of the picture is, by name (``rec_badge``, ``alert_text``, ...).

    Boxes are ``(x0, y0, x1, y1)``, exclusive at the far edge; text boxes span
    one line's capital letters. ``live`` says whether a camera frame is present.
    """
    size = (int(size[0]), int(size[1]))
    if not panel_on(state):
        return {}
    spec = spec_for(state, now_s)
    base = _base(state, np.zeros((3, 2), np.uint8) if live else None)
    if base == "live":
        return screens.overlay(size, spec).boxes
    return screens.status_frame(size, base, spec)[1]
