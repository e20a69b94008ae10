"""Fake RPi.GPIO and the pin bank: bounce, bouncetime, outputs with virtual timestamps."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import hw_sim
from hw_sim import world as world_mod
from hw_sim.clock import VirtualClock
from hw_sim.world import DOUBLE_PRESS_GAP, PRESS_SECONDS, World


@pytest.fixture
def world() -> Iterator[World]:
    w = World(VirtualClock(), seed=1)
    with hw_sim.installed(w):
        yield w


@pytest.fixture
def GPIO(world: World):  # noqa: N802 - named like the module it stands for
    import RPi.GPIO as gpio

    return gpio


def test_install_registers_fakes_under_real_names(world: World) -> None:
    import RPi
    import RPi.GPIO as gpio
    from RPi import GPIO

    assert GPIO is gpio is RPi.GPIO
    assert gpio.BCM == 11 and gpio.PUD_UP == 22 and gpio.FALLING == 32
    assert not hasattr(gpio, "PinBank")  # only the library's surface
    assert world_mod.current() is world


def test_uninstall_restores_and_current_needs_a_world() -> None:
    import sys

    before = sys.modules.get("RPi.GPIO")
    with hw_sim.installed(World(VirtualClock())):
        assert sys.modules["RPi.GPIO"] is not before
    assert sys.modules.get("RPi.GPIO") is before
    with pytest.raises(RuntimeError, match="no simulated world"):
        world_mod.current()


def test_errors_like_the_real_library(GPIO) -> None:
    with pytest.raises(RuntimeError, match="setmode"):
        GPIO.setup(17, GPIO.IN)
    assert GPIO.getmode() is None
    GPIO.setmode(GPIO.BCM)
    with pytest.raises(ValueError, match="different mode"):
        GPIO.setmode(GPIO.BOARD)
    with pytest.raises(RuntimeError, match="setup"):
        GPIO.input(17)
    GPIO.setup(17, GPIO.IN, pull_up_down=GPIO.PUD_UP)
    with pytest.raises(RuntimeError, match="OUTPUT"):
        GPIO.output(17, 1)
    with pytest.raises(ValueError, match="invalid"):
        GPIO.setup(40, GPIO.IN)
    with pytest.raises(ValueError, match="outputs"):
        GPIO.setup(5, GPIO.OUT, pull_up_down=GPIO.PUD_UP)
    with pytest.raises(RuntimeError, match="input first"):
        GPIO.setup(6, GPIO.OUT)
        GPIO.add_event_detect(6, GPIO.BOTH)
    GPIO.add_event_detect(17, GPIO.BOTH)
    with pytest.raises(RuntimeError, match="Conflicting"):
        GPIO.add_event_detect(17, GPIO.FALLING)
    with pytest.raises(RuntimeError, match="add_event_detect first"):
        GPIO.add_event_callback(5, print)


def _edges(world: World, pin: int) -> list[tuple[float, int]]:
    seen: list[tuple[float, int]] = []
    world.gpio.add_edge_listener(pin, lambda _p, level, t: seen.append((t, level)))
    return seen


def test_press_bounces_on_both_transitions(world: World, GPIO) -> None:
    GPIO.setmode(GPIO.BCM)
    GPIO.setup(17, GPIO.IN, pull_up_down=GPIO.PUD_UP)
    assert GPIO.input(17) == 1
    edges = _edges(world, 17)
    t = world.clock.monotonic() + 1.0
    world.press(t)
    world.clock.run()
    downs = [e for e in edges if e[0] < t + 0.05]
    ups = [e for e in edges if e[0] >= t + PRESS_SECONDS]
    assert len(downs) >= 5 and len(ups) >= 5  # settle + at least two bounce pairs each
    assert downs[0] == (t, 0) and downs[-1][1] == 0
    assert ups[0] == (t + PRESS_SECONDS, 1) and ups[-1][1] == 1
    assert downs[-1][0] - t < 0.007  # bounce settles within a few ms
    assert GPIO.input(17) == 1


def _bursts(edges: list[tuple[float, int]]) -> list[tuple[float, int]]:
    """(first edge time, settled level) of each burst of edges closer than 10 ms."""
    out: list[tuple[float, int]] = []
    last = -1.0
    for t, level in edges:
        if t - last > 0.01:
            out.append((t, level))
        else:
            out[-1] = (out[-1][0], level)
        last = t
    return out


def test_double_press_and_hold_timings(world: World) -> None:
    world.gpio.configure_input(17, 22)
    edges = _edges(world, 17)
    t = world.clock.monotonic() + 1.0
    world.double_press(t)
    world.hold(t + 2.0, 3.5)
    world.clock.run()
    assert _bursts(edges) == [
        (t, 0), (t + PRESS_SECONDS, 1),
        (t + DOUBLE_PRESS_GAP, 0), (t + DOUBLE_PRESS_GAP + PRESS_SECONDS, 1),
        (t + 2.0, 0), (t + 5.5, 1)]
    assert [e.detail["edge"] for e in world.events if e.kind == "button"] == [
        "down", "up", "down", "up", "down", "up"]


def test_bounce_is_seeded(world: World) -> None:
    def run(seed: int) -> list[tuple[float, int]]:
        w = World(VirtualClock(), seed=seed)
        w.gpio.configure_input(17, 22)
        edges = _edges(w, 17)
        w.press(w.clock.monotonic() + 1)
        w.clock.run()
        return edges

    assert run(3) == run(3)
    assert run(3) != run(4)


def test_without_bouncetime_every_bounce_calls_back(world: World, GPIO) -> None:
    GPIO.setmode(GPIO.BCM)
    GPIO.setup(17, GPIO.IN, pull_up_down=GPIO.PUD_UP)
    calls: list[float] = []
    GPIO.add_event_detect(17, GPIO.FALLING, callback=lambda ch: calls.append(ch))
    world.press(world.clock.monotonic() + 1)
    world.clock.run()
    assert len(calls) >= 3 and set(calls) == {17}  # the press, its bounces, release bounces
    assert GPIO.event_detected(17) is True
    assert GPIO.event_detected(17) is False


def test_bouncetime_counts_from_the_last_reported_edge(world: World, GPIO) -> None:
    GPIO.setmode(GPIO.BCM)
    GPIO.setup(4, GPIO.IN, pull_up_down=GPIO.PUD_DOWN)
    reported: list[float] = []
    GPIO.add_event_detect(4, GPIO.RISING, bouncetime=50)
    GPIO.add_event_callback(4, lambda ch: reported.append(world.clock.monotonic()))
    t = world.clock.monotonic() + 1.0
    # Rising edges at 0, 40, 80 and 130 ms (falls in between).
    for ms, level in [(0, 1), (20, 0), (40, 1), (60, 0), (80, 1), (100, 0), (130, 1)]:
        world.gpio.drive(4, level, at=t + ms / 1000)
    world.clock.run()
    # 40 ms: within 50 ms of 0 -> ignored; 80 ms: 80 ms after the last *reported* edge
    # -> reported (an ignored edge does not restart the window); 130 ms: exactly 50 ms
    # after 80 -> ignored (RPi.GPIO needs strictly more than bouncetime).
    assert [round((r - t) * 1000) for r in reported] == [0, 80]


def test_board_numbering_and_callback_channel(world: World, GPIO) -> None:
    GPIO.setmode(GPIO.BOARD)
    GPIO.setup(11, GPIO.IN, pull_up_down=GPIO.PUD_UP)  # header pin 11 is BCM 17
    got: list[int] = []
    GPIO.add_event_detect(11, GPIO.BOTH, callback=got.append, bouncetime=20)
    world.press(world.clock.monotonic() + 1)
    world.clock.run()
    assert got == [11, 11]  # down and up, bounce filtered by bouncetime


def test_outputs_record_changes_with_virtual_time(world: World, GPIO) -> None:
    GPIO.setmode(GPIO.BCM)
    GPIO.setup([23, 24], GPIO.OUT, initial=GPIO.LOW)
    t0 = world.clock.monotonic()
    clock = world.clock
    clock.call_at(t0 + 0.5, GPIO.output, 23, GPIO.HIGH)
    clock.call_at(t0 + 0.6, GPIO.output, 23, GPIO.HIGH)  # no change: not recorded
    clock.call_at(t0 + 0.7, GPIO.output, [23, 24], [GPIO.LOW, GPIO.HIGH])
    clock.run()
    assert world.gpio.history == [
        (t0, 23, 0), (t0, 24, 0), (t0 + 0.5, 23, 1), (t0 + 0.7, 23, 0), (t0 + 0.7, 24, 1)]
    assert world.gpio.outputs(23) == [(t0, 0), (t0 + 0.5, 1), (t0 + 0.7, 0)]
    assert world.gpio.output_level(24) == 1 and GPIO.input(24) == 1
    assert world.gpio.output_level(5) is None


def test_pwm_and_cleanup(world: World, GPIO) -> None:
    GPIO.setmode(GPIO.BCM)
    GPIO.setup(18, GPIO.OUT)
    pwm = GPIO.PWM(18, 1000)
    with pytest.raises(RuntimeError, match="already exists"):
        GPIO.PWM(18, 500)
    pwm.start(50)
    pwm.ChangeDutyCycle(75)
    pwm.ChangeFrequency(2000)
    with pytest.raises(ValueError):
        pwm.ChangeDutyCycle(101)
    pwm.stop()
    assert [h[1:] for h in world.gpio.pwm_history] == [
        (18, 1000.0, 50.0), (18, 1000.0, 75.0), (18, 2000.0, 75.0), (18, 2000.0, None)]
    assert GPIO.gpio_function(18) == GPIO.OUT
    GPIO.cleanup()
    assert GPIO.getmode() is None
    with pytest.raises(RuntimeError, match="setmode"):
        GPIO.input(18)
