"""Shared test helpers: small real H.264 streams whose frames carry the frame tag."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from fractions import Fraction

import av
import numpy as np
import pytest

import hw_sim
from hw_sim.clock import VirtualClock
from hw_sim.frametag import draw_tag
from hw_sim.world import World
from recorder.packet import Packet

BASE_US = 7_000_000_000


@functools.lru_cache(maxsize=8)
def _encode(frames: int, fps: int, gop: int, width: int, height: int) -> tuple[Packet, ...]:
    enc = av.CodecContext.create("libx264", "w")
    enc.width, enc.height, enc.pix_fmt = width, height, "yuv420p"
    enc.time_base = Fraction(1, 1_000_000)
    enc.framerate = fps
    enc.options = {
        "preset": "ultrafast", "tune": "zerolatency", "bf": "0",
        "x264-params": f"keyint={gop}:min-keyint={gop}:scenecut=0:repeat-headers=1",
    }
    out: list[Packet] = []
    yuv = np.full((height * 3 // 2, width), 128, np.uint8)
    for n in range(frames):
        yuv[:height] = (np.arange(width)[None, :] + n * 3) % 200 + 20
        draw_tag(yuv[:height], n)
        frame = av.VideoFrame.from_ndarray(yuv, format="yuv420p")
        frame.pts = round(n * 1e6 / fps)
        for p in enc.encode(frame):
            out.append(Packet(bytes(p), bool(p.is_keyframe), BASE_US + p.pts))
    for p in enc.encode(None):
        out.append(Packet(bytes(p), bool(p.is_keyframe), BASE_US + p.pts))
    return tuple(out)


def h264_stream(
    frames: int, fps: int = 30, gop: int = 30, size: tuple[int, int] = (160, 120)
) -> list[Packet]:
    """``frames`` packets, one per frame, frame n tagged n and stamped BASE_US + n/fps."""
    return list(_encode(frames, fps, gop, *size))


@pytest.fixture
def world() -> Iterator[World]:
    """A simulated world on a fast virtual clock, installed under the drivers."""
    w = World(VirtualClock(fast=True))
    hw_sim.install(w)
    yield w
    hw_sim.uninstall()


@pytest.fixture(scope="module")
def swtpm() -> Iterator[str]:
    """A real TPM 2.0 emulator (swtpm) for this module: its TCTI string."""
    from tests.swtpm import swtpm_tcti
    yield from swtpm_tcti()
