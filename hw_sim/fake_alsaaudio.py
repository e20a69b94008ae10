"""Fake ``alsaaudio`` (pyalsaaudio 0.11): one USB microphone on the world's clock.

The surface is pyalsaaudio 0.11.0's (``alsaaudio.c`` of larsimmisch/pyalsaaudio;
docs/SIMULATION.md cites the lines): ``PCM(type, mode, device, cardindex, card, rate,
channels, format, periodsize, periods)``, which takes what the device gives rather
than failing (``info()`` says what), ``read() -> (frames, bytes)`` with ``(-EPIPE, b"")``
after an overrun (the buffer was full; the stream is prepared again, samples are
lost, capture resumes at the next read) and ``(0, b"")`` in non-blocking mode when
nothing is there (-EAGAIN), ``avail()`` (a negative errno when overrun or gone),
``info()``, ``state()``, ``cardname()`` (the device name), ``close()``, and
``ALSAAudioError("<strerror> [<device>]")`` for a device that is missing, or gone
when read. What the simulation cannot do (playback, blocking reads, formats it
cannot render) raises NotImplementedError, never ALSAAudioError.

What the microphone hears: silence, except a 1 kHz tone burst of 100 ms that
starts exactly at the capture time of every frame whose number is a multiple of
the frame rate, i.e. at every whole second after the camera's first frame
(``world.frame_origin``), so sync can be measured from any exported file.
The card's sample clock runs ``world.mic_clock_ppm`` fast (negative: slow): its
sample ``i`` is captured at ``t_start + i / (rate * (1 + ppm/1e6))``, where
``t_start`` is the first read() after open or overrun (ALSA starts a capture
stream on the first read: start_threshold 1). Samples
arrive in whole USB packets of 1 ms of the card's clock. ``world.mic_fail()``
unplugs it: its card is gone, an open stream's read() raises ENODEV, and opening
fails (ENOENT by card number, ENODEV by card id or ``default``);
``world.mic_back()`` plugs it in.

Its card comes after the board's own (Pi 4: Headphones, vc4hdmi0, vc4hdmi1, so
card 3; Pi 5: vc4hdmi0, vc4hdmi1, so card 2) with the id ``Device``. It answers
to ``default`` (taken to be the microphone, as an asound.conf or a sound server
makes it), ``hw:N``/``hw:N,0`` (the card itself: 16-bit mono at 44.1 or 48 kHz),
and through alsa-lib's plug converter to ``plughw:N[,0]``,
``plughw:CARD=Device,DEV=0``, ``sysdefault:CARD=Device`` and ``default:CARD=Device``;
``hw:CARD=Device,DEV=0`` is the card itself again.
"""

from __future__ import annotations

import errno
import math
import os
import re
import warnings
from typing import Any

import numpy as np

from hw_sim import registry as _world
from hw_sim.board import Board

PCM_PLAYBACK = 0
PCM_CAPTURE = 1
PCM_NORMAL = 0
PCM_NONBLOCK = 1
PCM_ASYNC = 2
# alsa-lib's snd_pcm_format_t values, which pyalsaaudio exports as they are.
(PCM_FORMAT_S8, PCM_FORMAT_U8, PCM_FORMAT_S16_LE, PCM_FORMAT_S16_BE, PCM_FORMAT_U16_LE,
 PCM_FORMAT_U16_BE, PCM_FORMAT_S24_LE, PCM_FORMAT_S24_BE, PCM_FORMAT_U24_LE, PCM_FORMAT_U24_BE,
 PCM_FORMAT_S32_LE, PCM_FORMAT_S32_BE, PCM_FORMAT_U32_LE, PCM_FORMAT_U32_BE, PCM_FORMAT_FLOAT_LE,
 PCM_FORMAT_FLOAT_BE, PCM_FORMAT_FLOAT64_LE, PCM_FORMAT_FLOAT64_BE) = range(18)
(PCM_STATE_OPEN, PCM_STATE_SETUP, PCM_STATE_PREPARED, PCM_STATE_RUNNING, PCM_STATE_XRUN,
 PCM_STATE_DRAINING, PCM_STATE_PAUSED, PCM_STATE_SUSPENDED, PCM_STATE_DISCONNECTED) = range(9)
_STATE_NAMES = ("OPEN", "SETUP", "PREPARED", "RUNNING", "XRUN", "DRAINING", "PAUSED",
                "SUSPENDED", "DISCONNECTED")

#: The microphone: a USB card after the board's own (cards(), card_name()).
MIC_ID = "Device"
CARD = "USB PnP Sound Device"
MIC_LONGNAME = "C-Media Electronics Inc. USB PnP Sound Device at usb-1-1, full speed"
#: The board's own cards, (id, name, longname) in index order: the Pi 4's headphone
#: jack and two HDMI outputs, the Pi 5's two HDMI outputs. None of them captures.
BOARD_CARDS = {
    Board.PI4: (("Headphones", "bcm2835 Headphones", "bcm2835 Headphones"),
                ("vc4hdmi0", "vc4-hdmi-0", "vc4-hdmi-0"), ("vc4hdmi1", "vc4-hdmi-1", "vc4-hdmi-1")),
    Board.PI5: (("vc4hdmi0", "vc4-hdmi-0", "vc4-hdmi-0"), ("vc4hdmi1", "vc4-hdmi-1", "vc4-hdmi-1")),
}
#: alsa-lib's limit on card numbers (SND_MAX_CARDS).
MAX_CARDS = 32
_BY_NUMBER = re.compile(r"(plughw|hw):(\d+)(?:,(\d+))?")
_BY_ID = re.compile(r"(?:(plughw|hw):CARD=([^,]+)(?:,DEV=(\d+))?|(default|sysdefault):CARD=(.+))")
#: What the card itself offers (a mono USB microphone); plug devices convert to the rest.
RATES = (44100, 48000)
CARD_CHANNELS = 1
CARD_FORMAT = PCM_FORMAT_S16_LE
#: The sample formats a plug device can hand over here: (numpy dtype, full scale, name,
#: alsa-lib's description). Others are not simulated.
FORMATS = {
    PCM_FORMAT_S8: ("i1", 127, "S8", "Signed 8 bit"),
    PCM_FORMAT_S16_LE: ("<i2", 32767, "S16_LE", "Signed 16 bit Little Endian"),
    PCM_FORMAT_S16_BE: (">i2", 32767, "S16_BE", "Signed 16 bit Big Endian"),
    PCM_FORMAT_S32_LE: ("<i4", 2147483647, "S32_LE", "Signed 32 bit Little Endian"),
    PCM_FORMAT_S32_BE: (">i4", 2147483647, "S32_BE", "Signed 32 bit Big Endian"),
    PCM_FORMAT_FLOAT_LE: ("<f4", 1, "FLOAT_LE", "Float 32 bit Little Endian"),
    PCM_FORMAT_FLOAT_BE: (">f4", 1, "FLOAT_BE", "Float 32 bit Big Endian"),
    PCM_FORMAT_FLOAT64_LE: ("<f8", 1, "FLOAT64_LE", "Float 64 bit Little Endian"),
    PCM_FORMAT_FLOAT64_BE: (">f8", 1, "FLOAT64_BE", "Float 64 bit Big Endian"),
}
#: Peak of the tone bursts (full scale 1.0): -6 dBFS.
TONE_AMPLITUDE = 0.5
TONE_HZ = 1000.0
TONE_SECONDS = 0.100
USB_PACKET_SECONDS = 0.001


class ALSAAudioError(Exception):
    """pyalsaaudio's one exception type."""


def _cards() -> list[tuple[str, str, str]]:
    """The cards there are now, in index order: the board's, then the microphone's."""
    w = _world.current()
    mic = [] if w.mic_failed else [(MIC_ID, CARD, MIC_LONGNAME)]
    return [*BOARD_CARDS[w.board], *mic]


def _mic_index() -> int:
    """The microphone's card number: the next after the board's own cards."""
    return len(BOARD_CARDS[_world.current().board])


def cards() -> list[str]:
    """The ids of the cards there are (``alsaaudio.cards()``: snd_ctl_card_info_get_id)."""
    return [card_id for card_id, _, _ in _cards()]


def card_indexes() -> list[int]:
    """The numbers of the cards there are."""
    return list(range(len(_cards())))


def card_name(card: int) -> tuple[str, str]:
    """(name, longname) of card number ``card``; ALSAAudioError for one that is not there."""
    if not 0 <= card < MAX_CARDS:
        raise ALSAAudioError(f"Invalid argument [{card}]")
    there = _cards()
    if card >= len(there):
        raise ALSAAudioError(f"No such file or directory [{card}]")
    return there[card][1], there[card][2]


def pcms(pcmtype: object = PCM_PLAYBACK) -> list[str]:
    """The names alsa-lib's hints give for capture: the card's, by id, while it is there.
    (A real list also has ``null`` and names this simulation does not open, and playback
    names for the HDMI outputs; the simulation has no playback.)"""
    if _pcmtype(pcmtype) != PCM_CAPTURE:
        return []
    if _world.current().mic_failed:
        return ["default"]
    return ["default", f"hw:CARD={MIC_ID},DEV=0", f"plughw:CARD={MIC_ID},DEV=0",
            f"default:CARD={MIC_ID}", f"sysdefault:CARD={MIC_ID}"]


def _open_device(device: str) -> bool:
    """Whether ``device`` reaches the microphone through plug (True) or as the card itself,
    or the ALSAAudioError that snd_pcm_open gives for it."""
    w = _world.current()

    def fail(code: int) -> ALSAAudioError:
        return ALSAAudioError(f"{os.strerror(code)} [{device}]")

    if device == "default":  # the system's default capture: the microphone (see docs)
        if w.mic_failed:
            raise fail(errno.ENODEV)
        return True
    if m := _BY_NUMBER.fullmatch(device):
        # A card number: snd_card_get_index opens /dev/snd/controlC<n> (ENOENT when there
        # is no such card); a card without capture device <dev> has no pcmC<n>D<dev>c.
        number, dev = int(m[2]), int(m[3] or 0)
        if number >= MAX_CARDS:
            raise fail(errno.EINVAL)
        if number != _mic_index() or w.mic_failed or dev != 0:
            raise fail(errno.ENOENT)
        return m[1] == "plughw"
    if m := _BY_ID.fullmatch(device):
        # A card id: snd_card_get_index looks it up among the cards there are (ENODEV).
        card_id, dev = m[2] or m[5], int(m[3] or 0)
        if card_id not in cards():
            raise fail(errno.ENODEV)
        if card_id != MIC_ID or dev != 0:
            raise fail(errno.ENOENT)
        return m[1] != "hw"
    raise fail(errno.ENOENT)  # "Unknown PCM" in alsa-lib's configuration


def _pcmtype(value: object) -> int:
    """pyalsaaudio's get_pcmtype: None, 0/1 or "playback"/"capture"."""
    if value is None:
        return PCM_PLAYBACK
    if isinstance(value, int) and value in (PCM_PLAYBACK, PCM_CAPTURE):
        return value
    if value in ("playback", "capture"):
        return PCM_CAPTURE if value == "capture" else PCM_PLAYBACK
    raise ALSAAudioError("PCM type must be PCM_PLAYBACK (0) or PCM_CAPTURE (1)")


class PCM:
    """A capture stream on the simulated microphone.

    The arguments are pyalsaaudio's, in its order (``card`` is its deprecated one). Like
    the C module it never fails on a rate, channel count, format or period it cannot
    have: it takes what the device gives, and ``info()`` says what that is. The card
    itself (``hw:``) gives 16-bit mono at 44.1 or 48 kHz; plug devices convert.
    """

    def __init__(self, type: object = PCM_PLAYBACK, mode: int = PCM_NORMAL,  # noqa: A002
                 device: str = "default", cardindex: int = -1, card: str | None = None,
                 rate: int = 44100, channels: int = 2,
                 format: int = PCM_FORMAT_S16_LE,  # noqa: A002
                 periodsize: int = 32, periods: int = 4) -> None:
        w = _world.current()
        if cardindex >= 0:
            if cardindex >= 32:
                raise ALSAAudioError(f"Invalid card number {cardindex}")
            device = f"hw:{cardindex}"
        elif card is not None:
            warnings.warn("The `card` keyword argument is deprecated. Please use `device` "
                          "instead", DeprecationWarning, stacklevel=2)
            device = f"default:CARD={card}"
        pcmtype = _pcmtype(type)
        if not PCM_NORMAL <= mode <= PCM_ASYNC:
            raise ALSAAudioError("Invalid PCM mode")
        if pcmtype != PCM_CAPTURE:
            raise NotImplementedError("the simulation has a microphone only: no playback")
        self._plug = _open_device(device)
        self._world = w
        self._device = device
        self._mode = mode
        self._card = _mic_index()
        self._generation = w.mic_generation
        self._closed = False
        self._t_start: float | None = None
        self._setup(rate, channels, format, periodsize, periods)
        w.log("mic_open", device=device, rate=self._rate, ppm=w.mic_clock_ppm)

    def _setup(self, rate: int, channels: int, fmt: int, periodsize: int, periods: int) -> None:
        """pyalsaaudio's alsapcm_setup: ask for each, keep what the device gives."""
        if self._plug:  # alsa-lib's plug converts rate, channels and format
            if fmt not in FORMATS:
                raise NotImplementedError(f"format {fmt} is not simulated")
            self._rate, self._channels, self._format = rate, max(1, channels), fmt
        else:  # set_rate_near; the card's one channel count and format
            self._rate = min(RATES, key=lambda r: abs(r - rate))
            self._channels, self._format = CARD_CHANNELS, CARD_FORMAT
        self._periodsize, self._periods = max(1, periodsize), max(1, periods)
        self._true_rate = self._rate * (1 + self._world.mic_clock_ppm / 1e6)
        #: When capture started; None while PREPARED (after open, and after an overrun's
        #: snd_pcm_prepare): the next read() starts it, as ALSA's start_threshold of 1 does.
        self._t_start = None
        self._pos = 0  # index, counted from the start, of the next sample read() returns

    # -- pyalsaaudio surface ---------------------------------------------------------------

    def info(self) -> dict[str, Any]:
        """``PCM.info()`` but the capability flags (``is_*``, ``can_*``). Like the real one
        it raises only when closed: an unplugged card's stream is DISCONNECTED."""
        self._check_open()
        dtype, _, name, description = FORMATS[self._format]
        bits = np.dtype(dtype).itemsize * 8
        return {
            "name": self._device, "card_no": self._card, "device_no": 0, "subdevice_no": 0,
            "state": _STATE_NAMES[self.state()], "access_type": "RW_INTERLEAVED",
            " (call value) type": PCM_CAPTURE, " (call value) type_name": "CAPTURE",
            " (call value) mode": self._mode,
            " (call value) mode_name": ("PCM_NORMAL", "PCM_NONBLOCK", "PCM_ASYNC")[self._mode],
            "format": self._format, "format_name": name, "format_description": description,
            "subformat_name": "STD", "subformat_description": "Standard",
            "channels": self._channels, "rate": self._rate,
            "period_time": self._periodsize * 1_000_000 // self._rate,
            "period_size": self._periodsize,
            "buffer_time": self._buffer_size * 1_000_000 // self._rate,
            "buffer_size": self._buffer_size, "periods": self._periods,
            "rate_numden": (self._rate, 1), "significant_bits": bits, "nominal_bits": bits,
            "physical_bits": bits,
        }

    def state(self) -> int:
        """``PCM_STATE_*``: PREPARED until the first read, RUNNING, XRUN once the buffer is
        full, DISCONNECTED once the card is gone."""
        self._check_open()
        if self._gone():
            return PCM_STATE_DISCONNECTED
        if self._t_start is None:
            return PCM_STATE_PREPARED
        full = self._captured() - self._pos >= self._buffer_size
        return PCM_STATE_XRUN if full else PCM_STATE_RUNNING

    def pcmtype(self) -> int:
        self._check_open()
        return PCM_CAPTURE

    def pcmmode(self) -> int:
        self._check_open()
        return self._mode

    def cardname(self) -> str:
        """The device name the PCM was opened with (not the card's name), as pyalsaaudio."""
        self._check_open()
        return self._device

    def setchannels(self, channels: int) -> int:
        """Deprecated in pyalsaaudio 0.9; sets up again and returns what the device gives."""
        return self._deprecated_set("channels", channels)

    def setrate(self, rate: int) -> int:
        """Deprecated in pyalsaaudio 0.9; sets up again and returns what the device gives."""
        return self._deprecated_set("rate", rate)

    def setformat(self, format: int) -> int:  # noqa: A002
        """Deprecated in pyalsaaudio 0.9; sets up again and returns what the device gives."""
        return self._deprecated_set("format", format)

    def setperiodsize(self, periodsize: int) -> int:
        """Deprecated in pyalsaaudio 0.9; sets up again and returns what the device gives."""
        return self._deprecated_set("periodsize", periodsize)

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
        return -errno.EPIPE if waiting >= self._buffer_size else waiting

    def read(self) -> tuple[int, bytes]:
        """Up to ``periodsize`` frames; ``(-EPIPE, b"")`` after an overrun."""
        self._check()
        if self._t_start is None:  # PREPARED: this read starts the capture
            self._t_start, self._pos = self._world.clock.monotonic(), 0
        captured = self._captured()
        if captured - self._pos >= self._buffer_size:
            # The buffer filled up (stop_threshold = buffer size): the stream stopped in
            # XRUN. pyalsaaudio prepares it again, which drops the buffer; capture starts
            # again at the next read().
            self._t_start = None
            self._world.log("mic_overrun")
            return -errno.EPIPE, b""
        n = min(self._periodsize, captured - self._pos)
        if n <= 0:
            if self._mode == PCM_NONBLOCK:
                return 0, b""
            raise NotImplementedError("blocking reads are not simulated; open with PCM_NONBLOCK")
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

    @property
    def _buffer_size(self) -> int:
        return self._periodsize * self._periods

    def _deprecated_set(self, what: str, value: int) -> int:
        self._check_open()
        warnings.warn(f"This function is deprecated. Please use the named parameter `{what}` "
                      "to `PCM()` instead", DeprecationWarning, stacklevel=3)
        if self._t_start is not None:  # hw params cannot change on a running stream
            raise ALSAAudioError(f"File descriptor in bad state [{self._device}]")
        want = {"rate": self._rate, "channels": self._channels, "fmt": self._format,
                "periodsize": self._periodsize, "periods": self._periods}
        want["fmt" if what == "format" else what] = value
        self._setup(**want)
        return {"rate": self._rate, "channels": self._channels, "format": self._format,
                "periodsize": self._periodsize}[what]

    def _captured(self) -> int:
        """Card samples captured since the start, in whole USB packets."""
        assert self._t_start is not None
        elapsed = self._world.clock.monotonic() - self._t_start
        per_packet = self._rate * USB_PACKET_SECONDS
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
        dtype, scale, _, _ = FORMATS[self._format]
        if scale != 1:  # an integer format
            out = np.round(out * scale)
        # Interleaved frames: a plug device copies the mono channel to each one it gives.
        return np.repeat(out, self._channels).astype(dtype).tobytes()
