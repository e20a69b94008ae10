"""The button driver over the real rpi-lgpio and the simulated lgpio: bounce, threads, held lines."""

from __future__ import annotations

import threading

import pytest

from drivers.button import Button
from drivers.cue_lines import CueLines
from drivers.gpio_claim import ChipUnavailable, LineUnavailable
from hw_sim.world import DOUBLE_PRESS_GAP, PRESS_SECONDS, World

PIN = 17


def make(world: World, **kw) -> tuple[Button, list[tuple[bool, float, str]]]:
    seen: list[tuple[bool, float, str]] = []
    button = Button(PIN, world.clock, lambda down, t: seen.append(
        (down, t, threading.current_thread().name)), **kw)
    return button, seen


def test_a_bouncing_press_is_one_down_and_one_up_on_the_loop(world: World) -> None:
    button, seen = make(world)
    assert button.pressed is False
    t = world.clock.monotonic() + 1.0
    world.press(t)
    world.clock.run()
    assert [(down, round(at - t, 4)) for down, at, _ in seen] == [
        (True, 0.0005), (False, PRESS_SECONDS + 0.0005)]
    # lgpio calls back on its own thread; the driver hands every edge to the loop.
    assert {name for _, _, name in seen} == {threading.current_thread().name}


def test_double_press_and_hold(world: World) -> None:
    _, seen = make(world)
    t = world.clock.monotonic() + 1.0
    world.double_press(t)
    world.hold(t + 2.0, 3.0)
    world.clock.run()
    starts = [round(at - t, 4) for down, at, _ in seen if down]
    assert starts == [0.0005, round(DOUBLE_PRESS_GAP + 0.0005, 4), 2.0005]
    assert [down for down, _, _ in seen] == [True, False] * 3


def test_active_high_button_uses_the_pull_down(world: World) -> None:
    world.button_active_low = False
    _, seen = make(world, active_low=False)
    world.press(world.clock.monotonic() + 1.0)
    world.clock.run()
    assert [down for down, _, _ in seen] == [True, False]


def test_close_stops_listening(world: World) -> None:
    button, seen = make(world)
    button.close()
    world.press(world.clock.monotonic() + 1.0)
    world.clock.run()
    assert seen == []


def test_a_line_another_process_holds_is_named(world: World) -> None:
    world.gpio.owner[PIN] = object()  # another process (a second daemon, a test script) has it
    with pytest.raises(LineUnavailable, match=r"GPIO 17 \(record button\) is held .*GPIO busy.*gpioinfo"):
        make(world)


def test_a_cue_line_the_kernel_holds_is_named(world: World) -> None:
    # With SPI on, spi0 CE0 (GPIO 8) belongs to the kernel: lgpio answers "GPIO busy".
    with pytest.raises(LineUnavailable, match=r"GPIO 8 \(buzzer cue line\) is held .*GPIO busy"):
        CueLines({"led": 5, "buzzer": 8})


def test_no_access_to_the_gpio_chip_says_which_group(world: World) -> None:
    world.gpio.chip_access = False  # /dev/gpiochip0 is root:gpio 0660 and we are neither
    with pytest.raises(ChipUnavailable, match="'gpio' group"):
        make(world)
    with pytest.raises(ChipUnavailable, match="'gpio' group"):
        CueLines({"led": 5})
