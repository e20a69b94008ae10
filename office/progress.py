"""Progress on a terminal: one line that updates in place, nothing when not a terminal.

Long operations (an export of many recordings, a long ``--fast`` scenario) show
where they are; piped into a file or a log, they stay silent, so their output
remains what the documentation says it is.
"""

from __future__ import annotations

import sys
from typing import TextIO


class Progress:
    """Writes ``\\r<line>`` to a terminal; :meth:`done` clears it."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self._stream = stream
        self._width = 0

    @classmethod
    def on_terminal(cls, stream: TextIO | None = None) -> Progress:
        """Progress on ``stream`` (stderr) if it is a terminal, else a silent one."""
        stream = sys.stderr if stream is None else stream
        try:
            tty = stream is not None and stream.isatty()
        except (AttributeError, ValueError):
            tty = False
        return cls(stream if tty else None)

    @property
    def active(self) -> bool:
        """Whether anything is shown (a terminal)."""
        return self._stream is not None

    def __call__(self, line: str) -> None:
        if self._stream is None:
            return
        line = line[:119]
        self._stream.write("\r" + line.ljust(self._width))
        self._stream.flush()
        self._width = len(line)

    def done(self) -> None:
        """Clear the line (before other output follows)."""
        if self._stream is None or not self._width:
            return
        self._stream.write("\r" + " " * self._width + "\r")
        self._stream.flush()
        self._width = 0


#: Progress that shows nothing (not a terminal, or a caller that wants none).
SILENT = Progress(None)
