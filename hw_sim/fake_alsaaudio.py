"""Fake ``alsaaudio`` (pyalsaaudio 0.11): one USB microphone on the world's clock.

The surface is pyalsaaudio's (src/alsaaudio.c and src/alsaaudio-stubs/__init__.pyi
of larsimmisch/pyalsaaudio): ``PCM(type, mode, device, cardindex, rate, channels,
format, periodsize, periods)``, ``read() -> (frames, bytes)`` with ``(-EPIPE, b"")``
after an overrun (the buffer was full; the stream is prepared again, samples are
lost, capture resumes at the next read) and ``(0, b"")`` in non-blocking mode when
nothing is there (-EAGAIN), ``avail()``, ``info()``,
``close()``, and ``ALSAAudioError("<strerror> [<device>]")`` for a device that is
missing or gone.

What the microphone hears: silence, except a 1 kHz tone burst of 100 ms that
starts exactly at the capture time of every frame whose number is a multiple of
the frame rate, i.e. at every whole second after the camera's first frame
(``world.frame_origin``), so sync can be measured from any exported file.
The card's sample clock runs ``world.mic_clock_ppm`` fast (negative: slow): its
sample ``i`` is captured at ``t_start + i / (48000 * (1 + ppm/1e6))``, where
``t_start`` is the first read() after open or overrun (ALSA starts a capture
stream on the first read: start_threshold 1). Samples
arrive in whole USB packets of 1 ms of the card's clock. ``world.mic_fail()``
unplugs it (open and read raise ENODEV), ``world.mic_back()`` plugs it in.
"""

from __future__ import annotations

import errno
import math
from typing import Any

import numpy as np

from hw_sim import registry as _world

PCM_PLAYBACK = 0
PCM_CAPTURE = 1
PCM_NORMAL = 0
PCM_NONBLOCK = 1
PCM_ASYNC = 2
PCM_FORMAT_S16_LE = 2
PCM_STATE_OPEN, PCM_STATE_SETUP, PCM_STATE_PREPARED, PCM_STATE_RUNNING, PCM_STATE_XRUN = range(5)

#: What the simulated card calls itself (``card_name()``), and the ALSA names that reach it.
CARD = "USB PnP Sound Device"
DEVICES = ("default", "hw:1", "hw:1,0", "plughw:1", "plughw:1,0", "sysdefault:CARD=Device")
RATES = (44100, 48000)
#: Peak of the tone bursts (full scale 1.0): -6 dBFS.
TONE_AMPLITUDE = 0.5
TONE_HZ = 1000.0
TONE_SECONDS = 0.100
USB_PACKET_SECONDS = 0.001


class ALSAAudioError(Exception):
    """pyalsaaudio's one exception type."""


def cards() -> list[str]:
    """Card names, as ``alsaaudio.cards()``."""
    return ["vc4hdmi", "Device"]


def pcms(pcmtype: int = PCM_PLAYBACK) -> list[str]:
    """PCM names for capture (the microphone) or playback (none in the simulation)."""
    return list(DEVICES) if pcmtype == PCM_CAPTURE else []


class PCM:
    """A capture stream on the simulated microphone."""

    def __init__(self, type: int = PCM_PLAYBACK, mode: int = PCM_NORMAL,  # noqa: A002
                 device: str = "default", cardindex: int = -1, rate: int = 44100,
                 channels: int = 2, format: int = PCM_FORMAT_S16_LE,  # noqa: A002
                 periodsize: int = 32, periods: int = 4) -> None:
        w = _world.current()
        if cardindex >= 0:
            device = f"hw:{cardindex}"
        if type != PCM_CAPTURE or device not in DEVICES:
            raise ALSAAudioError(f"No such file or directory [{device}]")
        if w.mic_failed:
            raise ALSAAudioError(f"No such device [{device}]")
        if format != PCM_FORMAT_S16_LE:
            raise ALSAAudioError(f"Invalid argument [{device}]")
        self._world = w
        self._device = device
        self._mode = mode
        self.rate = min(RATES, key=lambda r: abs(r - rate))  # set_rate_near
        self.channels = 1  # a mono USB microphone
        self.periodsize = periodsize
        self.periods = periods
        self._true_rate = self.rate * (1 + w.mic_clock_ppm / 1e6)
        #: When capture started; None while PREPARED (after open, and after an overrun's
        #: snd_pcm_prepare): the next read() starts it, as ALSA's start_threshold of 1 does.
        self._t_start: float | None = None
        self._generation = w.mic_generation
        self._pos = 0  # index, counted from the start, of the next sample read() returns
        self._closed = False
        w.log("mic_open", device=device, rate=self.rate, ppm=w.mic_clock_ppm)

    # -- pyalsaaudio surface ---------------------------------------------------------------

    def info(self) -> dict[str, Any]:
        """Part of ``PCM.info()``: name, rate, channels, period and buffer sizes. Like the
        real one it raises only when closed: an unplugged card's stream is DISCONNECTED."""
        self._check_open()
        return {"name": self._device, "card_no": 1, "rate": self.rate, "channels": self.channels,
                "period_size": self.periodsize, "periods": self.periods,
                "buffer_size": self.periodsize * self.periods, "format_name": "S16_LE"}

    def cardname(self) -> str:
        """The device name the PCM was opened with (not the card's name), as pyalsaaudio."""
        self._check_open()
        return self._device

    def avail(self) -> int:
        """Frames captured and not yet read: 0 before the first read(), -EPIPE once the
        buffer has overrun, -ENODEV once the card is gone (pyalsaaudio returns
        snd_pcm_avail's error code as the count; it never raises but when closed)."""
        self._check_open()
        if self._gone():
            return -errno.ENODEV
        if self._t_start is None:
            return 0
        waiting = self._captured() - self._pos
        return -errno.EPIPE if waiting >= self.periodsize * self.periods else waiting

    def read(self) -> tuple[int, bytes]:
        """Up to ``periodsize`` frames; ``(-EPIPE, b"")`` after an overrun."""
        self._check()
        if self._t_start is None:  # PREPARED: this read starts the capture
            self._t_start, self._pos = self._world.clock.monotonic(), 0
        captured = self._captured()
        if captured - self._pos >= self.periodsize * self.periods:
            # The buffer filled up (stop_threshold = buffer size): the stream stopped in
            # XRUN. pyalsaaudio prepares it again, which drops the buffer; capture starts
            # again at the next read().
            self._t_start = None
            self._world.log("mic_overrun")
            return -errno.EPIPE, b""
        n = min(self.periodsize, captured - self._pos)
        if n <= 0:
            if self._mode == PCM_NONBLOCK:
                return 0, b""
            raise ALSAAudioError("blocking reads are not simulated; open with PCM_NONBLOCK")
        data = self._samples(self._pos, n)
        self._pos += n
        return n, data

    def close(self) -> None:
        self._closed = True

    # -- the simulated card ----------------------------------------------------------------

    def _check_open(self) -> None:
        if self._closed:
            raise ALSAAudioError("PCM device is closed")

    def _gone(self) -> bool:
        """The card was unplugged since this stream opened (even if it is back)."""
        return self._world.mic_failed or self._world.mic_generation != self._generation

    def _check(self) -> None:
        self._check_open()
        if self._gone():
            raise ALSAAudioError(f"No such device [{self._device}]")

    def _captured(self) -> int:
        """Card samples captured since the start, in whole USB packets."""
        assert self._t_start is not None
        elapsed = self._world.clock.monotonic() - self._t_start
        per_packet = self.rate * USB_PACKET_SECONDS
        packets = math.floor(elapsed * self._true_rate / per_packet + 1e-6)  # float dust
        return int(packets * per_packet)

    def _samples(self, first: int, n: int) -> bytes:
        assert self._t_start is not None
        t = self._t_start + (first + np.arange(n, dtype=np.float64)) / self._true_rate
        out = np.zeros(n, np.float64)
        origin = self._world.frame_origin
        if origin is not None:
            rel = t - origin
            into = rel - np.floor(rel)
            on = (rel >= 0) & (into < TONE_SECONDS)
            out[on] = TONE_AMPLITUDE * np.sin(2 * math.pi * TONE_HZ * into[on])
        return np.round(out * 32767).astype("<i2").tobytes()
