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

