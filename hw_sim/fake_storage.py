"""Storage faults under the evidence directory: a full card, I/O errors.

The firmware writes evidence through the operating system's file calls
(``os.open``/``write``/``writev``/``fsync``, ``os.statvfs`` for free space), so
this is the library surface the simulation replaces, the way the fake
``picamera2`` replaces the camera: while installed, those ``os`` functions are
wrapped, and calls on files under ``root`` see the simulated medium; every
other file in the process is untouched. A real full or failing file system
would need root (a tiny tmpfs, a device-mapper error target), which CI does
not have.

- ``storage_full`` (scenario key ``free_bytes``): from that moment the medium
  has that many bytes left. A write that does not fit is cut short, the next
  one fails with ENOSPC, as the kernel does. Deleting or truncating a file
  under ``root`` gives its bytes back, so a reserve file the firmware keeps
  can be released to make room, and the free space ``os.statvfs`` reports is
  the simulated one.
- ``io_error`` (``count``, ``op`` = write, fsync or any): the next ``count``
  such calls on files under ``root`` fail with EIO, as a failing card's do.
- ``storage_readonly``: opening a file under ``root`` for writing fails with
  EROFS, as after the kernel remounts a failing card read-only.
- ``fsync_delay_s`` (an attribute, for the benchmarks): every fsync under
  ``root`` takes at least this long in real time, as on a slow SD card.
"""

from __future__ import annotations

import errno
import os
import time
from pathlib import Path
from typing import Any

from hw_sim.world import Fault, World

_WRAPPED = ("open", "write", "writev", "fsync", "fdatasync", "statvfs", "unlink", "remove",
            "ftruncate")
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND


class StorageSim:
    """The simulated medium under ``root``; subscribe to the world's storage faults."""

    def __init__(self, world: World, root: str | os.PathLike[str]) -> None:
        self.root = os.path.realpath(root)
        self.free: int | None = None  # None: the real file system's numbers
        self.failures: dict[str, int] = {}
        self.readonly = False
        self.fsync_delay_s = 0.0
        self._real: dict[str, Any] = {}
        world.on_fault("storage_full", self._full)
        world.on_fault("io_error", self._io_error)
        world.on_fault("storage_readonly", self._readonly)

    # -- faults ------------------------------------------------------------------------

    def _full(self, fault: Fault) -> None:
        self.free = int(fault.params.get("free_bytes", 0))

    def _readonly(self, _fault: Fault) -> None:
        self.readonly = True

    def _io_error(self, fault: Fault) -> None:
        op = str(fault.params.get("op", "write"))
        self.failures[op] = self.failures.get(op, 0) + int(fault.params.get("count", 1))

    # -- install -----------------------------------------------------------------------

    def install(self) -> None:
        """Wrap the ``os`` calls; :meth:`uninstall` puts the originals back."""
        if self._real:
            return
        self._real = {name: getattr(os, name) for name in _WRAPPED}
        os.open = self._open
        os.write = self._write
        os.writev = self._writev
        os.fsync = self._fsync
        os.fdatasync = self._fdatasync
        os.statvfs = self._statvfs
        os.unlink = self._unlink
        os.remove = self._unlink
        os.ftruncate = self._ftruncate

    def uninstall(self) -> None:
        for name, fn in self._real.items():
            setattr(os, name, fn)
        self._real = {}

    # -- which calls are ours ----------------------------------------------------------

    def _path_under_root(self, path: str | os.PathLike[str]) -> bool:
        real = os.path.realpath(path)
        return real == self.root or real.startswith(self.root + os.sep)

    def _fd_under_root(self, fd: int) -> bool:
        try:
            return self._path_under_root(os.readlink(f"/proc/self/fd/{fd}"))
        except OSError:
            return False

    def _maybe_fail(self, op: str) -> None:
        for key in (op, "any"):
            if self.failures.get(key, 0) > 0:
                self.failures[key] -= 1
                raise OSError(errno.EIO, os.strerror(errno.EIO))

    def _room(self) -> int | None:
        if self.free is None:
            return None
        if self.free <= 0:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return self.free

    # -- the wrapped calls -------------------------------------------------------------

    def _open(self, path: Any, flags: int, mode: int = 0o777, *, dir_fd: int | None = None) -> int:
        if self.readonly and flags & _WRITE_FLAGS and dir_fd is None and self._path_under_root(path):
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(path))
        return self._real["open"](path, flags, mode, dir_fd=dir_fd)

    def _write(self, fd: int, data: Any) -> int:
        if not self._fd_under_root(fd):
            return self._real["write"](fd, data)
        self._maybe_fail("write")
        room = self._room()
        view = memoryview(data).cast("B")
        n = self._real["write"](fd, view if room is None else view[:room])
        if self.free is not None:
            self.free -= n
        return n

    def _writev(self, fd: int, buffers: Any) -> int:
        if not self._fd_under_root(fd):
            return self._real["writev"](fd, buffers)
        self._maybe_fail("write")
        room = self._room()
        views = [memoryview(b).cast("B") for b in buffers]
        if room is not None:
            cut = []
            for v in views:
                if room <= 0:
                    break
                cut.append(v[:room])
                room -= len(cut[-1])
            views = cut
        n = self._real["writev"](fd, views)
        if self.free is not None:
            self.free -= n
        return n

    def _fsync(self, fd: int) -> None:
        if self._fd_under_root(fd):
            self._maybe_fail("fsync")
            self._slow()
        self._real["fsync"](fd)

    def _fdatasync(self, fd: int) -> None:
        if self._fd_under_root(fd):
            self._maybe_fail("fsync")
            self._slow()
        self._real["fdatasync"](fd)

    def _slow(self) -> None:
        if self.fsync_delay_s > 0:
            time.sleep(self.fsync_delay_s)

    def _statvfs(self, path: Any) -> os.statvfs_result:
        st = self._real["statvfs"](path)
        if self.free is None or not self._path_under_root(path):
            return st
        blocks = max(0, self.free) // st.f_frsize
        fields = list(st)
        fields[3] = min(st.f_bfree, blocks)  # f_bfree
        fields[4] = min(st.f_bavail, blocks)  # f_bavail
        return os.statvfs_result(fields)

    def _unlink(self, path: Any, *, dir_fd: int | None = None) -> None:
        size = 0
        ours = dir_fd is None and self.free is not None and self._path_under_root(path)
        if ours:
            try:
                size = Path(path).stat().st_size
            except OSError:
                size = 0
        self._real["unlink"](path, dir_fd=dir_fd)
        if ours:
            self.free = (self.free or 0) + size

    def _ftruncate(self, fd: int, length: int) -> None:
        before = None
        if self.free is not None and self._fd_under_root(fd):
            before = os.fstat(fd).st_size
        self._real["ftruncate"](fd, length)
        if before is not None and before > length:
            self.free = (self.free or 0) + before - length
