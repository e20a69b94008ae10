"""The frame tag: geometry, exact round trip, and the synthetic scene it is drawn on."""

from __future__ import annotations

import numpy as np
import pytest

from hw_sim import frametag
from hw_sim.scene import Scene


def test_block_geometry() -> None:
    assert frametag.block_height(480) == 16
    assert frametag.block_height(1080) == 36
    assert frametag.block_height(120) == 8  # at least 8 px
    y = np.zeros((480, 640), np.uint8)
    frametag.draw_tag(y, 0b1 << 31 | 1)  # MSB and LSB set
    assert (y[:16, :20] == frametag.WHITE).all()  # block 0 = MSB, 640/32 = 20 px wide
    assert (y[:16, 20:620] == frametag.BLACK).all()
    assert (y[:16, 620:] == frametag.WHITE).all()
    assert (y[16:] == 0).all()  # nothing below the tag row


@pytest.mark.parametrize("size", [(640, 480), (320, 240), (330, 250), (160, 120), (1920, 1080)])
def test_round_trip_any_size(size: tuple[int, int]) -> None:
    w, h = size
    rng = np.random.default_rng(5)
    y = rng.integers(0, 256, (h, w), dtype=np.uint8)
    for n in [0, 1, 2**31, 2**32 - 1, *rng.integers(0, 2**32, 20).tolist()]:
        frametag.draw_tag(y, int(n))
        assert frametag.read_tag(y) == n


def test_out_of_range_numbers_are_refused() -> None:
    y = np.zeros((240, 320), np.uint8)
    with pytest.raises(ValueError):
        frametag.draw_tag(y, -1)
    with pytest.raises(ValueError):
        frametag.draw_tag(y, 2**32)


def test_scene_moves_and_carries_the_tag() -> None:
    scene = Scene(320, 240)
    a = scene.render(7, 7 / 30, 1_768_464_000.0)
    b = scene.render(8, 8 / 30, 1_768_464_000.0 + 1 / 30)
    assert a.shape == (360, 320) and a.dtype == np.uint8
    assert frametag.read_tag(a[:240]) == 7 and frametag.read_tag(b[:240]) == 8
    changed = np.count_nonzero(a[40:240] != b[40:240])  # below tag and text: the motion
    assert changed > 500
    assert not np.array_equal(a[8:30], b[8:30])  # the printed frame number changed
    with pytest.raises(ValueError):
        Scene(321, 240)
