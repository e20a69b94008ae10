"""The simulated world *under* the drivers and libraries.

``install(world)`` puts the simulated layers into ``sys.modules`` under their
real names before any driver is imported, so ``drivers/`` runs unchanged on top
of them (gpiozero's mock pin factory is the model). The camera is the real
picamera2 package over a simulated ``libcamera`` (:mod:`hw_sim.libcamera_sim`)
and simulated kernel devices (:mod:`hw_sim.kernel`); GPIO is the real rpi-lgpio
over a simulated lgpio; SPI is a fake spidev. See docs/SIMULATION.md.
"""

from __future__ import annotations

import importlib
import sys
import types
from collections.abc import Iterator
from contextlib import contextmanager

from hw_sim.registry import current, set_current
from hw_sim.world import World

__all__ = ["install", "uninstall", "installed", "World", "current", "set_current"]

#: Module names the simulation takes over, in install order.
FAKED = ("libcamera", "prctl", "pykms", "spidev", "alsaaudio")

_MISSING = object()
_saved: dict[str, object] | None = None


def install(world: World) -> None:
    """Register the fake libraries under their real names and make ``world`` current.

    ``spidev`` is registered only if ``hw_sim.fake_spidev`` exists (the display
    simulation provides it). Installing again replaces the world and keeps the
    originals saved by the first install, so :func:`uninstall` restores them.
    """
    global _saved
    from hw_sim import fake_alsaaudio, kernel, lgpio_loader, libcamera_sim, prctl_shim, pykms_sim

    fakes: dict[str, types.ModuleType] = {"libcamera": libcamera_sim, "prctl": prctl_shim,
                                           "pykms": pykms_sim, "alsaaudio": fake_alsaaudio}
    spidev = _optional("hw_sim.fake_spidev")
    if spidev is not None:
        fakes["spidev"] = spidev
    if _saved is None:
        _saved = {name: sys.modules.get(name, _MISSING) for name in FAKED}
    for name in FAKED:
        if name in fakes:
            sys.modules[name] = fakes[name]
    lgpio_loader.install(world)  # RPi.GPIO is the real rpi-lgpio over a simulated lgpio
    set_current(world)
    kernel.KERNEL.board = world.board
    kernel.install_finder()
    _forget_picamera2()


def _forget_picamera2() -> None:
    """picamera2 probes the board once, at import, and keeps one CameraManager per class:
    each world gets a fresh import, so no camera or board of an earlier world lingers."""
    for name in [n for n in sys.modules if n == "picamera2" or n.startswith("picamera2.")]:
        del sys.modules[name]


def uninstall() -> None:
    """Put back whatever the names meant before :func:`install`; no world is current."""
    global _saved
    from hw_sim import lgpio_loader

    _forget_picamera2()
    lgpio_loader.uninstall()
    if _saved is not None:
        for name, mod in _saved.items():
            if mod is _MISSING:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = mod  # type: ignore[assignment]
        _saved = None
    set_current(None)


@contextmanager
def installed(world: World) -> Iterator[World]:
    """``with installed(world):`` install for the block, uninstall after (tests)."""
    install(world)
    try:
        yield world
    finally:
        uninstall()


def _optional(name: str) -> types.ModuleType | None:
    """Import ``name`` if the module exists; a missing dependency *inside* it still raises."""
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name == name:
            return None
        raise
