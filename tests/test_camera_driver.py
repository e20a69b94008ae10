"""drivers.camera on the real picamera2 over the simulated camera, on both boards (issue 12)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

import hw_sim
from display import yuv
from drivers.camera import Camera
from hw_sim import frametag, pixel_formats
from hw_sim.board import Board
from hw_sim.clock import VirtualClock
from hw_sim.world import World
from recorder.packet import Packet

BOARDS = [pytest.param(Board.PI4, id="pi4"), pytest.param(Board.PI5, id="pi5")]


@pytest.fixture(params=BOARDS)
def world(request: pytest.FixtureRequest) -> Iterator[World]:
    w = World(VirtualClock(), board=request.param)
    with hw_sim.installed(w):
        yield w


def _camera(world: World, packets: list[Packet], **kw: Any) -> Camera:
    opts = {"width": 1920, "height": 1080, "fps": 30, "bitrate": 2_000_000, "gop_seconds": 1.0,
            "lores": (320, 240)} | kw
    return Camera(world.clock, packets.append, **opts)


def _in_thread(fn: Any, timeout: float = 20.0) -> Any:
    """Run ``fn`` on another thread (as the display does); fail if it does not return."""
    result: list[Any] = []
    th = threading.Thread(target=lambda: result.append(fn()), daemon=True)
    th.start()
    th.join(timeout)
    assert not th.is_alive(), f"{getattr(fn, '__name__', fn)} did not return within {timeout} s"
    return result[0]


def test_a_stall_never_blocks_the_display_or_the_stop(world: World) -> None:
    cam = _camera(world, [])
    cam.start()
    world.clock.run(until=world.frame_origin + 1.0)
    assert _in_thread(cam.lores_frame) is not None
    world.stall_camera(1000.0)
    world.clock.run(until=world.clock.monotonic() + 3.0)
    # The display asks again and again while nothing comes; then the daemon restarts.
    assert [_in_thread(cam.lores_frame, 5.0) for _ in range(3)] == [None, None, None]
    _in_thread(cam.stop)
    cam.close()


@pytest.mark.parametrize(("board", "lores"), [
    pytest.param(Board.PI5, (320, 240), id="pi5-320x240"),  # stride 384
    pytest.param(Board.PI4, (240, 180), id="pi4-240x180"),  # stride 256
])
def test_lores_frames_come_without_padding(board: Board, lores: tuple[int, int]) -> None:
    w = World(VirtualClock(), board=board)
    with hw_sim.installed(w):
        cam = _camera(w, [], lores=lores)
        cam.start()
        w.clock.run(until=w.frame_origin + 0.5)
        frame = cam.lores_frame()
        scene, dur_us = w.camera_device._scene, w.camera_device._frame_us
        utc_at_origin = w.clock.time() - w.clock.monotonic() + w.frame_origin
        cam.close()
    lw, lh = lores
    assert frame.shape == (lh * 3 // 2, lw)
    n = frametag.read_tag(frame[:lh])
    assert 10 <= n <= 16  # the newest frame at 0.5 s (its tag spans the true width only)
    full = scene.render(n, n * dur_us / 1e6, utc_at_origin + n * dur_us / 1e6)
    expected = pixel_formats.resample_yuv420(full, 640, 480, lores)
    assert np.array_equal(frame, expected)
    # The panel shows that picture, centred, with no padding column in it.
    panel = (320, 240)
    assert np.array_equal(yuv.to_rgb565(frame, panel, False), yuv.to_rgb565(expected, panel, False))


@pytest.mark.parametrize("board", BOARDS)
def test_bitrate_holds_at_15_fps(board: Board) -> None:
    w = World(VirtualClock(), board=board)
    packets: list[Packet] = []
    with hw_sim.installed(w):
        cam = _camera(w, packets, fps=15, bitrate=600_000)
        cam.start()
        w.clock.run(until=w.frame_origin + 12.0)
        cam.close()
        w.clock.run(until=w.clock.monotonic())
    assert cam.fps == pytest.approx(15, rel=1e-4)
    steady = [p for p in packets if p.pts_us - packets[0].pts_us >= 2_000_000]  # rate control settled
    seconds = (steady[-1].pts_us - steady[0].pts_us) / 1e6 + 1 / 15
    rate = sum(p.size for p in steady) * 8 / seconds
    assert 0.75 * 600_000 < rate < 1.25 * 600_000, f"{rate:.0f} bit/s"


def test_a_camera_that_fails_to_start_leaves_no_encoder_running(world: World) -> None:
    packets: list[Packet] = []
    cam = _camera(world, packets)
    world.fail_camera_starts(1)
    with pytest.raises(RuntimeError, match="Failed to start camera"):
        cam.start()
    assert not cam._encoder.running and not cam.running
    cam.start()  # the next restart works
    world.clock.run(until=world.clock.monotonic() + 1.0)
    cam.close()
    assert len(packets) >= 25 and packets[0].keyframe


def test_a_frame_rate_beyond_the_sensor_mode_is_clamped(world: World) -> None:
    packets: list[Packet] = []
    cam = _camera(world, packets, fps=60)
    assert cam.frame_duration_us == 17_847  # IMX708 2304x1296 mode: 56.03 fps at most
    assert cam.fps == pytest.approx(56.03, abs=0.01)
    cam.start()
    world.clock.run(until=world.clock.monotonic() + 2.5)
    assert cam.lores.frame_duration_us == 17_847  # what the camera reports it delivers
    cam.close()
    world.clock.run(until=world.clock.monotonic())  # what the stop flushed, onto the loop
    assert len(packets) == 141  # frames 0..140 within 2.5 s
    steps = {b.pts_us - a.pts_us for a, b in zip(packets, packets[1:], strict=False)}
    assert steps == {17_847}
    keys = [i for i, p in enumerate(packets) if p.keyframe]
    assert keys[:3] == [0, 56, 112]  # a 1 s GOP at the frame rate the camera delivers
