"""The real rpi-lgpio over the simulated lgpio: errors, claims, debounce, callbacks, the button's bounce."""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from pathlib import Path

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


def test_rpi_gpio_is_the_real_rpi_lgpio_over_the_simulated_lgpio(world: World) -> None:
    import lgpio
    import RPi
    import RPi.GPIO as gpio
    from RPi import GPIO

    assert GPIO is gpio is RPi.GPIO
    # rpi-lgpio's own module file, installed from PyPI (the device gets python3-rpi-lgpio).
    assert Path(gpio.__file__).parts[-3:] == ("RPi", "GPIO", "__init__.py")
    assert "site-packages" in gpio.__file__ or "dist-packages" in gpio.__file__
    assert Path(lgpio.__file__).name == "fake_lgpio.py"
    assert gpio.VERSION == "0.7.2" and gpio.RPI_INFO["TYPE"] == "Pi 5 Model B"
    assert world_mod.current() is world


def test_each_world_starts_a_fresh_library_and_uninstall_restores() -> None:
    before = sys.modules.get("RPi.GPIO")
    with hw_sim.installed(World(VirtualClock())):
        import RPi.GPIO as first

        first.setmode(first.BCM)
    with hw_sim.installed(World(VirtualClock())):
        import RPi.GPIO as second

        assert second is not first and second.getmode() is None  # a new process's state
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
        GPIO.setup(54, GPIO.IN)  # rpi-lgpio takes 0-53, the header or not
    with pytest.raises(ValueError, match="outputs"):
        GPIO.setup(5, GPIO.OUT, pull_up_down=GPIO.PUD_UP)
    with pytest.raises(RuntimeError, match="input first"):
        GPIO.setup(6, GPIO.OUT)
        GPIO.add_event_detect(6, GPIO.BOTH)
    GPIO.add_event_detect(17, GPIO.BOTH)
    with pytest.raises(RuntimeError, match="Conflicting"):
        GPIO.add_event_detect(17, GPIO.FALLING)
    with pytest.raises(RuntimeError, match="Conflicting"):
        # rpi-lgpio compares lgpio's edge bits with RPi.GPIO's constants: even the same edge.
        GPIO.add_event_detect(17, GPIO.BOTH)
    GPIO.setup(27, GPIO.IN)
    with pytest.raises(RuntimeError, match="add_event_detect first"):
        GPIO.add_event_callback(27, print)


def test_bouncetime_none_is_no_debounce_zero_and_fractions_are_refused(GPIO) -> None:
    GPIO.setmode(GPIO.BCM)
    GPIO.setup(17, GPIO.IN, pull_up_down=GPIO.PUD_UP)
    with pytest.raises(ValueError, match="Bouncetime must be greater than 0"):
        GPIO.add_event_detect(17, GPIO.BOTH, bouncetime=0)
    with pytest.raises(TypeError, match="int"):
        GPIO.add_event_detect(17, GPIO.BOTH, bouncetime=2.5)  # lgpio wants whole microseconds
    GPIO.remove_event_detect(17)
    GPIO.setup(17, GPIO.IN, pull_up_down=GPIO.PUD_UP)
    GPIO.add_event_detect(17, GPIO.BOTH, bouncetime=None)


def test_lines_the_kernel_holds_are_busy(GPIO) -> None:
    import lgpio

    GPIO.setmode(GPIO.BCM)
    with pytest.raises(lgpio.error, match="GPIO busy"):
        GPIO.setup(8, GPIO.IN)  # spi0 CE0 with dtparam=spi=on
    with pytest.raises(lgpio.error, match="GPIO not allocated"):
        GPIO.setup(10, GPIO.OUT)  # rpi-lgpio reads the line first (differences.rst)


def test_no_writable_working_directory_no_gpio(world: World, tmp_path, monkeypatch) -> None:
    """lgpio makes its notification FIFO in $LG_WD or the working directory at import."""
    import os

    monkeypatch.chdir(os.getcwd())  # restored afterwards: the import changes into LG_WD
    monkeypatch.setenv("LG_WD", str(tmp_path / "not-there"))
    with pytest.raises(FileNotFoundError, match=r"\.lgd-nfy-3"):
        import RPi.GPIO  # noqa: F401
    monkeypatch.setenv("LG_WD", str(tmp_path))
    import RPi.GPIO  # noqa: F401,F811

    assert os.getcwd() == str(tmp_path)  # as on the device: the daemon's cwd becomes LG_WD


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


def test_without_bouncetime_every_bounce_calls_back_on_lgpios_thread(world: World, GPIO) -> None:
    GPIO.setmode(GPIO.BCM)
    GPIO.setup(17, GPIO.IN, pull_up_down=GPIO.PUD_UP)
    calls: list[tuple[int, float, str]] = []
    GPIO.add_event_detect(17, GPIO.FALLING, callback=lambda ch: calls.append(
        (ch, world.clock.monotonic(), threading.current_thread().name)))
    t = world.clock.monotonic() + 1
    world.press(t)
    world.clock.run()
    assert len(calls) >= 3 and {c[0] for c in calls} == {17}  # the press, its bounces, release bounces
    assert {c[2] for c in calls} == {"lgpio-notify"}  # never the loop's thread
    assert calls[0][1] == pytest.approx(t + 0.0005)  # reported 0.5 ms after the edge
    assert GPIO.event_detected(17) is True
    assert GPIO.event_detected(17) is False


def test_lgpio_debounce_waits_for_a_stable_line(world: World, GPIO) -> None:
    """differences.rst "Debounce": lgpio reports an edge once it stayed put for the debounce."""
    GPIO.setmode(GPIO.BCM)
    GPIO.setup(4, GPIO.IN, pull_up_down=GPIO.PUD_DOWN)
    reported: list[float] = []
    GPIO.add_event_detect(4, GPIO.RISING, bouncetime=50)
    GPIO.add_event_callback(4, lambda ch: reported.append(world.clock.monotonic()))
    t = world.clock.monotonic() + 1.0
    # Rising edges at 0, 40, 80 and 130 ms (falls in between): RPi.GPIO would report 0 and 80.
    for ms, level in [(0, 1), (20, 0), (40, 1), (60, 0), (80, 1), (100, 0), (130, 1)]:
        world.gpio.drive(4, level, at=t + ms / 1000)
    world.clock.run()
    # 130 ms is exactly 50 ms after 80 (not stable *longer* than 50): only the last edge
    # is reported, stamped 50 ms after it, 0.5 ms later on lgpio's thread.
    assert [round((r - t) * 1000, 1) for r in reported] == [180.5]


def test_debounce_on_both_edges_reports_only_a_change_of_level(world: World, GPIO) -> None:
    GPIO.setmode(GPIO.BCM)
    GPIO.setup(4, GPIO.IN, pull_up_down=GPIO.PUD_DOWN)
    levels: list[int] = []
    GPIO.add_event_detect(4, GPIO.BOTH, bouncetime=5, callback=lambda ch: levels.append(GPIO.input(4)))
    t = world.clock.monotonic() + 1.0
    # A 1 ms glitch high, then a real press held 100 ms, then a glitch low while high.
    for ms, level in [(0, 1), (1, 0), (20, 1), (120, 0), (121, 1), (200, 0)]:
        world.gpio.drive(4, level, at=t + ms / 1000)
    world.clock.run()
    # 6 ms: the glitch settled low, reported as the first level; 25 ms: high. The dip at
    # 120 ms settles high again, the level last reported: no report. 205 ms: low.
    assert levels == [0, 1, 0]


def test_a_failing_callback_is_printed_and_the_others_still_run(world: World, GPIO, capsys) -> None:
    GPIO.setmode(GPIO.BCM)
    GPIO.setup(17, GPIO.IN, pull_up_down=GPIO.PUD_UP)
    ok: list[int] = []

    def broken(_ch: int) -> None:
        raise ValueError("driver bug")

    GPIO.add_event_detect(17, GPIO.FALLING, callback=broken, bouncetime=20)
    GPIO.add_event_callback(17, ok.append)
    world.press(world.clock.monotonic() + 1)
    world.clock.run()
    # Two reports: the press, and the release's bounce (lgpio sees only falling edges, and
    # the last falling edge of the release bounce stays "stable": lgPthAlerts.c:295-297).
    assert ok == [17, 17]
    assert capsys.readouterr().err.count("driver bug") == 2  # rpi-lgpio prints it, as RPi.GPIO does


def test_board_numbering_and_callback_channel(world: World, GPIO) -> None:
    GPIO.setmode(GPIO.BOARD)
    GPIO.setup(11, GPIO.IN, pull_up_down=GPIO.PUD_UP)  # header pin 11 is BCM 17
    got: list[int] = []
    GPIO.add_event_detect(11, GPIO.BOTH, callback=got.append, bouncetime=20)
    world.press(world.clock.monotonic() + 1)
    world.clock.run()
    assert got == [11, 11]  # down and up, bounce filtered by the debounce


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
    GPIO.setup(24, GPIO.OUT, initial=GPIO.LOW)  # already an output: lgpio keeps the level
    assert world.gpio.output_level(24) == 1


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
    del pwm  # its __del__ stops it: after cleanup() that would raise inside __del__
    GPIO.cleanup()
    assert GPIO.getmode() is None and 18 not in world.gpio.owner
    with pytest.raises(RuntimeError, match="setmode"):
        GPIO.input(18)


def _world_on(board: str) -> World:
    """A world of the given board profile (``World(board=...)`` where the world takes one)."""
    try:
        return World(VirtualClock(), seed=1, board=board)  # type: ignore[call-arg]
    except TypeError:
        w = World(VirtualClock(), seed=1)
        w.board = board  # type: ignore[attr-defined]
        return w


@pytest.mark.parametrize("board, model, lines", [("pi4", "Pi 4 Model B", 58), ("pi5", "Pi 5 Model B", 54)])
def test_each_board_profile_has_its_gpiochip(board: str, model: str, lines: int) -> None:
    with hw_sim.installed(_world_on(board)) as w:
        import lgpio
        import RPi.GPIO as GPIO

        assert GPIO.RPI_INFO["TYPE"] == model
        GPIO.setmode(GPIO.BCM)
        chip = GPIO._chip  # rpi-lgpio's handle on gpiochip0
        assert lgpio.gpio_get_chip_info(chip)[1:] == [lines, "gpiochip0",
                                                       "pinctrl-bcm2711" if board == "pi4" else "pinctrl-rp1"]
        GPIO.setup(17, GPIO.IN, pull_up_down=GPIO.PUD_UP)
        got: list[int] = []
        GPIO.add_event_detect(17, GPIO.FALLING, callback=got.append, bouncetime=20)
        w.press(w.clock.monotonic() + 1)
        w.clock.run()
        assert got[0] == 17
        GPIO.cleanup()
