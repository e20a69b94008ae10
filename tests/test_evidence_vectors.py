"""The test vectors of docs/FORMAT.md: reproducible, and checkable from the document alone."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from evidence.primitives import hpke_open
from office.verify import verify_tree
from tests.vectors import make_vectors

V1 = Path(__file__).parent / "vectors" / "v1"


def load() -> dict:
    return json.loads((V1 / "intermediates.json").read_text())


def files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file()}


def test_vectors_are_reproducible(tmp_path: Path) -> None:
    make_vectors.write_all_vectors(tmp_path / "v1")
    assert files(tmp_path / "v1") == files(V1)


def test_vectors_verify() -> None:
    report = verify_tree(V1 / "data", [V1 / "device.pub"])
    want = load()["expected_verify"]
    assert report.exit_code == want["exit_code"]
    assert [r.status for r in report.recordings] == want["statuses"]


def test_deterministic_hpke_is_rfc9180_as_the_library_reads_it() -> None:
    v = load()
    custodian = X25519PrivateKey.from_private_bytes(bytes.fromhex(v["custodian_private"]))
    assert hpke_open(bytes.fromhex(v["hpke"]["sealed_key"]), custodian).hex() == \
        v["hpke"]["data_key"]


def test_intermediates_follow_the_document() -> None:
    """Recompute each step of FORMAT.md §5 from the values alone."""
    v = load()
    seg = (V1 / v["segment_file"]).read_bytes()
    assert hashlib.sha256(seg).hexdigest() == v["segment_sha256"]
    header = v["header_json"].encode()
    assert seg[:8] == b"BCAMSEG1" and seg[8] == 0x48
    assert int.from_bytes(seg[9:13], "big") == len(header) + 64
    assert seg[13:13 + len(header)] == header
    assert hashlib.sha256(header).hexdigest() == v["header_hash"]
    device = Ed25519PublicKey.from_public_bytes(bytes.fromhex(v["device_public"]))
    device.verify(bytes.fromhex(v["header_signature"]),
                  b"bodycam/v1 segment-header\x00" + header)
    doc = json.loads(header)
    key = bytes.fromhex(v["hpke"]["data_key"])
    prev_sig = bytes.fromhex(v["header_signature"])
    for i, c in enumerate(v["chunks"]):
        meta = bytes.fromhex(c["meta"])
        last = i == len(v["chunks"]) - 1
        nonce = bytes.fromhex(doc["nonce_prefix"]) + i.to_bytes(4, "big") + bytes([last])
        assert nonce.hex() == c["nonce"]
        aad = bytes.fromhex(v["header_hash"]) + meta
        ct = AESGCM(key).encrypt(nonce, bytes.fromhex(c["plaintext"]), aad)
        assert ct.hex() == c["ciphertext"]
        msg = (b"bodycam/v1 chunk\x00" + bytes.fromhex(v["header_hash"]) + i.to_bytes(4, "big")
               + hashlib.sha256(meta + ct).digest() + prev_sig)
        assert msg.hex() == c["signed_message"]
        device.verify(bytes.fromhex(c["signature"]), msg)
        record = bytes.fromhex(c["record_hex"])
        assert record == b"\x43" + (len(meta + ct) + 64).to_bytes(4, "big") + meta + ct + \
            bytes.fromhex(c["signature"])
        assert seg[c["record_offset"]:c["record_offset"] + len(record)] == record
        prev_sig = bytes.fromhex(c["signature"])
    trailer = v["trailer_json"].encode()
    device.verify(bytes.fromhex(v["trailer_signature"]), b"bodycam/v1 segment-trailer\x00"
                  + bytes.fromhex(v["header_hash"]) + prev_sig + trailer)
    assert seg.endswith(trailer + bytes.fromhex(v["trailer_signature"]))
    manifest = (V1 / v["manifest_file"]).read_bytes()
    mjson = v["manifest_json"].encode()
    assert manifest[:8] == b"BCAMMAN1" and manifest[13:13 + len(mjson)] == mjson
    device.verify(manifest[-64:], b"bodycam/v1 recording-manifest\x00" + mjson)
    assert json.loads(mjson)["segments"][0]["sha256"] == v["segment_sha256"]
