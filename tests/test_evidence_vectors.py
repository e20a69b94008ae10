"""The test vectors of docs/FORMAT.md: reproducible, and checkable from the document alone."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from evidence.primitives import hpke_open
from office.verify import verify_tree
from tests.vectors import make_vectors

V1 = Path(__file__).parent / "vectors" / "v1"  # frozen: the v1 writer is retired
V2 = Path(__file__).parent / "vectors" / "v2"


def load(where: Path = V1) -> dict:
    return json.loads((where / "intermediates.json").read_text())


def files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file()}


def test_vectors_are_reproducible(tmp_path: Path) -> None:
    make_vectors.write_all_vectors(tmp_path / "v2")
    assert files(tmp_path / "v2") == files(V2)


@pytest.mark.parametrize("where", [V1, V2], ids=["v1", "v2"])
def test_vectors_verify(where: Path) -> None:
    report = verify_tree(where / "data", [where / "device.pub"])
    want = load(where)["expected_verify"]
    assert report.exit_code == want["exit_code"]
    assert [r.status for r in report.recordings] == want["statuses"]


@pytest.mark.parametrize("where", [V1, V2], ids=["v1", "v2"])
def test_deterministic_hpke_is_rfc9180_as_the_library_reads_it(where: Path) -> None:
    v = load(where)
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


def _segment_hash_v2(seg: bytes) -> bytes:
    """§5.5 from the document: chunk ciphertexts replaced by H(meta ‖ ciphertext)."""
    h = hashlib.sha256(seg[:8])
    pos = 8
    while pos < len(seg):
        tag, length = seg[pos], int.from_bytes(seg[pos + 1:pos + 5], "big")
        body = seg[pos + 5:pos + 5 + length]
        h.update(seg[pos:pos + 5])
        if tag == 0x43:
            meta, ct, sig = body[:25], body[25:-65], body[-65:]
            h.update(meta + hashlib.sha256(meta + ct).digest() + sig)
        else:
            h.update(body)
        pos += 5 + length
    return h.digest()


def test_v2_intermediates_follow_the_document() -> None:
    """Recompute each step of FORMAT.md §5 (v2) from the values alone: the device key
    signs the header, which certifies the chunk key that signs chunks and trailer."""
    v = load(V2)
    seg = (V2 / v["segment_file"]).read_bytes()
    assert _segment_hash_v2(seg).hex() == v["segment_hash"]
    header = v["header_json"].encode()
    assert seg[:8] == b"BCAMSEG2" and seg[8] == 0x48
    assert int.from_bytes(seg[9:13], "big") == len(header) + 65
    assert seg[13:13 + len(header)] == header
    assert hashlib.sha256(header).hexdigest() == v["header_hash"]
    device = Ed25519PublicKey.from_public_bytes(bytes.fromhex(v["device_public"]))
    hsig = bytes.fromhex(v["header_signature"])
    assert hsig[0] == 0x01  # Ed25519
    device.verify(hsig[1:], b"bodycam/v2 segment-header\x00" + header)
    doc = json.loads(header)
    assert doc["format_version"] == 2 and doc["device_key_alg"] == "ed25519"
    chunk_key = Ed25519PublicKey.from_public_bytes(bytes.fromhex(doc["chunk_key"]))
    key = bytes.fromhex(v["hpke"]["data_key"])
    prev_sig = hsig
    for i, c in enumerate(v["chunks"]):
        meta = bytes.fromhex(c["meta"])
        last = i == len(v["chunks"]) - 1
        nonce = bytes.fromhex(doc["nonce_prefix"]) + i.to_bytes(4, "big") + bytes([last])
        aad = bytes.fromhex(v["header_hash"]) + meta
        ct = AESGCM(key).encrypt(nonce, bytes.fromhex(c["plaintext"]), aad)
        assert ct.hex() == c["ciphertext"]
        msg = (b"bodycam/v2 chunk\x00" + bytes.fromhex(v["header_hash"]) + i.to_bytes(4, "big")
               + hashlib.sha256(meta + ct).digest() + prev_sig)
        assert msg.hex() == c["signed_message"]
        sig = bytes.fromhex(c["signature"])
        assert sig[0] == 0x01
        chunk_key.verify(sig[1:], msg)
        record = bytes.fromhex(c["record_hex"])
        assert record == b"\x43" + (len(meta + ct) + 65).to_bytes(4, "big") + meta + ct + sig
        assert seg[c["record_offset"]:c["record_offset"] + len(record)] == record
        prev_sig = sig
    trailer = v["trailer_json"].encode()
    tsig = bytes.fromhex(v["trailer_signature"])
    chunk_key.verify(tsig[1:], b"bodycam/v2 segment-trailer\x00"
                     + bytes.fromhex(v["header_hash"]) + prev_sig + trailer)
    manifest = (V2 / v["manifest_file"]).read_bytes()
    mjson = v["manifest_json"].encode()
    assert manifest[:8] == b"BCAMMAN2" and manifest[13:13 + len(mjson)] == mjson
    assert manifest[-65] == 0x01
    device.verify(manifest[-64:], b"bodycam/v2 recording-manifest\x00" + mjson)
    mdoc = json.loads(mjson)
    assert mdoc["segments"][0]["sha256"] == v["segment_hash"]
    assert mdoc["counter"] > doc["counter"]  # the counter runs along what is signed


V2_TPM = Path(__file__).parent / "vectors" / "v2-tpm"


def test_tpm_signed_vectors_verify_and_export_with_cryptography_alone(tmp_path: Path) -> None:
    """ECDSA P-256 from a TPM, checked without any TPM stack."""
    report = verify_tree(V2_TPM / "data", [V2_TPM / "device.pub"])
    assert report.exit_code == 3
    assert [r.status for r in report.recordings] == ["intact", "truncated"]
    header = json.loads((V2_TPM / "device.pub").read_text())
    assert header["key_alg"] == "ecdsa-p256-sha256" and header["key_store"] == "tpm"
    first = report.recordings[0].check
    assert first.segments[0].header["counter_kind"] == "tpm-nv"
    assert first.info["bookmarks"][0]["label"] == "tpm vector bookmark"
    from office.export import export_tree
    out = export_tree(V2_TPM / "data", V2_TPM / "custodian-TEST-ONLY.key", tmp_path / "x",
                      [V2_TPM / "device.pub"], False)
    assert out.exit_code == 3 and len(list((tmp_path / "x").glob("*.mp4"))) == 2


V1_SIM = Path(__file__).parent / "vectors" / "v1-sim"


def test_v1_evidence_from_the_v1_device_still_verifies_and_exports(tmp_path: Path) -> None:
    """A recording the v1 firmware made (simulated device, real H.264 in MPEG-TS, a v1
    audit log): the v2 tools verify it intact and export every frame."""
    from hw_sim.frametag import frame_numbers
    from office.export import export_tree
    report = verify_tree(V1_SIM / "data", [V1_SIM / "device.pub"])
    assert report.exit_code == 0 and [r.status for r in report.recordings] == ["intact"]
    assert report.audit is not None and report.audit.checkpoints == 2
    out = export_tree(V1_SIM / "data", V1_SIM / "custodian-TEST-ONLY.key", tmp_path / "x",
                      [V1_SIM / "device.pub"], False)
    assert out.exit_code == 0
    (mp4,) = (tmp_path / "x").glob("*.mp4")
    frames = frame_numbers(mp4)
    assert len(frames) == 120 and frames == list(range(frames[0], frames[0] + 120))
