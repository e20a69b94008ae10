"""The evidence report as one self-contained HTML page (no script, nothing fetched).

Everything the page needs is inside it: styles, the SVG timelines, thumbnails as
``data:`` URIs. It is laid out to print: each recording starts on a new page,
colours print as shown, and the timeline's numbers are explained in a table,
so the page reads on paper without hovering over anything.
"""

from __future__ import annotations

from html import escape

from office.report_model import Mark, RecordingView, Verdict
from office.report_svg import COLOURS, numbered, rgb, timeline_svg

#: The thumbnail frame colour (RGB): fixed, so a screenshot test can find thumbnails.
THUMB_BORDER = (11, 114, 133)

VERDICT_COLOUR = {Verdict.INTACT: "#15803d", Verdict.INCOMPLETE: "#b45309",
                  Verdict.PROBLEM: "#b91c1c"}
CLOCK_WORDS = {"ntp": "network time (NTP): reliable",
               "rtc": "the camera's battery clock (RTC): usually close, not synchronised",
               "unsynced": "not synchronised: the times may be wrong"}

CSS = f"""
body {{ font: 15px/1.45 system-ui, sans-serif; color: #111; margin: 24px auto; max-width: 1000px;
        padding: 0 16px; -webkit-print-color-adjust: exact; print-color-adjust: exact; }}
h1 {{ font-size: 24px; margin-bottom: 4px; }}
h2 {{ font-size: 19px; margin-top: 28px; border-bottom: 2px solid #ccc; }}
h3 {{ font-size: 15px; margin: 14px 0 6px; }}
table {{ border-collapse: collapse; width: 100%; margin: 6px 0; }}
th, td {{ text-align: left; vertical-align: top; padding: 3px 8px; border-bottom: 1px solid #ddd; }}
th {{ background: #f3f4f6; }}
table.facts th {{ width: 11em; background: none; }}
.verdict {{ display: inline-block; color: #fff; padding: 6px 10px; border-radius: 4px;
            font-weight: 600; }}
.warn {{ color: #92400e; }}
.legend span {{ display: inline-block; margin-right: 14px; font-size: 13px; }}
.legend i {{ display: inline-block; width: 12px; height: 12px; margin-right: 4px;
             vertical-align: -1px; }}
.thumbs {{ display: flex; flex-wrap: wrap; gap: 12px; }}
figure.thumb {{ margin: 0; }}
figure.thumb img {{ display: block; width: 320px;
                    border: 4px solid rgb{THUMB_BORDER}; }}
figure.thumb figcaption {{ font-size: 13px; max-width: 328px; }}
i.sw {{ display: inline-block; width: 10px; height: 10px; margin-right: 6px; }}
td.nowrap {{ white-space: nowrap; }}
.bad {{ color: #b91c1c; font-weight: 600; }}
.small {{ font-size: 13px; color: #444; }}
code {{ font-size: 13px; word-break: break-all; }}
section.recording {{ break-inside: auto; }}
@media print {{ body {{ margin: 0; max-width: none; }}
  section.recording {{ break-before: page; }}
  svg.timeline, figure.thumb, tr {{ break-inside: avoid; }} }}
"""


def _e(v: object) -> str:
    return escape("" if v is None else str(v))


def _table(head: list[str], rows: list[list[str]], cls: str = "",
           nowrap: int | None = None) -> str:
    """Rows are HTML already (escaped by the caller)."""
    h = "".join(f"<th>{_e(c)}</th>" for c in head)
    body = "".join("<tr>" + "".join(f'<td class="nowrap">{c}</td>' if i == nowrap else f"<td>{c}</td>"
                                    for i, c in enumerate(r)) + "</tr>" for r in rows)
    attr = f' class="{cls}"' if cls else ""
    return f"<table{attr}><thead><tr>{h}</tr></thead><tbody>{body}</tbody></table>"


def _legend() -> str:
    names = {"footage": "recorded footage", "pre-roll": "pre-roll (before the press)",
             "press": "press", "bookmark": "bookmark", "gap": "gap (no footage)",
             "dropped": "held in RAM, dropped (card full)", "fault": "fault",
             "recovered": "working again", "clock step": "clock step", "stop": "stop"}
    return '<p class="legend">' + "".join(
        f'<span><i style="background:{rgb(k)}"></i>{_e(names[k])}</span>'
        for k in COLOURS) + "</p>"


def _duration(s: float | None) -> str:
    if s is None:
        return "unknown"
    m, sec = divmod(s, 60)
    return f"{s:.1f} s" if s < 60 else f"{int(m)} min {sec:04.1f} s ({s:.1f} s)"


def recording_html(v: RecordingView) -> str:
    """One recording's section."""
    colour = VERDICT_COLOUR[v.verdict]
    facts = [
        ("Status", f'<span class="verdict" style="background:{colour}">{_e(v.words)}</span>'),
        ("Device", _e(v.device_id)),
        ("Officer", _e(v.officer) if v.officer else
         '<span class="small">not recorded (the camera does not store an officer)</span>'),
        ("Start (UTC)", _e(v.utc_start or "unknown")),
        ("End (UTC)", _e(v.utc_end or "unknown")),
        ("Clock source", _e(CLOCK_WORDS.get(v.clock_source, v.clock_source))),
        ("Duration", _e(_duration(v.duration_s))),
        ("Pre-roll", _e(_duration(v.preroll_s) if v.preroll_s is not None
                        else "unknown (not in the audit log)")),
        ("Segments", _e(f"{v.segments} file(s), {v.frames} frames")),
        ("Folder", f"<code>{_e(v.rel)}</code>"),
    ]
    parts = [f'<section class="recording" id="rec-{_e(v.recording_id)}">',
             f"<h2>Recording {_e(v.recording_id)}"
             f"{'' if v.seq is None else f' (number {v.seq} of this camera)'}</h2>",
             '<table class="facts">' + "".join(f"<tr><th>{k}</th><td>{val}</td></tr>"
                                               for k, val in facts) + "</table>"]
    if v.details:
        cls = "bad" if v.verdict is Verdict.PROBLEM else "warn"
        parts.append("<h3>What verification found</h3><ul>" + "".join(
            f'<li class="{cls}">{_e(d)}</li>' for d in v.details) + "</ul>")
    if v.notes:
        parts.append('<ul class="small">' + "".join(f"<li>{_e(n)}</li>" for n in v.notes)
                     + "</ul>")
    parts += ["<h3>Timeline</h3>", timeline_svg(v), _legend()]
    rows = []
    for n, m in numbered(v):
        when = f"{m.start_s:.1f} s" if m.end_s is None else f"{m.start_s:.1f}–{m.end_s:.1f} s"
        swatch = f'<i class="sw" style="background:{rgb(m.kind.value)}"></i>'
        rows.append([str(n), _e(when), f"{swatch}{_e(m.label)}", _e(m.source)])
    if rows:
        parts.append(_table(["#", "time in the recording", "what", "from"], rows, nowrap=1))
    gaps = [m for m in v.moments if m.kind in (Mark.GAP, Mark.DROPPED)]
    if not gaps:
        parts.append('<p class="small">No gaps: the footage is continuous from the first '
                     "frame to the last.</p>")
    if v.thumbs:
        parts.append("<h3>Frames</h3><div class=\"thumbs\">" + "".join(
            f'<figure class="thumb"><img alt="{_e(t.caption)}" src="{t.data_uri}">'
            f"<figcaption>{_e(t.caption)} ({t.offset_s:.2f} s into the recording)"
            "</figcaption></figure>" for t in v.thumbs) + "</div>")
    parts.append("</section>")
    return "\n".join(parts)


def page_html(title: str, summary: str, verdict: Verdict, recordings: list[RecordingView],
              audit_html: str, verification_html: str, problems: list[str]) -> str:
    """The whole page."""
    colour = VERDICT_COLOUR[verdict]
    toc = "".join(f'<li><a href="#rec-{_e(v.recording_id)}">{_e(v.recording_id)}</a>: '
                  f"{_e(v.words)}</li>" for v in recordings)
    extra = ("<ul>" + "".join(f'<li class="bad">{_e(p)}</li>' for p in problems) + "</ul>"
             if problems else "")
    return "\n".join([
        "<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        "img-src data:; style-src 'unsafe-inline'\">",
        f"<title>{_e(title)}</title><style>{CSS}</style></head><body>",
        f"<h1>{_e(title)}</h1>",
        f'<p><span class="verdict" style="background:{colour}">{_e(summary)}</span></p>',
        extra, f"<ol>{toc}</ol>",
        *[recording_html(v) for v in recordings],
        audit_html, verification_html, "</body></html>"])


def audit_html(status: str, ok: bool | None, rows: list[list[str]], notes: list[str]) -> str:
    """The audit log section (rows are already in words)."""
    cls = "" if ok else ' class="bad"'
    body = [f'<section class="audit"><h2>Audit log</h2><p{cls}>{_e(status)}</p>']
    body += [f'<p class="small">{_e(n)}</p>' for n in notes]
    if rows:
        body.append(_table(["line", "time (UTC)", "what happened"],
                           [[_e(r[0]), _e(_short_utc(r[1])), _e(r[2])] for r in rows], nowrap=1))
    body.append("</section>")
    return "\n".join(body)


def _short_utc(iso: str) -> str:
    """``2026-01-15 08:00:08.033`` from the log's microsecond ISO form."""
    return iso.replace("T", " ").rstrip("Z")[:23] if iso else ""


def verification_html(checks: list[str], keys: list[tuple[str, str]], tool: str) -> str:
    """What was checked, with which keys, by which tool."""
    return "\n".join([
        '<section class="verification"><h2>Verification</h2>',
        "<h3>What was checked</h3><ul>" + "".join(f"<li>{_e(c)}</li>" for c in checks) + "</ul>",
        "<h3>Keys</h3>" + _table(["key", "fingerprint (SHA-256 of the public key)"],
                                 [[_e(k), f"<code>{_e(f)}</code>"] for k, f in keys]),
        f"<p>{_e(tool)}</p></section>"])
