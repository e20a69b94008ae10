"""A real TPM 2.0 for the tests: swtpm (Debian package swtpm) on a free local port.

Under CI a missing swtpm or tpm2-pytss fails the test (tests/tools.py); elsewhere it skips.
"""

from __future__ import annotations

import os
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator

import pytest

from tests.tools import require


def _require(ok: bool, what: str) -> None:
    if ok:
        return
    if os.environ.get("CI"):
        pytest.fail(f"{what} is required in CI (.ci/run installs it)")
    pytest.skip(f"{what} not installed")


def _free_ports() -> tuple[int, int]:
    """A free port and the one after it: the swtpm TCTI talks to the control
    channel at port + 1."""
    for _ in range(50):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port >= 65535:
            continue
        try:
            with socket.socket() as a, socket.socket() as b:
                a.bind(("127.0.0.1", port))
                b.bind(("127.0.0.1", port + 1))
        except OSError:
            continue
        return port, port + 1
    pytest.fail("no two free consecutive ports for swtpm")


def swtpm_tcti() -> Iterator[str]:
    """Start swtpm; yield its TCTI string; stop it."""
    require("swtpm", "swtpm")
    try:
        import tpm2_pytss  # noqa: F401
    except ImportError:
        _require(False, "tpm2-pytss (pip install '.[tpm]')")
    state = tempfile.TemporaryDirectory(prefix="bodycam-swtpm-")
    for _attempt in range(5):
        port, ctrl = _free_ports()
        proc = subprocess.Popen(
            ["swtpm", "socket", "--tpm2", "--server", f"type=tcp,port={port},bindaddr=127.0.0.1",
             "--ctrl", f"type=tcp,port={ctrl},bindaddr=127.0.0.1",
             "--flags", "not-need-init,startup-clear", "--tpmstate", f"dir={state.name}"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and proc.poll() is None:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.05)
        if proc.poll() is None:
            break
    else:
        pytest.fail("swtpm did not start")
    try:
        yield f"swtpm:host=127.0.0.1,port={port}"
    finally:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
        state.cleanup()
