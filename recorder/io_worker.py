"""The one thread that touches the evidence medium: seal, sign, write, fsync, in order.

The daemon's loop only decides; every job that writes to storage (a packet into
the recording, an audit entry, the reserve file, a probe) is handed to this
thread through one FIFO queue, so the loop never waits for an SD card's fsync
or a signature. A job's result comes back to the loop: the worker keeps it in
an outbox and asks the loop (``post``, the clock's ``call_soon_threadsafe``) to
run :meth:`IoWorker.deliver`, which calls each job's ``on_done`` there.

The queue is bounded by the bytes of footage in it (``max_bytes``): a job that
carries footage and does not fit is refused at once, never waited for (what the
daemon then does is in docs/RECORDING.md). Jobs without footage (control,
audit entries) are bounded by count (``max_jobs``); past it they are refused
too and the caller logs them to the journal.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable
from typing import Any

log = logging.getLogger("bodycam")

#: Jobs without footage that may wait at once (audit entries, control).
MAX_JOBS = 10_000


class IoWorker:
    """A single writer thread fed by a bounded FIFO queue (see the module docstring)."""

    def __init__(self, post: Callable[[Callable[[], None]], None], *, max_bytes: int,
                 max_jobs: int = MAX_JOBS, name: str = "evidence-io") -> None:
        self._post = post
        self.max_bytes = max_bytes
        self.max_jobs = max_jobs
        self._jobs: deque[tuple[Callable[..., Any], tuple[Any, ...], Callable[[Any], None] | None,
                                int, bool]] = deque()
        self._outbox: deque[tuple[Callable[[Any], None], Any]] = deque()
        self._cond = threading.Condition()
        self._queued_bytes = 0
        self._light_jobs = 0
        self._busy = False
        self._closing = False
        self.peak_bytes = 0
        self.refused = 0
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    # -- from the loop ---------------------------------------------------------------------

    def submit(self, job: Callable[..., Any], *args: Any,
               on_done: Callable[[Any], None] | None = None, nbytes: int = 0,
               report_none: bool = True) -> bool:
        """Queue ``job(*args)``; ``on_done(result)`` runs on the loop afterwards
        (with ``report_none=False`` only when the result is not None: a packet
        written without a fault costs the loop nothing).

        Never blocks. Returns False (and queues nothing) when the job does not fit:
        ``nbytes`` of footage over ``max_bytes``, or a job without footage over
        ``max_jobs``.
        """
        with self._cond:
            if self._closing:
                raise RuntimeError("the evidence writer is closed")
            if nbytes and self._queued_bytes + nbytes > self.max_bytes:
                self.refused += 1
                return False
            if not nbytes and self._light_jobs >= self.max_jobs:
                self.refused += 1
                return False
            self._jobs.append((job, args, on_done, nbytes, report_none))
            self._queued_bytes += nbytes
            self._light_jobs += not nbytes
            self.peak_bytes = max(self.peak_bytes, self._queued_bytes)
            self._cond.notify_all()
        return True

    @property
    def queued_bytes(self) -> int:
        """Bytes of footage waiting for the thread."""
        return self._queued_bytes

    def deliver(self) -> None:
        """Run the results' ``on_done`` callbacks that are ready (on the loop)."""
        while True:
            with self._cond:
                if not self._outbox:
                    return
                fn, result = self._outbox.popleft()
            fn(result)

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Block until every queued job has run (for the virtual clock and shutdown)."""
        with self._cond:
            return self._cond.wait_for(lambda: not self._jobs and not self._busy, timeout)

    def close(self, timeout: float | None = 30.0) -> None:
        """Run what is queued, stop the thread, and deliver the last results here."""
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        self._thread.join(timeout)
        if self._thread.is_alive():
            log.error("the evidence writer did not finish within %s s", timeout)
        self.deliver()

    # -- the thread ------------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._jobs and not self._closing:
                    self._cond.wait()
                if not self._jobs:
                    return
                job, args, on_done, nbytes, report_none = self._jobs.popleft()
                self._busy = True
            try:
                result = job(*args)
            except Exception:  # a bug in a job must not stop the writer: later footage matters
                log.exception("evidence writer job %s failed", getattr(job, "__qualname__", job))
                result = None
            with self._cond:
                self._queued_bytes -= nbytes
                self._light_jobs -= not nbytes
                report = on_done is not None and (report_none or result is not None)
                if report:
                    assert on_done is not None
                    self._outbox.append((on_done, result))
                post = report and not self._closing
            if post:  # before going idle: whoever waits for idle finds the result posted
                self._post(self.deliver)
            with self._cond:
                self._busy = False
                self._cond.notify_all()
