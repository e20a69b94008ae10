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
