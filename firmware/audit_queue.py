"""Audit entries through the evidence writer's queue: the loop never waits for their fsync.

Each entry is appended (written and fsync'd) by the writer thread in the order
the loop queued it, interleaved in that same order with the recording's own
writes. A failing medium is logged to the journal, as before. If the queue is
full (``io_worker.MAX_JOBS`` entries waiting: storage has hung for minutes),
the entry is not kept and the journal says so.

A signed checkpoint (FORMAT.md §10) pins the log so far, the monotonic counter,
the last recording number and the evidence chain head; those last two are read
on the writer thread (``pins``), where the store changes them, so a checkpoint
always matches the entries and recordings before it.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any, Protocol

from recorder.io_worker import IoWorker

log = logging.getLogger("bodycam")


class AuditLogLike(Protocol):
    """What is queued: ``evidence.auditlog.AuditLog``."""

    @property
    def signer(self) -> object | None: ...

    def append(self, event: str, **fields: Any) -> dict[str, Any]: ...

    def checkpoint(self, recording_seq: int = ..., chain_head: str = ...) -> dict[str, Any]: ...


#: Entries written this long after the last checkpoint get one (FORMAT.md §10).
CHECKPOINT_EVERY_S = 60.0


def checkpoint_due(last: float | None, now: float) -> bool:
    """True when entries have been written for a minute without a signed checkpoint."""
    return last is not None and now - last >= CHECKPOINT_EVERY_S


class QueuedAudit:
    """``append`` and ``checkpoint`` of an audit log, run on the writer thread.

    ``pins`` returns the (last recording number, chain head hex) a checkpoint signs,
    or None without an evidence store. With ``now`` (the loop's monotonic clock), an
    entry written a minute after the last checkpoint is followed by one.
    """

    def __init__(self, worker: IoWorker, log_: AuditLogLike,
                 pins: Callable[[], tuple[int, str] | None] = lambda: None,
                 now: Callable[[], float] | None = None) -> None:
        self._worker = worker
        self.log = log_
        self._pins = pins
        self._now = now
        self._last_checkpoint = now() if now is not None else None

    def append(self, event: str, **fields: Any) -> None:
        """Queue one entry; never blocks, never raises for the medium."""
        job = functools.partial(self._append, event, fields)
        if not self._worker.submit(job):
            log.error("audit queue full, entry not kept: %s %s", event, fields)
        if self._now is not None and checkpoint_due(self._last_checkpoint, self._now()):
            self.checkpoint()

    def checkpoint(self) -> None:
        """Queue a signed checkpoint (when the log has a signing key)."""
        if self._now is not None:
            self._last_checkpoint = self._now()
        if self.log.signer is not None and not self._worker.submit(self._checkpoint):
            log.error("audit queue full, checkpoint not written")

    def _append(self, event: str, fields: dict[str, Any]) -> None:
        try:
            self.log.append(event, **fields)
        except OSError as e:
            log.error("audit log write failed (%s): %s %s", e, event, fields)

    def _checkpoint(self) -> None:
        try:
            pins = self._pins()
            if pins is None:
                self.log.checkpoint()
            else:
                self.log.checkpoint(*pins)
        except OSError as e:
            log.error("audit checkpoint failed: %s", e)


def chain_pins(store: object) -> tuple[int, str] | None:
    """The last recording number and chain head a checkpoint signs (on the writer
    thread, where the store changes them); None without an evidence store."""
    chain = getattr(store, "chain", None)
    return None if chain is None else (chain.recording_seq, chain.head.hex())
