"""The service unit deploy.sh installs is hardened: systemd-analyze security <= 2.5."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

from tests.tools import require

UNIT = Path(__file__).resolve().parent.parent / "deploy" / "bodycam.service"


def _analyze() -> str:
    return require("systemd-analyze", "systemd")


def test_unit_exposure_is_ok(tmp_path: Path) -> None:
    unit = tmp_path / "bodycam.service"
    shutil.copy(UNIT, unit)
    out = subprocess.run([_analyze(), "security", "--offline=true", "--no-pager", str(unit)],
                         capture_output=True, text=True, timeout=60, check=False)
    m = re.search(r"Overall exposure level for bodycam\.service: ([0-9.]+)", out.stdout)
    assert m, out.stdout + out.stderr
    assert float(m.group(1)) <= 2.5, out.stdout


def test_unit_names_what_the_issue_asks() -> None:
    text = UNIT.read_text()
    for line in ("PrivateNetwork=yes", "RestrictAddressFamilies=AF_UNIX",
                 "SystemCallFilter=@system-service", "DevicePolicy=closed", "LimitCORE=0",
                 "MemorySwapMax=0", "ProtectClock=yes", "ProtectProc=invisible"):
        assert line in text.splitlines(), line
