"""A recording's timeline drawn as SVG: footage, pre-roll, press, bookmarks, gaps, faults.

The bar is the recorded footage from its first frame; stretches (pre-roll, gaps,
footage dropped on a full card) are drawn over it, moments as numbered markers
that the table under the picture explains. Colours are fixed (:data:`COLOURS`)
so they print the same and a test can find them in a screenshot.
"""

from __future__ import annotations

from html import escape

from office.report_model import Mark, Moment, RecordingView

#: Fill colour of each kind, as RGB.
COLOURS: dict[str, tuple[int, int, int]] = {
    "footage": (31, 111, 209),
    Mark.PREROLL.value: (240, 160, 32),
    Mark.PRESS.value: (17, 17, 17),
    Mark.BOOKMARK.value: (22, 163, 74),
    Mark.GAP.value: (214, 39, 40),
    Mark.DROPPED.value: (127, 29, 29),
    Mark.FAULT.value: (228, 87, 46),
    Mark.RECOVERED.value: (22, 163, 74),
    Mark.CLOCK_STEP.value: (123, 63, 191),
    Mark.STOP.value: (17, 17, 17),
}

WIDTH, HEIGHT, LEFT, RIGHT = 960, 132, 24, 44
BAR_Y, BAR_H = 40, 26
STRETCHES = (Mark.PREROLL, Mark.GAP, Mark.DROPPED)


def rgb(kind: str) -> str:
    """CSS colour of a kind."""
    r, g, b = COLOURS[kind]
    return f"rgb({r},{g},{b})"


def numbered(view: RecordingView) -> list[tuple[int, Moment]]:
    """The moments in time order with the numbers the picture and the table share."""
    ordered = sorted(view.moments, key=lambda m: (m.start_s, m.kind.value))
    return list(enumerate(ordered, start=1))


def _tick_step(total: float) -> float:
    for step in (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600):
        if total / step <= 12:
            return float(step)
    return 7200.0


def timeline_svg(view: RecordingView) -> str:
    """The timeline of ``view`` as an inline SVG element."""
    ends = [m.end_s or m.start_s for m in view.moments] + [view.duration_s, 0.001]
    total = max(ends)
    span = WIDTH - LEFT - RIGHT

    def x(t: float) -> float:
        return round(LEFT + max(0.0, t) / total * span, 1)

    out = [f'<svg class="timeline" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} '
           f'{HEIGHT}" width="100%" role="img" aria-label="timeline of recording '
           f'{escape(view.recording_id)}">',
           f'<rect x="{LEFT}" y="{BAR_Y}" width="{x(view.duration_s) - LEFT}" height="{BAR_H}" '
           f'fill="{rgb("footage")}"><title>recorded footage, {view.duration_s:.1f} s'
           '</title></rect>']
    items = numbered(view)
    for n, m in items:
        if m.kind in STRETCHES and m.end_s is not None:
            w = max(2.0, x(m.end_s) - x(m.start_s))
            out.append(f'<rect class="{m.kind.name.lower()}" x="{x(m.start_s)}" y="{BAR_Y}" '
                       f'width="{w}" height="{BAR_H}" fill="{rgb(m.kind.value)}"><title>{n}: '
                       f'{escape(m.label)}</title></rect>')
    above = 0
    for n, m in items:
        if m.kind in STRETCHES:
            out.append(_label(x(m.start_s) + 3, BAR_Y + BAR_H - 8, n, "#fff"))
            continue
        px = x(m.start_s)
        colour = rgb(m.kind.value)
        title = f"<title>{n}: {escape(m.label)} at {m.start_s:.1f} s</title>"
        if m.kind in (Mark.PRESS, Mark.BOOKMARK, Mark.STOP):
            above += 1
            top = 8 if above % 2 else 20
            out.append(f'<g>{title}<line x1="{px}" y1="{top + 4}" x2="{px}" y2="{BAR_Y + BAR_H}"'
                       f' stroke="{colour}" stroke-width="3"/>')
            shape = (f'<rect x="{px - 6}" y="{top - 6}" width="12" height="12" fill="{colour}"/>'
                     if m.kind is Mark.STOP else
                     f'<polygon points="{px},{top - 7} {px + 14},{top - 1} {px},{top + 5}" '
                     f'fill="{colour}"/>')
            out.append(shape + _label(px + 16, top + 4, n, colour) + "</g>")
        else:
            cy = BAR_Y + BAR_H + 16
            if m.kind is Mark.CLOCK_STEP:
                shape = (f'<polygon points="{px},{cy - 8} {px + 8},{cy} {px},{cy + 8} '
                         f'{px - 8},{cy}" fill="{colour}"/>')
            elif m.kind is Mark.RECOVERED:
                shape = f'<circle cx="{px}" cy="{cy}" r="7" fill="{colour}"/>'
            else:
                shape = (f'<polygon points="{px - 8},{cy + 7} {px + 8},{cy + 7} {px},{cy - 8}" '
                         f'fill="{colour}"/>')
            out.append(f'<g>{title}{shape}{_label(px + 10, cy + 5, n, colour)}</g>')
    step = _tick_step(total)
    t = 0.0
    axis_y = HEIGHT - 18
    out.append(f'<line x1="{LEFT}" y1="{axis_y}" x2="{WIDTH - RIGHT}" y2="{axis_y}" '
               'stroke="#555"/>')
    while t <= total + 1e-9:
        out.append(f'<line x1="{x(t)}" y1="{axis_y}" x2="{x(t)}" y2="{axis_y + 5}" '
                   f'stroke="#555"/><text x="{x(t)}" y="{axis_y + 16}" font-size="11" '
                   f'text-anchor="middle" fill="#333">{_clock(t)}</text>')
        t += step
    out.append("</svg>")
    return "\n".join(out)


def _label(px: float, py: float, n: int, colour: str) -> str:
    return (f'<text x="{px}" y="{py}" font-size="12" font-weight="bold" fill="{colour}">'
            f'{n}</text>')


def _clock(t: float) -> str:
    m, s = divmod(int(round(t)), 60)
    return f"{m}:{s:02d}"
