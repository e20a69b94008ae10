"""Hostile input: every case a one-line error or a reported problem, bounded memory,
nothing followed through a link, no nonce used twice."""

from __future__ import annotations

import errno
import os
import tracemalloc
from pathlib import Path

import pytest

import recorder.segment_file as writer_mod
from evidence.errors import EXIT_INTEGRITY, EXIT_USAGE, KeyFileError
from evidence.identity import check_device_id
from evidence.reader import scan_segment
from firmware import config
from firmware.cli import main
from office.verify import verify_tree
from recorder.store import EvidenceStore
from tests.vectors.support import chunks_for, identity, record, write_device_pub


@pytest.fixture
def tree(tmp_path: Path) -> dict:
    ident = identity()
    root = tmp_path / "data"
    store = EvidenceStore(root, ident)
    store.recover()
    rec = record(store, (25,))
    return {"root": root, "rec": rec, "ident": ident,
            "pub": write_device_pub(tmp_path / "device.pub", ident)}


def test_device_pub_fifo_is_one_line_not_a_hang(tree, tmp_path, capsys) -> None:
    fifo = tmp_path / "fifo.pub"
    os.mkfifo(fifo)
    assert main(["verify", str(tree["root"]), "--device-pub", str(fifo)]) == EXIT_USAGE
    err = capsys.readouterr().err.strip()
    assert "not a regular file" in err and len(err.splitlines()) == 1


def test_symlinked_recording_folder_is_a_problem(tree, tmp_path) -> None:
    real = tmp_path / "elsewhere"
    tree["rec"].dir.rename(real)
    tree["rec"].dir.symlink_to(real, target_is_directory=True)
    store = EvidenceStore(tree["root"], tree["ident"])
    record(store, (25,), start_frame=25)
    report = verify_tree(tree["root"], [tree["pub"]])
    assert report.exit_code == EXIT_INTEGRITY
    assert any("symbolic link to a folder" in p.message for p in report.tree_problems)


def test_unreadable_folder_is_a_problem(tree, monkeypatch) -> None:
    target = tree["rec"].dir
    real_scandir = os.scandir

    def scandir(path="."):
        if Path(path) == target:
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    report = verify_tree(tree["root"], [tree["pub"]])
    assert any("cannot be read" in p.message for p in report.tree_problems)
    assert report.exit_code == EXIT_INTEGRITY


def test_sparse_huge_audit_log_is_refused_at_once(tree) -> None:
    log = tree["root"] / "audit.log"
    with open(log, "r+b") as f:
        f.truncate(2 << 30)  # 2 GiB of holes
    report = verify_tree(tree["root"], [tree["pub"]])
    assert report.exit_code == EXIT_INTEGRITY
    assert any("larger than" in p for p in report.audit.problems)


def test_audit_log_is_streamed_in_bounded_memory(tree) -> None:
    log = tree["root"] / "audit.log"
    with open(log, "ab") as f:
        f.truncate(log.stat().st_size + (96 << 20))  # 96 MiB without a newline
    tracemalloc.start()
    report = verify_tree(tree["root"], [tree["pub"]])
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert report.exit_code == EXIT_INTEGRITY or report.audit.notes
    assert peak < 24 << 20, f"peak {peak >> 20} MiB"


def test_oversized_record_claim_reads_nothing_big(tree) -> None:
    seg = tree["rec"].dir / "seg-000000.bcs"
    data = bytearray(seg.read_bytes())
    data[9:13] = (0x7FFFFFFF).to_bytes(4, "big")  # the header claims 2 GiB
    seg.write_bytes(bytes(data))
    tracemalloc.start()
    scan = scan_segment(seg, None)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert not scan.ok and peak < 8 << 20


def test_export_writes_nothing_through_a_dangling_symlink(tree, tmp_path, capsys) -> None:
    from tests.vectors.support import custodian_key, write_custodian_key
    key = write_custodian_key(tmp_path / "c.key", custodian_key())
    out = tmp_path / "out"
    out.mkdir()
    victim = tmp_path / "victim.json"
    name = f"{tree['ident'].device_id}_{tree['rec'].id}.json"
    (out / name).symlink_to(victim)
    code = main(["export", str(tree["root"]), "--custodian-key", str(key), "--device-pub",
                 str(tree["pub"]), "--out", str(out)])
    assert code == EXIT_USAGE and not victim.exists()
    assert "symbolic link" in capsys.readouterr().err


def test_ids_match_the_alphabet_exactly() -> None:
    with pytest.raises(KeyFileError):
        check_device_id("CAM-1\n")
    assert check_device_id("CAM-1") == "CAM-1"


def test_chain_json_as_a_directory_does_not_stop_the_device(tree) -> None:
    chain = tree["root"] / "chain.json"
    chain.unlink()
    chain.mkdir()
    store = EvidenceStore(tree["root"], tree["ident"])
    lines = store.recover()
    assert any("moved aside" in line for line in lines)
    record(store, (25,), start_frame=25)
    assert verify_tree(tree["root"], [tree["pub"]]).exit_code == 0


def test_pathological_config_is_one_line(tmp_path) -> None:
    fifo = tmp_path / "c.toml"
    os.mkfifo(fifo)
    with pytest.raises(config.ConfigError, match="not a regular file"):
        config.load(fifo)
    deep = tmp_path / "deep.toml"
    deep.write_text("x = " + "[" * 100_000 + "]" * 100_000 + "\n")
    with pytest.raises(config.ConfigError):
        config.load(deep)
    big = tmp_path / "big.toml"
    with open(big, "wb") as f:
        f.truncate(64 << 20)
    with pytest.raises(config.ConfigError, match="larger than"):
        config.load(big)


def test_a_failed_chunk_is_never_sealed_again_under_its_nonce(tmp_path, monkeypatch) -> None:
    """After a failed write the chunk's nonce is spent: the same bytes may go out again,
    different content may not (it would reuse the nonce), and the segment stays cut."""
    store = EvidenceStore(tmp_path / "d", identity())
    rec = store.begin_recording(1_750_000_000.0, "ntp", 0)
    seg = rec.open_segment()
    chunks = chunks_for(0, 25)
    seg.write_chunk(chunks[0].data, frames=10, first_pts_us=0, last_pts_us=300_000)

    def full(fd, parts):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(writer_mod, "writev_all", full)
    with pytest.raises(OSError):
        seg.write_chunk(chunks[1].data, frames=10, first_pts_us=333_333, last_pts_us=633_333)
    monkeypatch.undo()
    with pytest.raises(OSError, match="nonce is spent"):
        seg.write_chunk(chunks[1].data + b"more", frames=11, first_pts_us=333_333,
                        last_pts_us=666_666)
    rec.close_segment(seg)  # the final chunk: counter 1 with the last flag, a fresh nonce
    scan = scan_segment(seg.path, None)
    assert [c.index for c in scan.chunks] == [0, 1] and scan.complete
    assert scan.chunks[1].last and scan.frames == 10
