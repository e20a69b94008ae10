"""AAC-LC, 48 kHz mono, with PyAV: grid samples in, timestamped ADTS packets out.

The samples come on the 48 kHz boot-time grid (``drivers.audio_timing``): grid
sample ``k`` is at boot time ``k / 48000``, so an AAC frame's timestamp is
simply the grid time of its first sample. FFmpeg's encoder delays its output by
its priming (1024 samples, ``initial_padding``) and stamps the first packet
1024 samples early; the decoded samples of packet ``p`` are the input samples
from ``p.pts`` on, so keeping the encoder's own packet timestamps keeps sound
and time together in MPEG-TS as in MP4.

Each packet carries an ADTS header (ISO/IEC 14496-3 1.A.2): MPEG-TS requires it
for AAC, and a segment cut anywhere still decodes from its next header.
"""

from __future__ import annotations

from fractions import Fraction

import av
import numpy as np

from .packet import AUDIO, Packet

SAMPLE_RATE = 48_000
FRAME_SAMPLES = 1024
#: ADTS sampling-frequency index of 48 kHz.
_FREQ_INDEX = 3
_AAC_LC = 2  # audio object type


def adts_header(payload_len: int, channels: int = 1) -> bytes:
    """The 7-byte ADTS header (no CRC) for one raw AAC-LC frame of ``payload_len`` bytes."""
    n = payload_len + 7
    if n >= 1 << 13:
        raise ValueError(f"AAC frame of {payload_len} bytes is too long for ADTS")
    return bytes((
        0xFF, 0xF1,  # sync, MPEG-4, layer 0, no CRC
        ((_AAC_LC - 1) << 6) | (_FREQ_INDEX << 2) | (channels >> 2),
        ((channels & 3) << 6) | (n >> 11),
        (n >> 3) & 0xFF,
        ((n & 7) << 5) | 0x1F,
        0xFC,  # buffer fullness 0x7FF (VBR), one raw data block
    ))


class AacEncoder:
    """One continuous run of audio: :meth:`encode` grid samples, :meth:`flush` at a gap."""

    def __init__(self, bitrate: int = 64_000) -> None:
        self.bitrate = bitrate
        self._ctx: av.AudioCodecContext | None = None
        self._next_k: int | None = None
        self._pending = np.zeros(0, np.float32)
        self._pending_k = 0
        self.samples_in = 0

    def encode(self, first_k: int, samples: np.ndarray) -> list[Packet]:
        """Encode samples whose first is grid sample ``first_k`` (contiguous with the last call,
        or the first of a new run after :meth:`flush`)."""
        if not len(samples):
            return []
        if self._next_k is not None and first_k != self._next_k:
            raise ValueError(f"grid sample {first_k} does not follow {self._next_k}; flush first")
        if self._ctx is None:
            self._open()
            self._pending_k = first_k
        self._next_k = first_k + len(samples)
        self.samples_in += len(samples)
        buf = np.concatenate([self._pending, np.clip(samples, -1.0, 1.0).astype(np.float32)])
        whole = len(buf) // FRAME_SAMPLES * FRAME_SAMPLES
        out: list[Packet] = []
        for start in range(0, whole, FRAME_SAMPLES):
            out += self._frame(buf[start:start + FRAME_SAMPLES], self._pending_k + start)
        self._pending = buf[whole:]
        self._pending_k += whole
        return out

    def flush(self) -> list[Packet]:
        """End this run (a gap follows): the partial last frame padded, the encoder drained."""
        if self._ctx is None:
            return []
        out: list[Packet] = []
        if len(self._pending):
            pad = np.zeros(FRAME_SAMPLES, np.float32)
            pad[: len(self._pending)] = self._pending
            out += self._frame(pad, self._pending_k)
        out += [self._packet(p) for p in self._ctx.encode(None)]
        self._ctx = None
        self._next_k = None
        self._pending = np.zeros(0, np.float32)
        return out

    def _open(self) -> None:
        ctx = av.CodecContext.create("aac", "w")
        assert isinstance(ctx, av.AudioCodecContext)
        ctx.sample_rate = SAMPLE_RATE
        ctx.layout = "mono"
        ctx.format = "fltp"
        ctx.bit_rate = self.bitrate
        ctx.time_base = Fraction(1, SAMPLE_RATE)
        # The "fast" coder: about 60 % of the CPU of the default two-loop search, at the
        # same bitrate (bench/bench_audio.py); speech at 64 kbit/s does not need more.
        ctx.options = {"aac_coder": "fast"}
        ctx.open()
        self._ctx = ctx

    def _frame(self, samples: np.ndarray, k: int) -> list[Packet]:
        assert self._ctx is not None
        frame = av.AudioFrame.from_ndarray(samples.reshape(1, -1), format="fltp", layout="mono")
        frame.sample_rate = SAMPLE_RATE
        frame.time_base = Fraction(1, SAMPLE_RATE)
        frame.pts = k
        return [self._packet(p) for p in self._ctx.encode(frame)]

    @staticmethod
    def _packet(p: av.Packet) -> Packet:
        raw = bytes(p)
        assert p.pts is not None
        # Grid sample k is at boot time k/48000 s: exact µs with integer arithmetic.
        pts_us = p.pts * 1_000_000 // SAMPLE_RATE
        return Packet(adts_header(len(raw)) + raw, True, pts_us, AUDIO)
