"""systemd notify: READY at start, watchdog pings from the main loop, none while it hangs."""

from __future__ import annotations

import socket
from pathlib import Path

import hw_sim
from evidence.auditlog import AuditLog
from firmware import config
from firmware.daemon import Daemon
from firmware.watchdog import Notifier
from hw_sim.clock import VirtualClock
from hw_sim.world import CameraSpec, World


def test_notifier_speaks_the_protocol(tmp_path: Path) -> None:
    path = tmp_path / "notify"
    server = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    server.bind(str(path))
    n = Notifier({"NOTIFY_SOCKET": str(path), "WATCHDOG_USEC": "20000000"})
    assert n.enabled and n.interval == 10.0
    n.ready("standby")
    n.ping()
    assert server.recv(256) == b"READY=1\nSTATUS=standby"
    assert server.recv(256) == b"WATCHDOG=1"
    n.close()
    server.close()


def test_without_systemd_it_is_silent() -> None:
    n = Notifier({})
    assert not n.enabled and n.interval is None
    n.ready("x")  # no socket: nothing happens, nothing raises


def test_watchdog_for_another_pid_is_ignored(tmp_path: Path) -> None:
    assert Notifier({"NOTIFY_SOCKET": str(tmp_path / "s"), "WATCHDOG_USEC": "1000000",
                     "WATCHDOG_PID": "1"}).interval is None


def test_a_hung_main_loop_stops_the_pings(tmp_path: Path) -> None:
    path = tmp_path / "notify"
    server = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    server.bind(str(path))
    server.setblocking(False)
    conf = config.defaults()
    conf["camera"].update(width=160, height=120, lores_width=160, lores_height=120)
    conf["display"]["enabled"] = False
    conf["storage"]["data_dir"] = str(tmp_path / "data")
    clock = VirtualClock()
    world = World(clock, camera=CameraSpec(size=(160, 120), lores_size=(160, 120)))
    hw_sim.install(world)
    sent: list[tuple[float, str]] = []

    class Timed(Notifier):
        """The real notifier, with the loop's time of each message kept for the gaps."""

        def notify(self, *lines: str) -> None:
            sent.append((clock.monotonic(), "\n".join(lines)))
            super().notify(*lines)

    try:
        audit = AuditLog(tmp_path / "audit.log", None, clock=clock)
        notifier = Timed({"NOTIFY_SOCKET": str(path), "WATCHDOG_USEC": "400000"})  # ping 0.2 s
        daemon = Daemon(conf, clock, store=None, audit=audit, notifier=notifier)
        daemon.start()
        t0 = clock.monotonic()
        clock.call_at(t0 + 1.0, clock.stall, 1.5)  # the loop hangs for 1.5 s
        clock.call_at(t0 + 3.5, daemon.shutdown)
        arrivals: list[bytes] = []

        def drain() -> None:
            """Read the socket as systemd does (a full queue would block the sender)."""
            while True:
                try:
                    arrivals.append(server.recv(256))
                except BlockingIOError:
                    return

        for k in range(1, 36):  # on the loop, between its own callbacks
            clock.call_at(t0 + k * 0.1, drain)
        clock.run()
        drain()
        audit.close()
    finally:
        hw_sim.uninstall()
        server.close()
    assert [m.encode() for _, m in sent] == arrivals, "every message reached the socket"
    assert arrivals[0].startswith(b"READY=1")
    pings = [t for t, msg in sent if msg == "WATCHDOG=1"]
    gaps = [b - a for a, b in zip(pings, pings[1:], strict=False)]
    assert len(pings) >= 6
    assert max(gaps) >= 1.4, "no ping while the loop hung"
    assert sorted(gaps)[len(gaps) // 2] < 0.4, "pings every 0.2-0.25 s otherwise"
    assert b"STOPPING=1" in arrivals
