"""The display thread: latest frame, drops when behind, never in the recording's way."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from display import DisplayState
from firmware.front_display import FrontDisplay
from hw_sim import fake_spidev
from tests.test_display_support import open_sim_panel, share, solid_lores


@pytest.fixture(autouse=True)
def _fresh_bus():
    fake_spidev.reset()
    yield
    fake_spidev.reset()


class Slot:
    """What the daemon hands the display: a variable it overwrites, read without locks."""

    def __init__(self, value=None) -> None:
        self.value = value

    def __call__(self):
        return self.value


class SlowPanel:
    """A panel that takes 120 ms a frame, 10 ms of it holding the GIL (a slow bus and a busy CPU)."""

    size = (320, 240)

    def __init__(self) -> None:
        self.shown = 0
        self.offs = 0

    def show_rgb565(self, buf: np.ndarray, full: bool) -> int:
        end = time.perf_counter() + 0.010
        while time.perf_counter() < end:
            pass
        time.sleep(0.110)
        self.shown += 1
        return buf.nbytes

    def off(self) -> None:
        self.offs += 1


def run_camera(seconds: float, fps: float, on_frame) -> tuple[list[int], int]:
    """A camera that delivers frames on a fixed schedule and drops one it cannot deliver in time.

    Like a sensor with a small buffer pool: if the delivery (the recording
    path's callback) runs more than two frame periods late, that frame is lost.
    Returns the timestamps recorded (µs, from the frame number) and the drops.
    """
    period = 1.0 / fps
    pool = 2 * period
    recorded: list[int] = []
    dropped = 0
    start = time.perf_counter()
    for n in range(int(seconds * fps)):
        due = start + n * period
        delay = due - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        if time.perf_counter() - due > pool:
            dropped += 1
            continue
        on_frame(n)
        recorded.append(round(n * 1e6 / fps))
    return recorded, dropped


def test_slow_panel_leaves_recording_timestamps_and_counts_unchanged() -> None:
    frames = [solid_lores((n * 8 % 256, 80, 80), 320, 240) for n in range(30)]
    lores = Slot()
    state = Slot(DisplayState(mode="recording", recording_elapsed_s=1))

    def record(n: int) -> None:
        lores.value = frames[n % len(frames)]  # the camera's lores: overwrite the slot

    baseline, base_drops = run_camera(1.0, 30, record)
    panel = SlowPanel()
    display = FrontDisplay(panel, lores, state, time.monotonic, fps=30)
    display.start()
    try:
        with_display, drops = run_camera(1.0, 30, record)
    finally:
        display.stop()
    assert base_drops == 0 and drops == 0
    assert with_display == baseline and len(with_display) == 30
    stats = display.stats
    assert 3 <= stats.frames_shown <= 12  # the panel managed about 8 a second
    assert stats.frames_dropped > 10  # and the display skipped the ticks it could not make
    assert stats.errors == 0
    assert panel.offs == 1  # stop() blanked it


def test_the_camera_model_does_notice_a_display_that_blocks() -> None:
    """Control: the harness above can fail. A panel that holds the GIL for 200 ms at a
    time (one long C call, as py-spidev's list ``writebytes`` does for its transfer)
    makes the camera lose frames."""
    n = 2_000_000
    start = time.perf_counter()
    sum(range(n))
    n = int(n * 0.2 / max(1e-6, time.perf_counter() - start))  # about 200 ms

    class Blocking(SlowPanel):
        def show_rgb565(self, buf, full):
            sum(range(n))  # holds the GIL throughout
            self.shown += 1
            return buf.nbytes

    lores = Slot()
    frames = [solid_lores((80, 80, 80), 320, 240)]
    display = FrontDisplay(Blocking(), lores, Slot(DisplayState()), time.monotonic, fps=30)
    display.start()
    try:
        recorded, drops = run_camera(1.0, 30, lambda i: setattr(lores, "value", frames[0]))
    finally:
        display.stop()
    assert drops > 0 and len(recorded) < 30


def test_shows_the_newest_frame_not_a_queue() -> None:
    panel, sim, _ = open_sim_panel("st7789")
    lores = Slot(solid_lores((200, 0, 0), 320, 240))
    display = FrontDisplay(panel, lores, Slot(DisplayState()), time.monotonic, fps=10)
    assert display.step()
    assert share(sim.glass(), (0, 0, 240, 240), (200, 0, 0), tol=16) == 1.0
    for colour in ((0, 200, 0), (0, 0, 200)):  # two frames arrive before the next tick
        lores.value = solid_lores(colour, 320, 240)
    display.step()
    assert share(sim.glass(), (0, 0, 240, 240), (0, 0, 200), tol=16) == 1.0


def test_thread_runs_at_its_rate_and_stop_blanks_the_panel() -> None:
    panel, sim, gpio = open_sim_panel("ili9341")
    state = Slot(DisplayState(mode="recording", recording_elapsed_s=0))
    display = FrontDisplay(panel, Slot(solid_lores((0, 0, 160))), state, time.monotonic,
                           fps=20)
    display.start()
    time.sleep(0.5)
    assert sim.lit
    display.stop()
    shown = display.stats.frames_shown
    assert 3 <= shown <= 12
    assert not sim.lit and gpio.levels[18] == 0
    time.sleep(0.1)
    assert display.stats.frames_shown == shown  # the thread is gone


def test_stealth_switches_the_panel_off_and_back_on() -> None:
    panel, sim, gpio = open_sim_panel("st7789")
    state = Slot(DisplayState(mode="recording", language="en"))
    display = FrontDisplay(panel, Slot(solid_lores((90, 90, 90), 320, 240)), state,
                           lambda: 0.2, fps=10)
    display.step()
    assert sim.lit and share(sim.glass(), (0, 0, 240, 3), (220, 0, 0), tol=8) == 1.0
    state.value = DisplayState(mode="stealth")
    sent = panel.bytes_sent
    assert not display.step()
    assert not display.step()
    assert not sim.lit and gpio.levels[18] == 0 and not sim.glass().any()
    assert panel.bytes_sent - sent == 2  # DISPOFF and SLPIN, once
    state.value = DisplayState(mode="recording", language="en")
    display.step()
    assert sim.lit and gpio.levels[18] == 1
    assert share(sim.glass(), (0, 0, 240, 3), (220, 0, 0), tol=8) == 1.0


def test_a_failing_panel_is_counted_and_retried_not_fatal() -> None:
    class Flaky(SlowPanel):
        def __init__(self) -> None:
            super().__init__()
            self.calls = 0

        def show_rgb565(self, buf, full):
            self.calls += 1
            if self.calls <= 2:
                raise OSError("SPI transfer failed")
            self.shown += 1
            return buf.nbytes

    panel = Flaky()
    display = FrontDisplay(panel, Slot(None), Slot(DisplayState(standby_view="notice")),
                           time.monotonic, fps=50)
    display.error_backoff_s = 0.02
    display.start()
    deadline = time.monotonic() + 2.0
    while panel.shown < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    display.stop()
    assert display.stats.errors == 2
    assert panel.shown >= 3


def test_sources_are_only_read_from_the_display_thread() -> None:
    callers: set[str] = set()
    ready = threading.Event()

    def lores():
        callers.add(threading.current_thread().name)
        ready.set()
        return None

    display = FrontDisplay(SlowPanel(), lores, Slot(DisplayState()), time.monotonic, fps=30)
    display.start()
    assert ready.wait(2.0)
    display.stop()
    assert callers == {"front-display"}
