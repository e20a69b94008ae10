"""Gestures at the edges of their timing windows, on the virtual clock."""

from __future__ import annotations

import pytest

from firmware.gestures import GestureRecognizer
from hw_sim.clock import VirtualClock


def recognise(script: list[tuple[float, bool]], **kw) -> list[tuple[str, float]]:
    """Feed debounced (time offset, pressed) events; return what was emitted."""
    clock = VirtualClock(fast=True)
    t0 = clock.monotonic()
    out: list[tuple[str, float]] = []
    g = GestureRecognizer(clock, lambda name, t: out.append((name, round(t - t0, 3))), **kw)
    for at, pressed in script:
        clock.call_at(t0 + at, g.pressed if pressed else g.released, t0 + at)
    clock.run(until=t0 + 20)
    return out


def test_short_press() -> None:
    assert recognise([(1.0, True), (1.15, False)]) == [("down", 1.0), ("press", 1.0)]


@pytest.mark.parametrize(("held", "is_hold"), [(2.999, False), (3.0, True), (3.5, True)])
def test_hold_threshold_edges(held: float, is_hold: bool) -> None:
    got = recognise([(1.0, True), (1.0 + held, False)], hold_seconds=3.0)
    names = [n for n, _ in got]
    assert ("hold" in names) is is_hold
    assert ("press" in names) is not is_hold
    if is_hold:
        assert ("hold", 1.0) in got


@pytest.mark.parametrize(("gap", "double"), [(0.5, True), (0.499, True), (0.501, False)])
def test_double_press_window_edges(gap: float, double: bool) -> None:
    script = [(1.0, True), (1.1, False), (1.1 + gap, True), (1.2 + gap, False)]
    got = recognise(script, double_press_seconds=0.5)
    if double:
        assert ("double_press", 1.0) in got
        assert [n for n, _ in got].count("press") == 1, "second press is part of the double"
    else:
        assert all(n != "double_press" for n, _ in got)
        assert [n for n, _ in got].count("press") == 2


def test_triple_press_is_one_double_then_a_press() -> None:
    script = [(1.0, True), (1.1, False), (1.3, True), (1.4, False), (1.6, True), (1.7, False)]
    names = [n for n, _ in recognise(script)]
    assert names.count("double_press") == 1
    assert names.count("press") == 2


def test_hold_is_reported_while_still_held() -> None:
    got = recognise([(1.0, True), (9.0, False)], hold_seconds=3.0)
    assert got == [("down", 1.0), ("hold", 1.0), ("hold_released", 1.0)]


@pytest.mark.parametrize(("held", "expected"), [
    (4.0, ["down", "hold", "hold_released"]),
    (5.999, ["down", "hold", "hold_released"]),
    (6.0, ["down", "hold", "long_hold"]),
    (8.0, ["down", "hold", "long_hold"]),
])
def test_long_hold_edges(held: float, expected: list[str]) -> None:
    got = recognise([(1.0, True), (1.0 + held, False)], hold_seconds=3.0, long_hold_seconds=6.0)
    assert [n for n, _ in got] == expected
