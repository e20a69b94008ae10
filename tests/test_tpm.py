"""The device key in a real TPM 2.0 (swtpm): made inside, never exported, checked with
``cryptography`` alone; the TPM NV counter runs through everything signed."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from evidence import keys
from evidence.errors import KeyFileError
from evidence.manifest_reader import scan_manifest
from evidence.reader import scan_segment
from evidence.signer import KeyStore, SigAlg
from firmware.cli import main
from office.verify import verify_tree
from recorder.store import EvidenceStore
from tests.vectors.support import record


@pytest.fixture
def tpm_identity(swtpm: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("BODYCAM_TPM_TCTI", swtpm)
    assert main(["keys", "custodian", "--out", str(tmp_path / "office")]) == 0
    assert main(["keys", "device", "--device-id", "CAM-TPM-1", "--custodian-pub",
                 str(tmp_path / "office" / "custodian.pub"), "--out", str(tmp_path / "id"),
                 "--key-store", "tpm"]) == 0
    return tmp_path / "id"


def test_tpm_identity_holds_no_private_key(tpm_identity: Path, capsys) -> None:
    names = sorted(p.name for p in tpm_identity.iterdir())
    assert names == ["custodian.pub", "device.pub", "tpm.json"]
    for p in tpm_identity.iterdir():
        assert b"PRIVATE KEY" not in p.read_bytes()
    pub = keys.load_device_pub_full(tpm_identity / "device.pub")
    assert pub.key.alg is SigAlg.ECDSA_P256_SHA256 and pub.key_store is KeyStore.TPM
    assert len(pub.key.raw) == 65 and pub.key.raw[0] == 4


def test_tpm_signed_recording_verifies_with_cryptography_alone(tpm_identity: Path,
                                                               tmp_path: Path) -> None:
    ident = keys.load_identity(tpm_identity)
    assert ident.key_store is KeyStore.TPM and ident.counter is not None
    store = EvidenceStore(tmp_path / "data", ident)
    store.recover()
    rec = record(store, (25, 25))
    report = verify_tree(tmp_path / "data", [tpm_identity / "device.pub"])
    assert report.exit_code == 0 and [r.status for r in report.recordings] == ["intact"]
    seg0 = scan_segment(rec.dir / "seg-000000.bcs", None)
    assert seg0.header["device_key_alg"] == "ecdsa-p256-sha256"
    assert seg0.header["counter_kind"] == "tpm-nv"
    # one TPM signature per segment: chunks are signed by the certified chunk key
    assert seg0.chunk_key is not None and seg0.chunk_key.alg is SigAlg.ED25519
    counters = [scan_segment(rec.dir / f"seg-00000{i}.bcs", None).header["counter"]
                for i in range(2)]
    counters.append(scan_manifest(rec.dir / "manifest.bcm", None).doc["counter"])
    assert counters == list(range(counters[0], counters[0] + 3))


def test_a_rolled_back_card_shows_a_counter_gap(tpm_identity: Path, tmp_path: Path) -> None:
    """Copy the data directory, record, put the copy back: the TPM counter went on."""
    ident = keys.load_identity(tpm_identity)
    data = tmp_path / "data"
    store = EvidenceStore(data, ident)
    store.recover()
    first = record(store, (25,))
    last_before = scan_manifest(first.dir / "manifest.bcm", None).doc["counter"]
    shutil.copytree(data, tmp_path / "copy")
    record(store, (25,), start_frame=25)
    shutil.rmtree(data)
    shutil.copytree(tmp_path / "copy", data)
    again = EvidenceStore(data, ident)
    again.recover()
    rec = record(again, (25,), start_frame=50)
    header = scan_segment(rec.dir / "seg-000000.bcs", None).header
    assert header["counter"] > last_before + 1  # the deleted recording's values are gone


def test_wrong_tpm_is_one_line(tpm_identity: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    doc = json.loads((tpm_identity / "tpm.json").read_text())
    doc["private"] = "00" * 8
    (tpm_identity / "tpm.json").write_text(json.dumps(doc))
    with pytest.raises(KeyFileError) as err:
        keys.load_identity(tpm_identity)
    assert "\n" not in err.value.message and "tpm.json" in err.value.message
    monkeypatch.delenv("BODYCAM_TPM_TCTI")
    with pytest.raises(KeyFileError) as err:
        keys.load_identity(tpm_identity)
    assert "BODYCAM_TPM_TCTI" in err.value.message


def test_the_simulated_device_records_with_its_key_in_the_tpm(tpm_identity: Path,
                                                               tmp_path: Path, capsys) -> None:
    """bodycam run with a TPM identity: headers, manifest and audit checkpoints signed by
    the TPM (ECDSA P-256), chunks by the certified chunk key; verify pins device.pub."""
    scenario = tmp_path / "s.toml"
    scenario.write_text('duration = 6.0\n[[event]]\nat = 1.0\naction = "press"\n')
    assert main(["run", "--sim", "--fast", "--data-dir", str(tmp_path / "data"), "--identity",
                 str(tpm_identity), "--scenario", str(scenario)]) == 0
    capsys.readouterr()
    report = verify_tree(tmp_path / "data", [tpm_identity / "device.pub"])
    assert report.exit_code == 0, "\n".join(report.text_lines())
    assert report.audit.checkpoints >= 3  # start, stop, shutdown
    assert all(doc["alg"] == "ecdsa-p256-sha256" for doc in report.audit.signed)
    boot = next(json.loads(line) for line in
                (tmp_path / "data" / "audit.log").read_text().splitlines()
                if '"event":"boot"' in line)
    assert boot["key_store"] == "tpm" and "key_warning" not in boot
