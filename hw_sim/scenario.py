"""Scenario files: a scripted timeline of button actions and faults (TOML).

```toml
duration = 40.0            # seconds of scenario time, > 0
[[event]]
at = 12.0                  # seconds after the camera's first frame (frame tag 0)
action = "press"
```

Every key is checked, and a mistake is reported as :class:`ScenarioError`, one line
naming the file, the line and the key, because a person edits these by hand and a
scenario that silently skips an event makes a test pass for the wrong reason.
The keys of each action are listed in :data:`ACTIONS` and in docs/SIMULATION.md.

Scenario time 0 is the simulated camera's first frame: :meth:`Scenario.schedule`
waits for ``world.frame_origin`` (set by the fake camera's first ``start()``) and
then schedules every event on the world's clock.
"""

from __future__ import annotations

import math
import re
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from hw_sim.clock import CLOCK_SOURCES
from hw_sim.world import World


class ScenarioError(ValueError):
    """A scenario file is invalid; ``str()`` is one line: file, line number, key, problem."""


_NUMBER = "number"
_INT = "integer"
_STRING = "string"


@dataclass(frozen=True)
class _Key:
    kind: str
    required: bool = False
    default: Any = None
    check: Callable[[Any], str | None] | None = None  # returns a problem or None


def _positive(v: float) -> str | None:
    return None if v > 0 else f"must be > 0, got {v!r}"


def _nonzero(v: float) -> str | None:
    return None if v != 0 else "must not be 0"


def _at_least(n: int) -> Callable[[int], str | None]:
    return lambda v: None if v >= n else f"must be >= {n}, got {v!r}"


def _one_of(*choices: str) -> Callable[[str], str | None]:
    return lambda v: None if v in choices else (
        f"{v!r} is not one of {', '.join(repr(c) for c in choices)}"
    )


#: Every action and its own keys (besides ``at``, ``action`` and ``note``).
ACTIONS: dict[str, dict[str, _Key]] = {
    "press": {},
    "double_press": {},
    "hold": {"seconds": _Key(_NUMBER, True, check=_positive)},
    "power_cut": {
        "mode": _Key(_STRING, default="strict", check=_one_of("strict", "torn")),
        "seed": _Key(_INT, default=0),
        "op": _Key(_INT, check=_at_least(1)),
    },
    "storage_full": {"free_bytes": _Key(_INT, default=0, check=_at_least(0))},
    "storage_free": {},
    "io_error": {
        "count": _Key(_INT, default=1, check=_at_least(1)),
        "op": _Key(_STRING, default="write", check=_one_of("write", "fsync", "any")),
    },
    "camera_stall": {"seconds": _Key(_NUMBER, True, check=_positive)},
    "clock_step": {
        "seconds": _Key(_NUMBER, True, check=_nonzero),
        "source": _Key(_STRING, check=_one_of(*CLOCK_SOURCES)),
    },
}
_COMMON = ("at", "action", "note")
_TOP = {"duration": _Key(_NUMBER, True, check=_positive), "description": _Key(_STRING),
        "seed": _Key(_INT), "event": _Key("array of tables")}


@dataclass(frozen=True)
class ScenarioEvent:
    """One scripted event: scenario time, action, the action's keys (defaults filled in)."""

    at: float
    action: str
    params: dict[str, Any] = field(default_factory=dict)
    note: str | None = None
    line: int = 0


@dataclass(frozen=True)
class Scenario:
    """A parsed scenario: duration, events in file order, optional description and seed."""

    duration: float
    events: tuple[ScenarioEvent, ...] = ()
    description: str = ""
    seed: int | None = None
    source: str = "<scenario>"

    def schedule(self, world: World, *, stop_at_end: bool = False) -> None:
        """Put every event on the world's clock, relative to the camera's first frame.

        Call it before or after the camera starts: until ``world.frame_origin`` is
        known the scheduling waits for it. With ``stop_at_end`` the clock is
        stopped at scenario time ``duration``, after every event due then, so frames
        0 .. duration*fps-1 are captured. A ``power_cut`` with ``op`` is armed at
        once (operations are counted from the start of the run, boot included).
        """
        for ev in self.events:
            if ev.action == "power_cut" and "op" in ev.params:
                # Counted from the start of the run (boot included), so armed now.
                world.cut_after_op(ev.params["op"], ev.params["mode"], ev.params["seed"])
        world.on_frame_origin(lambda origin: self._schedule(world, origin, stop_at_end))

    def _schedule(self, world: World, origin: float, stop_at_end: bool) -> None:
        clock = world.clock
        for ev in self.events:
            t = origin + ev.at
            clock.call_at(t, partial(world.log, "scenario", action=ev.action, at=ev.at,
                                     line=ev.line, note=ev.note, **ev.params))
            p = ev.params
            if ev.action == "press":
                world.press(t)
            elif ev.action == "double_press":
                world.double_press(t)
            elif ev.action == "hold":
                world.hold(t, p["seconds"])
            elif ev.action == "camera_stall":
                world.stall_camera(p["seconds"], at=t)
            elif ev.action == "clock_step":
                clock.call_at(t, world.step_clock, p["seconds"])
                if p.get("source") is not None:
                    clock.call_at(t, clock.set_source, p["source"])
            elif ev.action == "power_cut":
                clock.call_at(t, world.power_cut, p["mode"], p["seed"])
            else:  # storage_full, storage_free, io_error: for whoever subscribed with world.on_fault
                clock.call_at(t, _inject, world, ev.action, p)
        if stop_at_end:
            clock.call_at(origin + self.duration, clock.stop)


def _inject(world: World, name: str, params: dict[str, Any]) -> None:
    world.inject_fault(name, **params)


def load_scenario(path: str | Path) -> Scenario:
    """Read and check a scenario file; raises :class:`ScenarioError` (one line)."""
    name = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ScenarioError(f"{name}: cannot read: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise ScenarioError(f"{name}: not UTF-8 text ({exc.reason})") from None
    return parse_scenario(text, name)


def parse_scenario(text: str, name: str = "<scenario>") -> Scenario:
    """Check scenario TOML text; ``name`` is used in error messages."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        msg = str(exc)
        m = re.search(r"\(at line (\d+), column (\d+)\)", msg)
        if m:
            line = int(m.group(1))
            detail = f"{msg[: m.start()].strip()} (column {m.group(2)})"
        else:
            line = max(1, text.count("\n") + (0 if text.endswith("\n") else 1))
            detail = re.sub(r"\s*\(at end of document\)", " at end of file", msg)
        raise ScenarioError(f"{name} line {line}: TOML syntax error: {detail}") from None
    return _Checker(name, text, data).scenario()


class _Checker:
    def __init__(self, name: str, text: str, data: dict[str, Any]) -> None:
        self.name = name
        self.data = data
        self.top_lines, self.event_lines = _key_lines(text)

    def fail(self, line: int, where: str, problem: str) -> ScenarioError:
        return ScenarioError(f"{self.name} line {line}: {where}: {_one_line(problem)}")

    def scenario(self) -> Scenario:
        for key in self.data:
            if key not in _TOP:
                raise self.fail(self.top_lines.get(key, 1), f"key {key!r}",
                                f"unknown top-level key (expected one of {', '.join(_TOP)})")
        top = {k: self.value(self.data, k, spec, self.top_lines.get(k, 1), f"key {k!r}")
               for k, spec in _TOP.items() if k != "event"}
        duration = float(top["duration"])
        raw_events = self.data.get("event", [])
        if not isinstance(raw_events, list) or not all(isinstance(e, dict) for e in raw_events):
            raise self.fail(self.top_lines.get("event", 1), "key 'event'",
                            "must be an array of tables ([[event]])")
        events = tuple(self.event(i, ev, duration) for i, ev in enumerate(raw_events))
        return Scenario(duration, events, top["description"] or "", top["seed"], self.name)

    def event(self, index: int, ev: dict[str, Any], duration: float) -> ScenarioEvent:
        header, lines = (self.event_lines[index] if index < len(self.event_lines)
                         else (self.top_lines.get("event", 1), {}))
        label = f"event {index + 1}"

        def where(key: str) -> tuple[int, str]:
            return lines.get(key, header), f"{label} key {key!r}"

        line, at_key = where("action")
        if "action" not in ev:
            raise self.fail(line, at_key, f"missing (expected one of {', '.join(ACTIONS)})")
        action = ev["action"]
        if not isinstance(action, str):
            raise self.fail(line, at_key, f"expected a string, got {_describe(action)}")
        if action not in ACTIONS:
            raise self.fail(line, at_key,
                            f"unknown action {action!r} (expected one of {', '.join(ACTIONS)})")
        own = ACTIONS[action]
        for key in ev:
            if key not in _COMMON and key not in own:
                allowed = ", ".join([*_COMMON, *own])
                raise self.fail(*where(key), f"unknown key for action {action!r} "
                                f"(allowed: {allowed})")
        for key, spec in own.items():
            if spec.required and key not in ev:
                raise self.fail(*where(key), f"missing (action {action!r} needs {key!r})")
        at = float(self.value(ev, "at", _Key(_NUMBER, True), *where("at")))
        if not 0 <= at <= duration:
            raise self.fail(*where("at"), f"{at:g} is outside 0..{duration:g} (the duration)")
        note = self.value(ev, "note", _Key(_STRING), *where("note"))
        params = {k: self.value(ev, k, spec, *where(k)) for k, spec in own.items()}
        params = {k: v for k, v in params.items() if v is not None}
        return ScenarioEvent(at, action, params, note, header)

    def value(self, table: dict[str, Any], key: str, spec: _Key, line: int, where: str) -> Any:
        if key not in table:
            if spec.required:
                raise self.fail(line, where, "missing (a required key)")
            return spec.default
        v = table[key]
        ok = {
            _NUMBER: isinstance(v, int | float) and not isinstance(v, bool),
            _INT: isinstance(v, int) and not isinstance(v, bool),
            _STRING: isinstance(v, str),
        }.get(spec.kind, True)
        if not ok:
            raise self.fail(line, where, f"expected {_article(spec.kind)}, got {_describe(v)}")
        if spec.kind == _NUMBER and not math.isfinite(v):
            raise self.fail(line, where, f"expected a finite number, got {v!r}")
        if spec.check is not None:
            problem = spec.check(v)
            if problem:
                raise self.fail(line, where, problem)
        return v


_KEY_RE = re.compile(r"""^\s*("(?:[^"\\]|\\.)*"|'[^']*'|[A-Za-z0-9_-]+)\s*(?:\.|=)""")
_HEADER_RE = re.compile(r"^\s*(\[\[?)\s*([A-Za-z0-9_.\"' -]+?)\s*\]\]?")


def _key_lines(text: str) -> tuple[dict[str, int], list[tuple[int, dict[str, int]]]]:
    """Line numbers (1-based) of top-level keys and of each [[event]] and its keys.

    tomllib gives none, so this scans the lines of a file that already parsed:
    headers and ``key =`` lines, skipping the insides of multi-line strings.
    """
    top: dict[str, int] = {}
    events: list[tuple[int, dict[str, int]]] = []
    current: dict[str, int] | None = top
    in_multiline: str | None = None
    for number, line in enumerate(text.splitlines(), start=1):
        if in_multiline is not None:
            if line.count(in_multiline) % 2 == 1:
                in_multiline = None
            continue
        header = _HEADER_RE.match(line)
        if header and not _KEY_RE.match(line):
            table = header.group(2).strip().strip("\"'")
            if header.group(1) == "[[" and table == "event":
                events.append((number, {}))
                current = events[-1][1]
            else:
                top.setdefault(table.split(".")[0], number)
                current = None
            continue
        key = _KEY_RE.match(line)
        if key and current is not None:
            current.setdefault(key.group(1).strip("\"'"), number)
        for quote in ('"""', "'''"):
            if line.count(quote) % 2 == 1:
                in_multiline = quote
                break
    return top, events


def _describe(v: Any) -> str:
    kind = {bool: "boolean", int: "integer", float: "number", str: "string",
            list: "array", dict: "table"}.get(type(v), type(v).__name__)
    text = repr(v)
    return f"{kind} {text if len(text) <= 40 else text[:37] + '...'}"


def _article(kind: str) -> str:
    return f"an {kind}" if kind[0] in "aeiou" else f"a {kind}"


def _one_line(text: str) -> str:
    return " ".join(text.split())
