"""Make the v2 test vectors of docs/FORMAT.md (``python -m tests.vectors.make_vectors``).

tests/vectors/v1 was made by the v1 writer, which is retired; those files are
kept as they are and must still verify and export.

Everything is fixed: the device and custodian keys, every random draw (a
SHAKE-256 stream), the clock, and HPKE's ephemeral key. The library's HPKE
always draws its own ephemeral key, so the vectors seal data keys with
:func:`hpke_seal_deterministic`, a plain RFC 9180 SealBase written from the
RFC; the tests check that the library opens what it seals.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import shutil
import sys
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDFExpand
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)

from evidence.framing import RECORD_HEAD, Record, iter_records, segment_file_hash
from evidence.identity import DeviceIdentity, device_pub_bytes
from evidence.primitives import (
    CHUNK_META,
    HPKE_INFO,
    chunk_aad,
    chunk_message,
    header_message,
    hpke_open,
    manifest_message,
    sha256,
    stream_nonce,
    trailer_message,
)
from evidence.signer import SIG2_LEN, KeyFileSigner
from recorder.store import EvidenceStore
from tests.vectors.support import DetRandom, FakeClock

SIG_LEN = SIG2_LEN
V2 = 2
HERE = Path(__file__).parent / "v2"
DEVICE_SEED = b"bodycam test vector device"
CUSTODIAN_SEED = b"bodycam test vector custodian"
RNG_SEED = b"bodycam test vector rng"
DEVICE_ID = "VECTOR-CAM-1"
UTC_START = 1_700_000_000.0


def _labeled_extract(suite: bytes, salt: bytes, label: bytes, ikm: bytes) -> bytes:
    return hmac.new(salt or bytes(32), b"HPKE-v1" + suite + label + ikm, "sha256").digest()


def _labeled_expand(suite: bytes, prk: bytes, label: bytes, info: bytes, n: int) -> bytes:
    full = n.to_bytes(2, "big") + b"HPKE-v1" + suite + label + info
    return HKDFExpand(hashes.SHA256(), n, full).derive(prk)


def hpke_seal_deterministic(rng: DetRandom, log: list[dict[str, str]]) -> Any:
    """RFC 9180 SealBase, DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, AES-256-GCM, fixed skE."""
    kem_suite = b"KEM\x00\x20"
    suite = b"HPKE\x00\x20\x00\x01\x00\x02"

    def seal(data_key: bytes | bytearray, pk_r: X25519PublicKey) -> bytes:
        sk_e = X25519PrivateKey.from_private_bytes(rng(32))
        enc = sk_e.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        pk_rm = pk_r.public_bytes(Encoding.Raw, PublicFormat.Raw)
        dh = sk_e.exchange(pk_r)
        eae_prk = _labeled_extract(kem_suite, b"", b"eae_prk", dh)
        shared = _labeled_expand(kem_suite, eae_prk, b"shared_secret", enc + pk_rm, 32)
        psk_id_hash = _labeled_extract(suite, b"", b"psk_id_hash", b"")
        info_hash = _labeled_extract(suite, b"", b"info_hash", HPKE_INFO)
        context = b"\x00" + psk_id_hash + info_hash
        secret = _labeled_extract(suite, shared, b"secret", b"")
        key = _labeled_expand(suite, secret, b"key", context, 32)
        nonce = _labeled_expand(suite, secret, b"base_nonce", context, 12)
        sealed = enc + AESGCM(key).encrypt(nonce, bytes(data_key), b"")
        log.append({"skE": sk_e.private_bytes(Encoding.Raw, PrivateFormat.Raw,
                                              NoEncryption()).hex(),
                    "enc": enc.hex(), "shared_secret": shared.hex(), "key": key.hex(),
                    "base_nonce": nonce.hex(), "data_key": bytes(data_key).hex(),
                    "sealed_key": sealed.hex()})
        return sealed

    return seal


def keys() -> tuple[Ed25519PrivateKey, X25519PrivateKey]:
    """The vectors' device and custodian keys (published: for tests only)."""
    return (Ed25519PrivateKey.from_private_bytes(hashlib.sha256(DEVICE_SEED).digest()),
            X25519PrivateKey.from_private_bytes(hashlib.sha256(CUSTODIAN_SEED).digest()))


class AuditClock:
    """The audit log's clock for the vectors: the same fake wall clock, and a monotonic
    reading that is that wall clock minus the start."""

    def __init__(self, clock: FakeClock) -> None:
        self._clock = clock

    def time(self) -> float:
        return self._clock.t

    def monotonic(self) -> float:
        return self._clock.t - UTC_START


def chunk_keys(rng: DetRandom) -> Any:
    """Each segment's chunk key: the Ed25519 key whose seed is the next 32 bytes drawn."""
    return lambda: KeyFileSigner(Ed25519PrivateKey.from_private_bytes(rng(32)))


def plaintext(segment: int, chunk: int) -> bytes:
    """Payload of a chunk (stands in for MPEG-TS so the vectors stay readable)."""
    return f"bodycam vector: recording payload, segment {segment}, chunk {chunk}.\n".encode()


def generate(out: Path) -> dict[str, Any]:
    """Write the vector tree into ``out`` and return the intermediate values."""
    device, custodian = keys()
    ident = DeviceIdentity(DEVICE_ID, device, custodian.public_key())
    rng = DetRandom(RNG_SEED)
    hpke_log: list[dict[str, str]] = []
    clock = FakeClock(UTC_START)
    data = out / "data"
    store = EvidenceStore(data, ident, rng=rng, now=clock,
                          sealer=hpke_seal_deterministic(rng, hpke_log),
                          chunk_keys=chunk_keys(rng), audit_clock=AuditClock(clock))
    store.recover()
    # Recording 1: two segments of two chunks, a bookmark, finished normally.
    rec = store.begin_recording(UTC_START, "ntp", 1_000_000)
    for s in range(2):
        seg = rec.open_segment()
        for c in range(2):
            first = 1_000_000 + (s * 2 + c) * 100_000
            seg.write_chunk(plaintext(s, c), frames=3, first_pts_us=first,
                            last_pts_us=first + 66_666)
        rec.close_segment(seg)
    rec.add_bookmark(1_150_000, UTC_START + 0.15, "vector bookmark")
    rec.finish()
    # Recording 2: power cut inside the second chunk, then recovery at boot.
    rec2 = store.begin_recording(UTC_START + 60, "rtc", 9_000_000)
    seg = rec2.open_segment()
    for c in range(2):
        first = 9_000_000 + c * 100_000
        seg.write_chunk(plaintext(0, c), frames=3, first_pts_us=first,
                        last_pts_us=first + 66_666)
    cut = seg.path
    size = cut.stat().st_size
    cut.write_bytes(cut.read_bytes()[:size - 30])
    rebooted = EvidenceStore(data, ident, rng=rng, now=clock,
                             sealer=hpke_seal_deterministic(rng, hpke_log),
                             chunk_keys=chunk_keys(rng), audit_clock=AuditClock(clock))
    lines = rebooted.recover()
    first_seg = rec.dir / "seg-000000.bcs"
    return _intermediates(first_seg, rec.dir / "manifest.bcm", custodian, hpke_log[0],
                          lines, out)


def _intermediates(seg: Path, manifest: Path, custodian: X25519PrivateKey,
                   hpke: dict[str, str], lines: list[str], out: Path) -> dict[str, Any]:
    data = seg.read_bytes()
    recs = [r for r in iter_records(io.BytesIO(data), len(data)) if isinstance(r, Record)]
    hjson, hsig = recs[0].body[:-SIG_LEN], recs[0].body[-SIG_LEN:]
    header = json.loads(hjson)
    hhash = sha256(hjson)
    key = hpke_open(bytes.fromhex(header["sealed_key"]), custodian)
    prefix = bytes.fromhex(header["nonce_prefix"])
    chunks, prev = [], hsig
    for r in recs[1:-1]:
        meta, ct, sig = r.body[:CHUNK_META.size], r.body[CHUNK_META.size:-SIG_LEN], \
            r.body[-SIG_LEN:]
        index, flags, *_ = CHUNK_META.unpack(meta)
        nonce = stream_nonce(prefix, index, bool(flags & 1))
        pt = AESGCM(key).decrypt(nonce, ct, chunk_aad(hhash, meta))
        chunks.append({"record_offset": r.offset, "record_hex": (
            RECORD_HEAD.pack(r.tag, len(r.body)) + r.body).hex(), "meta": meta.hex(),
            "nonce": nonce.hex(), "aad": chunk_aad(hhash, meta).hex(), "plaintext": pt.hex(),
            "ciphertext": ct.hex(), "signed_message": chunk_message(
                hhash, index, sha256(meta + ct), prev, V2).hex(), "signature": sig.hex()})
        prev = sig
    tjson, tsig = recs[-1].body[:-SIG_LEN], recs[-1].body[-SIG_LEN:]
    mdata = manifest.read_bytes()
    mrec = next(r for r in iter_records(io.BytesIO(mdata), len(mdata)) if isinstance(r, Record))
    mjson = mrec.body[:-SIG_LEN]
    device, _ = keys()
    return {
        "device_id": DEVICE_ID,
        "device_private_seed": hashlib.sha256(DEVICE_SEED).hexdigest(),
        "device_public": device.public_key().public_bytes(Encoding.Raw,
                                                          PublicFormat.Raw).hex(),
        "custodian_private": custodian.private_bytes(Encoding.Raw, PrivateFormat.Raw,
                                                     NoEncryption()).hex(),
        "custodian_public": custodian.public_key().public_bytes(Encoding.Raw,
                                                                PublicFormat.Raw).hex(),
        "segment_file": str(seg.relative_to(out)),
        "segment_hash": segment_file_hash(seg).hex(),
        "header_json": hjson.decode(),
        "header_hash": hhash.hex(),
        "header_signed_message": header_message(hjson, V2).hex(),
        "header_signature": hsig.hex(),
        "hpke": hpke,
        "chunks": chunks,
        "trailer_json": tjson.decode(),
        "trailer_signed_message": trailer_message(hhash, prev, tjson, V2).hex(),
        "trailer_signature": tsig.hex(),
        "manifest_file": str(manifest.relative_to(out)),
        "manifest_json": mjson.decode(),
        "manifest_signed_message_sha256": sha256(manifest_message(mjson, V2)).hex(),
        "manifest_sha256": sha256(mdata).hex(),
        "recovery_lines": lines,
        "expected_verify": {"exit_code": 3, "statuses": ["intact", "truncated"]},
    }


def write_all_vectors(target: Path = HERE) -> None:
    """Regenerate tests/vectors/v2 (the key files and the tree)."""
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    values = generate(target)
    device, custodian = keys()
    (target / "device.pub").write_bytes(device_pub_bytes(
        DEVICE_ID, device.public_key(), hashlib.sha256(custodian.public_key().public_bytes(
            Encoding.Raw, PublicFormat.Raw)).hexdigest()))
    (target / "custodian-TEST-ONLY.key").write_bytes(custodian.private_bytes(
        Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()))
    (target / "intermediates.json").write_text(json.dumps(values, indent=1, sort_keys=True)
                                               + "\n")


def write_tpm_vectors(target: Path, tcti: str) -> None:
    """tests/vectors/v2-tpm: a device whose key is in the TPM ``tcti`` names (ECDSA P-256,
    randomised signatures: not reproducible). One finished recording with a bookmark,
    one cut and closed by recovery; the custodian key is the published test key."""
    from evidence.keys import create_device, load_identity
    from evidence.signer import KeyStore
    from tests.vectors.support import chunks_for

    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    _, custodian = keys()
    (target / "custodian-TEST-ONLY.key").write_bytes(custodian.private_bytes(
        Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()))
    pub = target / "custodian.pub"
    pub.write_bytes(custodian.public_key().public_bytes(Encoding.PEM,
                                                       PublicFormat.SubjectPublicKeyInfo))
    ident_dir = target / "identity"
    create_device("VECTOR-TPM-1", pub, ident_dir, KeyStore.TPM, tcti)
    shutil.copy(ident_dir / "device.pub", target / "device.pub")
    ident = load_identity(ident_dir, tcti)
    data = target / "data"
    store = EvidenceStore(data, ident)
    store.recover()
    rec = store.begin_recording(UTC_START, "ntp", 0)
    seg = rec.open_segment()
    for ch in chunks_for(0, 20):
        seg.write_chunk(ch.data, frames=ch.frames, first_pts_us=ch.first_pts_us,
                        last_pts_us=ch.last_pts_us)
    rec.add_bookmark(100_000, UTC_START + 0.1, "tpm vector bookmark")
    rec.finish()
    rec2 = store.begin_recording(UTC_START + 60, "ntp", 2_000_000)
    seg = rec2.open_segment()
    for ch in chunks_for(60, 20):
        seg.write_chunk(ch.data, frames=ch.frames, first_pts_us=ch.first_pts_us,
                        last_pts_us=ch.last_pts_us)
    seg.path.write_bytes(seg.path.read_bytes()[:-40])  # power cut
    EvidenceStore(data, ident).recover()
    shutil.rmtree(ident_dir)  # tpm.json is useless off that TPM; device.pub stays


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--tpm":  # --tpm TCTI [DIR]
        write_tpm_vectors(Path(sys.argv[3]) if len(sys.argv) > 3 else HERE.parent / "v2-tpm",
                          sys.argv[2])
    else:
        write_all_vectors(Path(sys.argv[1]) if len(sys.argv) > 1 else HERE)
