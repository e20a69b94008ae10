"""The simulated medium at a power cut: only what was fsync'd survives (strict), or that
plus an in-order prefix of what was pending (torn)."""

from __future__ import annotations

import errno
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from evidence.fsutil import atomic_write, fsync_dir
from hw_sim.clock import VirtualClock
from hw_sim.fake_storage import StorageSim
from hw_sim.scenario import ScenarioError, parse_scenario
from hw_sim.world import World


class PowerLost(Exception):
    """Raised instead of SIGKILL so the test can look at what the cut left."""


@pytest.fixture
def card(tmp_path: Path) -> Iterator[tuple[World, StorageSim, Path]]:
    root = tmp_path / "card"
    root.mkdir()
    (root / "old.txt").write_bytes(b"from the last boot")
    world = World(VirtualClock())

    def die() -> None:
        raise PowerLost

    world.power_cut_action = die
    sim = StorageSim(world, root)
    sim.install()
    try:
        yield world, sim, root
    finally:
        sim.uninstall()


def append(path: Path, data: bytes, *, sync: bool) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        os.write(fd, data)
        if sync:
            os.fsync(fd)
    finally:
        os.close(fd)


def cut(world: World, mode: str = "strict", seed: int = 0) -> None:
    with pytest.raises(PowerLost):
        world.power_cut(mode, seed)


def test_strict_keeps_only_what_was_fsynced(card) -> None:
    world, _, root = card
    append(root / "a.log", b"one\n", sync=True)
    fsync_dir(root)
    append(root / "a.log", b"two\n", sync=False)  # in the page cache only
    append(root / "b.log", b"never named\n", sync=True)  # content fsync'd, name not
    (root / "sub").mkdir()
    cut(world)
    assert (root / "a.log").read_bytes() == b"one\n"
    assert not (root / "b.log").exists(), "a new name needs its directory fsync'd"
    assert not (root / "sub").exists()
    assert (root / "old.txt").read_bytes() == b"from the last boot"


def test_a_created_name_whose_content_was_not_synced_comes_back_empty(card) -> None:
    world, _, root = card
    append(root / "c.log", b"lost", sync=False)
    fsync_dir(root)
    cut(world)
    assert (root / "c.log").read_bytes() == b""


def test_unsynced_unlink_and_replace_are_undone(card) -> None:
    world, _, root = card
    atomic_write(root / "state.json", b"v1")  # durable: content and name
    os.unlink(root / "old.txt")
    tmp = root / "state.json.tmp"
    append(tmp, b"v2", sync=True)
    os.replace(tmp, root / "state.json")  # the directory is not fsync'd after this
    cut(world)
    assert (root / "old.txt").read_bytes() == b"from the last boot"
    assert (root / "state.json").read_bytes() == b"v1"
    assert not tmp.exists()


def test_an_atomic_write_survives_once_it_returns(card) -> None:
    world, _, root = card
    atomic_write(root / "state.json", b"v1")
    atomic_write(root / "state.json", b"v2")
    cut(world)
    assert sorted(p.name for p in root.iterdir()) == ["old.txt", "state.json"]
    assert (root / "state.json").read_bytes() == b"v2"


def test_torn_keeps_an_in_order_prefix_of_pending_writes(card) -> None:
    world, _, root = card
    path = root / "t.log"
    append(path, b"durable|", sync=True)
    fsync_dir(root)
    for n in range(20):
        append(path, f"{n:02d}|".encode(), sync=False)
    cut(world, "torn", seed=3)
    data = (root / "t.log").read_bytes()
    assert data.startswith(b"durable|")
    pending = data.removeprefix(b"durable|")
    assert pending == b"".join(f"{n:02d}|".encode() for n in range(len(pending) // 3))
    assert 0 < len(pending) < 60, "seed 3 keeps some but not all of the 20 writes"


def test_torn_is_reproducible_from_its_seed(tmp_path: Path) -> None:
    def run(seed: int) -> bytes:
        root = tmp_path / f"card{seed}-{len(list(tmp_path.iterdir()))}"
        root.mkdir()
        world = World(VirtualClock())
        world.power_cut_action = lambda: None
        sim = StorageSim(world, root)
        sim.install()
        try:
            append(root / "x", b"d", sync=True)
            fsync_dir(root)
            for n in range(30):
                append(root / "x", bytes([65 + n]), sync=False)
            world.power_cut("torn", seed)
        finally:
            sim.uninstall()
        return (root / "x").read_bytes()

    assert run(11) == run(11)
    assert len({run(s) for s in range(6)}) > 1


def test_cut_after_operation_n_happens_inside_that_call(card) -> None:
    world, _, root = card
    fd = os.open(root / "n.log", os.O_WRONLY | os.O_CREAT, 0o644)  # op 1: create
    fsync_dir(root)  # op 2
    os.write(fd, b"first")  # op 3
    os.fsync(fd)  # op 4
    world.cut_after_op(6)
    os.write(fd, b"second")  # op 5
    with pytest.raises(PowerLost):
        os.write(fd, b"third")  # op 6: the power fails once it returns
    assert world.op_count == 6
    assert (root / "n.log").read_bytes() == b"first"
    with pytest.raises(OSError) as err:  # nothing reaches a dead medium
        os.write(fd, b"after")
    assert err.value.errno == errno.EIO
    os.close(fd)


def test_operations_are_traced_with_their_paths(card) -> None:
    world, _, root = card
    world.op_trace = []
    append(root / "a", b"xy", sync=True)
    assert [(o["kind"], o["path"]) for o in world.op_trace] == [
        ("create", "a"), ("write", "a"), ("fsync", "a")]
    assert world.op_trace[1]["bytes"] == 2 and world.op_trace[1]["offset"] == 0


def test_the_medium_hook_counts_tpm_counter_increments_as_cut_points(card) -> None:
    world, _, root = card
    world.cut_after_op(2)
    with pytest.raises(PowerLost):
        append(root / "h", b"header", sync=False)  # op 1: create; the write is op 2
    assert not (root / "h").exists(), "neither the name nor the bytes were durable"
    world2 = World(VirtualClock())
    world2.power_cut_action = lambda: None
    world2.cut_after_op(1)
    world2.medium_op("tpm_counter", value=7)  # what a simulated TPM calls
    assert world2.faults["power_cut"]


def test_scenario_power_cut_keys() -> None:
    sc = parse_scenario('duration = 5.0\n[[event]]\nat = 5.0\naction = "power_cut"\n'
                        'op = 12\nmode = "torn"\nseed = 4\n')
    assert sc.events[0].params == {"op": 12, "mode": "torn", "seed": 4}
    plain = parse_scenario('duration = 5.0\n[[event]]\nat = 1.0\naction = "power_cut"\n')
    assert plain.events[0].params == {"mode": "strict", "seed": 0}
    with pytest.raises(ScenarioError, match=r"line 5: event 1 key 'mode': 'ripped' is not one"):
        parse_scenario('duration = 5.0\n[[event]]\nat = 1.0\naction = "power_cut"\n'
                       'mode = "ripped"\n')
    with pytest.raises(ScenarioError, match=r"key 'op': must be >= 1"):
        parse_scenario('duration = 5.0\n[[event]]\nat = 1.0\naction = "power_cut"\nop = 0\n')


def test_overwriting_durable_bytes_through_a_write_only_fd_keeps_the_old_ones(card) -> None:
    world, _, root = card
    path = root / "o.bin"
    append(path, b"AAAAAAAA", sync=True)
    fsync_dir(root)
    fd = os.open(path, os.O_WRONLY)
    os.write(fd, b"BBBB")  # over the durable bytes, not fsync'd
    os.ftruncate(fd, 2)
    os.close(fd)
    cut(world)
    assert path.read_bytes() == b"AAAAAAAA"
