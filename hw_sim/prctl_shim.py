"""``prctl`` (python-prctl) for picamera2's FfmpegOutput import.

python-prctl is a C extension that needs libcap headers to build and has no
wheel; picamera2 imports it only in ``outputs/ffmpegoutput.py`` to call
``set_pdeathsig``. This module makes that one call with the real prctl(2)
through libc, so nothing about it is simulated.
"""

from __future__ import annotations

import ctypes
import ctypes.util

PR_SET_PDEATHSIG = 1
_libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)


def set_pdeathsig(sig: int) -> None:
    """Deliver ``sig`` to this process when its parent dies (prctl(2) PR_SET_PDEATHSIG)."""
    if _libc.prctl(PR_SET_PDEATHSIG, int(sig), 0, 0, 0) != 0:
        err = ctypes.get_errno()
        raise OSError(err, "prctl(PR_SET_PDEATHSIG) failed")
