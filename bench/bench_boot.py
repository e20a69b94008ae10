"""Boot to ready: how soon after the process starts the camera is pre-recording.

Runs ``bodycam run --sim --board pi5 --fast`` as a fresh process (the real
picamera2 over the simulated camera) and measures, from just before the process
is spawned:

- ``first_buffered_packet_s``: the first encoded packet in the pre-record buffer
  (goal: under 1.0 s);
- ``ready_s``: READY=1 sent to systemd (read from a NOTIFY_SOCKET this benchmark
  listens on, exactly as systemd would);
- ``imports_ms``: cumulative import time of each top-level package the boot
  loads (``python -X importtime``), largest first.

Median of :data:`RUNS` runs; each run is a cold interpreter, as after power-on
(the OS page cache stays warm, so a real SD card is slower).
"""

from __future__ import annotations

import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RUNS = 3
ROOT = Path(__file__).resolve().parent.parent

#: The child: the CLI, with the pre-record buffer's first append reported on fd BENCH_FD.
_CHILD = """
import os, sys, time
import recorder.ringbuffer as rb
_orig = rb.PreRecordBuffer.append
def append(self, pkt):
    if not getattr(rb, "_reported", False):
        rb._reported = True
        os.write(int(os.environ["BENCH_FD"]), b"%.6f\\n" % time.time())
    return _orig(self, pkt)
rb.PreRecordBuffer.append = append
from firmware.cli import main
sys.exit(main(sys.argv[1:]))
"""


def _one_run(tmp: Path, identity: Path, run: int) -> tuple[float, float, dict[str, float]]:
    sock_path = tmp / f"notify-{run}"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(sock_path))
    sock.settimeout(60)
    read_fd, write_fd = os.pipe()
    env = os.environ | {"NOTIFY_SOCKET": str(sock_path), "PYTHONPATH": str(ROOT),
                        "BENCH_FD": str(write_fd)}
    args = [sys.executable, "-X", "importtime", "-c", _CHILD, "run", "--sim", "--board", "pi5",
            "--fast", "--duration", "2", "--data-dir", str(tmp / f"data-{run}"),
            "--identity", str(identity)]
    started = time.time()
    proc = subprocess.Popen(args, env=env, pass_fds=(write_fd,), stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True, cwd=ROOT)
    os.close(write_fd)
    ready = None
    while ready is None:
        msg = sock.recv(4096).decode()
        if "READY=1" in msg:
            ready = time.time() - started
    _, err = proc.communicate(timeout=120)
    first = float(os.read(read_fd, 64).decode().split()[0]) - started
    os.close(read_fd)
    sock.close()
    if proc.returncode != 0:
        raise RuntimeError(f"bodycam run failed ({proc.returncode}): {err[-500:]}")
    return first, ready, _imports(err)


def _imports(stderr: str) -> dict[str, float]:
    """Cumulative ms per top-level package from ``-X importtime`` output."""
    totals: dict[str, float] = {}
    for line in stderr.splitlines():
        m = re.match(r"import time:\s+\d+ \|\s+(\d+) \| (\s*)(\S+)", line)
        if m and not m.group(2):  # top level: no indentation after the bar
            name = m.group(3).split(".")[0]
            totals[name] = totals.get(name, 0.0) + int(m.group(1)) / 1000
    return totals


def run() -> dict[str, object]:
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        env = os.environ | {"PYTHONPATH": str(ROOT)}
        cli = [sys.executable, "-m", "firmware.cli"]
        subprocess.run([*cli, "keys", "custodian", "--out", str(tmp / "office")], env=env,
                       check=True, capture_output=True)
        subprocess.run([*cli, "keys", "device", "--device-id", "BENCH", "--custodian-pub",
                        str(tmp / "office" / "custodian.pub"), "--out", str(tmp / "id")],
                       env=env, check=True, capture_output=True)
        runs = [_one_run(tmp, tmp / "id", i) for i in range(RUNS)]
    firsts = [r[0] for r in runs]
    readies = [r[1] for r in runs]
    imports = {k: round(statistics.median(r[2].get(k, 0.0) for r in runs), 1)
               for k in runs[0][2]}
    top = dict(sorted(imports.items(), key=lambda kv: -kv[1])[:15])
    return {
        "board": "pi5",
        "first_buffered_packet_s": round(statistics.median(firsts), 3),
        "first_buffered_packet_s_runs": [round(x, 3) for x in firsts],
        "ready_s": round(statistics.median(readies), 3),
        "goal_first_packet_s": 1.0,
        "imports_ms": top,
        "load_average_1min": round(os.getloadavg()[0], 2),
    }
