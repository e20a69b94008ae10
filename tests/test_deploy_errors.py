"""deploy.sh refusing what it must refuse, over SSH, and its boot-config edits (the rig:
tests/deploy_rig.py)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from tests.deploy_rig import DEPLOY, PI4, REPO, Deploy, make_root, snapshot, toolbox  # noqa: F401
from tests.tools import require


def test_custodian_private_key_is_refused_before_anything(toolbox, tmp_path) -> None:  # noqa: F811
    root = make_root(tmp_path)
    before = snapshot(root)
    deploy = Deploy(toolbox, tmp_path)
    for extra in ([], ["--host", "pi@cam"]):
        result = deploy("--root", str(root), "--device-id", "CAM-1",
                        "--custodian-pub", str(toolbox["private"]), *extra)
        assert result.returncode == 2
        assert "is a PRIVATE key: the custodian private key must never go on a device" in result.stderr
        assert result.stdout == ""
    assert deploy.calls() == [] and snapshot(root) == before


@pytest.mark.parametrize("args, message", [
    (["--device-id", "CAM-1"], "--device-id needs --custodian-pub"),
    (["--custodian-pub", "x.pub"], "--custodian-pub needs --device-id"),
    (["--host"], "--host needs a value"),
    (["--root", "--dry-run"], "--root needs a value"),
    (["--frobnicate"], "unknown argument '--frobnicate'"),
    (["--rollback", "--device-id", "A", "--custodian-pub", "x.pub"], "--rollback cannot be combined"),
    (["--device-id", "-bad id", "--custodian-pub", "x.pub"], "invalid device id"),
    (["--root", "/nonexistent/bodycam-root"], "no such directory"),
])
def test_usage_errors(toolbox, tmp_path, args, message) -> None:  # noqa: F811
    result = Deploy(toolbox, tmp_path)(*args)
    assert result.returncode == 2
    assert message in result.stderr and "usage: deploy.sh" in result.stderr


def test_not_a_public_key_is_refused(toolbox, tmp_path) -> None:  # noqa: F811
    junk = tmp_path / "junk.pub"
    junk.write_text("hello\n")
    result = Deploy(toolbox, tmp_path)("--device-id", "CAM-1", "--custodian-pub", str(junk))
    assert result.returncode == 2 and "is not a PEM public key" in result.stderr


@pytest.mark.parametrize("model, codename, message", [
    ("Orange Pi 5", "bookworm", "not a Raspberry Pi: device-tree model 'Orange Pi 5'"),
    (PI4, "bullseye", "unsupported OS release 'bullseye'"),
])
def test_wrong_board_or_os_stops_in_preflight(toolbox, tmp_path, model, codename, message) -> None:  # noqa: F811
    root = make_root(tmp_path, model, codename)
    deploy = Deploy(toolbox, tmp_path)
    result = deploy("--root", str(root))
    assert result.returncode == 1
    assert f"step 'preflight' failed: {message}" in result.stderr
    assert deploy.changing_calls() == []


def test_a_failing_step_stops_the_script_and_names_the_step(toolbox, tmp_path) -> None:  # noqa: F811
    root = make_root(tmp_path, codename="trixie")
    deploy = Deploy(toolbox, tmp_path)
    result = deploy("--root", str(root), FAKE_FAIL="apt-get")
    assert result.returncode == 1
    assert "deploy.sh: step 'packages' failed: apt-get update exited with 100" in result.stderr
    assert [c.split()[0] for c in deploy.changing_calls()] == ["apt-get"]
    assert not (root / "opt").exists()


def test_over_ssh_copies_and_runs_there(toolbox, tmp_path) -> None:  # noqa: F811
    root = make_root(tmp_path, PI4)
    deploy = Deploy(toolbox, tmp_path)
    result = deploy("--host", "pi@cam17", "--root", str(root), "--dry-run",
                    "--device-id", "CAM-17", "--custodian-pub", str(toolbox["pub"]))
    assert result.returncode == 0, result.stderr
    ssh = [c for c in deploy.calls() if c.startswith("ssh ")]
    assert ssh[0] == "ssh pi@cam17 mktemp -d /tmp/bodycam-deploy.XXXXXX"
    remote = re.search(r"(/tmp/bodycam-deploy\.\w+)", ssh[1]).group(1)
    assert ssh[1] == f"ssh pi@cam17 tar -xf - -C {remote}"
    assert ssh[2] == f"ssh pi@cam17 cat > {remote}/custodian.pub"
    assert f"./deploy.sh --dry-run --root {root} --device-id CAM-17 --custodian-pub " \
           f"{remote}/custodian.pub" in ssh[3]
    assert "== copy the firmware to pi@cam17" in result.stdout
    assert "python3-rpi-lgpio" in result.stdout and "bodycam keys device --device-id CAM-17" in result.stdout
    assert not Path(remote).exists()  # cleaned up on the device


def run_boot_line(tmp_path: Path, text: str, key: str, value: str) -> str:
    config = tmp_path / "config.txt"
    config.write_bytes(text.encode())
    return subprocess.run(["bash", "-c", 'source "$1" && boot_line "$2" "$3" "$4"', "bash",
                           str(DEPLOY), key, value, str(config)], capture_output=True,
                          check=True).stdout.decode()


@pytest.mark.parametrize("before, key, value, after", [
    ("a=1\n#dtparam=spi=on\n", "dtparam:spi", "on", "a=1\ndtparam=spi=on\n"),
    ("dtparam=spi=on\n", "dtparam:spi", "on", "dtparam=spi=on\n"),
    ("dtparam=i2c_arm=on,spi=on\n", "dtparam:spi", "on", "dtparam=i2c_arm=on,spi=on\n"),
    ("dtparam=i2c_arm=on,spi=off\n", "dtparam:spi", "on", "dtparam=i2c_arm=on,spi=on\n"),
    ("dtparam=spi=off\n#dtparam=spi=on\n", "dtparam:spi", "on", "dtparam=spi=on\n#dtparam=spi=on\n"),
    ("x=1\n", "dtparam:spi", "on", "x=1\ndtparam=spi=on\n"),
    ("[cm4]\ndtparam=spi=on\n", "dtparam:spi", "on", "[cm4]\ndtparam=spi=on\n[all]\ndtparam=spi=on\n"),
    ("[pi4]\nx=1\n[all]\n", "dtparam:spi", "on", "[pi4]\nx=1\n[all]\ndtparam=spi=on\n"),
    ("camera_auto_detect=0\n", "camera_auto_detect", "1", "camera_auto_detect=1\n"),
    ("camera_auto_detect=1 \r\n", "camera_auto_detect", "1", "camera_auto_detect=1 \r\n"),
    ("[cm5]\n#camera_auto_detect=1\n", "camera_auto_detect", "1",
     "[cm5]\n#camera_auto_detect=1\n[all]\ncamera_auto_detect=1\n"),
])
def test_boot_config_edits(tmp_path, before, key, value, after) -> None:
    assert run_boot_line(tmp_path, before, key, value) == after


def test_shellcheck_clean() -> None:
    shellcheck = require("shellcheck", "shellcheck")
    result = subprocess.run([shellcheck, str(DEPLOY)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout


def test_init_staging_makes_the_tree_a_root_install_reads(tmp_path: Path) -> None:
    """docs/DEPLOY.md lists what a --root tree needs; --init-staging makes exactly that."""
    root = tmp_path / "staging"
    missing = subprocess.run(["bash", str(DEPLOY), "--root", str(root), "--dry-run"],
                             capture_output=True, text=True, timeout=60)
    assert missing.returncode == 2 and "--init-staging" in missing.stderr
    made = subprocess.run(["bash", str(DEPLOY), "--root", str(root), "--init-staging"],
                          capture_output=True, text=True, timeout=60)
    assert made.returncode == 0, made.stderr
    files = sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())
    documented = (REPO / "docs" / "DEPLOY.md").read_text()
    assert files and all(f"`DIR/{f}`" in documented for f in files), files
    dry = subprocess.run(["bash", str(DEPLOY), "--root", str(root), "--dry-run"],
                         capture_output=True, text=True, timeout=120)
    assert dry.returncode == 0, dry.stderr
    assert "changes that would be made" in dry.stdout
    # A second --init-staging keeps what is there.
    (root / "etc/group").write_text("root:x:0:\nvideo:x:44:pi\ngpio:x:993:pi\nspi:x:994:\n")
    again = subprocess.run(["bash", str(DEPLOY), "--root", str(root), "--init-staging"],
                           capture_output=True, text=True, timeout=60)
    assert again.returncode == 0 and "kept: " in again.stdout
    assert "pi" in (root / "etc/group").read_text()
