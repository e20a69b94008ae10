"""Fake picamera2: frames on the clock, H.264 packets, timestamps, GOPs, tags, stalls."""

from __future__ import annotations

import importlib.util
import io
import re
import sys
import threading
import time
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest

import hw_sim
from hw_sim import frametag
from hw_sim.clock import VirtualClock
from hw_sim.world import CameraSpec, World

SMALL = CameraSpec(size=(320, 240), lores_size=(160, 120))


@pytest.fixture
def world() -> Iterator[World]:
    w = World(VirtualClock(), camera=SMALL)
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


def _record(world: World, seconds: float, **enc: Any) -> tuple[Any, Any, Any]:
    from picamera2 import Picamera2
    from picamera2.encoders import H264Encoder

    cam = Picamera2()
    cam.configure(cam.create_video_configuration(
        main={"size": world.camera.size, "format": "YUV420"},
        lores={"size": world.camera.lores_size, "format": "YUV420"},
        controls={"FrameRate": world.camera.fps}))
    out = _collector()(world.clock)
    encoder = H264Encoder(repeat=True, **enc)
    cam.start_recording(encoder, out)
    world.clock.run(until=world.frame_origin + seconds)
    return cam, encoder, out


def _nal_types(data: bytes) -> list[int]:
    return [data[m.end()] & 0x1F for m in re.finditer(b"\x00\x00\x01", data)]


def test_packets_timestamps_and_gops(world: World) -> None:
    cam, encoder, out = _record(world, 2.0)
    cam.stop_recording()
    assert out.recording is False
    origin = world.frame_origin
    assert origin == 1000.0
    packets = out.packets
    assert len(packets) == 61  # frames 0..60: one packet per frame, t = origin + n/30
    for n, (data, keyframe, ts, t) in enumerate(packets):
        assert t == pytest.approx(origin + n / 30, abs=1e-9)
        assert ts == round(n * 1e6 / 30)  # picamera2: relative to the encoder's first frame
        assert keyframe == (n % 30 == 0)
        assert data.startswith(b"\x00\x00\x00\x01")
        if keyframe:
            assert _nal_types(data)[:2] == [7, 8] and 5 in _nal_types(data)  # SPS PPS IDR
        else:
            assert 7 not in _nal_types(data)
    assert encoder.firsttimestamp == round(origin * 1e6)  # the sensor's boot-time base
    assert frametag.frame_numbers(b"".join(p[0] for p in packets)) == list(range(61))
    # Every keyframe starts a decodable stream on its own.
    assert frametag.frame_numbers(b"".join(p[0] for p in packets[30:])) == list(range(30, 61))


def test_repeat_false_sends_headers_once(world: World) -> None:
    cam, _, out = _record(world, 1.5)
    cam.stop_recording()
    from picamera2.encoders import H264Encoder

    out2 = _collector()(world.clock)
    enc = H264Encoder(repeat=False, iperiod=10)
    cam.start_recording(enc, out2)
    world.clock.run(until=world.clock.monotonic() + 1.0)
    cam.stop_recording()
    sps = [n for n, p in enumerate(out2.packets) if 7 in _nal_types(p[0])]
    keys = [n for n, p in enumerate(out2.packets) if p[1]]
    assert sps == [0] and keys == [0, 10, 20, 30]


def test_tags_survive_default_bitrate_at_default_size() -> None:
    w = World(VirtualClock())  # default CameraSpec: 640x480, picamera2's bitrate rule
    with hw_sim.installed(w):
        cam, encoder, out = _record(w, 1.0)
        cam.stop_recording()
    # picamera2's rule: Quality.MEDIUM is 7 Mbit/s at 1080p30, scaled by sqrt(pixel rate)
    assert w.camera.size == (640, 480)
    assert encoder.bitrate == int(7_000_000 * (640 * 480 / (1920 * 1080)) ** 0.5)
    assert frametag.frame_numbers(b"".join(p[0] for p in out.packets)) == list(range(31))


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
    data = _mux(out.packets, fmt, world.camera.size)
    assert frametag.frame_numbers(data) == list(range(31))
    path = tmp_path / f"clip.{fmt}"
    path.write_bytes(data)
    assert frametag.frame_numbers(path) == list(range(31))


def test_camera_stall_leaves_a_visible_gap(world: World) -> None:
    world.on_frame_origin(lambda t0: world.stall_camera(0.5, at=t0 + 1.0))
    cam, _, out = _record(world, 2.0)
    cam.stop_recording()
    tags = frametag.frame_numbers(b"".join(p[0] for p in out.packets))
    assert tags == [*range(0, 30), *range(45, 61)]  # frames 30..44 never captured
    stamps = [p[2] for p in out.packets]
    assert stamps[30] - stamps[29] == round(45e6 / 30) - round(29e6 / 30)
    assert [f.name for f in world.faults["camera_stall"]] == ["camera_stall"]
    assert cam.frames_captured == 46


def test_force_size_and_read_back(world: World) -> None:
    from picamera2 import Picamera2

    cam = Picamera2()
    cfg = cam.create_video_configuration(main={"size": (1920, 1080), "format": "YUV420"},
                                         lores={"size": (240, 240), "format": "YUV420"})
    assert cfg["main"]["size"] == (1920, 1080) and cfg["lores"]["format"] == "YUV420"
    cam.configure(cfg)
    assert cam.camera_configuration()["main"]["size"] == (320, 240)  # the simulated camera's
    assert cam.stream_configuration("lores")["size"] == (240, 240)  # honoured
    assert cam.camera_properties["Model"] == "imx708"
    with pytest.raises(RuntimeError, match="busy"):
        Picamera2()
    cam.close()
    Picamera2().close()


def test_capture_array_from_another_thread(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    from picamera2 import Picamera2

    from hw_sim.fake_picamera2 import picamera2 as fake

    monkeypatch.setattr(fake, "FIRST_FRAME_WAIT", 0.1)
    cam = Picamera2()
    cam.configure(cam.create_video_configuration(
        main={"size": (320, 240), "format": "XBGR8888"},
        lores={"size": (160, 120), "format": "YUV420"}))
    with pytest.raises(RuntimeError, match="no frame"):
        cam.capture_array("lores")  # not started: waits FIRST_FRAME_WAIT, then raises
    cam.start()
    grabbed: list[np.ndarray] = []

    def display_thread() -> None:
        grabbed.append(cam.capture_array("lores"))  # waits for the first frame

    th = threading.Thread(target=display_thread)
    th.start()
    world.clock.run(until=world.frame_origin + 0.5)
    th.join(5)
    assert grabbed and grabbed[0].shape == (180, 160) and grabbed[0].dtype == np.uint8
    lores = cam.capture_array("lores")
    lores[:] = 0  # a copy: the camera's frame is untouched
    assert cam.capture_array("lores").any()
    rgba = cam.capture_array("main")
    assert rgba.shape == (240, 320, 4) and (rgba[..., 3] == 255).all()
    yuv_ts = cam.capture_metadata()["SensorTimestamp"]
    assert yuv_ts == round(1000.0 * 1e6) * 1000 + round(15 * 1e6 / 30) * 1000  # frame 15
    cam.close()


def test_restart_counts_from_zero_but_keeps_the_origin(world: World) -> None:
    cam, _, out = _record(world, 0.5)
    origin = world.frame_origin
    cam.stop_recording()
    world.clock.run(until=world.clock.monotonic() + 1.0)
    from picamera2.encoders import H264Encoder

    out2 = _collector()(world.clock)
    cam.start_recording(H264Encoder(), out2)
    world.clock.run(until=world.clock.monotonic() + 0.2)
    cam.stop_recording()
    assert world.frame_origin == origin
    assert frametag.frame_numbers(b"".join(p[0] for p in out2.packets)) == list(range(7))
    assert out2.packets[0][2] == 0


def test_spidev_is_registered_only_if_the_display_sim_provides_it() -> None:
    has_spidev = importlib.util.find_spec("hw_sim.fake_spidev") is not None
    before = sys.modules.get("spidev")
    with hw_sim.installed(World(VirtualClock())):
        if has_spidev:
            assert sys.modules["spidev"].__name__ == "hw_sim.fake_spidev"
        else:
            assert sys.modules.get("spidev") is before
    assert sys.modules.get("spidev") is before


def test_measure_fast_mode_frame_rate_at_default_size(capsys: pytest.CaptureFixture[str]) -> None:
    """Not a pass/fail timing: prints what a scenario costs per simulated second."""
    w = World(VirtualClock())
    with hw_sim.installed(w):
        started = time.perf_counter()
        cam, _, out = _record(w, 3.0)
        elapsed = time.perf_counter() - started
        cam.stop_recording()
    fps = len(out.packets) / elapsed
    with capsys.disabled():
        print(f"\nhw_sim fast mode, {w.camera.size[0]}x{w.camera.size[1]} render+encode: "
              f"{fps:.0f} frames/s ({fps / w.camera.fps:.1f}x real time)")
    assert len(out.packets) == 91
