"""Which simulated world is installed: the one place the fake libraries look it up.

``hw_sim.install`` sets it; the fakes call :func:`current` on every use, the way
gpiozero's devices find their pin factory. It has a module of its own so that
the fakes (which ``hw_sim.world`` builds on) and the world do not import each
other.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from hw_sim.world import World

_current: World | None = None


def current() -> World:
    """The installed world; the fake libraries call this on every use."""
    if _current is None:
        raise RuntimeError(
            "no simulated world is installed: call hw_sim.install(World(VirtualClock())) "
            "before using the fake picamera2 / lgpio / spidev"
        )
    return _current


def set_current(world: World | None) -> None:
    """Make ``world`` the one the fakes use (None: none)."""
    global _current
    _current = world
