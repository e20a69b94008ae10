"""Put the real rpi-lgpio package (``RPi.GPIO``) on top of the simulated ``lgpio``.

:func:`install` makes the next ``import lgpio`` execute ``hw_sim/fake_lgpio.py``
afresh (an import finder, so the binding's import-time work, its notification
FIFO, happens at the moment the real one's does) and forgets any imported
``RPi.GPIO``, so the driver's ``import RPi.GPIO`` runs rpi-lgpio's own module code
from the start for each simulated device: a new process's state, no leftovers.

rpi-lgpio reads the board's revision at import (``RPI_INFO``) from the device
tree, or from ``RPI_LGPIO_REVISION``; the simulation sets that variable for the
world's board, and ``RPI_LGPIO_CHIP=0`` instead of letting it search the host's
/sys/bus/gpio (RPi/GPIO/__init__.py:411-515 of rpi-lgpio 0.6).
"""

from __future__ import annotations

import importlib.abc
import importlib.util
import os
import sys
from pathlib import Path
from typing import Any

#: New-style revision codes (rpi-lgpio decodes them): a 4 GB Pi 4 B and a 4 GB Pi 5 B.
REVISIONS = {"pi4": "c03114", "pi5": "c04170"}
_MODULES = ("lgpio", "RPi", "RPi.GPIO")
_ENV = ("RPI_LGPIO_REVISION", "RPI_LGPIO_CHIP")
_MISSING = object()
_FAKE = Path(__file__).with_name("fake_lgpio.py")


class _Finder(importlib.abc.MetaPathFinder):
    """Answers ``import lgpio`` with a fresh execution of hw_sim/fake_lgpio.py."""

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> Any:
        if fullname != "lgpio":
            return None
        return importlib.util.spec_from_file_location("lgpio", _FAKE)


_finder = _Finder()
_saved: dict[str, Any] | None = None


def board_of(world: Any) -> str:
    """The world's board profile name (``pi4``/``pi5``; pi5 when the world names none)."""
    board = getattr(world, "board", "pi5")
    return str(getattr(board, "value", board))


def install(world: Any) -> None:
    """Route ``import lgpio`` to the simulation and start ``RPi.GPIO`` afresh for ``world``."""
    global _saved
    if _saved is None:
        _saved = {name: sys.modules.get(name, _MISSING) for name in _MODULES}
        _saved |= {f"env:{k}": os.environ.get(k, _MISSING) for k in _ENV}
    _stop_notify_thread()
    for name in _MODULES:
        sys.modules.pop(name, None)
    if _finder not in sys.meta_path:
        sys.meta_path.insert(0, _finder)
    os.environ["RPI_LGPIO_REVISION"] = REVISIONS.get(board_of(world), REVISIONS["pi5"])
    os.environ["RPI_LGPIO_CHIP"] = "0"


def uninstall() -> None:
    """Undo :func:`install`: modules and environment as they were."""
    global _saved
    if _finder in sys.meta_path:
        sys.meta_path.remove(_finder)
    if _saved is None:
        return
    _stop_notify_thread()
    for name in _MODULES:
        mod = _saved[name]
        if mod is _MISSING:
            sys.modules.pop(name, None)
        else:
            sys.modules[name] = mod
    for key in _ENV:
        value = _saved[f"env:{key}"]
        if value is _MISSING:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    _saved = None


def _stop_notify_thread() -> None:
    """The simulated lgpio of the world going away stops its notification thread."""
    lgpio = sys.modules.get("lgpio")
    notify = getattr(lgpio, "_notify_thread", None)
    if notify is not None and Path(getattr(lgpio, "__file__", "")) == _FAKE:
        notify.stop()
