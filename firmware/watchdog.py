"""systemd's notify protocol: READY, watchdog pings, STOPPING, STATUS.

The unit runs with ``Type=notify`` and ``WatchdogSec``: systemd restarts the
daemon if the pings stop. The pings are sent from the daemon's main loop (its
housekeeping tick), so a hung loop, not just a dead process, stops them. The
protocol is one datagram of ``KEY=value`` lines to the socket named in
``$NOTIFY_SOCKET`` (``@`` means the abstract namespace); it is small enough to
speak directly instead of adding a dependency.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Mapping

log = logging.getLogger(__name__)


class Notifier:
    """Sends notify messages when run under systemd; does nothing otherwise."""

    def __init__(self, env: Mapping[str, str] | None = None) -> None:
        env = os.environ if env is None else env
        addr = env.get("NOTIFY_SOCKET", "")
        self._addr = ("\0" + addr[1:]) if addr.startswith("@") else addr
        self.interval: float | None = None
        usec = env.get("WATCHDOG_USEC", "")
        pid = env.get("WATCHDOG_PID", "")
        if usec.isdigit() and int(usec) > 0 and (not pid or pid == str(os.getpid())):
            self.interval = int(usec) / 1e6 / 2  # ping twice per timeout, as systemd advises
        self._sock: socket.socket | None = None
        if self._addr:
            self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)

    @property
    def enabled(self) -> bool:
        """Whether there is a systemd socket to talk to."""
        return self._sock is not None

    def notify(self, *lines: str) -> None:
        """Send ``KEY=value`` lines; a failure is logged, never raised."""
        if self._sock is None:
            return
        try:
            self._sock.sendto("\n".join(lines).encode(), self._addr)
        except OSError as e:
            log.warning("systemd notify failed: %s", e)

    def ready(self, status: str) -> None:
        self.notify("READY=1", f"STATUS={status}")

    def ping(self) -> None:
        self.notify("WATCHDOG=1")

    def stopping(self) -> None:
        self.notify("STOPPING=1")

    def status(self, text: str) -> None:
        self.notify(f"STATUS={text}")

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None
