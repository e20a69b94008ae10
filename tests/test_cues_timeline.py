"""The readable cue timeline `bodycam run --sim` prints, from the pins' recorded history."""

from __future__ import annotations

from typing import Any

from drivers.cue_lines import CueLines
from firmware.cues import Cues
from hw_sim.clock import MONOTONIC_START
from hw_sim.cue_timeline import CueJournal, timeline
from hw_sim.world import World

PINS = {"led": 5, "vibration": 6, "buzzer": 13}
ORIGIN = MONOTONIC_START + 2.0  # scenario time 0 (the camera's first frame)


class Audit:
    def __init__(self) -> None:
        self.entries: list[tuple[str, dict[str, Any]]] = []

    def append(self, event: str, **fields: Any) -> None:
        self.entries.append((event, fields))


def script(world: World, cues: Cues, steps: list[tuple[float, Any]]) -> None:
    for t, call in steps:
        world.clock.call_at(ORIGIN + t, call)
    world.clock.run(until=ORIGIN + 400)


def test_a_shift_reads_as_one_line_per_cue(world: World) -> None:
    journal = CueJournal()
    cues = Cues(world.clock, CueLines(PINS), Audit(), on_cue=journal)
    script(world, cues, [
        (12.0, cues.recording_started),
        (12.2, cues.bookmark),
        (50.0, lambda: cues.set_stealth(True)),
        (60.0, cues.bookmark),
        (70.0, lambda: cues.set_stealth(False)),
        (200.0, lambda: cues.fault("storage")),
        (300.0, cues.recording_stopped),
        (310.0, lambda: cues.armed(False)),
    ])
    assert timeline(world.gpio.history, PINS, ORIGIN, labels=journal) == [
        "   12.000 s  start: led+vibration+buzzer pulse 150 ms",
        "   12.200 s  bookmark: led on; vibration+buzzer pulse 150 ms",
        "   50.000 s  stealth on: led off",
        "   60.000 s  bookmark (silenced: stealth)",
        "   70.000 s  stealth off: led on",
        "  132.000 s  reminder: vibration+buzzer 2 pulses 150 ms",
        "  200.000 s  fault storage: led off after 75 ms, 8 pulses 75 ms, then on; "
        "vibration+buzzer 9 pulses 75 ms",
        "  252.000 s  reminder: vibration+buzzer 2 pulses 150 ms",
        "  300.000 s  stop: led off after 1000 ms; vibration+buzzer pulse 1000 ms",
        "  310.000 s  disarmed: led+vibration+buzzer pulse 400 ms",
    ]


def test_without_labels_edges_are_grouped_by_time(world: World) -> None:
    cues = Cues(world.clock, CueLines(PINS), Audit(), reminder_seconds=0)
    script(world, cues, [(1.0, cues.recording_started), (5.0, cues.recording_stopped)])
    assert timeline(world.gpio.history, PINS, ORIGIN) == [
        "    1.000 s  led 2 pulses 150 ms, then on; vibration+buzzer 2 pulses 150 ms",
        "    5.000 s  led off after 1000 ms; vibration+buzzer pulse 1000 ms",
    ]


def test_other_pins_are_ignored_and_polarity_is_honoured(world: World) -> None:
    import RPi.GPIO as GPIO

    lines = CueLines({"led": 5, "buzzer": None}, active_high=False)
    GPIO.setup(24, GPIO.OUT)
    journal = CueJournal()
    cues = Cues(world.clock, lines, Audit(), on_cue=journal)
    script(world, cues, [(-1.0, lambda: GPIO.output(24, 1)), (3.0, cues.armed)])
    pins = {"led": 5, "vibration": None, "buzzer": None}
    assert world.gpio.outputs(5)[-2:] == [(ORIGIN + 3.0, 0), (ORIGIN + 3.15, 1)]  # low = on
    assert timeline(world.gpio.history, pins, ORIGIN, active_high=False) == [
        "    3.000 s  led pulse 150 ms",
    ]
    assert timeline(world.gpio.history, pins, ORIGIN, active_high=False, labels=journal) == [
        "    3.000 s  armed: led pulse 150 ms",
    ]
