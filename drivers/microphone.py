"""The microphone, through pyalsaaudio: AAC packets on the sensor's timeline.

Why pyalsaaudio (``alsaaudio``, Debian's python3-alsaaudio) and not PyAV's ALSA
input: FFmpeg's ALSA demuxer (libavdevice/alsa_dec.c, ``audio_read_packet``)
stamps each packet with ``av_gettime()``, the wall clock that NTP steps, through a
time filter we cannot reach, and reads in a blocking C call. pyalsaaudio hands
over the raw periods and ``avail()``, so the driver itself stamps the samples on
CLOCK_BOOTTIME (the clock of libcamera's SensorTimestamp), and the simulation can
sit under it at the library surface as it does under picamera2 and RPi.GPIO.
pyalsaaudio >= 0.11 (PyPI) has everything used here; Raspberry Pi OS bookworm's
python3-alsaaudio 0.8.4 lacks the keyword constructor and ``avail()``, and the
driver falls back to the setters and to stamping right after draining the
buffer (up to one period of jitter, which the drift fit averages out).

One loop, one clock: the PCM is opened non-blocking and read at once (ALSA starts
a capture stream at its first read, not at open), then from a timer on the
daemon's clock every ``POLL_SECONDS``; ALSA's ring buffer (``PERIODS`` periods of
``PERIOD_FRAMES``, 341 ms; 320 ms on pyalsaaudio < 0.10) absorbs a busy loop. After each poll, "the card has
captured ``read + avail`` samples at boot time ``t``" feeds the drift tracker,
the samples are resampled onto the 48 kHz boot-time grid (drivers/audio_timing.py),
given the configured gain, and encoded to AAC-LC (recorder/aac.py).

A microphone that is missing or fails never stops video: the driver reports
``MicEvent.FAILED`` once, closes the stream and tries again every
``retry_seconds``; ``MicEvent.BACK`` when it opened again. An overrun (samples
lost) is a short ``MicEvent.GAP``.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import Any

import numpy as np

from recorder.aac import AacEncoder
from recorder.packet import Packet

from .audio_timing import RATE, DriftTracker, GridResampler
from .clock import Clock, Timer

log = logging.getLogger(__name__)

POLL_SECONDS = 0.04
PERIOD_FRAMES = 1024
PERIODS = 16
#: pyalsaaudio < 0.10 has no ``periods``: its buffer is always 4 periods, and 0.8 reads
#: at most 8000 bytes a period. 4 x 3840 frames (320 ms) comes nearest to the above.
OLD_PERIOD_FRAMES = 3840


def _open_pcm(a: Any, device: str) -> tuple[Any, int, int]:
    """(pcm, rate, channels): the keyword constructor of pyalsaaudio >= 0.10, or the
    setters of older releases (Raspberry Pi OS bookworm ships 0.8.4)."""
    try:
        pcm = a.PCM(type=a.PCM_CAPTURE, mode=a.PCM_NONBLOCK, device=device, rate=RATE,
                    channels=1, format=a.PCM_FORMAT_S16_LE, periodsize=PERIOD_FRAMES,
                    periods=PERIODS)
    except TypeError:  # no rate/periods keywords: 0.8
        pcm = a.PCM(type=a.PCM_CAPTURE, mode=a.PCM_NONBLOCK, device=device)
        channels = pcm.setchannels(1)
        rate = pcm.setrate(RATE)
        pcm.setformat(a.PCM_FORMAT_S16_LE)
        pcm.setperiodsize(OLD_PERIOD_FRAMES)
        return pcm, int(rate), int(channels)
    info = pcm.info()
    return pcm, int(info["rate"]), int(info["channels"])


class MicState(Enum):
    """What the microphone is doing."""

    OFF = "off"
    RUNNING = "running"
    FAILED = "failed"


class MicEvent(Enum):
    """What the driver reports to the daemon."""

    FAILED = "failed"  # gone or never there: no sound from ``pts_us`` on
    BACK = "back"  # open again: sound resumes with the next packet
    GAP = "gap"  # samples lost (overrun) between ``pts_us`` and the next packet


@dataclass(frozen=True)
class MicReport:
    """One event: what, the sensor time (µs) the sound stops or resumes, and why."""

    event: MicEvent
    pts_us: int
    detail: str = ""


class Microphone:
    """Captures, stamps, drift-corrects and encodes; packets go to ``on_packet`` on the loop."""

    def __init__(
        self,
        clock: Clock,
        on_packet: Callable[[Packet], None],
        *,
        device: str = "default",
        gain_db: float = 0.0,
        bitrate: int = 64_000,
        on_event: Callable[[MicReport], None] | None = None,
        retry_seconds: float = 2.0,
    ) -> None:
        import alsaaudio  # device library or the simulation's

        self._alsa = alsaaudio
        self._clock = clock
        self._on_packet = on_packet
        self._on_event = on_event
        self.device = device
        self._gain = 10 ** (gain_db / 20)
        self._retry_s = retry_seconds
        self._pcm: alsaaudio.PCM | None = None
        self._timer: Timer | None = None
        self.tracker = DriftTracker()
        self._resampler = GridResampler()
        self._encoder = AacEncoder(bitrate)
        self._read = 0  # card samples read since the stream opened
        self._end_us: int | None = None  # where the last packet's sound ends
        self.state = MicState.OFF
        self.problem = ""
        #: Mean square of the last second of card samples (for the level meter).
        self._ms = 0.0
        self.samples_captured = 0
        #: Every block of card samples as read: (card index of the first, samples);
        #: the benchmark uses it to replay the same samples the way picamera2 would.
        self.raw_tap: Callable[[int, np.ndarray], None] | None = None

    # -- life cycle ------------------------------------------------------------------------

    def start(self) -> None:
        """Open the microphone and start polling; a failure is reported, never raised."""
        self._timer = self._clock.call_later(POLL_SECONDS, self._poll)
        if self._open():
            self._read_all()  # ALSA captures from the first read on, so read at once

    def close(self) -> None:
        """Stop polling and release the device; the last partial AAC frame is sent."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self.state is MicState.RUNNING:
            self._emit(self._encoder.flush())
        self._release()
        self.state = MicState.OFF

    # -- what doctor and the display read ---------------------------------------------------

    @property
    def level_dbfs(self) -> float:
        """RMS level of about the last second, dB relative to full scale (-120 for silence)."""
        return 10 * math.log10(self._ms) if self._ms > 1e-12 else -120.0

    @property
    def clock_ppm(self) -> float:
        """The card's sample clock against the sensor's, as measured (+ = fast)."""
        return (1.0 / (self.tracker.period * RATE) - 1.0) * 1e6

    # -- internals -------------------------------------------------------------------------

    def _open(self) -> bool:
        a = self._alsa
        try:
            self._pcm, rate, channels = _open_pcm(a, self.device)
            if rate != RATE or channels != 1:
                raise a.ALSAAudioError(f"{self.device} gives {rate} Hz x {channels}, not {RATE} Hz "
                                       "mono; use a plughw: device")
        except a.ALSAAudioError as e:
            self._release()
            self._failed(str(e))
            return False
        was_failed = self.state is MicState.FAILED
        self.state, self.problem, self._read = MicState.RUNNING, "", 0
        self.tracker.restart()
        self._resampler.reset()
        assert self._pcm is not None  # just opened above
        # (pyalsaaudio's cardname() is only the device name again, not the card's.)
        log.info("microphone %s open: %d Hz mono", self.device, rate)
        if was_failed:
            self._report(MicEvent.BACK, self._now_us(), "microphone open again")
        return True

    def _release(self) -> None:
        if self._pcm is not None:
            try:
                self._pcm.close()
            except self._alsa.ALSAAudioError:
                pass
            self._pcm = None

    def _poll(self) -> None:
        self._timer = self._clock.call_later(
            POLL_SECONDS if self.state is MicState.RUNNING else self._retry_s, self._poll)
        if self.state is not MicState.RUNNING:
            if not self._open():
                return
            # Open again: poll at the reading rate, and read at once (the first read starts
            # ALSA's capture; nothing is captured between opening and it).
            assert self._timer is not None
            self._timer.cancel()
            self._timer = self._clock.call_later(POLL_SECONDS, self._poll)
        self._read_all()

    def _read_all(self) -> None:
        """Take everything captured, note how much at what time, encode what the fit allows."""
        assert self._pcm is not None
        try:
            while True:
                n, data = self._pcm.read()
                if n < 0:  # -EPIPE: overrun, the samples in ALSA's buffer are lost
                    self._discontinuity("audio overrun: samples lost")
                    continue
                if n == 0:
                    break
                block = np.frombuffer(data, "<i2").astype(np.float32) * (1 / 32768)
                self._take(block)
            # pyalsaaudio >= 0.11 says what is already captured beyond what was read; older
            # ones (Debian bookworm's 0.8.4) do not, and after draining it is under a period.
            # It hands back snd_pcm_avail's error as the count (-EPIPE: overran, -ENODEV:
            # unplugged since the read): no observation then, the next read() reports it.
            avail = self._pcm.avail() if hasattr(self._pcm, "avail") else 0
            if avail >= 0:
                self.tracker.observe(self._read + avail, self._clock.boottime())
        except self._alsa.ALSAAudioError as e:
            self._emit(self._encoder.flush())
            self._release()
            self._failed(str(e))
            return
        fit = self.tracker.fit()
        if fit is None:
            return
        k, grid = self._resampler.pull(fit)
        if len(grid):
            self._emit(self._encoder.encode(k, grid * self._gain))

    def _take(self, block: np.ndarray) -> None:
        if self.raw_tap is not None:
            self.raw_tap(self._read, block)
        self._resampler.feed(self._read, block)
        self._read += len(block)
        self.samples_captured += len(block)
        w = min(1.0, len(block) / RATE)
        self._ms = (1 - w) * self._ms + w * float(np.mean(block * block))

    def _discontinuity(self, why: str) -> None:
        self._emit(self._encoder.flush())
        self.tracker.restart()
        self._resampler.reset()
        self._read = 0
        self._report(MicEvent.GAP, self._end_us or self._now_us(), why)

    def _emit(self, packets: list[Packet]) -> None:
        for pkt in packets:
            self._end_us = pkt.pts_us + 1024 * 1_000_000 // RATE
            self._on_packet(pkt)

    def _failed(self, why: str) -> None:
        if self.state is MicState.FAILED:
            return
        self.state, self.problem = MicState.FAILED, why
        log.error("microphone %s failed (%s); video goes on, retrying every %g s",
                  self.device, why, self._retry_s)
        self._report(MicEvent.FAILED, self._end_us or self._now_us(), why)

    def _report(self, event: MicEvent, pts_us: int, detail: str) -> None:
        if self._on_event is not None:
            self._on_event(MicReport(event, pts_us, detail))

    def _now_us(self) -> int:
        return round(self._clock.boottime() * 1e6)
