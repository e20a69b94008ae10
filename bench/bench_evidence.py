"""Benchmark of the evidence writer (``python bench/bench_evidence.py`` prints JSON).

Figures: encrypted-write throughput of the segment writer against
``openssl speed -evp aes-256-gcm`` measured in the same run (the ratio says how
much of the raw cipher speed survives framing, signing, hashing and writing),
and the cost of sealing and signing one packet-sized chunk at 1080p30
(~40 KB: 10 Mbit/s over 30 frames a second), with its share of one core.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey  # noqa: E402
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey  # noqa: E402
from cryptography.hazmat.primitives.ciphers.aead import AESGCM  # noqa: E402

from evidence.identity import DeviceIdentity
from recorder.store import EvidenceStore  # noqa: E402

MIB = 1 << 20
PACKET = 40_000  # bytes: 10 Mbit/s / 30 fps, about 41.7 KB
GOP_CHUNK = 1_250_000  # bytes: one 1 s GOP at 10 Mbit/s


def _identity() -> DeviceIdentity:
    return DeviceIdentity("BENCH-1", Ed25519PrivateKey.generate(),
                          X25519PrivateKey.generate().public_key())


def openssl_gcm_bytes_per_s(seconds: int = 2) -> float | None:
    """Raw AES-256-GCM speed by ``openssl speed`` on 1 MiB blocks, or None if missing."""
    exe = shutil.which("openssl")
    if exe is None:
        return None
    try:
        out = subprocess.run([exe, "speed", "-mr", "-evp", "aes-256-gcm", "-bytes", str(MIB),
                              "-seconds", str(seconds)], capture_output=True, text=True,
                             timeout=60 + seconds, check=False).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    for line in out.splitlines():
        if line.startswith("+F:"):
            return float(line.rsplit(":", 1)[1])
    return None


def writer_bytes_per_s(total: int = 96 * MIB, chunk: int = GOP_CHUNK) -> dict[str, float]:
    """Encrypted-write throughput of the segment writer, GOP-sized chunks."""
    tmp = Path(tempfile.mkdtemp(prefix="bench-evidence-"))
    try:
        store = EvidenceStore(tmp, _identity())
        store.recover()
        rec = store.begin_recording(time.time(), "ntp", 0)
        seg = rec.open_segment()
        data = os.urandom(chunk)
        n = max(1, total // chunk)
        t0 = time.perf_counter()
        for i in range(n):
            seg.write_chunk(data, frames=30, first_pts_us=i * 1_000_000,
                            last_pts_us=i * 1_000_000 + 966_666)
        rec.close_segment(seg)  # includes the fsync
        elapsed = time.perf_counter() - t0
        rec.finish()
        return {"bytes_per_s": n * chunk / elapsed, "chunk_bytes": chunk, "chunks": n,
                "seconds": elapsed}
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def python_gcm_bytes_per_s(total: int = 64 * MIB) -> float:
    """AES-256-GCM one-shot through cryptography, 1 MiB at a time (the writer's cipher)."""
    aead = AESGCM(os.urandom(32))
    data = os.urandom(MIB)
    t0 = time.perf_counter()
    for i in range(total // MIB):
        aead.encrypt(i.to_bytes(12, "big"), data, b"")
    return total / (time.perf_counter() - t0)


def packet_cost(n: int = 600) -> dict[str, float]:
    """Microseconds to seal, sign and write one ~40 KB chunk (1080p30 at 10 Mbit/s)."""
    tmp = Path(tempfile.mkdtemp(prefix="bench-evidence-"))
    try:
        ident = _identity()
        store = EvidenceStore(tmp, ident)
        store.recover()
        rec = store.begin_recording(time.time(), "ntp", 0)
        seg = rec.open_segment()
        data = os.urandom(PACKET)
        t0 = time.perf_counter()
        for i in range(n):
            seg.write_chunk(data, frames=1, first_pts_us=i * 33_333, last_pts_us=i * 33_333)
        per = (time.perf_counter() - t0) / n
        rec.finish()
        aead = AESGCM(os.urandom(32))
        t0 = time.perf_counter()
        for i in range(n):
            aead.encrypt(i.to_bytes(12, "big"), data, b"")
        seal = (time.perf_counter() - t0) / n
        msg = os.urandom(150)
        t0 = time.perf_counter()
        for _ in range(n):
            ident.signing_key.sign(msg)
        sign = (time.perf_counter() - t0) / n
        return {"write_chunk_us": per * 1e6, "aes_gcm_us": seal * 1e6,
                "ed25519_sign_us": sign * 1e6,
                "core_share_at_30fps_percent": per * 30 * 100}
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def run() -> dict[str, Any]:
    """All figures, named; throughput in MB/s (10^6 bytes)."""
    ossl = openssl_gcm_bytes_per_s()
    writer = writer_bytes_per_s()
    result: dict[str, Any] = {
        "writer_mb_per_s": round(writer["bytes_per_s"] / 1e6, 1),
        "writer_chunk_bytes": writer["chunk_bytes"],
        "python_aes_gcm_mb_per_s": round(python_gcm_bytes_per_s() / 1e6, 1),
        "packet_bytes": PACKET,
        **{f"packet_{k}": round(v, 2) for k, v in packet_cost().items()},
        "cpu_count": os.cpu_count(),
    }
    if ossl is None:
        result["openssl_aes_256_gcm_mb_per_s"] = None
        result["writer_vs_openssl_ratio"] = None
        result["openssl_note"] = "openssl not found or 'openssl speed' gave no figure"
    else:
        result["openssl_aes_256_gcm_mb_per_s"] = round(ossl / 1e6, 1)
        result["writer_vs_openssl_ratio"] = round(writer["bytes_per_s"] / ossl, 3)
    return result


if __name__ == "__main__":
    print(json.dumps(run(), indent=2, sort_keys=True))
