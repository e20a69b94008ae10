"""Hostile and damaged input never crashes the parsers or the tools (hypothesis)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from evidence import canonical
from evidence.auditlog import verify_audit_log
from evidence.canonical import CanonicalError
from evidence.errors import BodycamError
from evidence.framing import iter_records
from evidence.keys import parse_device_pub
from evidence.manifest_reader import scan_manifest
from evidence.reader import scan_segment
from office.export import export_tree
from office.verify import verify_tree
from recorder.store import EvidenceStore
from tests.vectors.support import (
    custodian_key,
    identity,
    record,
    write_custodian_key,
    write_device_pub,
)

FUZZ = settings(max_examples=60, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> dict:
    tmp = tmp_path_factory.mktemp("fuzz")
    ident = identity()
    store = EvidenceStore(tmp / "data", ident)
    rec = record(store, (25, 15))
    return {"root": tmp / "data", "dir": rec.dir, "tmp": tmp,
            "pub": write_device_pub(tmp / "device.pub", ident),
            "key": write_custodian_key(tmp / "custodian.key", custodian_key())}


mutation = st.one_of(
    st.tuples(st.just("flip"), st.integers(0, 1 << 20), st.integers(1, 255)),
    st.tuples(st.just("cut"), st.integers(0, 1 << 20), st.just(0)),
    st.tuples(st.just("insert"), st.integers(0, 1 << 20), st.integers(0, 255)),
    st.tuples(st.just("junk"), st.integers(0, 300), st.integers(0, 255)),
)


def mutate(data: bytes, how: tuple[str, int, int]) -> bytes:
    kind, pos, val = how
    pos = pos % (len(data) + 1)
    if kind == "flip" and data:
        pos = pos % len(data)
        return data[:pos] + bytes([data[pos] ^ val]) + data[pos + 1:]
    if kind == "cut":
        return data[:pos]
    if kind == "insert":
        return data[:pos] + bytes([val]) + data[pos:]
    return bytes((val + i * 31) % 256 for i in range(pos))


@FUZZ
@given(how=mutation, which=st.sampled_from(["seg-000000.bcs", "seg-000001.bcs", "manifest.bcm"]))
def test_any_change_is_detected_and_never_crashes(tree: dict, how: tuple, which: str) -> None:
    path = tree["dir"] / which
    original = path.read_bytes()
    changed = mutate(original, how)
    try:
        path.write_bytes(changed)
        report = verify_tree(tree["root"], [tree["pub"]])
        (result,) = report.recordings
        if changed == original:
            assert report.exit_code == 0
        else:
            assert report.exit_code == 1, (how, result.status, result.check.problems)
        report.to_json()
        report.text_lines()
    finally:
        path.write_bytes(original)


@settings(max_examples=12, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(how=mutation)
def test_export_of_damaged_tree_never_crashes(tree: dict, how: tuple) -> None:
    path = tree["dir"] / "seg-000001.bcs"
    original = path.read_bytes()
    out = tree["tmp"] / "out"
    try:
        path.write_bytes(mutate(original, how))
        try:
            report = export_tree(tree["root"], tree["key"], out, [tree["pub"]], True)
        except BodycamError as exc:
            assert "\n" not in str(exc)
        else:
            report.text_lines()
    finally:
        path.write_bytes(original)
        for p in out.glob("*") if out.exists() else []:
            p.unlink()


@FUZZ
@given(data=st.binary(max_size=600))
def test_random_files_never_crash_readers(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "x.bcs"
    path.write_bytes(b"BCAMSEG1" + data)
    scan = scan_segment(path, None)
    assert not scan.complete
    path.write_bytes(b"BCAMMAN1" + data)
    assert scan_manifest(path, None).doc is None
    list(iter_records(io.BytesIO(data), len(data), 0))
    path.write_bytes(data)
    verify_audit_log(path)
    try:
        parse_device_pub(data, "x")
    except BodycamError:
        pass


@FUZZ
@given(data=st.binary(max_size=200) | st.text(max_size=100).map(str.encode))
def test_canonical_parser_only_raises_its_own_error(data: bytes) -> None:
    try:
        value = canonical.decode(data)
    except CanonicalError:
        return
    assert canonical.encode(value) == data


@FUZZ
@given(value=st.recursive(
    st.none() | st.booleans() | st.integers(-(1 << 62), 1 << 62) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner,
                                                                max_size=3),
    max_leaves=10))
def test_canonical_round_trip(value: object) -> None:
    data = canonical.encode(value)
    assert canonical.decode(data) == value
    assert canonical.encode(canonical.decode(data)) == data
