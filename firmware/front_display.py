"""The front display's own thread: shows the latest camera frame, never holds up recording.

The recording path never calls into the display. This thread *pulls*: at each
tick it reads the current :class:`display.DisplayState` and the latest low-res
frame through two callables the daemon provides (they must be cheap,
non-blocking reads of a variable, no locks held for long, no queues), renders,
and sends to the panel. There is no queue, so nothing piles up: if a frame
takes longer than a tick (slow bus, busy CPU), the missed ticks are skipped and
counted in ``frames_dropped``; the next frame again shows the newest picture.
Errors from the panel or renderer are logged and counted, and the thread
carries on after a pause: a broken display must not take the camera down.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from display import DisplayState, panel_on, render, uses_live
from display.yuv import COLOUR_SPACES

log = logging.getLogger("bodycam.display")

#: Pause after an error before trying again.
ERROR_BACKOFF_S = 1.0


class PanelLike(Protocol):
    """What the thread needs of ``drivers.panel.Panel``."""

    size: tuple[int, int]

    def show_rgb565(self, buf: np.ndarray, full: bool) -> int: ...

    def off(self) -> None: ...


@dataclass(frozen=True)
class DisplayStats:
    """Counters since :meth:`FrontDisplay.start`."""

    frames_shown: int
    frames_dropped: int
    errors: int
    last_frame_s: float  # wall time the last frame took to render and send


class FrontDisplay:
    """Runs the front panel at up to ``fps`` frames a second in a daemon thread.

    ``colour_space`` is the camera configuration's (picamera2/libcamera name, any
    case: ``Rec709``, ``Smpte170m``, ``Sycc``); picamera2 picks Rec709 for video
    configurations from 1280x720 up and Smpte170m below.
    """

    def __init__(self, panel: PanelLike, lores_source: Callable[[], np.ndarray | None],
                 state_source: Callable[[], DisplayState], clock_now: Callable[[], float],
                 fps: float = 15.0, *, colour_space: str = "rec709") -> None:
        if not 0 < fps <= 60:
            raise ValueError(f"fps {fps}: expected 0 < fps <= 60")
        if str(colour_space).lower() not in COLOUR_SPACES:
            log.warning("front display: unknown colour space %r, using Rec709", colour_space)
            colour_space = "rec709"
        self.panel = panel
        self._lores = lores_source
        self._state = state_source
        self._now = clock_now
        self.period = 1.0 / fps
        self.colour_space = str(colour_space).lower()
        self.frames_shown = 0
        self.frames_dropped = 0
        self.errors = 0
        self.last_frame_s = 0.0
        self.error_backoff_s = ERROR_BACKOFF_S
        self._dark = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def stats(self) -> DisplayStats:
        """A consistent-enough snapshot of the counters (ints are read atomically)."""
        return DisplayStats(self.frames_shown, self.frames_dropped, self.errors,
                            self.last_frame_s)

    def step(self) -> bool:
        """Render and show one frame now, in the caller's thread; True if a frame was sent.

        The thread calls this every tick; tests call it directly for
        deterministic frames.
        """
        state = self._state()
        if not panel_on(state):
            if not self._dark:
                self.panel.off()
                self._dark = True
            return False
        live = uses_live(state)
        lores = self._lores() if live else None
        frame = render(state, lores, self.panel.size, self._now(),
                       colour_space=self.colour_space)
        self.panel.show_rgb565(frame, full=live and lores is not None)
        self._dark = False
        self.frames_shown += 1
        return True

    def _run(self) -> None:
        next_tick = time.monotonic()
        while not self._stop.is_set():
            now = time.monotonic()
            if now < next_tick:
                self._stop.wait(next_tick - now)
                continue
            behind = int((now - next_tick) / self.period)
            if behind:
                self.frames_dropped += behind
                next_tick += behind * self.period
            next_tick += self.period
            started = time.monotonic()
            try:
                self.step()
            except Exception:  # a display fault must never reach the recording path
                self.errors += 1
                log.exception("front display frame failed (%d so far)", self.errors)
                self._stop.wait(self.error_backoff_s)
                next_tick = time.monotonic()
            self.last_frame_s = time.monotonic() - started

    def start(self) -> None:
        """Start the display thread (a daemon thread: it never keeps the process alive)."""
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="front-display", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 2.0, blank: bool = True) -> None:
        """Stop the thread; with ``blank`` switch the panel off.

        Blanking is the default because a frozen last frame could keep showing
        "REC" (or no "REC") after the daemon has moved on.
        """
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        if blank:
            try:
                self.panel.off()
                self._dark = True
            except Exception:
                self.errors += 1
                log.exception("front display: switching the panel off failed")
