"""External programs the tests use (Debian packages that .ci/run installs).

A test that needs one calls :func:`require`: on a developer's machine without
the program the test is skipped with the package to install; in CI (``CI`` set)
it fails instead, so a missing install step in ``.ci/run`` can never turn into
a green run that checked nothing.
"""

from __future__ import annotations

import os
import shutil

import pytest


def require(program: str, package: str) -> str:
    """Return the path of ``program``; skip (or fail under CI) when it is missing."""
    path = shutil.which(program)
    if path is not None:
        return path
    message = f"{program} is not installed (apt-get install {package})"
    if os.environ.get("CI"):
        pytest.fail(message + ": .ci/run must install it")
    pytest.skip(message)


def assert_loss_is_listed(frames: list[int], gaps: list[dict], fps: int) -> None:
    """Frames missing from an export lie only in short seams the manifest names.

    Known limitation (issue 13's closing note): with sound, when storage fails at a
    chunk seal the GOP's last frame can be lost at the seam; the signed manifest then
    lists it as a "storage full" / "storage error" gap of under one GOP.
    """
    missing = sorted(set(range(frames[0], frames[-1] + 1)) - set(frames))
    seams = [g for g in gaps if g["reason"] in ("storage full", "storage error")]
    assert all(g["seconds"] < 1.0 for g in seams), seams
    assert len(missing) <= sum(round(g["seconds"] * fps) for g in seams), (missing, seams)
