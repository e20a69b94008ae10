"""deploy.sh into a temporary directory tree (--root), with the system's tools replaced by
recorders first on PATH: apt-get, dpkg-query, useradd, usermod, systemctl, chown, ssh, sudo,
raspi-config log their arguments; the ones whose effect a second run must see (apt-get,
useradd, usermod, systemctl enable) keep that state, so idempotence is tested for real.

The release's venv is really built: from a wheel of this repository assembled here (no
build backend, no network: BODYCAM_DEPLOY_PACKAGE, BODYCAM_DEPLOY_PIP_ARGS), with this
environment's dependencies on PYTHONPATH so the release's ``bodycam keys device`` runs.
"""


from __future__ import annotations

import os
import re
import shutil
import stat

import pytest

from evidence import keys
from tests.deploy_rig import (  # noqa: F401
    BOOT_CONFIG,
    PI4,
    PI5,
    READ_ONLY,
    REPO,
    TECHNICIAN_CONFIG,
    Deploy,
    build_wheel,
    installed,
    make_root,
    snapshot,
    toolbox,
)


def test_first_install_succeeds(installed) -> None:  # noqa: F811
    first = installed["first"]
    assert first.returncode == 0, first.stderr
    assert first.stdout.splitlines()[-2:] == [
        "changes made: 12", "reboot required: the boot configuration changed (SPI, camera)"]


def test_pi5_gets_rpi_lgpio(installed) -> None:  # noqa: F811
    apt = [c for c in installed["first_calls"] if c.startswith("apt-get")]
    assert apt == ["apt-get update", "apt-get install -y --no-install-recommends python3-picamera2 "
                   "python3-libcamera python3-spidev python3-alsaaudio python3-rpi-lgpio python3-venv "
                   "fonts-dejavu-core"]


@pytest.mark.parametrize("model", [PI5, PI4])
def test_rpi_gpio_is_replaced_by_rpi_lgpio_on_every_board(toolbox, tmp_path, model) -> None:  # noqa: F811
    have, want = "python3-rpi.gpio", "python3-rpi-lgpio"
    root = make_root(tmp_path, model)
    deploy = Deploy(toolbox, tmp_path)
    (deploy.state / "packages").write_text(f"python3-picamera2\n{have}\n")
    result = deploy("--root", str(root), "--dry-run")
    assert result.returncode == 0, result.stderr
    assert f"would: remove {have} (bodycam needs {want} on every board)" in result.stdout
    assert f"would run: apt-get remove -y {have}" in result.stdout
    assert "would run: apt-get install -y --no-install-recommends python3-libcamera " \
        f"python3-spidev python3-alsaaudio {want} python3-venv" in result.stdout


def test_unit_file(installed) -> None:  # noqa: F811
    unit = (installed["root"] / "etc/systemd/system/bodycam.service").read_text()
    assert unit == (REPO / "deploy/bodycam.service").read_text()
    lines = set(unit.splitlines())
    for line in ("ExecStart=/opt/bodycam/current/venv/bin/bodycam run --config /etc/bodycam/config.toml",
                 "Restart=always", "NoNewPrivileges=yes", "ProtectSystem=strict",
                 "ReadWritePaths=/var/lib/bodycam", "PrivateTmp=yes", "User=bodycam",
                 "SupplementaryGroups=video gpio spi", "Type=notify", "WantedBy=multi-user.target"):
        assert line in lines
    assert any(re.fullmatch(r"WatchdogSec=\d+", line) for line in lines)
    root = installed["root"]
    assert f"systemctl --root={root} enable bodycam.service" in installed["first_calls"]
    assert not [c for c in installed["first_calls"] if re.search(r"restart|daemon-reload|start ", c)]


def test_unit_gives_lgpio_a_writable_work_directory() -> None:
    """Under ProtectSystem=strict the working directory / is read-only, and lgpio makes its
    notification FIFO at import in $LG_WD or the working directory (lg lgNotify.c:131)."""
    lines = (REPO / "deploy/bodycam.service").read_text().splitlines()
    env = dict(v.split("=", 1) for line in lines if line.startswith("Environment=")
               for v in line.removeprefix("Environment=").split())
    settings = dict(line.split("=", 1) for line in lines if "=" in line and not line.startswith("#"))
    assert "WorkingDirectory" not in settings  # so LG_WD is the only way the FIFO finds a home
    runtime = settings.get("RuntimeDirectory")
    writable = {f"/run/{runtime}"} if runtime else set()
    writable |= set(settings.get("ReadWritePaths", "").split())
    assert env.get("LG_WD") in writable


def test_technician_config_is_kept_and_example_installed(installed) -> None:  # noqa: F811
    etc = installed["root"] / "etc/bodycam"
    assert (etc / "config.toml").read_text() == TECHNICIAN_CONFIG
    assert (etc / "config.example.toml").read_bytes() == \
        (REPO / "firmware/config.example.toml").read_bytes()
    assert "config.toml kept (local edits)" in installed["first"].stdout


def test_boot_config_lines_present_exactly_once(installed) -> None:  # noqa: F811
    text = (installed["root"] / "boot/firmware/config.txt").read_text()
    lines = text.splitlines()
    assert lines.count("dtparam=spi=on") == 1 and lines.count("camera_auto_detect=1") == 1
    assert "#dtparam=spi=on" not in lines  # uncommented where it was, before any [section]
    assert lines.index("dtparam=spi=on") < lines.index("[cm4]")
    assert text.replace("dtparam=spi=on", "#dtparam=spi=on", 1) == BOOT_CONFIG
    assert (installed["root"] / "boot/firmware/config.txt.bodycam-backup").read_text() == BOOT_CONFIG


def test_service_user_and_groups(installed) -> None:  # noqa: F811
    root = installed["root"]
    calls = installed["first_calls"]
    assert (f"useradd --root {root} --system --user-group --home-dir /var/lib/bodycam "
            "--no-create-home --shell /usr/sbin/nologin --comment bodycam camera daemon bodycam") in calls
    assert f"usermod --root {root} --append --groups video,gpio,spi bodycam" in calls
    group = (root / "etc/group").read_text()
    assert "video:x:44:pi,bodycam" in group and "spi:x:994:bodycam" in group


def test_release_and_links(installed) -> None:  # noqa: F811
    opt = installed["root"] / "opt/bodycam"
    releases = [p.name for p in (opt / "releases").iterdir()]
    assert len(releases) == 1 and re.fullmatch(r"0\.1\.0-[0-9a-f]{12}", releases[0])
    release = opt / "releases" / releases[0]
    assert os.readlink(opt / "current") == f"releases/{releases[0]}"
    assert not (opt / "previous").exists()
    assert (release / ".complete").is_file() and (release / "src/deploy.sh").is_file()
    assert os.access(release / "venv/bin/bodycam", os.X_OK)
    assert "include-system-site-packages = true" in (release / "venv/pyvenv.cfg").read_text()
    assert os.readlink(installed["root"] / "usr/local/bin/bodycam") == \
        "/opt/bodycam/current/venv/bin/bodycam"
    data = installed["root"] / "var/lib/bodycam"
    assert data.is_dir() and stat.S_IMODE(data.stat().st_mode) == 0o750
    assert f"chown 999:999 {data}" in installed["first_calls"]


def test_identity_is_provisioned(installed) -> None:  # noqa: F811
    identity = installed["root"] / "etc/bodycam/identity"
    assert keys.load_identity(identity).device_id == "CAM-17"
    assert stat.S_IMODE((identity / "device.key").stat().st_mode) == 0o640
    assert stat.S_IMODE(identity.stat().st_mode) == 0o750
    assert f"chown -R 0:999 {identity}" in installed["first_calls"]
    assert not (identity / "custodian.key").exists()


def test_second_run_changes_nothing(installed) -> None:  # noqa: F811
    second = installed["second"]
    assert second.returncode == 0, second.stderr
    assert second.stdout.rstrip().endswith("nothing to change")
    assert "change:" not in second.stdout and "reboot" not in second.stdout
    assert [c for c in installed["second_calls"] if c.split()[0] not in READ_ONLY
            and not re.match(r"systemctl --root=\S+ is-enabled", c)] == []
    assert installed["after"] == installed["before"]


@pytest.mark.parametrize("model, gpio, other", [(PI4, "python3-rpi-lgpio", "python3-rpi.gpio"),
                                                (PI5, "python3-rpi-lgpio", "python3-rpi.gpio")])
def test_dry_run_prints_every_step_and_changes_nothing(toolbox, tmp_path, model, gpio, other) -> None:  # noqa: F811
    root = make_root(tmp_path, model)
    before = snapshot(root)
    deploy = Deploy(toolbox, tmp_path)
    result = deploy("--root", str(root), "--dry-run", "--device-id", "CAM-4",
                    "--custodian-pub", str(toolbox["pub"]))
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert f"would run: apt-get install -y --no-install-recommends python3-picamera2 " \
        f"python3-libcamera python3-spidev python3-alsaaudio {gpio} python3-venv" in out
    assert other not in out
    for step in ("preflight", "packages", "boot configuration", "service user", "release",
                 "configuration", "device identity", "evidence directory", "activate",
                 "systemd unit", "old releases", "service"):
        assert f"== {step}\n" in out
    for words in ("would run: useradd", "would run: usermod", "would: set dtparam=spi=on",
                  "bin/bodycam keys device --device-id CAM-4", "would: install /etc/bodycam/config.toml",
                  f"would run: systemctl --root={root} enable bodycam.service"):
        assert words in out
    assert out.splitlines()[-2:] == [
        "changes that would be made: 13 (dry run: nothing was changed)",
        "a reboot would be required: the boot configuration would change (SPI, camera)"]
    assert deploy.changing_calls() == []
    assert snapshot(root) == before


def test_rollback_goes_back_and_forth(installed, toolbox, tmp_path) -> None:  # noqa: F811
    base = tmp_path / "copy"
    shutil.copytree(installed["base"], base, symlinks=True)
    root = base / "root"
    opt = root / "opt/bodycam"
    first = os.readlink(opt / "current")
    wheel2 = build_wheel(tmp_path / "wheel2", {"firmware/_build.txt": "second build\n"})
    deploy = Deploy(toolbox, base, wheel2)
    update = deploy("--root", str(root))
    assert update.returncode == 0, update.stderr
    second = os.readlink(opt / "current")
    assert second != first and os.readlink(opt / "previous") == first
    assert "change: current -> " in update.stdout

    back = deploy("--root", str(root), "--rollback")
    assert back.returncode == 0, back.stderr
    assert os.readlink(opt / "current") == first and os.readlink(opt / "previous") == second
    assert "changes made: 1" in back.stdout

    forth = deploy("--root", str(root), "--rollback")
    assert forth.returncode == 0 and os.readlink(opt / "current") == second


def test_old_releases_are_pruned(installed, toolbox, tmp_path) -> None:  # noqa: F811
    base = tmp_path / "copy"
    shutil.copytree(installed["base"], base, symlinks=True)
    releases = base / "root/opt/bodycam/releases"
    current = os.readlink(base / "root/opt/bodycam/current")
    for age, name in enumerate(("0.0.3-c", "0.0.2-b", "0.0.1-a"), start=1):
        (releases / name).mkdir()
        (releases / name / ".complete").touch()
        os.utime(releases / name, (1e9 - age, 1e9 - age))
    result = Deploy(toolbox, base)("--root", str(base / "root"))
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in releases.iterdir()) == sorted([current.split("/")[1], "0.0.3-c"])
    assert "change: remove old release 0.0.2-b" in result.stdout
    assert "change: remove old release 0.0.1-a" in result.stdout


def test_rollback_without_a_previous_release_fails(toolbox, tmp_path) -> None:  # noqa: F811
    root = make_root(tmp_path)
    result = Deploy(toolbox, tmp_path)("--root", str(root), "--rollback")
    assert result.returncode == 1
    assert "step 'rollback' failed: no previous release to roll back to" in result.stderr
