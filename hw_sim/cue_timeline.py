"""The simulation's readable cue timeline: what the officer saw, heard and felt.

``bodycam run --sim`` prints it at the end of a run, from the simulated pin
bank's recorded levels (``world.gpio.history``) and the cues the daemon
reported (``Cues(on_cue=...)``, kept by :class:`CueJournal`). Simulation only:
the device keeps no such record.
"""

from __future__ import annotations

from collections.abc import Iterable

#: Edges closer together than this belong to one cue in :func:`timeline`.
BURST_GAP = 1.5


def timeline(
    history: Iterable[tuple[float, int, int]],
    pins: dict[str, int | None],
    origin: float,
    *,
    active_high: bool = True,
    labels: Iterable[tuple[float, str]] = (),
) -> list[str]:
    """Summarise the cue pins' recorded levels as one readable line per cue.

    ``history`` is ``(monotonic t, pin, level)`` as the simulated pin bank records
    it; ``origin`` becomes time 0 (scenario time). ``labels`` (a :class:`CueJournal`)
    names each burst and shows cues that were silenced. Example line::

        "  12.000 s  start: led 2 pulses 150 ms, then on; vibration+buzzer 2 pulses 150 ms"
    """
    names = {pin: name for name, pin in pins.items() if pin is not None}
    order = [name for name in pins if pins[name] is not None]
    level: dict[int, bool] = {}
    edges: list[tuple[float, str, bool]] = []
    for t, pin, lv in history:
        if pin not in names:
            continue
        on = bool(lv) == active_high
        if on != level.get(pin, False):
            edges.append((t, names[pin], on))
        level[pin] = on
    marks = sorted(labels)
    bursts: list[list[tuple[float, str, bool]]] = []
    for edge in edges:
        last = bursts[-1][-1][0] if bursts else None
        if last is None or edge[0] - last > BURST_GAP or any(last < m <= edge[0] for m, _ in marks):
            bursts.append([])
        bursts[-1].append(edge)
    rows: list[tuple[float, str]] = []
    used: set[int] = set()
    for burst in bursts:
        t0 = burst[0][0]
        here = [i for i, (m, _) in enumerate(marks) if i not in used and abs(m - t0) < 1e-6]
        used.update(here)
        title = ", ".join(marks[i][1] for i in here)
        rows.append((t0, (f"{title}: " if title else "") + _describe(burst, order)))
    rows += [(m, text) for i, (m, text) in enumerate(marks) if i not in used]
    rows.sort(key=lambda r: r[0])
    return [f"{t - origin:9.3f} s  {text}" for t, text in rows]


def _describe(burst: list[tuple[float, str, bool]], order: list[str]) -> str:
    """'led 2 pulses 150 ms, then on; vibration+buzzer 2 pulses 150 ms'."""
    t0 = burst[0][0]
    by_line: dict[str, str] = {}
    for name in order:
        mine = [(t, on) for t, n, on in burst if n == name]
        if mine:
            by_line[name] = _describe_line(mine, t0)
    groups: dict[str, list[str]] = {}
    for name, text in by_line.items():
        groups.setdefault(text, []).append(name)
    return "; ".join(f"{'+'.join(names)} {text}" for text, names in groups.items())


def _describe_line(edges: list[tuple[float, bool]], t0: float) -> str:
    parts: list[str] = []
    if not edges[0][1]:  # it was on before this burst
        delay = edges[0][0] - t0
        parts.append(f"off after {_ms(delay)} ms" if delay > 1e-6 else "off")
        edges = edges[1:]
    widths = [_ms(off[0] - on[0]) for on, off in zip(edges[0::2], edges[1::2], strict=False)]
    if len(widths) == 1:
        parts.append(f"pulse {widths[0]} ms")
    elif widths and len(set(widths)) == 1:
        parts.append(f"{len(widths)} pulses {widths[0]} ms")
    elif widths:
        parts.append(f"{len(widths)} pulses {'/'.join(map(str, widths))} ms")
    if edges and edges[-1][1]:
        parts.append("then on" if parts else "on")
    return ", ".join(parts)


def _ms(seconds: float) -> int:
    return round(seconds * 1000)


class CueJournal(list[tuple[float, str]]):
    """(monotonic time, what) of every cue and stealth change: pass it as ``Cues(on_cue=...)``."""

    def __call__(self, t: float, label: str) -> None:
        self.append((t, label))
