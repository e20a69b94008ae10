"""Measure audio/video sync in any file recorded from the simulation.

The simulated microphone plays a 1 kHz burst starting exactly when frame
``n * fps`` is captured (hw_sim/fake_alsaaudio.py), and every frame carries its
number in the frame tag (hw_sim/frametag.py). So in a file, each burst's onset
should be where the frame with the matching tag is shown: the offset between
the two is the A/V error a viewer would see (positive: sound late).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hw_sim.frametag import read_tag

#: A sample this loud (full scale 1.0) after this much quiet starts a burst.
ONSET_LEVEL = 0.1
QUIET_SECONDS = 0.5


@dataclass(frozen=True)
class SyncPoint:
    """One burst: the frame tag it belongs to, when that frame and the sound are shown."""

    tag: int
    frame_s: float
    onset_s: float

    @property
    def offset_ms(self) -> float:
        return (self.onset_s - self.frame_s) * 1000


def tone_onsets(times: np.ndarray, samples: np.ndarray) -> list[float]:
    """Times of samples that reach :data:`ONSET_LEVEL` after :data:`QUIET_SECONDS` of quiet."""
    loud = np.flatnonzero(np.abs(samples) >= ONSET_LEVEL)
    onsets: list[float] = []
    last = -np.inf
    for i in loud:
        t = float(times[i])
        if t - last >= QUIET_SECONDS:
            onsets.append(t)
        last = t
    return onsets


def decode(path: str | os.PathLike[str]) -> tuple[dict[int, float], np.ndarray, np.ndarray]:
    """(frame tag -> display time, audio sample times, audio samples) of a file."""
    import av

    tags: dict[int, float] = {}
    times: list[np.ndarray] = []
    samples: list[np.ndarray] = []
    with av.open(str(Path(path))) as c:
        if c.streams.video:
            for frame in c.decode(video=0):
                if frame.time is not None:
                    tags.setdefault(read_tag(frame.to_ndarray(format="gray")), float(frame.time))
    with av.open(str(Path(path))) as c:
        if c.streams.audio:
            for frame in c.decode(audio=0):
                if frame.time is None:
                    continue
                x = frame.to_ndarray()[0].astype(np.float32)
                samples.append(x)
                times.append(float(frame.time) + np.arange(len(x)) / frame.sample_rate)
    if not samples:
        return tags, np.zeros(0), np.zeros(0, np.float32)
    return tags, np.concatenate(times), np.concatenate(samples)


def measure(path: str | os.PathLike[str], fps: int) -> list[SyncPoint]:
    """Every burst in the file paired with the frame whose capture started it."""
    tags, times, samples = decode(path)
    points: list[SyncPoint] = []
    if not tags:
        return points
    # Scenario second s is frame s*fps; map each onset to the nearest such frame shown.
    seconds = sorted((tag // fps, t) for tag, t in tags.items() if tag % fps == 0)
    for onset in tone_onsets(times, samples):
        best = min(seconds, key=lambda st: abs(st[1] - onset), default=None)
        if best is not None and abs(best[1] - onset) < 0.45:
            points.append(SyncPoint(best[0] * fps, best[1], onset))
    return points
