"""The evidence medium (SD card or SSD): free space, and a reserve for bad days.

When the card fills up in the middle of a recording, the segment in progress
still has to be closed (final chunk, trailer, fsync) and the fault written to
the audit log. Both need a little room, so the daemon keeps a reserve file of
``reserve_bytes`` in the data directory and deletes it the moment a write
fails for lack of space; it is put back once there is room again. Evidence is
never deleted to make room.
"""

from __future__ import annotations

import os
from pathlib import Path

from evidence.layout import RESERVE_NAME


class Storage:
    """Free-space readings and the reserve file for one data directory."""

    def __init__(self, data_dir: Path, reserve_bytes: int) -> None:
        self.data_dir = Path(data_dir)
        self.reserve_bytes = reserve_bytes
        self.reserve_path = self.data_dir / RESERVE_NAME

    def free_bytes(self) -> int:
        """Bytes an unprivileged writer can still use (the reserve file not counted as free)."""
        st = os.statvfs(self.data_dir)
        return st.f_bavail * st.f_frsize

    def total_bytes(self) -> int:
        """Size of the file system the data directory is on."""
        st = os.statvfs(self.data_dir)
        return st.f_blocks * st.f_frsize

    @property
    def reserved(self) -> bool:
        """Whether the reserve file is in place at full size."""
        try:
            return self.reserve_path.stat().st_size >= self.reserve_bytes
        except OSError:
            return False

    def ensure_reserve(self) -> bool:
        """Put the reserve file in place (written and fsync'd); False if there is no room."""
        if self.reserved:
            return True
        block = bytes(min(self.reserve_bytes, 1 << 20))
        try:
            fd = os.open(self.reserve_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            try:
                left = self.reserve_bytes
                while left > 0:
                    left -= os.write(fd, block[:left])
                os.fsync(fd)
            finally:
                os.close(fd)
        except OSError:  # full, failing, read-only or missing: the caller reports it
            self.release_reserve()
            return False
        return True

    def probe(self) -> None:
        """Write, fsync and delete a small file: raises OSError if the medium fails."""
        path = self.data_dir / ".probe"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, bytes(4096))
            os.fsync(fd)
        finally:
            os.close(fd)
            try:
                os.unlink(path)
            except OSError:
                pass

    def release_reserve(self) -> int:
        """Delete the reserve file; returns the bytes given back."""
        try:
            size = self.reserve_path.stat().st_size
            os.unlink(self.reserve_path)
        except OSError:  # not there, or the medium refuses (read-only, I/O error)
            return 0
        return size
