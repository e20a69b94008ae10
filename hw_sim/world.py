"""The simulated world: one clock, one camera, one pin bank, a button, faults and an event log.

The fake libraries find their world through :func:`current`, the way gpiozero's
devices find their pin factory, so the drivers never have to know they are
simulated. :func:`hw_sim.install` sets it; tests may also call :func:`set_current`.

Times given to the world's methods (``press(at=...)``, ``stall_camera(at=...)``)
are on the clock's monotonic timeline, like ``clock.call_at``; scenario files use
seconds from the camera's first frame and convert with :meth:`World.at`.
"""

from __future__ import annotations

import logging
import os
import random
import signal
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from hw_sim.board import Board
from hw_sim.clock import VirtualClock
from hw_sim.pins import PinBank
from hw_sim.registry import current as current  # re-exported: the fakes used to find it here
from hw_sim.registry import set_current as set_current

_log = logging.getLogger(__name__)

#: How long a single press holds the button down (seconds).
PRESS_SECONDS = 0.150
#: Start-to-start distance of the two presses of a double press (seconds).
DOUBLE_PRESS_GAP = 0.250
#: Contact bounce on each transition: this many extra (away, back) edge pairs...
BOUNCE_PAIRS = (2, 4)
#: ...each edge this many seconds after the previous one (uniform), so a
#: transition settles within about 1-6 ms.
BOUNCE_GAP = (0.0001, 0.0008)

#: Faults the world knows; scenario actions with the same names inject them.
FAULTS = ("camera_stall", "clock_step", "storage_full", "storage_free", "storage_readonly",
          "io_error", "power_cut", "mic_fail", "mic_back")


@dataclass(frozen=True)
class CameraSpec:
    """What the simulated camera delivers.

    ``size`` is the main stream the fake renders and encodes. With ``force_size``
    (the default) it wins over the size a driver asks for, the way a camera may
    adjust a requested configuration: the firmware's 1080p device config then
    still runs fast in CI. Drivers must read the size back from the configuration
    after ``configure()``. 640x480 renders and encodes at about 500-600 frames a
    second on one core of the CI machine (docs/SIMULATION.md), so the camera's
    share of a 60 s scenario at 30 fps is about 3 s.

    ``bitrate`` is used when the encoder names neither bitrate, qp nor quality;
    None means picamera2's own rule (Quality.MEDIUM scaled to the frame size).
    """

    size: tuple[int, int] = (640, 480)
    fps: float = 30.0
    gop_seconds: float = 1.0
    bitrate: int | None = None
    lores_size: tuple[int, int] = (320, 240)
    model: str = "imx708"
    force_size: bool = True

    def __post_init__(self) -> None:
        w, h = self.size
        if w < 64 or h < 64 or w % 2 or h % 2:
            raise ValueError(f"camera size {self.size} must be even and at least 64x64")
        lw, lh = self.lores_size
        if lw < 2 or lh < 2 or lw % 2 or lh % 2:
            raise ValueError(f"lores size {self.lores_size} must be even")
        if self.fps <= 0 or self.gop_seconds <= 0:
            raise ValueError("fps and gop_seconds must be positive")


@dataclass(frozen=True)
class Fault:
    """One injected fault: its name, when (monotonic seconds) and its parameters."""

    name: str
    at: float
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Event:
    """A line of the world's log: monotonic time, what happened, details."""

    t: float
    kind: str
    detail: dict[str, Any] = field(default_factory=dict)


class World:
    """Everything the fake libraries share (see the module docstring)."""

    def __init__(
        self,
        clock: VirtualClock,
        *,
        camera: CameraSpec | None = None,
        button_pin: int = 17,
        button_active_low: bool = True,
        seed: int = 0,
        board: Board = Board.PI5,
    ) -> None:
        self.clock = clock
        self.board = board
        self.camera = camera if camera is not None else CameraSpec()
        self.button_pin = button_pin
        self.button_active_low = button_active_low
        self.seed = seed
        self.rng = random.Random(seed)
        self.events: list[Event] = []
        self.faults: dict[str, list[Fault]] = {}
        self.gpio = PinBank(clock)
        #: Monotonic time of the camera's first frame (frame tag 0); None before it starts.
        self.frame_origin: float | None = None
        self._origin_hooks: list[Callable[[float], Any]] = []
        self._fault_hooks: dict[str, list[Callable[[Fault], Any]]] = {}
        self._stalls: list[tuple[float, float]] = []
        self._start_failures = 0
        #: The simulated libcamera camera (one, as on the device), or None.
        self.camera_device: Any = None
        #: The microphone's sample clock against the sensor's, in ppm (+ = fast).
        self.mic_clock_ppm = 0.0
        #: The microphone is unplugged (hw_sim.fake_alsaaudio raises ENODEV).
        self.mic_failed = False
        #: Counts unplug events: a stream opened before one stays dead after mic_back.
        self.mic_generation = 0
        #: The simulated evidence medium (``hw_sim.fake_storage.StorageSim``), once attached.
        self.medium: Any = None
        #: What power_cut() does; tests may replace it (default: SIGKILL this process).
        #: A replacement should raise: nothing of the firmware may run after a cut.
        self.power_cut_action: Callable[[], Any] = _kill_self
        #: Operations on the medium so far (storage calls, TPM counter increments).
        self.op_count = 0
        #: One dict per operation when tracing (``[]`` turns it on), else None.
        self.op_trace: list[dict[str, Any]] | None = None
        self._cut_after_op: tuple[int, dict[str, Any]] | None = None

    # -- log and time base --------------------------------------------------

    def log(self, kind: str, **detail: Any) -> None:
        """Append to :attr:`events` with the current monotonic time."""
        self.events.append(Event(self.clock.monotonic(), kind, detail))

    def on_frame_origin(self, fn: Callable[[float], Any]) -> None:
        """Call ``fn(origin)`` once the camera's first frame time is known (now if it is)."""
        if self.frame_origin is not None:
            fn(self.frame_origin)
        else:
            self._origin_hooks.append(fn)

    def set_frame_origin(self, t: float) -> None:
        """Bind scenario time 0 to monotonic ``t`` (the simulated camera's first start)."""
        if self.frame_origin is not None:
            return
        self.frame_origin = t
        self.log("frame_origin", t=t)
        hooks, self._origin_hooks = self._origin_hooks, []
        for fn in hooks:
            fn(t)

    def at(self, scenario_seconds: float) -> float:
        """The monotonic time of a scenario time (seconds from frame 0)."""
        if self.frame_origin is None:
            raise RuntimeError("scenario time is undefined before the camera's first frame")
        return self.frame_origin + scenario_seconds

    # -- the button ---------------------------------------------------------

    def press(self, at: float | None = None) -> None:
        """A single press: down at ``at`` for :data:`PRESS_SECONDS`, with bounce."""
        self.hold(at, PRESS_SECONDS, action="press")

    def double_press(self, at: float | None = None) -> None:
        """Two presses :data:`DOUBLE_PRESS_GAP` apart (start to start)."""
        t = self.clock.monotonic() if at is None else at
        self.hold(t, PRESS_SECONDS, action="double_press")
        self.hold(t + DOUBLE_PRESS_GAP, PRESS_SECONDS, action="double_press")

    def hold(self, at: float | None, seconds: float, *, action: str = "hold") -> None:
        """Hold the button down from ``at`` for ``seconds``, bouncing on both transitions."""
        if seconds <= 0:
            raise ValueError("a hold must last a positive time")
        t = self.clock.monotonic() if at is None else at
        self.clock.call_at(t, partial(self.log, "button", action=action, edge="down"))
        self._bounce(t, True)
        self.clock.call_at(t + seconds, partial(self.log, "button", action=action, edge="up"))
        self._bounce(t + seconds, False)

    def _bounce(self, t: float, down: bool) -> None:
        """Schedule a bouncing transition: settle, then a few sub-ms away-and-back pairs."""
        when = t
        self._contact(down, when)
        for _ in range(self.rng.randint(*BOUNCE_PAIRS)):
            when += self.rng.uniform(*BOUNCE_GAP)
            self._contact(not down, when)
            when += self.rng.uniform(*BOUNCE_GAP)
            self._contact(down, when)

    def _contact(self, closed: bool, at: float) -> None:
        """Closed contacts drive the pin to the active level; open ones leave it to the pull."""
        if closed:
            self.gpio.drive(self.button_pin, 0 if self.button_active_low else 1, at=at)
        else:
            self.gpio.release(self.button_pin, at=at)

    # -- faults -------------------------------------------------------------

    def on_fault(self, name: str, callback: Callable[[Fault], Any]) -> None:
        """Subscribe to a fault (e.g. the storage layer to ``storage_full``)."""
        if name not in FAULTS:
            raise ValueError(f"unknown fault {name!r}; expected one of {', '.join(FAULTS)}")
        self._fault_hooks.setdefault(name, []).append(callback)

    def inject_fault(self, name: str, **params: Any) -> Fault:
        """Record a fault now and call its subscribers synchronously (only logs if none)."""
        if name not in FAULTS:
            raise ValueError(f"unknown fault {name!r}; expected one of {', '.join(FAULTS)}")
        fault = Fault(name, self.clock.monotonic(), dict(params))
        self.faults.setdefault(name, []).append(fault)
        self.log("fault", name=name, **params)
        hooks = self._fault_hooks.get(name, [])
        if not hooks and name in ("storage_full", "storage_readonly", "io_error"):
            _log.warning("fault %s %s injected but nothing subscribed to it", name, params)
        for fn in list(hooks):
            fn(fault)
        return fault

    def stall_camera(self, seconds: float, at: float | None = None) -> None:
        """The sensor delivers no frames for ``seconds`` from ``at`` (monotonic; default now)."""
        if seconds <= 0:
            raise ValueError("a camera stall must last a positive time")
        t = self.clock.monotonic() if at is None else at
        self._stalls.append((t, t + seconds))
        self.clock.call_at(t, partial(self.inject_fault, "camera_stall", seconds=seconds))

    def fail_camera_starts(self, times: int = 1) -> None:
        """The next ``times`` camera starts fail (libcamera's start() returns an error)."""
        self._start_failures += times

    def camera_start_fails(self) -> bool:
        """Consume one planned start failure (called by the simulated camera)."""
        if self._start_failures > 0:
            self._start_failures -= 1
            self.log("camera_start_failed")
            return True
        return False

    def camera_stalled(self, t: float) -> bool:
        """Whether a frame captured at monotonic ``t`` falls in a stall."""
        return any(start <= t < end for start, end in self._stalls)

    def step_clock(self, seconds: float) -> None:
        """Step the wall clock now (an NTP correction or a bad RTC), as a logged fault."""
        self.clock.step(seconds)
        self.inject_fault("clock_step", seconds=seconds)

    def mic_fail(self) -> None:
        """Unplug the microphone now: open streams fail, new ones cannot open."""
        self.mic_failed = True
        self.mic_generation += 1
        self.inject_fault("mic_fail")

    def mic_back(self) -> None:
        """Plug the microphone in again: a new stream can be opened."""
        self.mic_failed = False
        self.inject_fault("mic_back")

    def power_cut(self, mode: str = "strict", seed: int = 0) -> None:
        """Die at once like a pulled battery: no finally blocks, no atexit, no flush.

        The simulated medium (``hw_sim.fake_storage``) subscribes to the fault and
        leaves on disk only what was durable (``mode`` strict) or that plus a seeded
        random prefix of what was pending (torn). Only a test that replaced
        :attr:`power_cut_action` sees this return; the clock is then stopped.
        """
        self._cut_after_op = None
        self.inject_fault("power_cut", mode=mode, seed=seed)
        self.power_cut_action()
        self.clock.stop()

    # -- operations on the medium: the points where power can fail ----------

    def medium_op(self, kind: str, **detail: Any) -> None:
        """Something that decides what survives a power cut just happened: a storage
        write, fsync, create, rename or unlink (the simulated medium reports those),
        or, for a simulated TPM, a counter increment (call this right after it).

        It is counted (and traced, if :attr:`op_trace` is a list); if a cut was
        asked for after this many operations (:meth:`cut_after_op`), the power
        fails here, before the caller's next line runs.
        """
        self.op_count += 1
        if self.op_trace is not None:
            origin = self.frame_origin
            t = None if origin is None else round(self.clock.monotonic() - origin, 6)
            self.op_trace.append({"op": self.op_count, "t": t, "kind": kind, **detail})
        cut = self._cut_after_op
        if cut is not None and self.op_count >= cut[0]:
            self.power_cut(**cut[1])

    def cut_after_op(self, op: int, mode: str = "strict", seed: int = 0) -> None:
        """Cut the power right after operation number ``op`` (counted from 1)."""
        if op < 1:
            raise ValueError("operations are numbered from 1")
        self._cut_after_op = (op, {"mode": mode, "seed": seed})
        if self.op_count >= op:
            self.power_cut(mode, seed)


def _kill_self() -> None:
    os.kill(os.getpid(), signal.SIGKILL)
