"""picamera2's pre_callback in the simulated camera, and the camera driver's use of it."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import numpy as np
import pytest

import hw_sim
from hw_sim import frametag
from hw_sim.clock import VirtualClock
from hw_sim.world import CameraSpec, World
from recorder.packet import Packet

SMALL = CameraSpec(size=(320, 240), lores_size=(160, 120))


@pytest.fixture
def world() -> Iterator[World]:
    w = World(VirtualClock(), camera=SMALL)
    with hw_sim.installed(w):
        yield w


def test_pre_callback_runs_per_frame_before_encoding_and_its_drawing_is_encoded(world) -> None:
    from picamera2 import MappedArray, Picamera2
    from picamera2.encoders import H264Encoder
    from picamera2.outputs import Output

    events: list[tuple[str, int]] = []

    class Collect(Output):
        def __init__(self) -> None:
            super().__init__()
            self.data: list[bytes] = []

        def outputframe(self, frame, keyframe=True, timestamp=None, packet=None, audio=False):
            events.append(("encoded", encoder.firsttimestamp + timestamp))
            self.data.append(frame)

    cam = Picamera2()
    cam.configure(cam.create_video_configuration(
        main={"size": (320, 240), "format": "YUV420"}, lores={"size": (160, 120), "format": "YUV420"}))

    def draw(request) -> None:
        assert world.clock.on_clock_thread() and cam.lock.locked()
        sensor_us = int(request.get_metadata()["SensorTimestamp"] / 1000)
        events.append(("callback", sensor_us))
        with MappedArray(request, "main") as m:
            assert m.array.shape == (240 * 3 // 2, 320)  # (h*3//2, stride), as picamera2 maps it
            m.array[100:140, 100:140] = 235  # a white square in the luma plane

    cam.pre_callback = draw
    encoder = H264Encoder()
    out = Collect()
    cam.start_recording(encoder, out)
    world.clock.run(until=world.frame_origin + 0.5)
    lores = cam.capture_array("lores")
    cam.stop_recording()
    # One callback per frame, each before that frame's packet, with the packet's timestamp.
    assert len(events) == 2 * 16
    for i in range(0, len(events), 2):
        assert events[i][0] == "callback" and events[i + 1][0] == "encoded"
        assert events[i][1] == events[i + 1][1]
    import av

    with av.open(io.BytesIO(b"".join(out.data)), format="h264") as c:
        luma = [f.to_ndarray(format="gray") for f in c.decode(video=0)]
    assert all(y[110:130, 110:130].mean() > 220 for y in luma)
    assert [frametag.read_tag(y) for y in luma] == list(range(16))
    # The lores stream is the ISP's own output on the device: not drawn on.
    assert lores[50:70, 50:70].mean() < 200


def _camera(world: World, painter, packets: list[Packet]):
    from drivers.camera import Camera

    return Camera(world.clock, packets.append, width=320, height=240, fps=30, bitrate=1_000_000,
                  gop_seconds=1.0, lores=(160, 120), painter=painter)


def test_the_driver_paints_the_main_stream_with_each_frames_packet_time(world) -> None:
    seen: list[tuple[tuple[int, int], int]] = []

    def painter(frame: np.ndarray, size: tuple[int, int], sensor_us: int) -> None:
        seen.append((size, sensor_us))
        frame[:size[1]][200:220, 20:60] = 16

    packets: list[Packet] = []
    cam = _camera(world, painter, packets)
    cam.start()
    world.clock.run(until=world.frame_origin + 1.0)
    cam.close()
    assert [s for s, _ in seen] == [(320, 240)] * len(seen)
    assert [t for _, t in seen] == [p.pts_us for p in packets]


def test_a_failing_painter_never_stops_the_camera(world, caplog) -> None:
    def painter(frame: np.ndarray, size: tuple[int, int], sensor_us: int) -> None:
        raise RuntimeError("font missing")

    packets: list[Packet] = []
    cam = _camera(world, painter, packets)
    with caplog.at_level(logging.ERROR):
        cam.start()
        world.clock.run(until=world.frame_origin + 1.0)
    cam.close()
    assert len(packets) == 31 and cam.paint_failures == 31
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors == ["watermark not drawn (RuntimeError: font missing); recording continues"]
