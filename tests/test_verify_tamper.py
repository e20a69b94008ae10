"""Every kind of tampering is detected and classed; truncation by power loss is not tampering."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from evidence.errors import EXIT_INCOMPLETE, EXIT_INTEGRITY, EXIT_OK, EXIT_UNPINNED
from evidence.framing import TAG_CHUNK
from office.verify import verify_tree
from recorder.store import EvidenceStore
from tests.vectors.support import identity, record, record_offsets, write_device_pub


@pytest.fixture()
def tree(tmp_path: Path) -> dict:
    """Two finished recordings of three segments each from one device."""
    ident = identity()
    root = tmp_path / "data"
    store = EvidenceStore(root, ident)
    store.recover()
    rec1 = record(store, bookmarks=(100_000,))
    rec2 = record(store, start_frame=75, utc=1_750_000_100.0)
    pub = write_device_pub(tmp_path / "device.pub", ident)
    return {"root": root, "store": store, "r1": rec1.dir, "r2": rec2.dir, "pub": pub,
            "ident": ident}


def verdict(t: dict) -> tuple[int, dict[str, str], list]:
    report = verify_tree(t["root"], [t["pub"]])
    status = {Path(r.check.rel).name: r.status for r in report.recordings}
    problems = [p for r in report.recordings for p in r.check.problems]
    return report.exit_code, status, problems


def chunk_offsets(path: Path) -> list[tuple[int, int, int]]:
    return [r for r in record_offsets(path) if r[1] == TAG_CHUNK]


def test_intact(tree: dict) -> None:
    code, status, problems = verdict(tree)
    assert code == EXIT_OK and set(status.values()) == {"intact"} and not problems
    report = verify_tree(tree["root"], [tree["pub"]])
    rec = report.as_dict()["recordings"][0]
    assert rec["verified"]["frames"] == 75 and rec["verified"]["seconds"] == pytest.approx(2.5)
    assert rec["bookmarks"][0]["pts_us"] == 100_000


def test_flip_byte_in_chunk(tree: dict) -> None:
    seg = tree["r1"] / "seg-000001.bcs"
    off, _, length = chunk_offsets(seg)[1]
    data = bytearray(seg.read_bytes())
    data[off + length // 2] ^= 0x01
    seg.write_bytes(bytes(data))
    code, status, problems = verdict(tree)
    assert code == EXIT_INTEGRITY and status[tree["r1"].name] == "tampered"
    assert status[tree["r2"].name] == "intact"
    hit = [p for p in problems if p.file.endswith("seg-000001.bcs") and "chunk 1" in p.message]
    assert hit and hit[0].place == f"byte {off}"


def test_flip_byte_in_header(tree: dict) -> None:
    seg = tree["r1"] / "seg-000000.bcs"
    data = bytearray(seg.read_bytes())
    data[40] ^= 0x20
    seg.write_bytes(bytes(data))
    _, status, problems = verdict(tree)
    assert status[tree["r1"].name] == "tampered"
    assert any("header" in p.message for p in problems)


def _rewrite_chunks(seg: Path, order: list[int]) -> None:
    recs = record_offsets(seg)
    data = seg.read_bytes()
    chunks = [r for r in recs if r[1] == TAG_CHUNK]
    head = data[:chunks[0][0]]
    tail = data[chunks[-1][0] + chunks[-1][2]:]
    body = b"".join(data[chunks[i][0]:chunks[i][0] + chunks[i][2]] for i in order)
    seg.write_bytes(head + body + tail)


def test_drop_chunk(tree: dict) -> None:
    _rewrite_chunks(tree["r1"] / "seg-000001.bcs", [0, 2, 3])
    code, status, problems = verdict(tree)
    assert code == EXIT_INTEGRITY and status[tree["r1"].name] == "missing"
    assert any("chunk 1 is missing" in p.message for p in problems)


def test_duplicate_chunk(tree: dict) -> None:
    _rewrite_chunks(tree["r1"] / "seg-000001.bcs", [0, 1, 1, 2, 3])
    _, status, _ = verdict(tree)
    assert status[tree["r1"].name] == "duplicated"


def test_reorder_chunks(tree: dict) -> None:
    _rewrite_chunks(tree["r1"] / "seg-000001.bcs", [0, 2, 1, 3])
    _, status, problems = verdict(tree)
    assert status[tree["r1"].name] == "reordered"
    assert any("chunk 2 found where chunk 1" in p.message for p in problems)


def test_drop_segment(tree: dict) -> None:
    (tree["r1"] / "seg-000001.bcs").unlink()
    code, status, problems = verdict(tree)
    assert code == EXIT_INTEGRITY and status[tree["r1"].name] == "missing"
    assert any("segment 1 is missing" in p.message for p in problems)


def test_duplicate_segment(tree: dict) -> None:
    shutil.copy(tree["r1"] / "seg-000001.bcs", tree["r1"] / "seg-000003.bcs")
    _, status, problems = verdict(tree)
    assert status[tree["r1"].name] == "duplicated"
    assert any(p.file.endswith("seg-000003.bcs") for p in problems)


def test_reorder_segments(tree: dict) -> None:
    a, b = tree["r1"] / "seg-000000.bcs", tree["r1"] / "seg-000001.bcs"
    tmp = a.with_name("x")
    a.rename(tmp)
    b.rename(a)
    tmp.rename(b)
    _, status, _ = verdict(tree)
    assert status[tree["r1"].name] == "reordered"


def test_segment_from_other_recording(tree: dict) -> None:
    shutil.copy(tree["r2"] / "seg-000001.bcs", tree["r1"] / "seg-000001.bcs")
    _, status, problems = verdict(tree)
    assert status[tree["r1"].name] == "foreign"
    assert any("belongs to recording" in p.message for p in problems)


def test_segment_from_other_device(tree: dict, tmp_path: Path) -> None:
    other = EvidenceStore(tmp_path / "other", identity("CAM-0001", dev_seed=b"imposter"))
    rec = record(other)
    shutil.copy(rec.dir / "seg-000001.bcs", tree["r1"] / "seg-000001.bcs")
    _, status, problems = verdict(tree)
    assert status[tree["r1"].name] == "foreign"
    assert any("signed by device" in p.message for p in problems)


def test_recording_from_unpinned_device(tree: dict, tmp_path: Path) -> None:
    other = EvidenceStore(tmp_path / "other", identity("CAM-0099", dev_seed=b"other"))
    rec = record(other)
    shutil.copytree(rec.dir, tree["root"] / "recordings" / rec.dir.name)
    code, status, _ = verdict(tree)
    assert code == EXIT_INTEGRITY and status[rec.dir.name] == "foreign"


def test_truncated_last_segment_without_manifest_is_incomplete(tmp_path: Path) -> None:
    ident = identity()
    store = EvidenceStore(tmp_path / "d", ident)
    rec = record(store, finish=False)
    seg = rec.dir / "seg-000002.bcs"
    chunks = chunk_offsets(seg)
    with open(seg, "r+b") as f:
        f.truncate(chunks[2][0] + 100)  # cut inside chunk 2
    t = {"root": tmp_path / "d", "pub": write_device_pub(tmp_path / "p.pub", ident)}
    code, status, _ = verdict(t)
    assert code == EXIT_INCOMPLETE and status[rec.dir.name] == "truncated"
    report = verify_tree(t["root"], [t["pub"]])
    got = report.as_dict()["recordings"][0]["verified"]
    assert got["frames"] == 70 and got["chunks"] == 4 + 4 + 2


def test_truncated_when_manifest_says_complete_is_tampering(tree: dict) -> None:
    seg = tree["r1"] / "seg-000002.bcs"
    with open(seg, "r+b") as f:
        f.truncate(seg.stat().st_size - 70)
    _, status, _ = verdict(tree)
    assert status[tree["r1"].name] == "tampered"


def test_truncated_middle_segment_is_tampering(tmp_path: Path) -> None:
    ident = identity()
    store = EvidenceStore(tmp_path / "d", ident)
    rec = record(store, finish=False)
    seg = rec.dir / "seg-000001.bcs"
    with open(seg, "r+b") as f:
        f.truncate(seg.stat().st_size - 200)
    t = {"root": tmp_path / "d", "pub": write_device_pub(tmp_path / "p.pub", ident)}
    code, status, _ = verdict(t)
    assert code == EXIT_INTEGRITY and status[rec.dir.name] == "tampered"


def test_edit_manifest(tree: dict) -> None:
    m = tree["r1"] / "manifest.bcm"
    data = m.read_bytes()
    m.write_bytes(data.replace(b'"label":"mark 100000"', b'"label":"mark 100001"'))
    assert m.read_bytes() != data
    _, status, problems = verdict(tree)
    assert status[tree["r1"].name] == "tampered"
    assert any(p.file.endswith("manifest.bcm") for p in problems)


def test_manifest_from_other_recording(tree: dict) -> None:
    shutil.copy(tree["r2"] / "manifest.bcm", tree["r1"] / "manifest.bcm")
    code, status, _ = verdict(tree)
    assert code == EXIT_INTEGRITY and status[tree["r1"].name] == "foreign"


def test_delete_manifest_before_later_recording(tree: dict) -> None:
    (tree["r1"] / "manifest.bcm").unlink()
    code, status, problems = verdict(tree)
    assert code == EXIT_INTEGRITY and status[tree["r1"].name] == "missing"


def test_delete_whole_recording_in_the_middle(tree: dict) -> None:
    rec3 = record(tree["store"], start_frame=150, utc=1_750_000_200.0)
    shutil.rmtree(tree["r2"])
    code, status, problems = verdict(tree)
    assert code == EXIT_INTEGRITY and status[rec3.dir.name] == "missing"
    assert status[tree["r1"].name] == "intact"


def test_appended_garbage(tree: dict) -> None:
    seg = tree["r2"] / "seg-000000.bcs"
    seg.write_bytes(seg.read_bytes() + b"\x43\x00\x00\x00\x01X")
    _, status, _ = verdict(tree)
    assert status[tree["r2"].name] == "tampered"


def test_unpinned_uses_device_pub_in_tree_and_says_so(tree: dict) -> None:
    report = verify_tree(tree["root"], [])
    assert report.exit_code == EXIT_UNPINNED  # never plain success without a pin (issue 17)
    text = "\n".join(report.text_lines())
    assert "NOT independently pinned" in text and "identity not established" in text


def test_wrong_pin_is_foreign(tree: dict, tmp_path: Path) -> None:
    pub = write_device_pub(tmp_path / "x.pub", identity("CAM-0001", dev_seed=b"other"))
    report = verify_tree(tree["root"], [pub])
    assert report.exit_code == EXIT_INTEGRITY
    assert {r.status for r in report.recordings} == {"foreign"}


def test_special_files_and_empty_trees(tree: dict, tmp_path: Path) -> None:
    from evidence.errors import EvidenceInputError
    with pytest.raises(EvidenceInputError):
        verify_tree(tmp_path / "nothing-here", [])
    (tmp_path / "empty").mkdir()
    with pytest.raises(EvidenceInputError, match="no bodycam recordings"):
        verify_tree(tmp_path / "empty", [])
    fifo = tree["r2"] / "seg-000009.bcs"
    os.mkfifo(fifo)  # a hostile tree must not make the verifier hang
    code, status, _ = verdict(tree)
    assert code == EXIT_OK and status[tree["r2"].name] == "intact"


def test_without_any_device_pub_identity_is_not_established(tree: dict) -> None:
    (tree["root"] / "device.pub").unlink()
    report = verify_tree(tree["root"], [])
    assert report.exit_code == EXIT_UNPINNED
    doc = report.as_dict()
    assert all("NOT established" in r["key"] for r in doc["recordings"])
    import json
    assert json.loads(report.to_json())["counts"] == {"intact": 2}
