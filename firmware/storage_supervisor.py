"""Watches the evidence medium: free space, the space reserve, and retrying after a fault.

It reports up and down through callbacks and knows nothing of the daemon:

- ``on_alert(alert, on)``: raise or clear ``storage_low``, ``storage_full``,
  ``storage_error``;
- ``on_back()``: a retry found storage working again (probe written and
  fsync'd, the reserve back in place); the owner then resumes what waited;
- ``audit(event, **fields)``: what happened, for the audit log.

Its I/O (the probe, the 8 MiB reserve file) runs through ``run_io``, the
evidence writer's queue, so the loop never waits for it; free space is read
on the loop (``statvfs`` is answered from the file system's counters).
"""

from __future__ import annotations

import errno
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from display import Alert
from drivers.clock import Clock, Timer
from drivers.storage import Storage

log = logging.getLogger("bodycam")

#: How often free space is read.
STORAGE_CHECK_S = 5.0
#: Retrying failed storage: first after this long, doubling up to the maximum.
RETRY_FIRST_S, RETRY_MAX_S = 1.0, 30.0


@dataclass(frozen=True)
class Limits:
    """The ``[storage]`` section's thresholds, in bytes and percent."""

    min_free: int
    reserve: int
    nearly_full_percent: float


class RunIo(Protocol):
    """Queue a job for the evidence writer; ``on_done(result)`` runs on the loop."""

    def __call__(self, job: Callable[[], Any], on_done: Callable[[Any], None]) -> None: ...


class StorageSupervisor:
    """Free space, reserve and back-off for one data directory (see the module docstring)."""

    def __init__(self, clock: Clock, storage: Storage, limits: Limits, *, run_io: RunIo,
                 on_alert: Callable[[Alert, bool], None], on_back: Callable[[], None],
                 audit: Callable[..., None]) -> None:
        self.clock = clock
        self.storage = storage
        self.limits = limits
        self._run_io = run_io
        self._on_alert = on_alert
        self._on_back = on_back
        self._audit = audit
        self.alerts: set[Alert] = set()
        self.down = False  # a fault is open: the retry owns the full/error alerts
        self._retry: Timer | None = None
        self._retry_delay = RETRY_FIRST_S
        self._next_check = 0.0
        self._placing = False  # a reserve write is queued: do not queue another

    # -- life cycle --------------------------------------------------------------------------

    def start(self) -> None:
        """Put the reserve in place, read free space."""
        def placed(ok: bool) -> None:
            self._placing = False
            if not ok:
                log.warning("no room for the %d MiB storage reserve", self.limits.reserve >> 20)

        self._placing = True
        self._run_io(self.storage.ensure_reserve, placed)
        self.check(self.clock.monotonic())

    def tick(self, now: float) -> None:
        """From the daemon's housekeeping tick."""
        if now >= self._next_check:
            self.check(now)

    def cancel(self) -> None:
        """No more retries (shutdown)."""
        if self._retry is not None:
            self._retry.cancel()
            self._retry = None

    # -- readings ----------------------------------------------------------------------------

    def free_bytes(self) -> int:
        """Free space now; raises OSError if the data directory cannot be read."""
        return self.storage.free_bytes()

    def check(self, now: float) -> None:
        """Read free space: warn when nearly full; clear a full alert once there is room."""
        self._next_check = now + STORAGE_CHECK_S
        lim = self.limits
        try:
            free, total = self.storage.free_bytes(), self.storage.total_bytes()
        except OSError as e:
            log.error("cannot read free space of %s: %s", self.storage.data_dir, e)
            return
        low = free < total * lim.nearly_full_percent / 100
        if low and not {Alert.STORAGE_LOW, Alert.STORAGE_FULL} & self.alerts:
            log.warning("storage nearly full: %d MiB free of %d MiB", free >> 20, total >> 20)
            self._audit("storage_low", free_bytes=free, total_bytes=total)
            self.alert(Alert.STORAGE_LOW, True)
        elif not low:
            self.alert(Alert.STORAGE_LOW, False)
        if not self.down:  # in a fault the retry owns the alert
            self.alert(Alert.STORAGE_FULL, free < lim.min_free)
            if not self._placing and not self.storage.reserved and free >= lim.min_free + lim.reserve:
                self._placing = True
                self._run_io(self.storage.ensure_reserve, self._reserve_restored)

    def _reserve_restored(self, ok: bool) -> None:
        self._placing = False
        if ok:
            log.info("storage reserve of %d MiB back in place", self.limits.reserve >> 20)
            self._audit("storage_reserve_restored")

    def alert(self, code: Alert, on: bool) -> None:
        """Raise or clear one storage alert (reported only when it changes)."""
        if on == (code in self.alerts):
            return
        (self.alerts.add if on else self.alerts.discard)(code)
        self._on_alert(code, on)

    # -- faults ------------------------------------------------------------------------------

    def failed(self, error: OSError, *, full: bool, freed: int) -> None:
        """A write or fsync failed (the writer released ``freed`` reserve bytes)."""
        self.down = True
        self.alert(Alert.STORAGE_FULL if full else Alert.STORAGE_ERROR, True)
        if full:
            self.alert(Alert.STORAGE_LOW, False)
        log.error("storage %s: %s%s", "full" if full else "error", error,
                  f"; released the {freed >> 20} MiB reserve" if freed else "")
        self._audit("storage_error", error=str(error), errno=error.errno or 0, freed_reserve=freed)
        if self._retry is None:
            self._schedule_retry()

    def still_failing(self, error: OSError) -> None:
        """A retry found storage failing still: try again later, less often."""
        log.warning("storage still failing (%s); next try in %.0f s", error, self._retry_delay)
        self._schedule_retry()

    def recovered(self) -> None:
        """Storage works again: clear its alerts and the retry schedule."""
        self.down = False
        self.cancel()
        self._retry_delay = RETRY_FIRST_S
        if {Alert.STORAGE_FULL, Alert.STORAGE_ERROR} & self.alerts:
            try:
                room = self.storage.free_bytes() >= self.limits.min_free
            except OSError:
                room = False
            if room:
                self.alert(Alert.STORAGE_FULL, False)
            self.alert(Alert.STORAGE_ERROR, False)
            if room:  # a close that fitted into the reserve's room is not a recovery
                self._audit("storage_recovered")

    def _schedule_retry(self) -> None:
        self._retry = self.clock.call_later(self._retry_delay, self._retry_now)
        self._retry_delay = min(self._retry_delay * 2, RETRY_MAX_S)

    def _retry_now(self) -> None:
        self._retry = None
        if self.down:
            self._run_io(self._probe, self._probed)

    def _probe(self) -> OSError | None:
        """On the writer thread: room above the minimum, a probe written and fsync'd, the reserve."""
        try:
            if self.storage.free_bytes() < self.limits.min_free:
                raise OSError(errno.ENOSPC, "still below storage.min_free_mib")
            self.storage.probe()
            if not self.storage.ensure_reserve():
                raise OSError(errno.EIO, "the storage reserve could not be written")
        except OSError as e:
            return e
        return None

    def _probed(self, error: OSError | None) -> None:
        if error is not None:
            self.still_failing(error)
        else:
            self._on_back()
