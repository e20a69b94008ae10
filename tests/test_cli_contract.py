"""What docs/CLI.md promises: exit codes, one-line errors that say what to do, usage,
help for every flag, Ctrl-C saying what was left, progress only on a terminal."""

from __future__ import annotations

import os
import pty
import re
import select
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

import office.export
from firmware.cli import build_parser, main
from recorder.store import EvidenceStore
from tests.vectors.support import (
    custodian_key,
    identity,
    record,
    write_custodian_key,
    write_device_pub,
)

ROOT = Path(__file__).resolve().parent.parent
ONE_LINE = re.compile(r"^bodycam: [^\n]+; [^\n]+\n$")


@pytest.fixture()
def tree(tmp_path: Path) -> dict[str, Path]:
    ident = identity()
    store = EvidenceStore(tmp_path / "data", ident)
    record(store, (25, 25))
    record(store, (25,), start_frame=100, utc=1_750_000_100.0)
    return {"data": tmp_path / "data", "tmp": tmp_path,
            "key": write_custodian_key(tmp_path / "custodian.key", custodian_key()),
            "pub": write_device_pub(tmp_path / "device.pub", ident)}


def test_bodycam_alone_prints_its_usage(capsys) -> None:
    assert main([]) == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: bodycam")
    for command in ("run", "keys", "verify", "report", "export", "doctor"):
        assert command in err


@pytest.mark.parametrize("command", ["verify", "export", "report"])
def test_help_describes_every_flag(command: str) -> None:
    sub = next(a for a in build_parser()._actions if a.dest == "command").choices[command]
    undocumented = [a.option_strings or a.dest for a in sub._actions if not a.help]
    assert undocumented == []


def _error(capsys, *argv: str) -> tuple[int, str]:
    try:
        code = main(list(argv))
    except SystemExit as done:  # argparse's own errors end the process
        code = int(done.code or 0)
    return code, capsys.readouterr().err


def test_every_user_error_is_one_line_with_what_to_do(tree, capsys) -> None:
    blocker = tree["tmp"] / "a-file"
    blocker.write_text("x")
    empty = tree["tmp"] / "empty"
    empty.mkdir()
    cases = [
        ("verify", str(tree["tmp"] / "nowhere")),
        ("verify", str(empty)),
        ("verify", str(tree["data"]), "--device-pub", str(tree["tmp"] / "missing.pub")),
        ("verify", str(tree["data"]), "--device-pub", str(tree["key"])),
        ("export", str(tree["data"]), "--custodian-key", str(tree["pub"]), "--out",
         str(tree["tmp"] / "o")),
        ("export", str(tree["data"]), "--custodian-key", str(tree["key"]), "--out",
         str(blocker / "out")),
        ("report", str(tree["data"]), "--device-pub", str(tree["pub"]), "--out",
         str(blocker / "out")),
        ("keys", "device", "--device-id", "no spaces", "--custodian-pub", str(tree["pub"]),
         "--out", str(tree["tmp"] / "id")),
        ("run", "--fast"),
        ("run", "--sim", "--duration", "-1"),
        ("verify", "--no-such-flag"),
    ]
    for argv in cases:
        code, err = _error(capsys, *argv)
        assert code == 2, (argv, code, err)
        assert ONE_LINE.match(err), (argv, err)
    _, err = _error(capsys, "export", str(tree["data"]), "--custodian-key", str(tree["key"]),
                    "--out", str(blocker / "out"))
    assert err.startswith(f"bodycam: cannot write {blocker / 'out'}") and "choose another --out" in err


def test_a_folder_that_cannot_be_read_says_permission_denied(tree) -> None:
    # A folder another user can enter (pytest's own are private), its recordings not.
    shared = Path(tempfile.mkdtemp(prefix="bodycam-perm-"))
    try:
        shared.chmod(0o755)
        data = Path(shutil.copytree(tree["data"], shared / "data"))
        pub = Path(shutil.copy(tree["pub"], shared / "device.pub"))
        pub.chmod(0o644)
        locked = data / "recordings"
        locked.chmod(0o700)
        cmd = [sys.executable, "-m", "firmware.cli", "verify", str(data), "--device-pub",
               str(pub)]
        if os.geteuid() == 0:  # root reads everything: ask as an unprivileged user
            shutil.chown(locked, "root", "root")
            cmd = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--", *cmd]
        done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=120,
                              env={**os.environ, "PYTHONPATH": str(ROOT)})
    finally:
        shutil.rmtree(shared, ignore_errors=True)
    assert done.returncode == 2, done.stderr
    assert done.stderr == (f"bodycam: {locked}: permission denied: run as root or the "
                           "bodycam user\n")


def test_export_checks_an_earlier_export_before_it_says_already_exported(tree, capsys) -> None:
    out = tree["tmp"] / "out"
    argv = ["export", str(tree["data"]), "--custodian-key", str(tree["key"]), "--device-pub",
            str(tree["pub"]), "--out", str(out)]
    assert main(argv) == 0
    capsys.readouterr()
    assert main(argv) == 0
    assert capsys.readouterr().out.count("ALREADY EXPORTED") == 2
    mp4 = sorted(out.glob("*.mp4"))[0]
    data = bytearray(mp4.read_bytes())
    data[len(data) // 2] ^= 0x01
    mp4.write_bytes(bytes(data))
    assert main(argv) == 1
    text = capsys.readouterr().out
    assert f"an earlier export is damaged: {mp4.name} does not have the SHA-256" in text
    assert text.count("ALREADY EXPORTED") == 1


def test_recordings_sealed_to_another_custodian_are_exit_2(tmp_path, capsys) -> None:
    root = tmp_path / "data"
    record(EvidenceStore(root, identity()), (25,))
    # The same camera, later given another office's key: its chain goes on.
    record(EvidenceStore(root, identity(cust_seed=b"other office")), (25,), start_frame=50,
           utc=1_750_000_100.0)
    key = write_custodian_key(tmp_path / "custodian.key", custodian_key())
    pub = write_device_pub(tmp_path / "device.pub", identity())
    code = main(["export", str(root), "--custodian-key", str(key), "--device-pub", str(pub),
                 "--out", str(tmp_path / "out")])
    out = capsys.readouterr().out
    assert code == 2 and "SEALED TO ANOTHER KEY" in out and "export it with that" in out
    assert len(list((tmp_path / "out").glob("*.mp4"))) == 1


def test_ctrl_c_during_an_export_says_what_was_left(tree, capsys, monkeypatch) -> None:
    real = office.export._export_one
    calls = []

    def once_then_ctrl_c(*args, **kw):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(*args, **kw)

    monkeypatch.setattr(office.export, "_export_one", once_then_ctrl_c)
    out = tree["tmp"] / "out"
    code = main(["export", str(tree["data"]), "--custodian-key", str(tree["key"]),
                 "--device-pub", str(tree["pub"]), "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 130
    assert err == (f"bodycam: interrupted: 1 recording(s) exported to {out}, 1 not yet; nothing "
                   "half-written is left (each export appears whole or not at all); run the "
                   "same command again to export the rest\n")
    assert len(list(out.glob("*.mp4"))) == 1 and not list(out.glob(".export-*"))


def _export_stderr(tree, out: Path, *, tty: bool) -> str:
    return _stderr(["export", str(tree["data"]), "--custodian-key", str(tree["key"]),
                    "--device-pub", str(tree["pub"]), "--out", str(out)], tty=tty)


def _stderr(argv: list[str], *, tty: bool) -> str:
    """What ``bodycam argv`` writes on stderr: to a pipe, or to a terminal (a pty)."""
    cmd = [sys.executable, "-m", "firmware.cli", *argv]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    if not tty:
        return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=120,
                              env=env).stderr
    leader, follower = pty.openpty()
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=follower, env=env)
    os.close(follower)
    seen = b""
    while True:
        ready, _, _ = select.select([leader], [], [], 120)
        try:
            chunk = os.read(leader, 4096) if ready else b""
        except OSError:  # the terminal closed with the process
            chunk = b""
        if not chunk:
            break
        seen += chunk
    proc.wait(timeout=120)
    os.close(leader)
    return seen.decode()


def test_progress_is_one_updating_line_on_a_terminal_and_silent_otherwise(tree) -> None:
    shown = _export_stderr(tree, tree["tmp"] / "tty", tty=True)
    assert "\rexporting 1/2: " in shown and "\rexporting 2/2: " in shown
    assert "\n" not in shown.replace("\r\n", "\n").strip("\n"), "one line, updated in place"
    assert _export_stderr(tree, tree["tmp"] / "pipe", tty=False) == ""


def test_a_fast_scenario_shows_its_time_on_a_terminal_only(tmp_path) -> None:
    (tmp_path / "s.toml").write_text("duration = 4.0\n")
    argv = ["run", "--sim", "--fast", "--scenario", str(tmp_path / "s.toml"), "--data-dir"]
    shown = _stderr([*argv, str(tmp_path / "a")], tty=True)
    assert "\rscenario 1 of 4 s" in shown and "\rscenario 3 of 4 s" in shown
    assert "scenario 1 of 4 s" not in _stderr([*argv, str(tmp_path / "b")], tty=False)


def test_report_shows_progress_on_a_terminal_only(tree) -> None:
    argv = ["report", str(tree["data"]), "--device-pub", str(tree["pub"]), "--custodian-key",
            str(tree["key"]), "--out"]
    shown = _stderr([*argv, str(tree["tmp"] / "a")], tty=True)
    assert "\rreport on " in shown and "recording 2/2" in shown
    assert _stderr([*argv, str(tree["tmp"] / "b")], tty=False) == ""
