"""Press to durable: the 30 s pre-roll written at the press, one fsync versus as it goes.

At the press the whole pre-roll (30 s of 1080p30 at 10 Mbit/s, about 37 MB) goes
to storage at once. With one fsync at the end, a power cut anywhere in that
burst loses all of it (issue 16); the writer now fsyncs after every
``fsync_interval`` of footage (or ``PREROLL_SYNC_BYTES``), oldest first. Figures,
median of alternating runs of both policies on the same packets:

- ``*_press_to_durable_ms``: from the press to the last fsync returning (the
  whole pre-roll on storage); the goal is that progressive fsyncs cost at most
  150 ms more than the single one;
- ``*_press_to_first_durable_ms``: to the first fsync returning (the oldest
  footage safe);
- ``*_longest_unsynced_ms``: the longest stretch of the burst in which written
  footage was waiting for an fsync: the window in which a cut loses what was
  already written;
- ``*_fsyncs``: fsyncs of footage during the burst (the segment header's
  own fsyncs come before the first footage and are not counted).
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from pathlib import Path

from bench.bench_recording import FPS, packet_stream
from recorder.ringbuffer import PreRecordBuffer
from recorder.segmenter import RecordingWriter

PREROLL_S = 30
REPEATS = 7
#: Settings that reproduce the old single fsync at the end of the burst.
ONE_FSYNC = {"preroll_sync_seconds": 1e9, "preroll_sync_bytes": 1 << 62}


def _identity(tmp: Path):
    from evidence import keys

    _, pub = keys.create_custodian(tmp / "custodian")
    keys.create_device("BENCH-1", pub, tmp / "identity")
    return keys.load_identity(tmp / "identity")


def one_burst(tmp: Path, identity, preroll: list, policy: dict) -> dict:
    from recorder.store import EvidenceStore

    store = EvidenceStore(tmp, identity)
    store.recover()
    rec = store.begin_recording(utc_start=time.time(), clock_source="ntp",
                                start_pts_us=preroll[0].pts_us)
    writer = RecordingWriter(rec, width=1920, height=1080, fps=FPS, **policy)
    syncs: list[float] = []  # when footage became durable (the writer's fsyncs)
    real_sync = writer._sync

    def timed_sync() -> None:
        real_sync()
        syncs.append(time.perf_counter())

    writer._sync = timed_sync  # type: ignore[method-assign]
    press = time.perf_counter()
    writer.write_preroll(preroll)
    done = time.perf_counter()
    marks = [press, *syncs]
    writer.close()
    return {
        "press_to_durable_ms": (done - press) * 1000,
        "press_to_first_durable_ms": (syncs[0] - press) * 1000,
        "longest_unsynced_ms": max(b - a for a, b in zip(marks, marks[1:], strict=False)) * 1000,
        "fsyncs": len(syncs),
    }


def run() -> dict:
    packets = list(packet_stream(PREROLL_S + 2))
    buf = PreRecordBuffer(seconds=PREROLL_S)
    for pkt in packets:
        buf.append(pkt)
    preroll = buf.take(packets[-1].pts_us + 1)
    runs: dict[str, list[dict]] = {"one_fsync": [], "progressive": []}
    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_TMP")) as d:
        tmp = Path(d)
        identity = _identity(tmp)
        for rep in range(REPEATS):
            for name, policy in (("one_fsync", ONE_FSYNC), ("progressive", {})):
                runs[name].append(one_burst(tmp / f"{name}{rep}", identity, preroll, policy))
    out: dict = {
        "preroll": f"{(preroll[-1].pts_us - preroll[0].pts_us) / 1e6:.2f} s of 1080p{FPS} "
                   f"at 10 Mbit/s, {sum(p.size for p in preroll) / 1e6:.1f} MB",
        "repeats": REPEATS,
    }
    for name, rs in runs.items():
        for key in ("press_to_durable_ms", "press_to_first_durable_ms", "longest_unsynced_ms"):
            out[f"{name}_{key}"] = round(statistics.median(r[key] for r in rs), 1)
        out[f"{name}_fsyncs"] = rs[0]["fsyncs"]
    out["progressive_extra_ms"] = round(out["progressive_press_to_durable_ms"]
                                        - out["one_fsync_press_to_durable_ms"], 1)
    out["goal_extra_ms"] = 150
    return out


if __name__ == "__main__":
    import json

    print(json.dumps(run(), indent=2))
