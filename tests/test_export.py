"""Round trip: encrypt -> verify -> export -> PyAV decodes every frame."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import av
import pytest

from evidence.errors import (
    EXIT_INCOMPLETE,
    EXIT_INTEGRITY,
    EXIT_OK,
    KeyFileError,
    OutputExistsError,
    WrongKeyError,
)
from evidence.framing import TAG_CHUNK
from office.export import export_tree
from recorder.store import EvidenceStore
from tests.vectors.support import (
    FPS,
    custodian_key,
    identity,
    record,
    record_offsets,
    write_custodian_key,
    write_device_pub,
)


@pytest.fixture()
def setup(tmp_path: Path) -> dict:
    ident = identity()
    root = tmp_path / "data"
    store = EvidenceStore(root, ident)
    return {"root": root, "store": store, "ident": ident, "tmp": tmp_path,
            "key": write_custodian_key(tmp_path / "custodian.key", custodian_key()),
            "pub": write_device_pub(tmp_path / "device.pub", ident)}


def decode_all(path: Path) -> tuple[int, list[int], float, float]:
    with av.open(str(path)) as c:
        v = c.streams.video[0]
        pts = [f.pts for f in c.decode(v)]
        return len(pts), pts, float(c.duration / 1e6), float(v.average_rate)


def test_round_trip(setup: dict) -> None:
    rec = record(setup["store"], (25, 25, 25), start_frame=30, bookmarks=(1_500_000,))
    out = setup["tmp"] / "out"
    report = export_tree(setup["root"], setup["key"], out, [setup["pub"]], False)
    assert report.exit_code == EXIT_OK
    (item,) = report.items
    assert item.outcome == "exported" and item.frames == 75
    frames, pts, duration, rate = decode_all(item.mp4)
    assert frames == 75
    assert pts[0] == 0 and pts == sorted(pts)
    assert duration == pytest.approx(75 / FPS, abs=0.01)
    assert rate == pytest.approx(FPS)
    side = json.loads(item.sidecar.read_text())
    assert side["mp4_sha256"] == hashlib.sha256(item.mp4.read_bytes()).hexdigest()
    assert side["device_id"] == "CAM-0001" and side["recording_id"] == rec.id
    assert side["utc_start"] == "2025-06-15T15:06:40.000000Z"
    assert side["clock_source"] == "ntp"
    assert side["verification"]["status"] == "intact"
    assert side["bookmarks"][0]["offset_s"] == pytest.approx(0.5)
    assert json.loads(report.to_json())["exit_code"] == 0
    # Exporting the same tree into the same folder again adds nothing and overwrites
    # nothing; a lone leftover of an export is refused rather than overwritten.
    before = item.mp4.read_bytes()
    again = export_tree(setup["root"], setup["key"], out, [setup["pub"]], False)
    assert again.exit_code == EXIT_OK and [i.outcome for i in again.items] == ["already exported"]
    assert item.mp4.read_bytes() == before
    item.sidecar.unlink()
    with pytest.raises(OutputExistsError):
        export_tree(setup["root"], setup["key"], out, [setup["pub"]], False)


def test_truncated_recording_exports_verified_prefix(setup: dict) -> None:
    rec = record(setup["store"], (25, 25), finish=False)
    seg = rec.dir / "seg-000001.bcs"
    chunks = [r for r in record_offsets(seg) if r[1] == TAG_CHUNK]
    os.truncate(seg, chunks[2][0] + 5)
    report = export_tree(setup["root"], setup["key"], setup["tmp"] / "out", [setup["pub"]],
                         False)
    assert report.exit_code == EXIT_INCOMPLETE
    (item,) = report.items
    assert item.outcome == "exported" and item.verification == "truncated"
    assert decode_all(item.mp4)[0] == 25 + 20


def test_tampered_is_refused_unless_forced(setup: dict) -> None:
    rec = record(setup["store"], (25, 25))
    seg = rec.dir / "seg-000001.bcs"
    data = bytearray(seg.read_bytes())
    off, _, length = [r for r in record_offsets(seg) if r[1] == TAG_CHUNK][1]
    data[off + length // 2] ^= 0xFF
    seg.write_bytes(bytes(data))
    report = export_tree(setup["root"], setup["key"], setup["tmp"] / "a", [setup["pub"]], False)
    assert report.exit_code == EXIT_INTEGRITY
    (item,) = report.items
    assert item.outcome == "refused" and "--force" in item.message and item.mp4 is None
    assert not list((setup["tmp"] / "a").glob("*.mp4"))
    forced = export_tree(setup["root"], setup["key"], setup["tmp"] / "b", [setup["pub"]], True)
    (item,) = forced.items
    assert forced.exit_code == EXIT_INTEGRITY
    # Segment 0 whole, and the chunks of segment 1 before the altered one.
    assert item.outcome == "exported" and item.forced and decode_all(item.mp4)[0] == 35
    side = json.loads(item.sidecar.read_text())
    assert side["exported_with_force"] and side["verification"]["status"] == "tampered"


def test_wrong_key_is_one_line(setup: dict) -> None:
    record(setup["store"], (25,))
    other = write_custodian_key(setup["tmp"] / "other.key", custodian_key(b"other"))
    with pytest.raises(WrongKeyError) as err:
        export_tree(setup["root"], other, setup["tmp"] / "out", [setup["pub"]], False)
    assert "wrong custodian key" in str(err.value) and "\n" not in str(err.value)
    assert err.value.exit_code == 2
    garbage = setup["tmp"] / "garbage.key"
    garbage.write_bytes(b"hello")
    with pytest.raises(KeyFileError):
        export_tree(setup["root"], garbage, setup["tmp"] / "out", [setup["pub"]], False)


def test_segments_whose_timestamps_restart_are_joined(setup: dict, tmp_path: Path) -> None:
    # Segment muxers that restart their clock at 0 still give a continuous MP4.
    from office.remux import remux_to_mp4
    from tests.vectors.support import chunks_for
    a = tmp_path / "a.ts"
    b = tmp_path / "b.ts"
    a.write_bytes(b"".join(c.data for c in chunks_for(0, 25)))
    b.write_bytes(b"".join(c.data for c in chunks_for(0, 25)))
    res = remux_to_mp4([a, b], tmp_path / "j.mp4")
    frames, pts, duration, _ = decode_all(tmp_path / "j.mp4")
    assert res.frames == frames == 50 and pts == sorted(pts) and len(set(pts)) == 50
    assert duration == pytest.approx(50 / FPS, abs=0.01)
