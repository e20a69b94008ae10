"""Fake ``picamera2.outputs``: the :class:`Output` base class drivers subclass.

Written from picamera2's documented behaviour: an encoder calls ``start()`` when
it starts, ``outputframe(frame, keyframe, timestamp, packet, audio)`` once per
encoded frame (timestamp in microseconds), and ``stop()`` when it stops. The
simulation does not provide FileOutput and friends: our drivers bring their own
Output.
"""

from __future__ import annotations

from typing import IO, Any


class Output:
    """Receives encoded frames from an encoder; subclasses override :meth:`outputframe`."""

    def __init__(self, pts: str | IO[str] | None = None) -> None:
        self.recording = False
        self.ptsoutput = pts
        self.needs_pacing = False
        self.needs_add_stream = False

    def start(self) -> None:
        """Called by the encoder when it starts."""
        self.recording = True

    def stop(self) -> None:
        """Called by the encoder when it stops."""
        self.recording = False

    def outputframe(
        self,
        frame: bytes | None,
        keyframe: bool = True,
        timestamp: int | None = None,
        packet: Any = None,
        audio: bool = False,
    ) -> None:
        """One encoded frame (``timestamp`` in µs); the base class drops it."""

    def outputtimestamp(self, timestamp: int | None) -> None:
        """Append ``timestamp`` (µs) as milliseconds to the pts file, if one was given."""
        if self._ptsoutput is not None and timestamp is not None:
            print(f"{timestamp // 1000}.{timestamp % 1000:03}", file=self._ptsoutput, flush=True)

    @property
    def ptsoutput(self) -> IO[str] | None:
        """The open file timestamps go to, or None."""
        return self._ptsoutput

    @ptsoutput.setter
    def ptsoutput(self, file: str | IO[str] | None) -> None:
        self._ptsoutput = open(file, "w") if isinstance(file, str) else file

    def _add_stream(self, encoder_stream: Any, *args: Any, **kwargs: Any) -> None:
        """Told about the encoder's stream when it starts; most outputs ignore it."""
