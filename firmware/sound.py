"""The daemon's side of the microphone: what sound goes where, and what a fault leaves.

The rules (docs/RECORDING.md):

* Sound takes the video's path: pre-record buffer, segment writer, export.
* ``audio.in_prerecord`` off (the default, as on Axon): the pre-roll has picture
  only, and sound starts at the moment of the press; on: the pre-roll has both,
  cut at the same keyframe.
* A microphone that is missing or fails never stops video: the front display
  shows ``mic_fault``, the audit log has ``mic_failed`` / ``mic_back``, the
  recording's manifest has a gap whose reason starts with "no sound", and the
  driver retries on its own.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Protocol

from display import Alert
from drivers.clock import Clock
from drivers.microphone import MicEvent, MicReport, Microphone
from recorder.packet import Packet

log = logging.getLogger("bodycam")

ALERT = Alert.MIC_FAULT


class GapSink(Protocol):
    """Where a stretch without sound is recorded: the recording in progress
    (``firmware.recording.Recording``, which hands it to the writer thread)."""

    def add_gap(self, start_pts_us: int, end_pts_us: int, reason: str) -> None: ...


class Sound:
    """Owns the microphone for the daemon; the daemon asks :meth:`live` and :meth:`buffered`."""

    def __init__(self, conf: dict[str, Any], clock: Clock, audit: Callable[..., None],
                 alert: Callable[[Alert, bool], None]) -> None:
        self.enabled: bool = conf["enabled"]
        self.in_prerecord: bool = conf["in_prerecord"]
        self._conf = conf
        self._clock = clock
        self._audit = audit
        self._alert = alert
        self.mic: Microphone | None = None
        self._writer: GapSink | None = None
        self._from_us: int | None = None  # sound of this recording starts here
        self._gap: tuple[int, str] | None = None  # an open stretch without sound
        self._failed = False

    def start(self, on_packet: Callable[[Packet], None]) -> None:
        """Open the microphone; a missing library or device is an alert, never an exception."""
        if not self.enabled:
            return
        c = self._conf
        try:
            self.mic = Microphone(self._clock, on_packet, device=c["device"], gain_db=c["gain_db"],
                                  bitrate=c["bitrate"], on_event=self._event,
                                  retry_seconds=c["retry_seconds"])
        except ImportError:
            self._event(MicReport(MicEvent.FAILED, self._now_us(),
                                  "pyalsaaudio is not installed (deploy.sh installs python3-alsaaudio)"))
            return
        self.mic.start()

    def close(self) -> None:
        """Stop and release the microphone."""
        if self.mic is not None:
            self.mic.close()

    # -- routing ---------------------------------------------------------------------------

    def recording_started(self, writer: GapSink, trigger_us: int | None, first_us: int | None) -> None:
        """A recording began: sound from the press on (or from the pre-roll's start)."""
        self._writer = writer
        self._from_us = first_us if self.in_prerecord or trigger_us is None else trigger_us
        if self._failed and self.enabled:
            start = self._from_us if self._from_us is not None else self._now_us()
            self._gap = (start, self._gap[1] if self._gap else "microphone failed")

    def recording_stopping(self, end_us: int | None) -> None:
        """The recording closes: a stretch without sound still open ends with it."""
        if self._writer is not None and self._gap is not None and end_us is not None:
            self._close_gap(end_us)
        self._writer = None
        self._from_us = None
        if not self._failed:
            self._gap = None

    def live(self, pkt: Packet) -> bool:
        """Whether an audio packet belongs in the recording being written."""
        if self._from_us is not None and pkt.pts_us < self._from_us:
            return False
        if self._gap is not None and self._writer is not None:
            self._close_gap(pkt.pts_us)
        return True

    def buffered(self, trigger_us: int | None) -> bool:
        """Whether audio goes into the pre-record buffer now (``trigger_us``: a press that
        waits for storage, whose sound must be kept)."""
        return self.in_prerecord or trigger_us is not None

    # -- events ----------------------------------------------------------------------------

    def _event(self, report: MicReport) -> None:
        if report.event is MicEvent.FAILED:
            self._failed = True
            self._alert(ALERT, True)
            self._audit("mic_failed", device=self._conf["device"], error=report.detail,
                        pts_us=report.pts_us)
            if self._writer is not None and self._gap is None:
                self._gap = (report.pts_us, "microphone failed")
        elif report.event is MicEvent.BACK:
            self._failed = False
            self._alert(ALERT, False)
            self._audit("mic_back", device=self._conf["device"], pts_us=report.pts_us)
            log.warning("microphone back: sound is recorded again")
        else:
            self._audit("audio_gap", reason=report.detail, pts_us=report.pts_us)
            if self._writer is not None and self._gap is None:
                self._gap = (report.pts_us, report.detail)

    def _close_gap(self, end_us: int) -> None:
        assert self._gap is not None and self._writer is not None
        start, why = self._gap
        self._gap = None
        if end_us > start:
            self._writer.add_gap(start_pts_us=start, end_pts_us=end_us, reason=f"no sound: {why}")

    def _now_us(self) -> int:
        return round(self._clock.boottime() * 1e6)
