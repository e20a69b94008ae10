"""Recording path against picamera2's CircularOutput2, fed the same 1080p30 packet stream.

Figures (one run, so ratios are fair on a shared machine):

- ``ours_us_per_packet`` / ``circularoutput2_us_per_packet``: CPU per packet of
  30 s standby plus a 60 s recording (ours: ring buffer, TS mux, AES-GCM seal, one
  SHA-256 pass per chunk (the v2 segment hash is taken over chunk digests), Ed25519
  chunk-key sign, fsync; theirs: buffer and FileOutput, none of those), and the ratio
  (issue 17's goal: within 2x).
- ``*_ram_only_worst_s`` / ``*_ram_only_at_stop_s``: seconds of post-trigger
  footage that exist only in RAM at the worst moment and when the recording is
  stopped.
- ``buffer_peak_bytes_over_held``: peak traced memory of a 120 s buffer at
  10 Mbit/s against the encoded bytes it holds.
- ``trigger_to_preroll_durable_ms``: wall time from the trigger to a 30 s
  pre-roll sealed and fsync'd; ``capture_to_durable_ms_*`` for live packets on
  a real-time timeline (packet i captured at i/fps).

CircularOutput2 and FileOutput are loaded from the installed picamera2 package
files (``make bench`` installs it without dependencies into ``.venv/bench-lib``;
libcamera is not needed for its output classes).
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import statistics
import sys
import tempfile
import time
import tracemalloc
import types
from pathlib import Path

from recorder.packet import Packet
from recorder.ringbuffer import PreRecordBuffer
from recorder.segmenter import RecordingWriter

FPS = 30
BITRATE = 10_000_000
GOP = 30
STANDBY_S = 30
RECORD_S = 60


def packet_stream(seconds: float, fps: int = FPS, bitrate: int = BITRATE, base_us: int = 10**9):
    """Annex-B-shaped packets: IDR 4x the size of a P frame, averaging ``bitrate``."""
    per_gop = bitrate / 8 * GOP / fps
    p_size = int(per_gop / (GOP - 1 + 4))
    blob = os.urandom(p_size * 4 + 64)
    for n in range(int(seconds * fps)):
        key = n % GOP == 0
        size = p_size * 4 if key else p_size
        head = b"\x00\x00\x00\x01\x65" if key else b"\x00\x00\x00\x01\x41"
        offset = (n * 7919) % 64
        yield Packet(head + blob[offset:offset + size], key, base_us + round(n * 1e6 / fps))


#: Where ``make bench`` puts the picamera2 package (outside the venv's site-packages).
BENCH_LIB = Path(sys.prefix) / "bench-lib"


def _load_circularoutput2():
    outputs = BENCH_LIB / "picamera2" / "outputs"
    if not outputs.is_dir():
        spec = importlib.util.find_spec("picamera2")
        if spec is None or not spec.submodule_search_locations:
            return None
        outputs = Path(list(spec.submodule_search_locations)[0]) / "outputs"
    pkg = types.ModuleType("_picamera2_outputs")
    pkg.__path__ = [str(outputs)]  # load the output modules without picamera2/__init__ (libcamera)
    sys.modules["_picamera2_outputs"] = pkg
    co2 = importlib.import_module("_picamera2_outputs.circularoutput2").CircularOutput2
    fo = importlib.import_module("_picamera2_outputs.fileoutput").FileOutput
    return co2, fo


def _identity(tmp: Path):
    from evidence import keys

    _, pub = keys.create_custodian(tmp / "custodian")
    keys.create_device("BENCH-1", pub, tmp / "identity")
    return keys.load_identity(tmp / "identity")


def bench_ours(tmp: Path, stream: list[Packet]) -> dict:
    from recorder.store import EvidenceStore

    store = EvidenceStore(tmp / "ours", _identity(tmp))
    store.recover()  # at boot on the device, not on the recording path
    buf = PreRecordBuffer(seconds=30)
    standby = STANDBY_S * FPS
    cpu0 = time.process_time()
    for pkt in stream[:standby]:
        buf.append(pkt)
    wall = time.perf_counter()
    trigger = stream[standby].pts_us
    preroll = buf.take(trigger)
    rec = store.begin_recording(utc_start=time.time(), clock_source="ntp", start_pts_us=preroll[0].pts_us)
    writer = RecordingWriter(rec, width=1920, height=1080, fps=FPS)
    writer.write_preroll(preroll)
    preroll_ms = (time.perf_counter() - wall) * 1000
    ram_only = []
    # Live: packet i is captured at its pts; it is durable when the fsync covering it returns.
    # Processing runs faster than real time, so durability = capture of the chunk's last
    # packet + the measured seal/fsync time of that chunk.
    pending: list[int] = []
    capture_to_durable = []
    for pkt in stream[standby:]:
        before = writer.stats.fsyncs
        t = time.perf_counter()
        writer.write(pkt)
        spent = time.perf_counter() - t
        pending.append(pkt.pts_us)
        durable = writer.stats.durable_pts_us or 0
        if writer.stats.fsyncs != before:
            # The fsync covered everything up to `durable`; on a real-time timeline it
            # returned `spent` after the newest packet was captured.
            done = [p for p in pending if p <= durable]
            capture_to_durable += [(pkt.pts_us - p) / 1000 + spent * 1000 for p in done]
            pending = [p for p in pending if p > durable]
        ram_only.append((pkt.pts_us - max(durable, trigger)) / 1e6)
    stats = writer.close()
    cpu = time.process_time() - cpu0
    assert stats.last_pts_us is not None and stats.durable_pts_us is not None
    return {
        "us_per_packet": cpu / len(stream) * 1e6,
        "ram_only_worst_s": max(ram_only),
        "ram_only_at_stop_s": (stats.last_pts_us - stats.durable_pts_us) / 1e6,
        "trigger_to_preroll_durable_ms": preroll_ms,
        "preroll_s": (preroll[-1].pts_us - preroll[0].pts_us) / 1e6,
        "capture_to_durable_ms_mean": statistics.fmean(capture_to_durable),
        "capture_to_durable_ms_worst": max(capture_to_durable),
        "fsyncs": stats.fsyncs,
    }


def bench_circularoutput2(tmp: Path, stream: list[Packet]) -> dict | None:
    loaded = _load_circularoutput2()
    if loaded is None:
        return None
    CircularOutput2, FileOutput = loaded

    class CountingFileOutput(FileOutput):
        written = 0

        def outputframe(self, frame, keyframe=True, timestamp=None, packet=None, audio=False):
            super().outputframe(frame, keyframe, timestamp, packet, audio)
            CountingFileOutput.written += 1

    standby = STANDBY_S * FPS
    circ = CircularOutput2(buffer_duration_ms=STANDBY_S * 1000)
    cpu0 = time.process_time()
    circ.start()
    for pkt in stream[:standby]:
        circ.outputframe(pkt.data, pkt.keyframe, pkt.pts_us)
    out = CountingFileOutput(str(tmp / "circular.h264"))
    circ.open_output(out)
    ram_only = []
    for fed, pkt in enumerate(stream[standby:], 1):
        circ.outputframe(pkt.data, pkt.keyframe, pkt.pts_us)
        # Written frames include the pre-roll first; post-trigger frames on disk:
        post_written = max(0, CountingFileOutput.written - standby)
        ram_only.append((fed - post_written) / FPS)
    at_stop = (len(stream) - standby - max(0, CountingFileOutput.written - standby)) / FPS
    circ.close_output()
    circ.stop()
    cpu = time.process_time() - cpu0
    return {
        "us_per_packet": cpu / len(stream) * 1e6,
        "ram_only_worst_s": max(ram_only),
        "ram_only_at_stop_s": at_stop,
    }


def bench_buffer_memory() -> dict:
    buf = PreRecordBuffer(seconds=120)
    blob = os.urandom(200_000)
    tracemalloc.start()
    peak_held = 0
    for pkt in packet_stream(125):
        # Each packet is a fresh allocation, as the camera driver's bytes(frame) is.
        buf.append(Packet(blob[: pkt.size], pkt.keyframe, pkt.pts_us))
        peak_held = max(peak_held, buf.nbytes)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return {
        "buffer_held_bytes": peak_held,
        "buffer_peak_traced_bytes": peak,
        "buffer_peak_bytes_over_held": round(peak / peak_held, 4),
    }


REPEATS = 5


def _median_run(runs: list[dict]) -> dict:
    """The run with the median per-packet CPU (its other figures come with it)."""
    return sorted(runs, key=lambda r: r["us_per_packet"])[len(runs) // 2]


def run() -> dict:
    stream = list(packet_stream(STANDBY_S + RECORD_S))
    # Alternate the two, REPEATS times each, and compare medians: the cost of write()
    # into the page cache swings with what the rest of the machine is doing.
    runs_ours, runs_theirs = [], []
    for rep in range(REPEATS):
        with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_TMP")) as d:
            tmp = Path(d)
            runs_ours.append(bench_ours(tmp / f"o{rep}", stream))
            runs_theirs.append(bench_circularoutput2(tmp, stream))
    ours = _median_run(runs_ours)
    theirs = None if runs_theirs[0] is None else _median_run(runs_theirs)
    out: dict = {
        "stream": f"1080p{FPS} {BITRATE / 1e6:g} Mbit/s, {STANDBY_S} s standby + {RECORD_S} s recording",
        "repeats": REPEATS,
        "ours_us_per_packet": round(ours["us_per_packet"], 1),
        "ours_ram_only_worst_s": round(ours["ram_only_worst_s"], 3),
        "ours_ram_only_at_stop_s": round(ours["ram_only_at_stop_s"], 3),
        "trigger_to_preroll_durable_ms": round(ours["trigger_to_preroll_durable_ms"], 1),
        "preroll_s": round(ours["preroll_s"], 3),
        "capture_to_durable_ms_mean": round(ours["capture_to_durable_ms_mean"], 1),
        "capture_to_durable_ms_worst": round(ours["capture_to_durable_ms_worst"], 1),
        "ours_fsyncs": ours["fsyncs"],
    }
    if theirs is None:
        out["circularoutput2"] = "picamera2 not installed (make bench installs it)"
    else:
        out.update({
            "circularoutput2_us_per_packet": round(theirs["us_per_packet"], 1),
            "cpu_ratio_ours_over_circularoutput2": round(ours["us_per_packet"] / theirs["us_per_packet"], 2),
            "circularoutput2_ram_only_worst_s": round(theirs["ram_only_worst_s"], 3),
            "circularoutput2_ram_only_at_stop_s": round(theirs["ram_only_at_stop_s"], 3),
        })
    out.update(bench_buffer_memory())
    return out


if __name__ == "__main__":
    import json

    print(json.dumps(run(), indent=2))
