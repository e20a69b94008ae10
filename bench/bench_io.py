"""Evidence I/O off the loop: how long packets wait on the loop, and when they are durable.

The daemon runs on the device's own clock (``SystemClock``) over the
simulated evidence medium with its fsync slowed to each of ``FSYNC_DELAYS_S``
(a slow SD card). A feeder thread hands 1080p30 packets (10 Mbit/s,
Annex-B-shaped, as ``bench_recording``) to the loop with
``call_soon_threadsafe`` at the camera's pace, as picamera2's encoder thread
does; the daemon records ``RECORD_S`` seconds with a pre-roll. Figures per delay:

- ``loop_wait_max_ms`` / ``_p99_ms`` / ``_median_ms``: from the hand-over of a
  packet to the end of ``Daemon.on_packet`` for it. Goal: under 5 ms; the
  loop never waits for storage.
- ``capture_to_durable_max_ms`` / ``_p99_ms``: from a live packet's hand-over
  to the return of the fsync that made it durable; ``steady_*`` the same for
  packets from ``SETTLE_S`` after the press on (the start's own fsyncs are
  queued ahead of the first live seconds). Goal: at most ``fsync_interval``
  plus one fsync (``goal_ms``).
- ``machine_wakeup_late_*_ms``: how late the feeder thread woke from its
  sleeps: the machine's own scheduling noise, which no design of the loop
  can get under (on a shared 2-core machine it dominates the loop figures).
- ``fsyncs``, ``frames``, ``queue_peak_kib``: what the writer did.

Each delay also runs as ``..._io_on_loop_baseline``: the same daemon with every
writer job run on the loop at once, as before the writer thread, for comparison.
"""

from __future__ import annotations

import bisect
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from bench.bench_recording import packet_stream

FSYNC_DELAYS_S = (0.05, 0.2)
PREROLL_S = 3.0
RECORD_S = 10.0
#: Live packets this long after the press count as steady state: the recording's
#: start (directory, chain state, recording.json, the pre-roll: about eight fsyncs,
#: and the start's audit entries) is behind them in the queue.
SETTLE_S = 4.0
FPS = 30


def _conf(data: Path) -> dict[str, dict[str, Any]]:
    from firmware import config

    conf = config.defaults()
    conf["display"]["enabled"] = False
    conf["prerecord"]["seconds"] = 2
    conf["storage"]["data_dir"] = str(data)
    return conf


def measure(delay_s: float, tmp: Path, *, on_loop: bool = False) -> dict[str, Any]:
    """One recording on the device clock with fsync slowed to ``delay_s``. With ``on_loop``
    every writer job runs on the loop at once instead (the baseline: I/O on the loop)."""
    from drivers.clock import SystemClock
    from evidence import keys
    from evidence.auditlog import AuditLog
    from firmware.daemon import Daemon
    from hw_sim.clock import VirtualClock
    from hw_sim.fake_storage import StorageSim
    from hw_sim.run_record import RunRecord
    from hw_sim.world import World
    from recorder import segmenter
    from recorder.store import EvidenceStore

    _, pub = keys.create_custodian(tmp / "custodian")
    keys.create_device("BENCH-IO", pub, tmp / "identity")
    identity = keys.load_identity(tmp / "identity")
    data = tmp / "data"
    data.mkdir()
    conf = _conf(data)
    clock = SystemClock()
    medium = StorageSim(World(VirtualClock()), data)
    medium.fsync_delay_s = delay_s
    handed: dict[int, float] = {}  # pts -> when the feeder handed it to the loop
    waits: list[float] = []
    late: list[float] = []  # how late the feeder thread woke: the machine's scheduling noise
    live: list[int] = []
    syncs: list[tuple[int, float]] = []  # (durable pts, when the fsync returned)
    real_sync = segmenter.RecordingWriter._sync

    def timed_sync(writer: segmenter.RecordingWriter) -> None:
        real_sync(writer)
        if writer.stats.durable_pts_us is not None:
            syncs.append((writer.stats.durable_pts_us, time.monotonic()))

    medium.install()
    segmenter.RecordingWriter._sync = timed_sync  # type: ignore[method-assign]
    audit = AuditLog(data / "audit.log", identity.signing_key, clock=clock)
    try:
        record = RunRecord()
        daemon = Daemon(conf, clock, store=EvidenceStore(data, identity), audit=audit,
                        events=record)
        if on_loop:
            def inline(job: Any, *args: Any, on_done: Any = None, nbytes: int = 0,
                       report_none: bool = True) -> bool:
                result = job(*args)
                if on_done is not None and (report_none or result is not None):
                    on_done(result)
                return True

            daemon.worker.submit = inline  # type: ignore[method-assign]
        real_on_packet = daemon.on_packet

        def on_packet(pkt: Any) -> None:
            real_on_packet(pkt)
            waits.append(time.monotonic() - handed[pkt.pts_us])
            if daemon.recording is not None:
                live.append(pkt.pts_us)

        stream = list(packet_stream(PREROLL_S + RECORD_S + 1, fps=FPS))

        def feed() -> None:
            t0 = time.monotonic()
            for n, pkt in enumerate(stream):
                due = t0 + n / FPS
                time.sleep(max(0.0, due - time.monotonic()))
                handed[pkt.pts_us] = time.monotonic()
                late.append(handed[pkt.pts_us] - due)
                clock.call_soon_threadsafe(on_packet, pkt)
            clock.call_soon_threadsafe(daemon.stop_recording, "bench")
            clock.call_later(2 * (1 + delay_s), daemon.shutdown)

        daemon.start(hardware=False)
        clock.call_later(PREROLL_S, lambda: daemon.start_recording(clock.monotonic()))
        feeder = threading.Thread(target=feed, daemon=True)
        feeder.start()
        clock.run()
        daemon.shutdown()
        feeder.join()
    finally:
        segmenter.RecordingWriter._sync = real_sync  # type: ignore[method-assign]
        audit.close()
        medium.uninstall()
    durable = [p for p, _t in syncs]
    latencies, steady = [], []
    settled_us = live[0] + round(SETTLE_S * 1e6) if live else 0
    for pts in live:
        i = bisect.bisect_left(durable, pts)
        if i < len(syncs):
            latencies.append(syncs[i][1] - handed[pts])
            if pts >= settled_us:
                steady.append(latencies[-1])
    waits.sort()
    late.sort()
    latencies.sort()
    steady.sort()
    interval = conf["recording"]["fsync_interval"]
    stats = record.recordings[0][1] if record.recordings else None
    return {
        "fsync_delay_ms": round(delay_s * 1000),
        "loop_wait_max_ms": round(max(waits) * 1000, 2),
        "loop_wait_p99_ms": round(_p99(waits) * 1000, 2),
        "loop_wait_median_ms": round(statistics.median(waits) * 1000, 3),
        "machine_wakeup_late_max_ms": round(max(late) * 1000, 2),
        "machine_wakeup_late_p99_ms": round(_p99(late) * 1000, 2),
        "capture_to_durable_max_ms": round(max(latencies) * 1000, 1),
        "capture_to_durable_p99_ms": round(_p99(latencies) * 1000, 1),
        "steady_capture_to_durable_max_ms": round(max(steady) * 1000, 1),
        "steady_capture_to_durable_p99_ms": round(_p99(steady) * 1000, 1),
        "goal_ms": round((interval + delay_s) * 1000),
        "frames": stats.frames if stats else 0,
        "fsyncs": stats.fsyncs if stats else 0,
        "queue_peak_kib": daemon.worker.peak_bytes >> 10,
    }


def _p99(values: list[float]) -> float:
    return values[min(len(values) - 1, int(len(values) * 0.99))]


def run() -> dict[str, Any]:
    """Both fsync delays, as one JSON-able dict."""
    out: dict[str, Any] = {}
    for delay in FSYNC_DELAYS_S:
        for on_loop in (False, True):
            with tempfile.TemporaryDirectory() as tmp:
                started = time.perf_counter()
                figures = measure(delay, Path(tmp), on_loop=on_loop)
                figures["seconds"] = round(time.perf_counter() - started, 1)
                where = "_io_on_loop_baseline" if on_loop else ""
                out[f"fsync_{round(delay * 1000)}ms{where}"] = figures
    return out
