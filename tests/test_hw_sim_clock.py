"""VirtualClock: order, fast and real-time modes, cross-thread posting, wall-clock steps."""

from __future__ import annotations

import threading
import time

import pytest

from hw_sim.clock import DEFAULT_START_UTC, MONOTONIC_START, VirtualClock


def test_callbacks_run_in_time_order_fifo_among_equal_times() -> None:
    clock = VirtualClock()
    seen: list[tuple[str, float]] = []

    def note(name: str) -> None:
        seen.append((name, clock.monotonic()))

    t0 = clock.monotonic()
    clock.call_at(t0 + 3, note, "c")
    clock.call_at(t0 + 1, note, "a")
    clock.call_at(t0 + 2, note, "b1")
    clock.call_at(t0 + 2, note, "b2")
    clock.call_later(2, note, "b3")
    clock.run()
    assert [n for n, _ in seen] == ["a", "b1", "b2", "b3", "c"]
    assert [t - t0 for _, t in seen] == [1, 2, 2, 2, 3]


def test_fast_run_returns_when_idle_and_stops_at_until() -> None:
    clock = VirtualClock()
    assert clock.monotonic() == MONOTONIC_START
    started = time.perf_counter()
    clock.run()  # nothing scheduled: returns instead of hanging
    clock.call_later(3600, lambda: None)
    clock.run(until=MONOTONIC_START + 10)
    assert clock.monotonic() == MONOTONIC_START + 10
    assert clock.pending() == 1
    clock.run()
    assert clock.monotonic() == MONOTONIC_START + 3600
    assert time.perf_counter() - started < 1.0


def test_cancel_stop_and_past_timers() -> None:
    clock = VirtualClock()
    ran: list[str] = []
    timer = clock.call_later(1, ran.append, "cancelled")
    timer.cancel()
    clock.call_later(2, clock.stop)
    clock.call_later(3, ran.append, "after stop")
    clock.run()
    assert ran == [] and clock.monotonic() == MONOTONIC_START + 2
    clock.call_at(0.0, ran.append, "past")  # due long ago: runs now, time does not rewind
    clock.run(until=clock.monotonic() + 0.5)
    assert ran == ["past"]
    assert clock.monotonic() == MONOTONIC_START + 2.5
    clock.run()
    assert ran == ["past", "after stop"]


def test_exception_propagates_and_clock_stays_usable() -> None:
    clock = VirtualClock()
    ran: list[int] = []

    def boom() -> None:
        raise ValueError("boom")

    clock.call_later(1, boom)
    clock.call_later(2, ran.append, 2)
    with pytest.raises(ValueError, match="boom"):
        clock.run()
    clock.run()
    assert ran == [2]


def test_step_moves_wall_clock_only() -> None:
    clock = VirtualClock(start_utc=DEFAULT_START_UTC)
    assert clock.time() == DEFAULT_START_UTC
    clock.run(until=clock.monotonic() + 5)
    assert clock.time() == pytest.approx(DEFAULT_START_UTC + 5)
    mono = clock.monotonic()
    clock.step(-3600)
    assert clock.monotonic() == mono
    assert clock.time() == pytest.approx(DEFAULT_START_UTC + 5 - 3600)
    assert clock.source() == "ntp"
    clock.set_source("unsynced")
    assert clock.source() == "unsynced"
    with pytest.raises(ValueError):
        clock.set_source("gps")


def test_real_time_mode_tracks_real_time() -> None:
    clock = VirtualClock(fast=False)
    t0 = clock.monotonic()
    seen: list[float] = []
    clock.call_at(t0 + 0.05, lambda: seen.append(time.perf_counter()))
    started = time.perf_counter()
    clock.run(until=t0 + 0.12)
    elapsed = time.perf_counter() - started
    assert 0.11 <= elapsed < 1.0
    assert seen and seen[0] - started >= 0.045
    assert clock.monotonic() >= t0 + 0.12


def test_call_soon_threadsafe_wakes_a_waiting_real_time_run() -> None:
    clock = VirtualClock(fast=False)
    clock.call_later(60, lambda: None)  # far away: run() would sleep for a minute
    got: list[bool] = []

    def other_thread() -> None:
        time.sleep(0.05)
        clock.call_soon_threadsafe(lambda: got.append(clock.on_clock_thread()))
        clock.call_soon_threadsafe(clock.stop)

    threading.Thread(target=other_thread).start()
    started = time.perf_counter()
    clock.run()
    assert time.perf_counter() - started < 2.0
    assert got == [True]  # ran on the clock's thread
