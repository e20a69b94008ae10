"""Audit log: chain, signed checkpoints, reopen after a crash, tampering found."""

from __future__ import annotations

from pathlib import Path

import pytest

from evidence.auditlog import AuditLog, verify_audit_log
from tests.vectors.support import device_key


class Clock:
    def __init__(self) -> None:
        self.t = 1_750_000_000.25
        self.m = 100.0

    def time(self) -> float:
        self.t += 1
        return self.t

    def monotonic(self) -> float:
        self.m += 0.5
        return self.m


def write_log(path: Path, n: int = 5) -> None:
    with AuditLog(path, device_key(), clock=Clock()) as log:
        for i in range(n):
            log.append("button", kind="press", n=i)
        log.checkpoint()
        log.append("state", state="recording", level=0.5)


def test_entries_and_checkpoint(tmp_path: Path) -> None:
    path = tmp_path / "audit.log"
    write_log(path)
    lines = path.read_text().splitlines()
    assert len(lines) == 7
    assert lines[0].startswith('{"event":"button","kind":"press","mono_us":100500000,"n":0,')
    assert '"utc":"2025-06-15T15:06:41.250000Z"' in lines[0]
    report = verify_audit_log(path, device_key().public_key())
    assert report.ok and report.entries == 7 and report.checkpoints == 1
    assert report.unsigned_tail == 1


def test_reopen_continues_chain(tmp_path: Path) -> None:
    path = tmp_path / "audit.log"
    write_log(path)
    with AuditLog(path, device_key()) as log:
        assert log.seq == 7
        log.append("boot")
        log.checkpoint()
    report = verify_audit_log(path, device_key().public_key())
    assert report.ok and report.entries == 9 and report.checkpoints == 2


def test_torn_last_line_is_reported_then_continued(tmp_path: Path) -> None:
    path = tmp_path / "audit.log"
    write_log(path)
    data = path.read_bytes()
    path.write_bytes(data[:-40])  # crash in the middle of the last line
    report = verify_audit_log(path, device_key().public_key())
    assert report.ok and any("torn" in n for n in report.notes)
    with AuditLog(path, device_key()) as log:
        assert any("torn" in n for n in log.notes)
        log.append("boot")
    report = verify_audit_log(path, device_key().public_key())
    assert report.ok, report.problems
    assert any("recorded at reopen" in n for n in report.notes)


@pytest.mark.parametrize("edit", ["change", "drop", "swap", "resign"])
def test_tampering_is_found(tmp_path: Path, edit: str) -> None:
    path = tmp_path / "audit.log"
    write_log(path)
    lines = path.read_bytes().splitlines(keepends=True)
    if edit == "change":
        lines[2] = lines[2].replace(b'"n":2', b'"n":7')
    elif edit == "drop":
        del lines[1]
    elif edit == "swap":
        lines[1], lines[2] = lines[2], lines[1]
    else:  # rewrite an entry and recompute its hash: the chain and checkpoint catch it
        from evidence.auditlog import open_line, seal_line
        doc, _ = open_line(lines[2].rstrip(b"\n"))
        body = lines[2].rstrip(b"\n")
        body = body[:body.rindex(b',"hash"')] + b"}"
        lines[2] = seal_line(body.replace(b'"n":2', b'"n":7')) + b"\n"
        assert doc["n"] == 2
    path.write_bytes(b"".join(lines))
    report = verify_audit_log(path, device_key().public_key())
    assert not report.ok


def test_checkpoint_needs_a_signer_and_fields_are_checked(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "a.log", None)
    with pytest.raises(ValueError, match="no signing key"):
        log.checkpoint()
    with pytest.raises(ValueError, match="reserved"):
        log.append("x", seq=3)
    log.append("x", obj=object())  # unusual values are stored as text, never crash
    log.close()
    assert verify_audit_log(tmp_path / "a.log").ok


def test_wrong_key_fails_checkpoint(tmp_path: Path) -> None:
    path = tmp_path / "audit.log"
    write_log(path)
    report = verify_audit_log(path, device_key(b"other").public_key())
    assert not report.ok and "signature" in report.problems[0]


def test_a_write_that_fails_part_way_is_cut_back_and_the_chain_stays_whole(tmp_path: Path) -> None:
    from hw_sim.clock import VirtualClock
    from hw_sim.fake_storage import StorageSim
    from hw_sim.world import World

    world = World(VirtualClock())
    medium = StorageSim(world, tmp_path)
    log = AuditLog(tmp_path / "audit.log", None)
    log.append("boot")
    medium.install()
    try:
        world.inject_fault("storage_full", free_bytes=40)  # room for part of a line only
        with pytest.raises(OSError):
            log.append("button", pressed=True)
        assert (tmp_path / "audit.log").read_bytes().endswith(b"\n"), "no partial line left"
        world.inject_fault("storage_full", free_bytes=1 << 20)  # room again (offloaded)
        log.append("storage_recovered")
    finally:
        medium.uninstall()
        log.close()
    report = verify_audit_log(tmp_path / "audit.log")
    assert report.ok and report.entries == 2
