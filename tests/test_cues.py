"""Cue patterns on the simulated pins: exact edge times, reminders, stealth, pre-emption, audit."""

from __future__ import annotations

import time
from typing import Any

import pytest

import hw_sim
from drivers.cue_lines import CueLines
from firmware.cues import Cues
from hw_sim.clock import MONOTONIC_START, VirtualClock
from hw_sim.cue_timeline import CueJournal
from hw_sim.world import World

PINS = {"led": 5, "vibration": 6, "buzzer": 13}
T0 = MONOTONIC_START
AT = T0 + 10.0  # when the first cue of a test is given

START_FEEL = [(0.0, 1), (0.15, 0), (0.3, 1), (0.45, 0)]  # vibration/buzzer at a start
START_LED = [(0.0, 1), (0.15, 0), (0.3, 1), (0.45, 0), (0.6, 1)]  # then lit while recording


class Audit:
    """Stands in for the audit log: remembers (monotonic time, event, fields)."""

    def __init__(self, clock: VirtualClock) -> None:
        self.clock = clock
        self.entries: list[tuple[float, str, dict[str, Any]]] = []

    def append(self, event: str, **fields: Any) -> None:
        self.entries.append((round(self.clock.monotonic() - AT, 6), event, fields))


class BrokenAudit:
    """An audit log on failed storage."""

    def append(self, event: str, **fields: Any) -> None:
        raise OSError(28, "No space left on device")


@pytest.fixture(autouse=True)
def no_sleeping(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(_s: float) -> None:
        raise AssertionError("a cue slept: patterns must be timers on the clock")

    monkeypatch.setattr(time, "sleep", refuse)


def make(world: World, **kw: Any) -> tuple[Cues, Audit]:
    audit = Audit(world.clock)
    return Cues(world.clock, CueLines(PINS), audit, **kw), audit


def at(world: World, offset: float, fn: Any, *args: Any) -> None:
    world.clock.call_at(AT + offset, fn, *args)


def edges(world: World, line: str, since: float = 0.0) -> list[tuple[float, int]]:
    """The line's level changes from AT + since on, as (seconds after AT, level)."""
    return [
        (round(t - AT, 6), lv) for t, lv in world.gpio.outputs(PINS[line]) if t >= AT + since - 1e-9
    ]


def run(world: World, until: float) -> None:
    world.clock.run(until=AT + until)


def test_lines_start_off(world: World) -> None:
    make(world)
    for line in PINS:
        assert world.gpio.outputs(PINS[line]) == [(T0, 0)]


def test_start_is_two_pulses_on_every_line_then_led_lit(world: World) -> None:
    cues, _ = make(world, reminder_seconds=0)
    at(world, 0, cues.recording_started)
    run(world, 500)
    assert edges(world, "led") == START_LED
    assert edges(world, "vibration") == START_FEEL
    assert edges(world, "buzzer") == START_FEEL
    assert world.gpio.output_level(PINS["led"]) == 1
    assert cues.recording and cues.playing is None


def test_stop_is_one_long_pulse_then_dark(world: World) -> None:
    cues, _ = make(world)
    at(world, 0, cues.recording_started)
    at(world, 30, cues.recording_stopped)
    run(world, 1000)
    assert edges(world, "vibration", since=1) == [(30.0, 1), (31.0, 0)]
    assert edges(world, "buzzer", since=1) == [(30.0, 1), (31.0, 0)]
    assert edges(world, "led", since=1) == [(31.0, 0)]  # lit through the pulse, dark after
    assert not cues.recording


def test_reminder_every_120_s_and_none_after_stop(world: World) -> None:
    cues, audit = make(world)
    at(world, 0, cues.recording_started)
    at(world, 300, cues.recording_stopped)
    run(world, 2000)
    two = [(0.0, 1), (0.15, 0), (0.3, 1), (0.45, 0)]
    expect = [(round(base + dt, 6), lv) for base in (120.0, 240.0) for dt, lv in two]
    assert edges(world, "vibration", since=1) == expect + [(300.0, 1), (301.0, 0)]
    assert edges(world, "buzzer", since=1) == expect + [(300.0, 1), (301.0, 0)]
    assert edges(world, "led", since=1) == [(301.0, 0)]  # the LED stays lit through reminders
    assert [e for e in audit.entries if e[2]["name"] == "reminder"] == [
        (120.0, "cue", {"name": "reminder", "n": 1}),
        (240.0, "cue", {"name": "reminder", "n": 2}),
    ]
    assert world.clock.pending() == 0


def test_reminder_interval_is_configurable_and_zero_turns_it_off(world: World) -> None:
    cues, audit = make(world, reminder_seconds=45)
    at(world, 0, cues.recording_started)
    at(world, 100, cues.recording_stopped)
    run(world, 500)
    assert [t for t, _, f in audit.entries if f["name"] == "reminder"] == [45.0, 90.0]
    assert Cues(world.clock, CueLines({}), audit, reminder_seconds=0)._reminder is None
    with pytest.raises(ValueError, match="reminder_seconds"):
        Cues(world.clock, CueLines({}), audit, reminder_seconds=-1)


def test_no_reminder_when_off(world: World) -> None:
    cues, audit = make(world, reminder_seconds=0)
    at(world, 0, cues.recording_started)
    run(world, 1000)
    assert [f["name"] for _, _, f in audit.entries] == ["start"]
    assert edges(world, "vibration", since=1) == []
    assert world.clock.pending() == 0


def test_bookmark_is_one_short_pulse_and_led_stays_lit(world: World) -> None:
    cues, _ = make(world)
    at(world, 0, cues.recording_started)
    at(world, 20, cues.bookmark)
    run(world, 60)
    assert edges(world, "vibration", since=1) == [(20.0, 1), (20.15, 0)]
    assert edges(world, "buzzer", since=1) == [(20.0, 1), (20.15, 0)]
    assert edges(world, "led", since=1) == []


def test_fault_is_three_groups_of_three_fast_pulses(world: World) -> None:
    cues, audit = make(world)
    at(world, 0, cues.fault, "storage")
    run(world, 60)
    expect = []
    for group in range(3):
        for pulse in range(3):
            start = group * 0.875 + pulse * 0.15
            expect += [(round(start, 6), 1), (round(start + 0.075, 6), 0)]
    for line in PINS:
        assert edges(world, line) == expect
    assert audit.entries == [(0.0, "cue", {"name": "fault", "kind": "storage"})]


def test_fault_while_recording_restores_the_lit_led(world: World) -> None:
    cues, _ = make(world)
    at(world, 0, cues.recording_started)
    at(world, 10, cues.fault, "camera_stall")
    run(world, 60)
    led = edges(world, "led", since=1)
    assert led[0] == (10.075, 0) and led[-1] == (12.625, 1)  # back on once the pattern ends
    assert len(led) == 18


def test_fault_that_ended_the_recording_leaves_the_led_dark_without_stop_cue(world: World) -> None:
    cues, audit = make(world)
    at(world, 0, cues.recording_started)
    at(world, 10, lambda: cues.fault("storage", recording_ended=True))
    run(world, 1000)
    assert edges(world, "led", since=1)[-1] == (12.125, 0)  # last fast pulse ends; stays dark
    assert [f["name"] for _, _, f in audit.entries] == ["start", "fault"]  # no reminder, no stop
    assert not cues.recording


def test_armed_and_disarmed_differ_by_length(world: World) -> None:
    cues, audit = make(world)
    at(world, 0, cues.armed)
    at(world, 5, cues.armed, False)
    run(world, 30)
    for line in PINS:
        assert edges(world, line) == [(0.0, 1), (0.15, 0), (5.0, 1), (5.4, 0)]
    assert [f["name"] for _, _, f in audit.entries] == ["armed", "disarmed"]


def test_stealth_darkens_everything_at_once_and_silences_every_cue(world: World) -> None:
    cues, audit = make(world)
    at(world, 0, cues.recording_started)
    at(world, 120.1, cues.set_stealth, True)  # in the middle of the first reminder
    at(world, 200, cues.bookmark)
    at(world, 210, cues.fault, "io")
    at(world, 300, cues.set_stealth, False)
    run(world, 330)
    dark = [(line, edges(world, line, since=120.1)) for line in PINS]
    assert dark == [("led", [(120.1, 0), (300.0, 1)]), ("vibration", [(120.1, 0)]),
                    ("buzzer", [(120.1, 0)])]
    assert [(t, e, f) for t, e, f in audit.entries if t > 0] == [
        (120.0, "cue", {"name": "reminder", "n": 1}),
        (120.1, "stealth", {"on": True}),
        (200.0, "cue", {"name": "bookmark", "silenced": "stealth"}),
        (210.0, "cue", {"name": "fault", "kind": "io", "silenced": "stealth"}),
        (240.0, "cue", {"name": "reminder", "n": 2, "silenced": "stealth"}),
        (300.0, "stealth", {"on": False}),
    ]


def test_recording_started_and_stopped_in_stealth_leave_no_trace_on_the_pins(world: World) -> None:
    cues, audit = make(world)
    at(world, 0, cues.set_stealth, True)
    at(world, 1, cues.recording_started)
    at(world, 50, cues.set_stealth, False)  # recording still on: the LED comes back
    at(world, 60, cues.set_stealth, True)
    at(world, 70, cues.recording_stopped)
    at(world, 80, cues.set_stealth, False)  # stopped meanwhile: the LED stays dark
    run(world, 300)
    assert edges(world, "led") == [(50.0, 1), (60.0, 0)]
    assert edges(world, "vibration") == [] and edges(world, "buzzer") == []
    assert [f.get("silenced") for _, e, f in audit.entries if e == "cue"] == ["stealth", "stealth"]


def test_stealth_twice_is_logged_once(world: World) -> None:
    cues, audit = make(world)
    at(world, 0, cues.set_stealth, True)
    at(world, 1, cues.set_stealth, True)
    at(world, 2, cues.set_stealth, False)
    at(world, 3, cues.set_stealth, False)
    run(world, 5)
    assert audit.entries == [(0.0, "stealth", {"on": True}), (2.0, "stealth", {"on": False})]
    assert cues.stealth is False


def test_new_cue_preempts_the_one_in_progress(world: World) -> None:
    cues, audit = make(world)
    at(world, 0, cues.recording_started)
    at(world, 0.2, cues.bookmark)  # during the start's first gap
    run(world, 10)
    assert edges(world, "led") == [(0.0, 1), (0.15, 0), (0.2, 1)]  # straight to the steady state
    assert edges(world, "vibration") == [(0.0, 1), (0.15, 0), (0.2, 1), (0.35, 0)]
    assert audit.entries[-1] == (0.2, "cue", {"name": "bookmark", "preempted": "start"})
    assert world.clock.pending() == 1  # only the first reminder is left


def test_preemption_during_a_pulse_makes_no_glitch(world: World) -> None:
    cues, _ = make(world)
    at(world, 0, cues.recording_started)
    at(world, 30, cues.recording_stopped)
    at(world, 30.5, cues.fault, "storage")  # the stop's long pulse still on
    run(world, 60)
    vib = edges(world, "vibration", since=30)
    assert vib[:3] == [(30.0, 1), (30.575, 0), (30.65, 1)]  # no off/on pair at 30.5
    assert edges(world, "led", since=30)[0] == (30.575, 0)
    assert edges(world, "led")[-1] == (32.625, 0)  # dark after: the recording had stopped


def test_disabled_cues_touch_no_line_but_are_logged(world: World) -> None:
    cues, audit = make(world, enabled=False)
    at(world, 0, cues.recording_started)
    at(world, 5, cues.bookmark)
    at(world, 130, cues.recording_stopped)
    run(world, 200)
    for line in PINS:
        assert edges(world, line) == []
    assert [(t, f["name"], f["silenced"]) for t, _, f in audit.entries] == [
        (0.0, "start", "disabled"), (5.0, "bookmark", "disabled"),
        (120.0, "reminder", "disabled"), (130.0, "stop", "disabled"),
    ]


def test_cue_plays_even_when_the_audit_log_fails(world: World) -> None:
    journal = CueJournal()
    cues = Cues(world.clock, CueLines(PINS), BrokenAudit(), on_cue=journal)
    at(world, 0, cues.fault, "storage")
    run(world, 10)
    assert len(edges(world, "buzzer")) == 18
    assert journal == [(AT, "fault storage")]


def test_close_cancels_timers_and_releases_the_pins(world: World) -> None:
    import RPi.GPIO as GPIO

    cues, _ = make(world)
    at(world, 0, cues.recording_started)
    at(world, 0.1, cues.close)
    run(world, 500)
    assert edges(world, "led") == [(0.0, 1), (0.1, 0)]
    assert world.clock.pending() == 0
    assert [GPIO.gpio_function(p) for p in PINS.values()] == [GPIO.IN] * 3  # released: inputs
    assert not set(PINS.values()) & set(world.gpio.owner)
    cues.bookmark()  # after close: nothing happens, nothing raises
    cues.set_stealth(True)
    cues.close()
    assert world.gpio.history[-1][0] == AT + 0.1


def test_patterns_never_block_other_callbacks(world: World) -> None:
    """A stream of other callbacks (camera frames, button edges) every 10 ms runs on time
    while patterns play, and each cue call returns after switching its first step."""
    cues, _ = make(world)
    ran: list[tuple[float, float]] = []

    def tick(when: float) -> None:
        ran.append((when, world.clock.monotonic()))

    ticks = [AT + n * 0.01 for n in range(301)]
    for when in ticks:
        world.clock.call_at(when, tick, when)
    at(world, 0, cues.recording_started)
    at(world, 1, cues.fault, "io")
    run(world, 5)
    assert [w for w, _ in ran] == ticks
    assert all(w == got for w, got in ran)  # none late by even a microsecond
    cues.bookmark()  # called directly: only the first step is out when it returns
    assert edges(world, "vibration", since=5) == [(5.0, 1)]
    assert cues.playing == "bookmark"


def test_calls_return_at_once_on_the_real_clock() -> None:
    """On the device clock a start cue (0.6 s of pattern) returns in milliseconds."""
    from drivers.clock import SystemClock

    clock = SystemClock()
    w = World(clock)  # type: ignore[arg-type]  # the pins' history on real time
    with hw_sim.installed(w):
        cues = Cues(clock, CueLines(PINS), Audit(clock))  # type: ignore[arg-type]
        begun = time.perf_counter()
        cues.recording_started()
        took = time.perf_counter() - begun
        assert took < 0.05
        clock.run(until=clock.monotonic() + 0.7)
        levels = [lv for _, lv in w.gpio.outputs(PINS["vibration"])]
        assert levels == [0, 1, 0, 1, 0]
        assert w.gpio.output_level(PINS["led"]) == 1
        cues.close()
