"""The cue-line driver over rpi-lgpio and the simulated lgpio: levels, polarity, parts not fitted, release."""

from __future__ import annotations

import pytest

from drivers.cue_lines import CueLines
from hw_sim.clock import MONOTONIC_START
from hw_sim.world import World


def test_active_high_lines_start_low_and_switch(world: World) -> None:
    import RPi.GPIO as GPIO

    lines = CueLines({"led": 5, "vibration": 6, "buzzer": 13})
    assert GPIO.getmode() == GPIO.BCM
    assert lines.names == ("led", "vibration", "buzzer")
    assert [GPIO.gpio_function(p) for p in (5, 6, 13)] == [GPIO.OUT] * 3
    world.clock.call_at(MONOTONIC_START + 1, lines.set, "buzzer", True)
    world.clock.call_at(MONOTONIC_START + 2, lines.set, "buzzer", True)  # no change: no write
    world.clock.call_at(MONOTONIC_START + 3, lines.set, "buzzer", False)
    world.clock.run()
    assert world.gpio.outputs(13) == [(1000.0, 0), (1001.0, 1), (1003.0, 0)]
    assert lines.is_on("buzzer") is False


def test_active_low_inverts_levels(world: World) -> None:
    lines = CueLines({"led": 22}, active_high=False)
    assert world.gpio.output_level(22) == 1  # off
    lines.set("led", True)
    assert world.gpio.output_level(22) == 0 and lines.is_on("led")
    lines.close()
    assert world.gpio.outputs(22)[-1] == (1000.0, 1)  # switched off before release


def test_parts_not_fitted_are_skipped(world: World) -> None:
    lines = CueLines({"led": 5, "vibration": None})
    assert lines.names == ("led",) and lines.pins == {"led": 5}
    lines.set("vibration", True)
    lines.set("buzzer", True)
    assert lines.is_on("vibration") is False
    assert [p for _, p, _ in world.gpio.history] == [5]


def test_mistakes_are_refused(world: World) -> None:
    with pytest.raises(ValueError, match="unknown cue line"):
        CueLines({"lamp": 5})
    with pytest.raises(ValueError, match="share a pin"):
        CueLines({"led": 5, "buzzer": 5})
    lines = CueLines({"led": 5})
    with pytest.raises(ValueError, match="unknown cue line"):
        lines.set("siren", True)
    lines.close()
    with pytest.raises(RuntimeError, match="closed"):
        lines.set("led", True)


def test_close_releases_only_its_own_pins(world: World) -> None:
    import RPi.GPIO as GPIO

    GPIO.setmode(GPIO.BCM)
    GPIO.setup(24, GPIO.OUT)  # the panel's DC line, say
    lines = CueLines({"led": 5, "buzzer": 13})
    lines.set("led", True)
    lines.close()
    lines.close()
    # Released: inputs again and no longer claimed (rpi-lgpio's gpio_function knows only IN/OUT).
    assert GPIO.gpio_function(5) == GPIO.IN and GPIO.gpio_function(13) == GPIO.IN
    assert 5 not in world.gpio.owner and 13 not in world.gpio.owner
    assert GPIO.gpio_function(24) == GPIO.OUT and 24 in world.gpio.owner
    assert world.gpio.outputs(5) == [(1000.0, 0), (1000.0, 1), (1000.0, 0)]
