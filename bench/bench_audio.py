"""Sound: A/V sync in the exported MP4, picamera2's approach on the same samples, CPU, memory.

Figures:

- ``sync_10s`` and ``sync_after_standby``: the whole device path on the simulated
  hardware (daemon, pyalsaaudio surface, drift tracking, AAC, TS, sealed segments,
  ``bodycam export``), then every tone burst in the exported MP4 against the frame
  whose tag started it (hw_sim/avsync.py). ``sync_10s``: a recording from 2 s to
  12 s with the microphone 2000 ppm fast; ``sync_after_standby``: the same after
  10 minutes of standby (the drift a 100 ppm card gathers in 3 h 20 min).
  Offsets in ms, positive = sound late; goal: within one frame (33 ms).
- ``picamera2_*``: the same card samples of the same run (the driver's raw tap)
  placed the way picamera2's encoder places them (raspberrypi/picamera2
  picamera2/encoders/encoder.py at 3e6dff0: video timestamps are sensor time
  minus the first frame's, lines 364-372; audio is discarded until the first
  frame is submitted, 393-398; each audio packet is rebased to the first audio
  packet and delayed by ``audio_sync`` = -100000 µs, lines 72 and 374-385; the
  samples then play back to back at the nominal 48 kHz). ``drift_ms`` leaves out
  the fixed 100 ms, ``offset_ms`` keeps it.
- ``cpu_ms_per_audio_second``: process CPU per second of sound for capture
  (non-blocking reads, stamping, drift fit, resampling, gain), AAC encoding and
  TS muxing; the simulated card's own sample synthesis is measured apart and left out.
- ``prerecord_bytes_over_held``: peak traced memory of a 120 s pre-record
  buffer of 10 Mbit/s video plus 64 kbit/s AAC against the encoded bytes it holds
  (goal <= 1.1).
"""

from __future__ import annotations

import contextlib
import io
import statistics
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

import numpy as np

from bench.bench_recording import packet_stream
from drivers.audio_timing import RATE
from recorder.packet import Packet

FPS = 30
AUDIO_SYNC_S = 0.100  # picamera2's default audio_sync, 100 ms delay


def _summary(offsets: list[float]) -> dict[str, Any]:
    if not offsets:
        return {"bursts": 0}
    return {"bursts": len(offsets), "max_abs_ms": round(max(abs(o) for o in offsets), 3),
            "mean_ms": round(statistics.fmean(offsets), 3),
            "within_one_frame": max(abs(o) for o in offsets) < 1000 / FPS}


def _record(tmp: Path, standby_s: float, record_s: float, ppm: float) -> dict[str, Any]:
    """Run the daemon on the simulated device, export, measure; picamera2 on the same samples."""
    from evidence import keys
    from firmware import config
    from firmware.cli import main
    from firmware.daemon import Daemon
    from firmware.run import _open_evidence, simulated_device
    from hw_sim.avsync import measure, tone_onsets

    _, pub = keys.create_custodian(tmp / "office")
    keys.create_device("BENCH-A", pub, tmp / "id")
    conf = config.defaults()
    conf["camera"].update(width=320, height=240, lores_width=160, lores_height=120)
    conf["storage"]["data_dir"] = str(tmp / "data")
    conf["identity"]["dir"] = str(tmp / "id")
    conf["prerecord"]["seconds"] = 2.0
    conf["display"]["enabled"] = False
    raw: list[tuple[int, np.ndarray]] = []
    with simulated_device(conf, fast=True) as world:
        world.mic_clock_ppm = ppm
        store, audit, problem = _open_evidence(conf, world.clock)
        daemon = Daemon(conf, world.clock, store=store, audit=audit, key_problem=problem)
        daemon.start()
        assert daemon.sound.mic is not None
        daemon.sound.mic.raw_tap = lambda i, x: raw.append((i, x.copy()))
        origin = world.frame_origin
        world.press(origin + standby_s)
        world.hold(origin + standby_s + record_s, 3.5)
        world.clock.call_at(origin + standby_s + record_s + 4.0, daemon.shutdown)
        world.clock.run()
        audit.close()
    out = tmp / "export"
    with contextlib.redirect_stdout(io.StringIO()):  # the benchmark prints only its JSON
        code = main(["export", str(tmp / "data"), "--custodian-key",
                     str(tmp / "office" / "custodian.key"), "--device-pub",
                     str(tmp / "id" / "device.pub"), "--out", str(out)])
    assert code == 0
    (mp4,) = sorted(out.glob("*.mp4"))
    ours = [p for p in measure(mp4, FPS) if p.tag > standby_s * FPS]  # the press cuts one burst

    # picamera2 on the same samples: sample i plays at (i - i_first)/48000 + 0.1 s of the
    # video's timeline (0 = first frame). The mic opened with the camera, so i_first = 0 and
    # the k-th burst in the card's stream is that of second k.
    x = np.concatenate([b for _, b in raw])
    starts = [i for i, _ in raw]
    assert starts == sorted(starts) and starts[0] == 0  # one run, no discontinuity
    onsets_i = [round(t * RATE) for t in tone_onsets(np.arange(len(x)) / RATE, x)]
    seconds = [p.tag // FPS for p in ours]
    drift = [(onsets_i[s] / RATE - s) * 1000 for s in seconds if s < len(onsets_i)]
    return {
        "mic_clock_ppm": ppm, "standby_s": standby_s, "recorded_s": record_s,
        "ours": _summary([p.offset_ms for p in ours]),
        "picamera2_offset_ms": _summary([d + AUDIO_SYNC_S * 1000 for d in drift]),
        "picamera2_drift_ms": _summary(drift),
    }


def bench_cpu(seconds: float = 60.0) -> dict[str, float]:
    """CPU per second of sound: capture path + AAC (driver), TS mux; synthesis apart."""
    import hw_sim
    from drivers.microphone import Microphone
    from hw_sim.clock import VirtualClock
    from hw_sim.fake_alsaaudio import PCM, PCM_CAPTURE, PCM_NONBLOCK
    from hw_sim.world import World
    from recorder.tsmux import TsMuxer

    world = World(VirtualClock(fast=True))
    hw_sim.install(world)
    try:
        world.set_frame_origin(world.clock.monotonic())
        # The simulated card's synthesis alone, read the way the driver reads it.
        pcm = PCM(type=PCM_CAPTURE, mode=PCM_NONBLOCK, rate=RATE, channels=1, periodsize=1024,
                  periods=16)
        end = world.clock.monotonic() + seconds
        cpu0 = time.process_time()
        while world.clock.monotonic() < end:
            while pcm.read()[0] > 0:
                pass
            world.clock.run(until=world.clock.monotonic() + 0.02)
        synth = time.process_time() - cpu0
        pcm.close()
        packets: list[Any] = []
        mic = Microphone(world.clock, packets.append)
        cpu0 = time.process_time()
        mic.start()
        world.clock.run(until=world.clock.monotonic() + seconds)
        driver = time.process_time() - cpu0 - synth
        mux = TsMuxer(packets[0].pts_us, 320, 240, FPS, audio=True)
        cpu0 = time.process_time()
        for p in packets:
            mux.mux(p)
            mux.take()
        mux.close()
        muxing = time.process_time() - cpu0
    finally:
        hw_sim.uninstall()
    return {
        "capture_and_encode_ms_per_audio_second": round(driver / seconds * 1000, 3),
        "mux_ms_per_audio_second": round(muxing / seconds * 1000, 3),
        "cpu_ms_per_audio_second": round((driver + muxing) / seconds * 1000, 3),
        "simulated_card_synthesis_ms_per_audio_second": round(synth / seconds * 1000, 3),
    }


def bench_prerecord_memory(seconds: int = 120) -> dict[str, Any]:
    """A 120 s buffer of 10 Mbit/s video and real 64 kbit/s AAC, interleaved as they arrive."""
    from recorder.aac import AacEncoder
    from recorder.ringbuffer import PreRecordBuffer

    video = list(packet_stream(seconds + 5))
    enc = AacEncoder(64_000)
    rng = np.random.default_rng(0)
    k0 = video[0].pts_us * RATE // 1_000_000 + 1
    audio = []
    block = 4800
    for i in range(0, (seconds + 5) * RATE, block):
        speechy = (rng.standard_normal(block) * 0.1).astype(np.float32)
        audio += enc.encode(k0 + i, speechy)
    # Audio arrives ~30 ms after the video of the same moment.
    arrivals = sorted([(p.pts_us, 0, p) for p in video] + [(p.pts_us + 30_000, 1, p) for p in audio],
                      key=lambda a: (a[0], a[1]))
    buf = PreRecordBuffer(seconds=seconds, max_bytes=1 << 31)
    blob = bytes(200_000)
    tracemalloc.start()
    peak_held = 0
    for _, _, pkt in arrivals:
        # Each packet a fresh allocation, as the drivers' bytes() of what the encoders hand over.
        buf.append(Packet(blob[: pkt.size], pkt.keyframe, pkt.pts_us, pkt.stream))
        peak_held = max(peak_held, buf.nbytes)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    audio_held = sum(p.size for p in buf.take(None) if p.stream == 1)
    return {"prerecord_seconds": seconds, "video_bitrate": 10_000_000, "audio_bitrate": 64_000,
            "held_bytes": peak_held, "audio_bytes_held": audio_held,
            "peak_traced_bytes": peak,
            "prerecord_bytes_over_held": round(peak / peak_held, 4)}


def run() -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as d:
        short = _record(Path(d) / "short", 2.0, 10.0, 2000.0)
    with tempfile.TemporaryDirectory() as d:
        long = _record(Path(d) / "long", 600.0, 10.0, 2000.0)
    return {"sync_10s": short, "sync_after_standby": long, **bench_cpu(),
            **bench_prerecord_memory()}
