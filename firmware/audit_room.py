"""The audit log on a full card: the storage reserve is released to give it room.

A full card must not silence the log: a press refused for want of space, its
button entry and its cue are exactly what a custodian later needs to see. The
reserve file (docs/OPERATIONS.md) exists for this; it comes back once the card
has room again (``StorageSupervisor``). The daemon puts it inside the audit queue
(``firmware.audit_queue``), so the retry runs on the writer thread.
"""

from __future__ import annotations

import errno
import logging
from collections.abc import Callable
from typing import Any, Protocol

log = logging.getLogger("bodycam")

_FULL = (errno.ENOSPC, errno.EDQUOT)


class AuditSink(Protocol):
    """What the daemon and the cues need of the audit log."""

    @property
    def signer(self) -> object | None: ...

    def append(self, event: str, **fields: Any) -> dict[str, Any]: ...

    def checkpoint(self, recording_seq: int = ..., chain_head: str = ...) -> dict[str, Any]: ...


class RoomForAudit:
    """Wraps an audit log: a write that fails for want of space releases the reserve
    (``release`` returns the bytes given back) and is tried once more."""

    def __init__(self, audit: AuditSink, release: Callable[[], int]) -> None:
        self._audit = audit
        self._release = release

    @property
    def signer(self) -> object | None:
        """The log's signing key (None: entries are not signed)."""
        return self._audit.signer

    def __getattr__(self, name: str) -> Any:  # signer, path, close, ...: the log's own
        return getattr(self._audit, name)

    def _with_room(self, write: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        try:
            return write()
        except OSError as e:
            if e.errno not in _FULL:
                raise
            freed = self._release()
            if not freed:
                raise
            log.warning("storage full: released the %d MiB reserve for the audit log",
                        freed >> 20)
            return write()

    def append(self, event: str, **fields: Any) -> dict[str, Any]:
        """Append, making room from the reserve if the card is full."""
        return self._with_room(lambda: self._audit.append(event, **fields))

    def checkpoint(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        """Checkpoint, making room from the reserve if the card is full."""
        return self._with_room(lambda: self._audit.checkpoint(*args, **kwargs))
