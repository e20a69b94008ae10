"""deploy.sh into a temporary directory tree (--root), with the system's tools replaced by
recorders first on PATH: apt-get, dpkg-query, useradd, usermod, systemctl, chown, ssh, sudo,
raspi-config log their arguments; the ones whose effect a second run must see (apt-get,
useradd, usermod, systemctl enable) keep that state, so idempotence is tested for real.

The release's venv is really built: from a wheel of this repository assembled here (no
build backend, no network: BODYCAM_DEPLOY_PACKAGE, BODYCAM_DEPLOY_PIP_ARGS), with this
environment's dependencies on PYTHONPATH so the release's ``bodycam keys device`` runs.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import shutil
import stat
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

from evidence import keys
from tests.tools import require

REPO = Path(__file__).resolve().parent.parent
DEPLOY = REPO / "deploy.sh"
PI5 = "Raspberry Pi 5 Model B Rev 1.0"
PI4 = "Raspberry Pi 4 Model B Rev 1.4"
BOOT_CONFIG = """\
# For more options and information see
# http://rptl.io/configtxt

# Uncomment some or all of these to enable the optional hardware interfaces
#dtparam=i2c_arm=on
#dtparam=spi=on

dtparam=audio=on

# Automatically load overlays for detected cameras
camera_auto_detect=1

dtoverlay=vc4-kms-v3d
arm_64bit=1

[cm4]
otg_mode=1

[cm5]
dtoverlay=dwc2,dr_mode=host

[all]
"""
TECHNICIAN_CONFIG = "# edited on site\n[button]\npin = 22\n"

FAKES = {
    "apt-get": """
if [ "${FAKE_FAIL:-}" = apt-get ]; then echo "E: simulated failure" >&2; exit 100; fi
if [ "$1" = install ]; then
  for a in "$@"; do case $a in install|-*) ;; *) echo "$a" >> "$FAKE_STATE/packages" ;; esac; done
fi
""",
    "dpkg-query": """
for pkg; do :; done
if grep -qx -- "$pkg" "$FAKE_STATE/packages" 2>/dev/null; then printf installed; exit 0; fi
echo "dpkg-query: no packages found matching $pkg" >&2; exit 1
""",
    "useradd": """
root=""; prev=""
for a in "$@"; do [ "$prev" = --root ] && root=$a; prev=$a; done
echo "$a:x:999:999::/var/lib/bodycam:/usr/sbin/nologin" >> "$root/etc/passwd"
echo "$a:x:999:" >> "$root/etc/group"
""",
    "usermod": """
root=""; groups=""; prev=""
for a in "$@"; do
  [ "$prev" = --root ] && root=$a; [ "$prev" = --groups ] && groups=$a; prev=$a
done
awk -F: -v OFS=: -v gs=",$groups," -v u="$a" \
  'index(gs, "," $1 ",") { $4 = ($4 == "" ? u : $4 "," u) } { print }' \
  "$root/etc/group" > "$root/etc/group.new" && mv "$root/etc/group.new" "$root/etc/group"
""",
    "systemctl": """
verb=""; unit=""
for a in "$@"; do case $a in -*) ;; *) if [ -z "$verb" ]; then verb=$a; else unit=$a; fi ;; esac; done
case $verb in
  is-enabled) [ -e "$FAKE_STATE/enabled-$unit" ] ;;
  is-active) exit 3 ;;
  enable) touch "$FAKE_STATE/enabled-$unit" ;;
esac
""",
    "ssh": """
while [ "${1#-}" != "$1" ]; do shift; done
shift
exec bash -c "$1"
""",
    "sudo": 'exec "$@"\n',
    "chown": "",
    "raspi-config": "",
}
READ_ONLY = {"dpkg-query", "ssh", "sudo"}


def build_wheel(out: Path, extra: dict[str, str] | None = None) -> Path:
    """A pure-Python wheel of this repository, as pip installs it (no build backend needed)."""
    meta = tomllib.loads((REPO / "pyproject.toml").read_text())
    name, version = meta["project"]["name"], meta["project"]["version"]
    dist = f"{name}-{version}.dist-info"
    files: dict[str, bytes] = {}
    for pattern in meta["tool"]["setuptools"]["packages"]["find"]["include"]:
        package = REPO / pattern.rstrip("*")
        for path in sorted(package.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                files[path.relative_to(REPO).as_posix()] = path.read_bytes()
    for arcname, text in (extra or {}).items():
        files[arcname] = text.encode()
    scripts = "".join(f"{k} = {v}\n" for k, v in meta["project"]["scripts"].items())
    files[f"{dist}/METADATA"] = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n".encode()
    files[f"{dist}/WHEEL"] = (b"Wheel-Version: 1.0\nGenerator: tests\nRoot-Is-Purelib: true\n"
                              b"Tag: py3-none-any\n")
    files[f"{dist}/entry_points.txt"] = f"[console_scripts]\n{scripts}".encode()
    record = []
    for arcname, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append(f"{arcname},sha256={digest},{len(data)}")
    files[f"{dist}/RECORD"] = ("\n".join(record + [f"{dist}/RECORD,,"]) + "\n").encode()
    out.mkdir(parents=True, exist_ok=True)
    wheel = out / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w", zipfile.ZIP_DEFLATED) as z:
        for arcname, data in files.items():
            z.writestr(arcname, data)
    return wheel


def dependency_path(out: Path) -> Path:
    """This environment's installed dependencies, without bodycam itself, pip or setuptools."""
    site = Path(next(p for p in sys.path if p.endswith("site-packages") and Path(p).is_dir()))
    out.mkdir()
    skip = ("bodycam", "__editable__", "pip", "setuptools", "pkg_resources", "_distutils_hack",
            "distutils-precedence")
    for entry in site.iterdir():
        if not entry.name.startswith(skip) and entry.suffix != ".pth":
            (out / entry.name).symlink_to(entry)
    return out


@pytest.fixture(scope="module")
def toolbox(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("toolbox")
    bin_dir = base / "bin"
    bin_dir.mkdir()
    for name, body in FAKES.items():
        script = bin_dir / name
        script.write_text(f'#!/bin/bash\necho "{name} $*" >> "$FAKE_LOG"\n{body}')
        script.chmod(0o755)
    _, pub = keys.create_custodian(base / "office")
    return {"bin": bin_dir, "wheel": build_wheel(base / "wheel"),
            "deps": dependency_path(base / "deps"), "pub": pub,
            "private": base / "office" / "custodian.key"}


def make_root(base: Path, model: str = PI5, codename: str = "bookworm") -> Path:
    root = base / "root"
    (root / "etc").mkdir(parents=True)
    (root / "etc/os-release").write_text(f'ID=debian\nVERSION_CODENAME={codename}\n')
    (root / "etc/passwd").write_text("root:x:0:0:root:/root:/bin/bash\n")
    (root / "etc/group").write_text("root:x:0:\nvideo:x:44:pi\ngpio:x:993:pi\nspi:x:994:\n")
    (root / "proc/device-tree").mkdir(parents=True)
    (root / "proc/device-tree/model").write_bytes(model.encode() + b"\0")
    (root / "boot/firmware").mkdir(parents=True)
    (root / "boot/firmware/config.txt").write_text(BOOT_CONFIG)
    return root


class Deploy:
    """Runs deploy.sh with the recorders; ``calls()`` lists what they were asked to do."""

    def __init__(self, toolbox: dict[str, Path], base: Path, package: Path | None = None) -> None:
        self.base = base
        self.log = base / "calls.log"
        self.state = base / "state"
        self.state.mkdir(exist_ok=True)
        self.env = dict(os.environ, PATH=f"{toolbox['bin']}{os.pathsep}{os.environ['PATH']}",
                        FAKE_LOG=str(self.log), FAKE_STATE=str(self.state),
                        BODYCAM_DEPLOY_PACKAGE=str(package or toolbox["wheel"]),
                        BODYCAM_DEPLOY_PIP_ARGS="--no-index --no-deps",
                        BODYCAM_DEPLOY_PYTHON=sys.executable,
                        PYTHONPATH=str(toolbox["deps"]))

    def __call__(self, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["bash", str(DEPLOY), *args], capture_output=True, text=True,
                              env={**self.env, **env}, timeout=120, check=False)

    def calls(self) -> list[str]:
        return self.log.read_text().splitlines() if self.log.exists() else []

    def changing_calls(self) -> list[str]:
        """Calls that change something (queries and transport left out)."""
        return [c for c in self.calls() if c.split()[0] not in READ_ONLY
                and not re.match(r"systemctl( --root=\S+)? is-", c)]


def snapshot(root: Path) -> dict[str, tuple[int, int, str]]:
    """Every path under root with its mode, size and (for links) target."""
    out = {}
    for path in sorted(root.rglob("*")):
        st = path.lstat()
        target = os.readlink(path) if path.is_symlink() else ""
        out[str(path.relative_to(root))] = (st.st_mode, st.st_size, target)
    return out


@pytest.fixture(scope="module")
def installed(toolbox, tmp_path_factory) -> dict:
    """One fresh Pi 5 install with provisioning and a technician's config, then a second run."""
    base = tmp_path_factory.mktemp("pi5")
    root = make_root(base)
    (root / "etc/bodycam").mkdir(parents=True)
    (root / "etc/bodycam/config.toml").write_text(TECHNICIAN_CONFIG)
    deploy = Deploy(toolbox, base)
    first = deploy("--root", str(root), "--device-id", "CAM-17", "--custodian-pub", str(toolbox["pub"]))
    first_calls = deploy.calls()
    before = snapshot(root)
    second = deploy("--root", str(root), "--device-id", "CAM-17", "--custodian-pub", str(toolbox["pub"]))
    return {"root": root, "deploy": deploy, "first": first, "first_calls": first_calls,
            "second": second, "second_calls": deploy.calls()[len(first_calls):],
            "before": before, "after": snapshot(root), "base": base}


def test_first_install_succeeds(installed) -> None:
    first = installed["first"]
    assert first.returncode == 0, first.stderr
    assert first.stdout.splitlines()[-2:] == [
        "changes made: 12", "reboot required: the boot configuration changed (SPI, camera)"]


def test_pi5_gets_rpi_lgpio(installed) -> None:
    apt = [c for c in installed["first_calls"] if c.startswith("apt-get")]
    assert apt == ["apt-get update", "apt-get install -y --no-install-recommends python3-picamera2 "
                   "python3-libcamera python3-spidev python3-rpi-lgpio python3-venv fonts-dejavu-core"]


@pytest.mark.parametrize("model", [PI5, PI4])
def test_rpi_gpio_is_replaced_by_rpi_lgpio_on_every_board(toolbox, tmp_path, model) -> None:
    have, want = "python3-rpi.gpio", "python3-rpi-lgpio"
    root = make_root(tmp_path, model)
    deploy = Deploy(toolbox, tmp_path)
    (deploy.state / "packages").write_text(f"python3-picamera2\n{have}\n")
    result = deploy("--root", str(root), "--dry-run")
    assert result.returncode == 0, result.stderr
    assert f"would: remove {have} (bodycam needs {want} on every board)" in result.stdout
    assert f"would run: apt-get remove -y {have}" in result.stdout
    assert "would run: apt-get install -y --no-install-recommends python3-libcamera " \
        f"python3-spidev {want} python3-venv" in result.stdout


def test_unit_file(installed) -> None:
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


def test_technician_config_is_kept_and_example_installed(installed) -> None:
    etc = installed["root"] / "etc/bodycam"
    assert (etc / "config.toml").read_text() == TECHNICIAN_CONFIG
    assert (etc / "config.example.toml").read_bytes() == \
        (REPO / "firmware/config.example.toml").read_bytes()
    assert "config.toml kept (local edits)" in installed["first"].stdout


def test_boot_config_lines_present_exactly_once(installed) -> None:
    text = (installed["root"] / "boot/firmware/config.txt").read_text()
    lines = text.splitlines()
    assert lines.count("dtparam=spi=on") == 1 and lines.count("camera_auto_detect=1") == 1
    assert "#dtparam=spi=on" not in lines  # uncommented where it was, before any [section]
    assert lines.index("dtparam=spi=on") < lines.index("[cm4]")
    assert text.replace("dtparam=spi=on", "#dtparam=spi=on", 1) == BOOT_CONFIG
    assert (installed["root"] / "boot/firmware/config.txt.bodycam-backup").read_text() == BOOT_CONFIG


def test_service_user_and_groups(installed) -> None:
    root = installed["root"]
    calls = installed["first_calls"]
    assert (f"useradd --root {root} --system --user-group --home-dir /var/lib/bodycam "
            "--no-create-home --shell /usr/sbin/nologin --comment bodycam camera daemon bodycam") in calls
    assert f"usermod --root {root} --append --groups video,gpio,spi bodycam" in calls
    group = (root / "etc/group").read_text()
    assert "video:x:44:pi,bodycam" in group and "spi:x:994:bodycam" in group


def test_release_and_links(installed) -> None:
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


def test_identity_is_provisioned(installed) -> None:
    identity = installed["root"] / "etc/bodycam/identity"
    assert keys.load_identity(identity).device_id == "CAM-17"
    assert stat.S_IMODE((identity / "device.key").stat().st_mode) == 0o640
    assert stat.S_IMODE(identity.stat().st_mode) == 0o750
    assert f"chown -R 0:999 {identity}" in installed["first_calls"]
    assert not (identity / "custodian.key").exists()


def test_second_run_changes_nothing(installed) -> None:
    second = installed["second"]
    assert second.returncode == 0, second.stderr
    assert second.stdout.rstrip().endswith("nothing to change")
    assert "change:" not in second.stdout and "reboot" not in second.stdout
    assert [c for c in installed["second_calls"] if c.split()[0] not in READ_ONLY
            and not re.match(r"systemctl --root=\S+ is-enabled", c)] == []
    assert installed["after"] == installed["before"]


@pytest.mark.parametrize("model, gpio, other", [(PI4, "python3-rpi-lgpio", "python3-rpi.gpio"),
                                                (PI5, "python3-rpi-lgpio", "python3-rpi.gpio")])
def test_dry_run_prints_every_step_and_changes_nothing(toolbox, tmp_path, model, gpio, other) -> None:
    root = make_root(tmp_path, model)
    before = snapshot(root)
    deploy = Deploy(toolbox, tmp_path)
    result = deploy("--root", str(root), "--dry-run", "--device-id", "CAM-4",
                    "--custodian-pub", str(toolbox["pub"]))
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert f"would run: apt-get install -y --no-install-recommends python3-picamera2 " \
        f"python3-libcamera python3-spidev {gpio} python3-venv" in out
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


def test_rollback_goes_back_and_forth(installed, toolbox, tmp_path) -> None:
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


def test_old_releases_are_pruned(installed, toolbox, tmp_path) -> None:
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


def test_rollback_without_a_previous_release_fails(toolbox, tmp_path) -> None:
    root = make_root(tmp_path)
    result = Deploy(toolbox, tmp_path)("--root", str(root), "--rollback")
    assert result.returncode == 1
    assert "step 'rollback' failed: no previous release to roll back to" in result.stderr


def test_custodian_private_key_is_refused_before_anything(toolbox, tmp_path) -> None:
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
def test_usage_errors(toolbox, tmp_path, args, message) -> None:
    result = Deploy(toolbox, tmp_path)(*args)
    assert result.returncode == 2
    assert message in result.stderr and "usage: deploy.sh" in result.stderr


def test_not_a_public_key_is_refused(toolbox, tmp_path) -> None:
    junk = tmp_path / "junk.pub"
    junk.write_text("hello\n")
    result = Deploy(toolbox, tmp_path)("--device-id", "CAM-1", "--custodian-pub", str(junk))
    assert result.returncode == 2 and "is not a PEM public key" in result.stderr


@pytest.mark.parametrize("model, codename, message", [
    ("Orange Pi 5", "bookworm", "not a Raspberry Pi: device-tree model 'Orange Pi 5'"),
    (PI4, "bullseye", "unsupported OS release 'bullseye'"),
])
def test_wrong_board_or_os_stops_in_preflight(toolbox, tmp_path, model, codename, message) -> None:
    root = make_root(tmp_path, model, codename)
    deploy = Deploy(toolbox, tmp_path)
    result = deploy("--root", str(root))
    assert result.returncode == 1
    assert f"step 'preflight' failed: {message}" in result.stderr
    assert deploy.changing_calls() == []


def test_a_failing_step_stops_the_script_and_names_the_step(toolbox, tmp_path) -> None:
    root = make_root(tmp_path, codename="trixie")
    deploy = Deploy(toolbox, tmp_path)
    result = deploy("--root", str(root), FAKE_FAIL="apt-get")
    assert result.returncode == 1
    assert "deploy.sh: step 'packages' failed: apt-get update exited with 100" in result.stderr
    assert [c.split()[0] for c in deploy.changing_calls()] == ["apt-get"]
    assert not (root / "opt").exists()


def test_over_ssh_copies_and_runs_there(toolbox, tmp_path) -> None:
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
