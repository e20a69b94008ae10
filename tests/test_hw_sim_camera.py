"""The real picamera2 over the simulated libcamera and kernel, on both boards.

These hold the simulation to what picamera2 0.3.38 and libcamera do (cited in
docs/SIMULATION.md): packets, timestamps and GOPs as the encoders hand them to an
Output, the Pi 5 libav encoder's lag and flush, stride padding, the blocking
capture job, frame-rate clamping, and pre_callback with MappedArray.
"""

from __future__ import annotations

import io
import re
import threading
import time
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import pytest

import hw_sim
from hw_sim import frametag
from hw_sim.board import Board
from hw_sim.clock import VirtualClock
from hw_sim.world import CameraSpec, World

SMALL = CameraSpec(size=(320, 240), lores_size=(160, 120))
FRAME_US = 33_333  # picamera2 turns FrameRate 30 into whole-microsecond durations
BOARDS = [pytest.param(Board.PI4, id="pi4"), pytest.param(Board.PI5, id="pi5")]


@pytest.fixture(params=BOARDS)
def world(request: pytest.FixtureRequest) -> Iterator[World]:
    w = World(VirtualClock(), camera=SMALL, board=request.param)
    with hw_sim.installed(w):
        yield w


def _collector() -> Any:
    from picamera2.outputs import Output

    class Collect(Output):
        """Keeps (data, keyframe, timestamp, clock time) of every call."""

        def __init__(self, clock: VirtualClock) -> None:
            super().__init__()
            self.clock = clock
            self.packets: list[tuple[bytes, bool, int, float]] = []

        def outputframe(self, frame, keyframe=True, timestamp=None, packet=None, audio=False):
            self.packets.append((frame, keyframe, timestamp, self.clock.monotonic()))

    return Collect


def _camera(world: World, **config: Any) -> Any:
    from picamera2 import Picamera2

    cam = Picamera2()
    cam.configure(cam.create_video_configuration(
        main={"size": world.camera.size, "format": "YUV420"},
        lores={"size": world.camera.lores_size, "format": "YUV420"},
        controls={"FrameRate": world.camera.fps}, **config))
    return cam


def _record(world: World, seconds: float, **enc: Any) -> tuple[Any, Any, Any]:
    from picamera2.encoders import H264Encoder

    cam = _camera(world)
    out = _collector()(world.clock)
    encoder = H264Encoder(**({"repeat": True} | enc))
    cam.start_recording(encoder, out)
    world.clock.run(until=world.frame_origin + seconds)
    return cam, encoder, out


def _nal_types(data: bytes) -> list[int]:
    return [data[m.end()] & 0x1F for m in re.finditer(b"\x00\x00\x01", data)]


def test_each_board_gets_its_own_encoder(world: World) -> None:
    from picamera2.encoders import H264Encoder

    expected = "H264Encoder" if world.board is Board.PI4 else "LibavH264Encoder"
    assert H264Encoder.__name__ == expected  # picamera2's platform probe saw the simulated ISP


def test_packets_timestamps_and_gops(world: World) -> None:
    cam, encoder, out = _record(world, 2.0, iperiod=30)
    before_stop = len(out.packets)
    cam.stop_recording()
    cam.close()
    assert out.recording is False
    origin = world.frame_origin
    packets = out.packets
    assert len(packets) == 61  # frames 0..60, every one exactly once
    for n, (data, keyframe, ts, _t) in enumerate(packets):
        assert ts == n * FRAME_US  # picamera2: relative to the encoder's first frame
        assert keyframe == (n % 30 == 0)
        assert data.startswith(b"\x00\x00\x00\x01")
        if keyframe:
            assert _nal_types(data)[:2] == [7, 8] and 5 in _nal_types(data)  # SPS PPS IDR
        else:
            assert 7 not in _nal_types(data)
    assert encoder.firsttimestamp == round(origin * 1e6)  # the sensor's boot-time base
    assert frametag.frame_numbers(b"".join(p[0] for p in packets)) == list(range(61))
    assert frametag.frame_numbers(b"".join(p[0] for p in packets[30:])) == list(range(30, 61))
    if world.board is Board.PI4:
        # The hardware encoder hands each packet out as its frame is captured.
        assert before_stop == 61
        # (picamera2's threads may still be on frame n when virtual time reaches n+1.)
        assert all(0 <= t - (origin + n * FRAME_US / 1e6) <= FRAME_US / 1e6 + 1e-6
                   for n, (_, _, _, t) in enumerate(packets))
    else:
        # x264's frame threads hold frames back; stop() flushes them on the caller's thread.
        assert 0 < 61 - before_stop < 8


def test_repeat_false(world: World) -> None:
    if world.board is Board.PI5:
        # picamera2's libav encoder asks PyAV for Flags.GLOBAL_HEADER, a name current PyAV
        # spells global_header: repeat=False fails at start. bodycam passes repeat=True.
        from picamera2.encoders import H264Encoder

        cam = _camera(world)
        with pytest.raises(AttributeError, match="GLOBAL_HEADER"):
            cam.start_recording(H264Encoder(repeat=False), _collector()(world.clock))
        cam.close()
        return
    cam, _, out = _record(world, 1.0, repeat=False, iperiod=10)
    cam.stop_recording()
    cam.close()
    sps = [n for n, p in enumerate(out.packets) if 7 in _nal_types(p[0])]
    keys = [n for n, p in enumerate(out.packets) if p[1]]
    assert keys == [0, 10, 20, 30]
    assert sps == [0]  # the V4L2 encoder sends the headers once, in front of the stream


def test_default_bitrate_rule_of_each_encoder(world: World) -> None:
    cam, encoder, _ = _record(world, 0.2)
    cam.stop_recording()
    cam.close()
    ratio = (320 * 240) / (1920 * 1080)
    if world.board is Board.PI4:
        # V4L2: linear in pixel rate; picamera2 sets framerate from the camera (1e6/33,333)
        assert encoder.bitrate == pytest.approx(6_000_000 * ratio, rel=1e-4)
    else:
        assert encoder.bitrate == int(7_000_000 * ratio ** 0.5)  # libav: square root, 30 fps


def _mux(packets: list[tuple[bytes, bool, int, float]], fmt: str, size: tuple[int, int]) -> bytes:
    buf = io.BytesIO()
    with av.open(buf, "w", format=fmt) as container:
        stream = container.add_stream("h264", rate=30)
        stream.width, stream.height = size
        for data, keyframe, ts, _ in packets:
            pkt = av.Packet(data)
            pkt.pts = pkt.dts = ts * 9 // 100
            pkt.time_base = Fraction(1, 90000)
            pkt.stream = stream
            pkt.is_keyframe = keyframe
            container.mux(pkt)
    return buf.getvalue()


@pytest.mark.parametrize("fmt", ["mpegts", "mp4"])
def test_frame_numbers_from_containers(world: World, tmp_path: Path, fmt: str) -> None:
    cam, _, out = _record(world, 1.0)
    cam.stop_recording()
    cam.close()
    data = _mux(out.packets, fmt, world.camera.size)
    assert frametag.frame_numbers(data) == list(range(31))
    path = tmp_path / f"clip.{fmt}"
    path.write_bytes(data)
    assert frametag.frame_numbers(path) == list(range(31))


def test_camera_stall_leaves_a_visible_gap(world: World) -> None:
    world.on_frame_origin(lambda t0: world.stall_camera(0.5, at=t0 + 1.0))
    cam, _, out = _record(world, 2.0)
    cam.stop_recording()
    cam.close()
    tags = frametag.frame_numbers(b"".join(p[0] for p in out.packets))
    stalled = [n for n in range(61) if 1.0 <= n * FRAME_US / 1e6 < 1.5]
    assert stalled == list(range(31, 46))  # frame n is exposed at n x 33,333 µs
    assert tags == [*range(0, 31), *range(46, 61)]  # the stalled frames were never captured
    stamps = [p[2] for p in out.packets]
    assert stamps[31] - stamps[30] == 16 * FRAME_US
    assert [f.name for f in world.faults["camera_stall"]] == ["camera_stall"]
    assert world.camera_device.frames_captured == 46


@pytest.mark.parametrize(("board", "lores", "stride"), [
    (Board.PI5, (320, 240), 384),  # PiSP: chroma rows 64-byte aligned, luma twice that
    (Board.PI5, (640, 480), 640),
    (Board.PI4, (320, 240), 320),  # VC4: rows 64-byte aligned
    (Board.PI4, (240, 180), 256),
])
def test_lores_stride_of_each_board(board: Board, lores: tuple[int, int], stride: int) -> None:
    with hw_sim.installed(World(VirtualClock(), board=board)):
        from picamera2 import Picamera2

        cam = Picamera2()
        cam.configure(cam.create_video_configuration(
            main={"size": (1920, 1080), "format": "YUV420"}, lores={"size": lores, "format": "YUV420"}))
        cfg = cam.stream_configuration("lores")
        assert cfg["size"] == lores and cfg["stride"] == stride
        assert cfg["framesize"] == stride * lores[1] * 3 // 2
        assert cam.camera_configuration()["main"]["size"] == (640, 480)  # the simulated camera's
        cam.start()
        w = hw_sim.current()
        w.clock.run(until=w.frame_origin + 0.1)
        arr = cam.capture_array("lores")
        cam.close()
    assert arr.shape == (lores[1] * 3 // 2, stride)  # padding and all, as on the device
    assert not arr[: lores[1], lores[0]:].any()  # the ISP leaves the padding bytes alone


def test_second_open_of_the_camera_fails(world: World) -> None:
    from picamera2 import Picamera2

    cam = Picamera2()
    assert cam.camera_properties["Model"] == "imx708"
    with pytest.raises(RuntimeError, match="did not complete"):
        Picamera2()
    cam.close()
    Picamera2().close()


def test_lores_larger_than_main_is_refused_by_picamera2(world: World) -> None:
    from picamera2 import Picamera2

    cam = Picamera2()
    cfg = cam.create_video_configuration(main={"size": (320, 240)}, lores={"size": (640, 480)})
    with pytest.raises(RuntimeError, match="lores stream dimensions may not exceed main stream"):
        cam.configure(cfg)
    cam.close()


def test_frame_rate_above_the_sensor_mode_is_clamped(world: World) -> None:
    from picamera2 import Picamera2

    cam = Picamera2()
    cam.configure(cam.create_video_configuration(
        main={"size": (1920, 1080), "format": "YUV420"}, controls={"FrameRate": 90}))
    shortest = cam.camera_controls["FrameDurationLimits"][0]
    assert shortest == 17_847  # the 2304x1296 mode picamera2 picks for 1080p: 56 fps at most
    cam.start()
    world.clock.run(until=world.frame_origin + 0.5)
    meta = cam.capture_metadata()
    cam.close()
    assert meta["FrameDuration"] == 17_847


def test_capture_array_blocks_without_timeout_and_stop_queues_behind_it(world: World) -> None:
    """picamera2's own behaviour, which the display must not run into (issue 12, item 1)."""
    cam = _camera(world)
    cam.start()
    world.clock.run(until=world.frame_origin + 0.5)
    world.stall_camera(1000.0)
    world.clock.run(until=world.clock.monotonic() + 1.0)
    results: dict[str, Any] = {}

    def grab() -> None:
        try:
            results["held"] = cam.capture_array("lores")  # the one request picamera2 keeps
            results["lores"] = cam.capture_array("lores")  # waits for the next frame
        except Exception as e:  # cancelled below
            results["lores"] = e

    def stop() -> None:
        try:
            cam.stop()
            results["stop"] = True
        except Exception as e:
            results["stop"] = e

    grabber = threading.Thread(target=grab, daemon=True)
    grabber.start()
    time.sleep(0.3)
    stopper = threading.Thread(target=stop, daemon=True)
    stopper.start()
    world.clock.run(until=world.clock.monotonic() + 5.0)
    stopper.join(1.0)
    assert grabber.is_alive() and stopper.is_alive(), "both wait for a frame that never comes"
    cam.cancel_all_and_flush()
    grabber.join(5)
    stopper.join(5)
    assert not grabber.is_alive() and not stopper.is_alive()
    assert results["held"].shape == (180, 192 if world.board is Board.PI4 else 256)  # strided
    cam.stop()
    cam.close()


def test_pre_callback_draws_on_the_frame_before_it_is_encoded(world: World) -> None:
    from picamera2 import MappedArray
    from picamera2.encoders import H264Encoder

    cam = _camera(world)
    seen: list[tuple[bool, bool]] = []

    def watermark(request: Any) -> None:
        seen.append((threading.current_thread() is threading.main_thread(), cam.lock.locked()))
        with MappedArray(request, "main") as m:
            m.array[200:232, 100:220] = 255  # a white box in the luma plane

    cam.pre_callback = watermark
    out = _collector()(world.clock)
    cam.start_recording(H264Encoder(repeat=True), out)
    world.clock.run(until=world.frame_origin + 0.5)
    cam.stop_recording()
    cam.close()
    assert seen and all(not main and locked for main, locked in seen)  # its thread, its lock
    with av.open(io.BytesIO(_mux(out.packets, "mpegts", world.camera.size))) as c:
        frame = next(c.decode(video=0)).to_ndarray(format="gray")
    assert frame[204:228, 104:216].mean() > 240
    assert frametag.read_tag(frame) == 0  # the rest of the picture is untouched


def test_restart_counts_from_zero_but_keeps_the_origin(world: World) -> None:
    cam, _, out = _record(world, 0.5)
    origin = world.frame_origin
    cam.stop_recording()
    world.clock.run(until=world.clock.monotonic() + 1.0)
    from picamera2.encoders import H264Encoder

    out2 = _collector()(world.clock)
    cam.start_recording(H264Encoder(repeat=True), out2)
    world.clock.run(until=world.clock.monotonic() + 0.2)
    cam.stop_recording()
    cam.close()
    assert world.frame_origin == origin
    assert frametag.frame_numbers(b"".join(p[0] for p in out2.packets)) == list(range(7))
    assert out2.packets[0][2] == 0


def test_the_simulation_is_in_place_only_while_installed() -> None:
    import sys

    before = {n: sys.modules.get(n) for n in ("libcamera", "spidev")}
    with hw_sim.installed(World(VirtualClock())):
        assert sys.modules["libcamera"].__name__ == "hw_sim.libcamera_sim"
        assert sys.modules["spidev"].__name__ == "hw_sim.fake_spidev"
    assert {n: sys.modules.get(n) for n in before} == before


def test_measure_fast_mode_frame_rate_at_default_size(capsys: pytest.CaptureFixture[str]) -> None:
    """Not a pass/fail timing: prints what a scenario costs per simulated second."""
    w = World(VirtualClock())
    with hw_sim.installed(w):
        started = time.perf_counter()
        cam, _, out = _record(w, 3.0)
        elapsed = time.perf_counter() - started
        cam.stop_recording()
        cam.close()
    fps = len(out.packets) / elapsed
    with capsys.disabled():
        print(f"\nhw_sim fast mode, {w.camera.size[0]}x{w.camera.size[1]} picamera2+libav: "
              f"{fps:.0f} frames/s ({fps / w.camera.fps:.1f}x real time)")
    assert len(out.packets) == 91
