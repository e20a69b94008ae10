"""The deploy.sh test rig: a temporary root tree with recording stand-ins for the
system's tools, a wheel of this repository, and the installed release (see
tests/test_deploy.py)."""

from __future__ import annotations

import base64
import hashlib
import os
import re
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

from evidence import keys

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
