"""The simulated device: the whole simulated hardware a configuration describes, wired up.

``bodycam run --sim``, ``bodycam doctor --sim``, the benchmarks and the tests
build it here: a world on a virtual clock with the configuration's camera and
button, the fake libraries installed under their real names (``hw_sim.install``),
and the simulated evidence medium under the data directory (``world.medium``).
Only a plain configuration mapping is read; nothing of ``firmware/`` is imported.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import hw_sim
from hw_sim.board import parse_board
from hw_sim.clock import VirtualClock
from hw_sim.fake_storage import StorageSim
from hw_sim.world import CameraSpec, World


@contextmanager
def simulated_device(conf: Mapping[str, Mapping[str, Any]], fast: bool, *,
                     start_utc: float | None = None,
                     trace: str | os.PathLike[str] | None = None,
                     board: str = "pi5") -> Iterator[World]:
    """The simulated hardware under the drivers, the simulated medium under the data
    directory included (faults, power cuts, the operation ``trace``); the wall clock
    starts at ``start_utc`` (the virtual clock's fixed start if None); everything is
    put back on exit. ``board``: pi4 or pi5 (what the simulated kernel offers)."""
    cam = conf["camera"]
    world = World(
        VirtualClock(fast=fast) if start_utc is None else VirtualClock(fast=fast, start_utc=start_utc),
        camera=CameraSpec(
            size=(cam["width"], cam["height"]),
            fps=cam["fps"],
            gop_seconds=cam["gop_seconds"],
            bitrate=cam["bitrate"],
            lores_size=(cam["lores_width"], cam["lores_height"]),
        ),
        button_pin=conf["button"]["pin"],
        button_active_low=conf["button"]["active_low"],
        board=parse_board(board),
    )
    storage = StorageSim(world, conf["storage"]["data_dir"], trace=trace)
    world.medium = storage
    hw_sim.install(world)
    storage.install()
    try:
        yield world
    finally:
        storage.close()
        hw_sim.uninstall()
        from hw_sim import fake_spidev

        fake_spidev.reset()  # the simulated panel goes with the world
