"""Putting a sound card's samples on the sensor's clock, however fast the card runs.

A sound card counts samples with its own crystal; 100 ppm off is normal, so
counting samples at the nominal 48 kHz puts speech 0.36 s beside the lips after
an hour of pre-record. Instead:

* :class:`DriftTracker` fits the card's samples against the capture clock the
  sensor timestamps use (CLOCK_BOOTTIME): each observation is "sample ``n`` was
  the newest captured at time ``t``" (frames read so far plus ALSA's ``avail``,
  taken right after a read). An exponentially weighted least-squares line
  through them gives the card's real sample period and where sample ``n`` sits
  on the boot-time axis; jitter in when we look (USB delivers in 1 ms packets,
  the loop is busy) averages out, drift does not accumulate.
* :class:`GridResampler` turns the card's samples into samples at exactly
  48 kHz *of boot time*: output sample ``k`` is taken (by linear interpolation)
  from where the fitted line says boot time ``k / 48000`` falls in the card's
  stream. Every 1024 output samples then last exactly 1024/48000 s of the
  sensor's clock, so an AAC frame's timestamp and its sound agree for a
  whole shift, and a player that plays samples back to back stays in sync.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

RATE = 48_000
#: Observations older than this (in seconds of samples) weigh 1/e as much as the newest.
FIT_SECONDS = 20.0


@dataclass(frozen=True)
class Fit:
    """Where sample ``n`` of the card's stream sits in boot time: ``t0 + (n - n0) * period``."""

    n0: int
    t0: float
    period: float

    def time_of(self, n: float) -> float:
        return self.t0 + (n - self.n0) * self.period

    def index_at(self, t: float) -> float:
        return self.n0 + (t - self.t0) / self.period

    @property
    def ppm(self) -> float:
        """How fast the card runs against boot time, in parts per million (+ = fast)."""
        return (1.0 / (self.period * RATE) - 1.0) * 1e6


class DriftTracker:
    """Exponentially weighted least squares of (sample index, boot time).

    Sums are kept about the newest observation, so the numbers stay small
    through a shift of any length. :meth:`restart` after samples were lost
    (overrun, device reopened): the index jumps, the card's rate is kept.
    """

    def __init__(self, nominal_rate: int = RATE, fit_seconds: float = FIT_SECONDS) -> None:
        self._nominal_period = 1.0 / nominal_rate
        self._tau_samples = fit_seconds * nominal_rate
        self._period = self._nominal_period
        self._origin: tuple[int, float] | None = None
        self._sw = self._sn = self._st = self._snn = self._snt = 0.0
        self.observations = 0

    @property
    def period(self) -> float:
        """Boot-time seconds per card sample (1/48000 for a perfect card)."""
        return self._period

    def restart(self) -> None:
        """Forget where the samples were (a discontinuity); keep the card's rate."""
        self._origin = None
        self._sw = self._sn = self._st = self._snn = self._snt = 0.0

    def observe(self, n: int, t: float) -> None:
        """Sample ``n`` was the newest captured at boot time ``t``."""
        self.observations += 1
        if self._origin is None:
            self._origin = (n, t)
            self._sw, self._sn, self._st, self._snn, self._snt = 1.0, 0.0, 0.0, 0.0, 0.0
            return
        n0, t0 = self._origin
        dn, dt = float(n - n0), t - t0
        if dn <= 0:
            return  # nothing new captured since the last look
        decay = math.exp(-dn / self._tau_samples)
        # Age the sums, add the new point, then move the origin to it.
        sw, sn, st = self._sw * decay, self._sn * decay, self._st * decay
        snn, snt = self._snn * decay, self._snt * decay
        sw, sn, st, snn, snt = sw + 1, sn + dn, st + dt, snn + dn * dn, snt + dn * dt
        self._sw = sw
        self._sn = sn - sw * dn
        self._st = st - sw * dt
        self._snn = snn - 2 * dn * sn + dn * dn * sw
        self._snt = snt - dn * st - dt * sn + dn * dt * sw
        self._origin = (n, t)
        var = self._snn - self._sn * self._sn / self._sw
        if var > (0.5 * RATE) ** 2 * self._sw:  # half a second of spread at least
            slope = (self._snt - self._sn * self._st / self._sw) / var
            if 0.9 * self._nominal_period < slope < 1.1 * self._nominal_period:
                self._period = slope

    def fit(self) -> Fit | None:
        """The current line, anchored at the weighted centre of the observations."""
        if self._origin is None:
            return None
        n0, t0 = self._origin
        mean_n, mean_t = self._sn / self._sw, self._st / self._sw
        # The weighted centroid lies on the fitted line; re-anchor at the newest index.
        t_at_newest = t0 + mean_t - mean_n * self._period
        return Fit(n0, t_at_newest, self._period)


class GridResampler:
    """Card samples in, samples on the 48 kHz boot-time grid out.

    Output sample ``k`` is at boot time ``k / RATE`` (an absolute grid, so a
    recording restarted after a gap stays on the same lattice). Feed blocks
    with the card index of their first sample; :meth:`pull` returns the grid
    samples that can be computed with the current fit.
    """

    def __init__(self, rate: int = RATE) -> None:
        self.rate = rate
        self._buf = np.zeros(0, np.float32)
        self._buf_start = 0  # card index of _buf[0]
        self._next_k: int | None = None

    def reset(self) -> None:
        """Drop what is held (after a discontinuity the next block starts afresh)."""
        self._buf = np.zeros(0, np.float32)
        self._next_k = None

    def feed(self, first_index: int, samples: np.ndarray) -> None:
        """Append card samples starting at card index ``first_index`` (contiguous)."""
        if not len(self._buf):
            self._buf_start = first_index
        self._buf = np.concatenate([self._buf, samples.astype(np.float32, copy=False)])

    def pull(self, fit: Fit) -> tuple[int, np.ndarray]:
        """(grid index of the first sample returned, samples); may be empty."""
        if len(self._buf) < 2:
            return (self._next_k or 0), np.zeros(0, np.float32)
        last = self._buf_start + len(self._buf) - 1  # need x < last to interpolate
        if self._next_k is None:
            self._next_k = math.ceil(fit.time_of(self._buf_start) * self.rate)
        k0 = self._next_k
        k_end = math.floor(fit.time_of(last) * self.rate)  # exclusive bound below
        if k_end <= k0:
            return k0, np.zeros(0, np.float32)
        ks = np.arange(k0, k_end, dtype=np.float64)
        x = (ks / self.rate - fit.t0) / fit.period + (fit.n0 - self._buf_start)
        x = np.clip(x, 0.0, len(self._buf) - 1.000001)
        i = x.astype(np.int64)
        frac = (x - i).astype(np.float32)
        out = self._buf[i] * (1 - frac) + self._buf[i + 1] * frac
        self._next_k = k_end
        keep_from = max(0, int(i[-1]))
        self._buf = self._buf[keep_from:]
        self._buf_start += keep_from
        return k0, out
