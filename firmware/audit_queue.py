"""Audit entries through the evidence writer's queue: the loop never waits for their fsync.

Each entry is appended (written and fsync'd) by the writer thread in the order
the loop queued it, interleaved in that same order with the recording's own
writes. A failing medium is logged to the journal, as before. If the queue is
full (``io_worker.MAX_JOBS`` entries waiting: storage has hung for minutes),
the entry is not kept and the journal says so.
"""

from __future__ import annotations

import functools
import logging
from typing import Any, Protocol

from recorder.io_worker import IoWorker

log = logging.getLogger("bodycam")


class AuditLogLike(Protocol):
    """What is queued: ``evidence.auditlog.AuditLog``."""

    @property
    def signer(self) -> object | None: ...

    def append(self, event: str, **fields: Any) -> dict[str, Any]: ...

    def checkpoint(self) -> dict[str, Any]: ...


class QueuedAudit:
    """``append`` and ``checkpoint`` of an audit log, run on the writer thread."""

    def __init__(self, worker: IoWorker, log_: AuditLogLike) -> None:
        self._worker = worker
        self.log = log_

    def append(self, event: str, **fields: Any) -> None:
        """Queue one entry; never blocks, never raises for the medium."""
        job = functools.partial(self._append, event, fields)
        if not self._worker.submit(job):
            log.error("audit queue full, entry not kept: %s %s", event, fields)

    def checkpoint(self) -> None:
        """Queue a signed checkpoint (when the log has a signing key)."""
        if self.log.signer is not None and not self._worker.submit(self._checkpoint):
            log.error("audit queue full, checkpoint not written")

    def _append(self, event: str, fields: dict[str, Any]) -> None:
        try:
            self.log.append(event, **fields)
        except OSError as e:
            log.error("audit log write failed (%s): %s %s", e, event, fields)

    def _checkpoint(self) -> None:
        try:
            self.log.checkpoint()
        except OSError as e:
            log.error("audit checkpoint failed: %s", e)
