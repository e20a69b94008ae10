"""Attacks from issue 17 run against the simulated device: each is refused or detected."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from evidence import keys as keyfiles
from firmware.cli import main
from firmware.doctor import check_identity

SCENARIO = 'duration = 5.0\n[[event]]\nat = 1.0\naction = "press"\n'


@pytest.fixture(scope="module")
def office(tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("office")
    assert main(["keys", "custodian", "--out", str(d / "real")]) == 0
    assert main(["keys", "custodian", "--out", str(d / "attacker")]) == 0
    assert main(["keys", "device", "--device-id", "SIM-17", "--custodian-pub",
                 str(d / "real" / "custodian.pub"), "--out", str(d / "id")]) == 0
    return {"real": d / "real", "attacker": d / "attacker", "id": d / "id"}


def test_replaced_custodian_pub_fails_closed(office, tmp_path: Path, capsys) -> None:
    """Swapping custodian.pub would seal all later footage to the attacker: the device
    refuses to record, logs it, and doctor fails."""
    ident = tmp_path / "id"
    shutil.copytree(office["id"], ident)
    (ident / "custodian.pub").unlink()
    shutil.copy(office["attacker"] / "custodian.pub", ident / "custodian.pub")
    with pytest.raises(keyfiles.CustodianMismatch):
        keyfiles.load_identity(ident)
    check = check_identity(ident, device=False)
    assert not check.ok and "custodian" in check.detail
    scenario = tmp_path / "s.toml"
    scenario.write_text(SCENARIO)
    capsys.readouterr()
    assert main(["run", "--sim", "--fast", "--data-dir", str(tmp_path / "data"), "--identity",
                 str(ident), "--scenario", str(scenario)]) == 0
    out = capsys.readouterr()
    summary = json.loads(out.out[out.out.index("{"):])
    assert summary["refused"] == 1 and summary["recordings"] == []
    assert not list((tmp_path / "data").rglob("seg-*.bcs"))
    audit = (tmp_path / "data" / "audit.log").read_text()
    assert '"event":"key_missing"' in audit and "not the custodian key" in audit


def test_key_file_device_says_it_can_be_forged(office, tmp_path: Path, capsys) -> None:
    check = check_identity(office["id"], device=False)
    assert check.ok and "can be forged by whoever copies the card" in check.detail
    scenario = tmp_path / "s.toml"
    scenario.write_text(SCENARIO)
    assert main(["run", "--sim", "--fast", "--data-dir", str(tmp_path / "data"), "--identity",
                 str(office["id"]), "--scenario", str(scenario)]) == 0
    boot = next(json.loads(line) for line in
                (tmp_path / "data" / "audit.log").read_text().splitlines()
                if '"event":"boot"' in line)
    assert boot["key_store"] == "file" and "forged" in boot["key_warning"]


# -- attacks on the evidence of a (key-file) device, through its own writer -----------

from evidence.errors import EXIT_INCOMPLETE, EXIT_INTEGRITY, EXIT_OK  # noqa: E402
from office.verify import verify_tree  # noqa: E402
from recorder.store import EvidenceStore  # noqa: E402
from tests.vectors.support import identity, record, write_device_pub  # noqa: E402


@pytest.fixture
def device(tmp_path: Path) -> dict:
    """A device that made three recordings; its pinned device.pub."""
    ident = identity()
    root = tmp_path / "data"
    store = EvidenceStore(root, ident)
    store.recover()
    recs = [record(store, (25, 25), start_frame=0, utc=1_750_000_000.0),
            record(store, (25,), start_frame=50, utc=1_750_000_100.0, bookmarks=(1_700_000,)),
            record(store, (25, 25), start_frame=75, utc=1_750_000_200.0)]
    return {"root": root, "ident": ident, "recs": recs,
            "pub": write_device_pub(tmp_path / "device.pub", ident)}


def verdict(device: dict, since: Path | None = None) -> tuple[int, str]:
    report = verify_tree(device["root"], [device["pub"]], since)
    return report.exit_code, "\n".join(report.text_lines())


def test_untouched_device_verifies(device) -> None:
    assert verdict(device)[0] == EXIT_OK


def test_deleting_a_recording_is_detected(device) -> None:
    shutil.rmtree(device["recs"][1].dir)
    code, text = verdict(device)
    assert code == EXIT_INTEGRITY
    assert "recording #2 is named by the signed audit log but not in the tree" in text
    assert "counter values" in text


def test_deleting_the_oldest_recording_is_detected(device) -> None:
    shutil.rmtree(device["recs"][0].dir)
    code, text = verdict(device)
    assert code == EXIT_INTEGRITY and "recording #1 is named by the signed audit log" in text


def test_cutting_the_audit_log_back_is_detected(device) -> None:
    log = device["root"] / "audit.log"
    lines = log.read_bytes().splitlines(keepends=True)
    log.write_bytes(b"".join(lines[:2]))  # back to an early checkpoint
    code, text = verdict(device)
    assert code == EXIT_INTEGRITY and "the log was cut back" in text


def test_deleting_the_audit_log_is_detected(device) -> None:
    (device["root"] / "audit.log").unlink()
    code, text = verdict(device)
    assert code == EXIT_INTEGRITY and "audit log is not in the tree" in text


def test_editing_chain_json_then_recording_is_detected(device) -> None:
    """The wearer deletes #3, winds chain.json back and records on: the new recording
    reuses number 3, and the counter shows what went."""
    shutil.rmtree(device["recs"][2].dir)
    chain = device["root"] / "chain.json"
    doc = json.loads(chain.read_text())
    doc["recording_seq"] = 2
    chain.write_text(json.dumps(doc, sort_keys=True, separators=(",", ":")) + "\n")
    store = EvidenceStore(device["root"], device["ident"])
    store.recover()
    record(store, (25,), start_frame=200, utc=1_750_000_300.0)
    code, text = verdict(device)
    assert code == EXIT_INTEGRITY and "counter values" in text


def test_caches_change_nothing_verify_reports(device) -> None:
    before = verdict(device)
    for rec in device["recs"]:
        (rec.dir / "recording.json").write_text('{"utc_start_us": 1}\n')
        (rec.dir / "events.jsonl").unlink(missing_ok=True)
    (device["root"] / "chain.json").unlink()
    assert verdict(device) == before


def test_shortened_recording_closed_by_recovery_is_not_intact(device) -> None:
    """Delete a finished recording's manifest and last segment, boot once: recovery
    signs what is left, and verify says it was closed by recovery and what is gone."""
    rec = device["recs"][2]
    (rec.dir / "manifest.bcm").unlink()
    (rec.dir / "seg-000001.bcs").unlink()
    EvidenceStore(device["root"], device["ident"]).recover()
    code, text = verdict(device)
    assert code == EXIT_INTEGRITY
    assert "closed by recovery" in text and "counter values" in text


def test_forged_events_file_does_not_reach_the_signed_manifest(device, tmp_path) -> None:
    """Recovery takes bookmarks from signed event records only."""
    store = EvidenceStore(device["root"], device["ident"])
    store.recover()
    rec = record(store, (25,), start_frame=300, utc=1_750_000_400.0, finish=False)
    (rec.dir / "events.jsonl").write_text(
        '{"kind":"bookmark","label":"suspect drew weapon","pts_us":10000000,"utc_us":1}\n')
    EvidenceStore(device["root"], device["ident"]).recover()
    report = verify_tree(device["root"], [device["pub"]])
    last = report.recordings[-1].as_dict()
    assert last["bookmarks"] == [] and "suspect" not in report.to_json()
    assert last["status"] == "truncated"  # closed by recovery


def test_bookmarks_are_signed_where_they_happen(device) -> None:
    from evidence.reader import scan_segment
    rec = device["recs"][1]
    events = scan_segment(rec.dir / "seg-000000.bcs", None).events
    assert events == []  # the bookmark came after the segment closed: manifest only
    store = EvidenceStore(device["root"], device["ident"])
    r = store.begin_recording(1_750_000_500.0, "ntp", 0)
    seg = r.open_segment()
    r.add_bookmark(1000, 1_750_000_500.5, "now")
    assert scan_segment(seg.path, None).events == [
        {"kind": "bookmark", "label": "now", "pts_us": 1000, "utc_us": 1_750_000_500_500_000}]


def test_receipt_detects_the_newest_recording_deleted(device, tmp_path, capsys) -> None:
    receipt = tmp_path / "r.json"
    assert main(["verify", str(device["root"]), "--device-pub", str(device["pub"]),
                 "--receipt-out", str(receipt)]) == EXIT_OK
    store = EvidenceStore(device["root"], device["ident"])
    store.recover()
    newest = record(store, (25,), start_frame=400, utc=1_750_000_600.0)
    assert verdict(device, receipt)[0] == EXIT_OK
    # delete the newest recording and cut the log back to before it: only the
    # receipt (and a later signature) can tell
    shutil.rmtree(newest.dir)
    log = device["root"] / "audit.log"
    kept = [ln for ln in log.read_bytes().splitlines(keepends=True)]
    mark = json.loads((receipt).read_text())["audit_head"]
    cut = next(i for i, ln in enumerate(kept) if mark.encode() in ln)
    log.write_bytes(b"".join(kept[:cut + 1]))
    assert verdict(device)[0] == EXIT_OK  # without the receipt: looks complete
    store2 = EvidenceStore(device["root"], device["ident"])
    store2.recover()
    record(store2, (25,), start_frame=500, utc=1_750_000_700.0)
    code, text = verdict(device, receipt)
    assert code == EXIT_INTEGRITY and "counter values" in text


def test_unpinned_verify_has_its_own_exit_code(device, capsys) -> None:
    assert main(["verify", str(device["root"])]) == 4
    assert "identity not established" in capsys.readouterr().out


def test_v1_evidence_still_incomplete_not_tampered() -> None:
    v1 = Path(__file__).parent / "vectors" / "v1"
    assert verify_tree(v1 / "data", [v1 / "device.pub"]).exit_code == EXIT_INCOMPLETE


def test_footage_sealed_to_another_custodian_is_tampered(device) -> None:
    """Firmware made to seal to another key still signs as the device: verify compares
    every header with the custodian key registered in device.pub."""
    from evidence.identity import DeviceIdentity
    from tests.vectors.support import custodian_key, device_key
    rogue = DeviceIdentity("CAM-0001", device_key(), custodian_key(b"attacker").public_key())
    store = EvidenceStore(device["root"], rogue)
    record(store, (25,), start_frame=600, utc=1_750_000_900.0)
    code, text = verdict(device)
    assert code == EXIT_INTEGRITY and "custodian.pub was replaced" in text


def test_a_power_cut_that_took_one_counter_value_is_not_a_gap(device) -> None:
    """A power cut between taking a counter value and writing its item loses one value:
    the next boot says so in the signed log, and verify accepts exactly that."""
    store = EvidenceStore(device["root"], device["ident"])
    store.counter.next()  # taken for a header that never reached the card
    rebooted = EvidenceStore(device["root"], device["ident"])
    assert any("lost to the interruption" in line for line in rebooted.recover())
    record(rebooted, (25,), start_frame=700, utc=1_750_001_000.0)
    assert verdict(device)[0] == EXIT_OK


def test_several_values_missing_at_boot_stay_a_gap(device) -> None:
    store = EvidenceStore(device["root"], device["ident"])
    for _ in range(3):
        store.counter.next()
    rebooted = EvidenceStore(device["root"], device["ident"])
    assert any("on no item on the card" in line for line in rebooted.recover())
    record(rebooted, (25,), start_frame=700, utc=1_750_001_000.0)
    code, text = verdict(device)
    assert code == EXIT_INTEGRITY and "counter values" in text


def test_utc_running_backwards_without_a_clock_step_is_reported(device) -> None:
    store = EvidenceStore(device["root"], device["ident"])
    store.recover()
    record(store, (25,), start_frame=800, utc=1_749_000_000.0)  # before #3, no step logged
    code, text = verdict(device)
    assert code == EXIT_INTEGRITY and "no clock step" in text
    store.audit.append("clock_step", step_s=-1_000_300.0, source="ntp")
    store.checkpoint()
    assert verdict(device)[0] == EXIT_OK
