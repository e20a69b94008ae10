"""The pre-record buffer: the last N seconds of encoded video, in RAM only.

Unlike picamera2's ``CircularOutput`` (a frame count, loses up to a GOP at the
start) this buffer is measured in seconds of sensor time and always hands out a
pre-roll that starts at a keyframe at or before ``trigger - seconds``: at least
the configured length, at most one GOP more. A byte cap bounds memory too; when
it bites, whole GOPs go, oldest first, and the shortfall is reported.

Nothing here touches storage: the buffer is a deque of GOPs of ``Packet``.

Audio packets (when sound is kept in the pre-roll) join the GOP in progress
when they arrive, a little after the video of the same moment; the pre-roll is
cut by time for both: sound from before its first keyframe is left out, so
picture and sound of a pre-roll start at the same moment.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable

from .packet import VIDEO, Packet

log = logging.getLogger(__name__)

#: 120 s at 12 Mbit/s: the cap that fits the longest pre-record at a high bitrate.
DEFAULT_MAX_BYTES = 120 * 12_000_000 // 8
MAX_SECONDS = 120.0


class _Gop:
    """A keyframe and everything after it up to the next keyframe."""

    __slots__ = ("packets", "nbytes", "start_us")

    def __init__(self, first: Packet) -> None:
        self.packets = [first]
        self.nbytes = first.size
        self.start_us = first.pts_us

    def add(self, pkt: Packet) -> None:
        self.packets.append(pkt)
        self.nbytes += pkt.size


class PreRecordBuffer:
    """Holds whole GOPs covering at least ``seconds`` of sensor time.

    A gesture is recognised a little after the moment it started (a double
    press takes half a second), so the buffer keeps ``trigger_slack`` seconds
    more than asked: a trigger dated up to that much before the newest packet
    still gets its full pre-roll.

    ``on_shortfall(covered_s, wanted_s)`` is called once each time the byte cap
    starts to cut the buffer below the wanted length (for the audit log).
    """

    def __init__(
        self,
        seconds: float = 30.0,
        max_bytes: int = DEFAULT_MAX_BYTES,
        on_shortfall: Callable[[float, float], None] | None = None,
        trigger_slack: float = 2.0,
    ) -> None:
        self._gops: deque[_Gop] = deque()
        self._nbytes = 0
        self._max_bytes = 0
        self._seconds = 0.0
        self._in_shortfall = False
        self._skip_to_keyframe = False
        self.on_shortfall = on_shortfall
        self._slack_us = round(trigger_slack * 1e6)
        self.evicted_for_cap = 0
        self.max_bytes = max_bytes
        self.seconds = seconds

    # -- configuration, changeable while running -------------------------------------------

    @property
    def seconds(self) -> float:
        """Wanted pre-roll length in seconds (0 to 120)."""
        return self._seconds

    @seconds.setter
    def seconds(self, value: float) -> None:
        if not 0.0 <= value <= MAX_SECONDS:
            raise ValueError(f"pre-record length {value} s is outside 0–{MAX_SECONDS:g} s")
        self._seconds = float(value)
        self._evict_by_time()

    @property
    def max_bytes(self) -> int:
        """Memory cap on the encoded bytes held."""
        return self._max_bytes

    @max_bytes.setter
    def max_bytes(self, value: int) -> None:
        if value <= 0:
            raise ValueError("pre-record byte cap must be positive")
        self._max_bytes = int(value)
        self._evict_by_cap()

    # -- state -----------------------------------------------------------------------------

    @property
    def nbytes(self) -> int:
        """Encoded bytes held right now."""
        return self._nbytes

    @property
    def covered_seconds(self) -> float:
        """Sensor time from the oldest held keyframe to the newest packet."""
        if not self._gops:
            return 0.0
        return (self._gops[-1].packets[-1].pts_us - self._gops[0].start_us) / 1e6

    def __len__(self) -> int:
        return sum(len(g.packets) for g in self._gops)

    # -- the path --------------------------------------------------------------------------

    def append(self, pkt: Packet) -> None:
        """Add one packet; evicts what no future trigger can need."""
        if pkt.stream == VIDEO and pkt.keyframe:
            self._skip_to_keyframe = False
            self._gops.append(_Gop(pkt))
        elif self._gops and not self._skip_to_keyframe:
            self._gops[-1].add(pkt)
        else:
            return  # nothing decodable to attach it to yet
        self._nbytes += pkt.size
        self._evict_by_time()
        self._evict_by_cap()

    def take(self, trigger_us: int | None, seconds: float | None = None) -> list[Packet]:
        """Hand out the pre-roll for a trigger at sensor time ``trigger_us`` and empty.

        The pre-roll starts at the newest keyframe at or before
        ``trigger_us - seconds`` (or the oldest held, if the camera has not run
        that long) and runs to the newest packet, including any that arrived
        after the trigger moment itself. ``None`` hands out everything held
        (footage kept in RAM while storage was failing). ``seconds`` overrides
        the length for this pre-roll (the buffer may be holding more, for a
        recording that storage could not start at once).
        """
        start = 0
        if trigger_us is not None:
            length = self._seconds if seconds is None else seconds
            cutoff = trigger_us - round(length * 1e6)
            for i, gop in enumerate(self._gops):
                if gop.start_us <= cutoff:
                    start = i
                else:
                    break
        gops = list(self._gops)[start:]
        begin = gops[0].start_us if gops else 0
        packets = [p for gop in gops for p in gop.packets
                   if p.stream == VIDEO or p.pts_us >= begin]
        self.clear()
        return packets

    def clear(self) -> None:
        """Discard everything (pre-record switched off, trigger served, shutdown)."""
        self._gops.clear()
        self._nbytes = 0
        self._in_shortfall = False

    # -- eviction --------------------------------------------------------------------------

    def _evict_by_time(self) -> None:
        # GOP 0 can go once GOP 1 starts at or before (newest - slack - seconds):
        # any trigger dated from (newest - slack) on has its cutoff at or after
        # GOP 1's keyframe.
        if not self._gops:
            return
        cutoff = self._gops[-1].packets[-1].pts_us - round(self._seconds * 1e6) - self._slack_us
        while len(self._gops) > 1 and self._gops[1].start_us <= cutoff:
            self._drop_oldest()
        if self._in_shortfall and self.covered_seconds >= self._seconds:
            self._in_shortfall = False

    def _evict_by_cap(self) -> None:
        if self._nbytes <= self._max_bytes:
            return
        while self._gops and self._nbytes > self._max_bytes:
            if len(self._gops) == 1:
                # A single GOP larger than the cap: drop it and wait for a keyframe.
                self._skip_to_keyframe = True
            self._drop_oldest()
            self.evicted_for_cap += 1
        covered = self.covered_seconds
        if not self._in_shortfall and covered < self._seconds:
            self._in_shortfall = True
            log.warning(
                "pre-record byte cap %d reached: buffer covers %.1f s of the wanted %.1f s",
                self._max_bytes, covered, self._seconds,
            )
            if self.on_shortfall is not None:
                self.on_shortfall(covered, self._seconds)

    def _drop_oldest(self) -> None:
        gop = self._gops.popleft()
        self._nbytes -= gop.nbytes
