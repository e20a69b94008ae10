"""The simulated medium under the evidence directory: faults, and what a power cut keeps.

The firmware writes evidence through the operating system's file calls
(``os.open``/``write``/``writev``/``fsync``, ``os.replace``/``link``/``unlink``,
``os.mkdir``, ``os.statvfs`` for free space), so this is the library surface the
simulation replaces, the way the fake ``picamera2`` replaces the camera: while
installed, those ``os`` functions are wrapped, and calls on files under ``root``
see the simulated medium; every other file in the process is untouched. A real
full or failing file system would need root (a tiny tmpfs, a device-mapper error
target), which CI does not have.

- ``storage_full`` (scenario key ``free_bytes``): from that moment the medium
  has that many bytes left. A write that does not fit is cut short, the next
  one fails with ENOSPC, as the kernel does. Deleting or truncating a file
  under ``root`` gives its bytes back, so a reserve file the firmware keeps
  can be released to make room, and the free space ``os.statvfs`` reports is
  the simulated one.
- ``storage_free``: the card was offloaded: from then on the real file system's
  free space again, so the firmware's retry and its reserve come back.
- ``io_error`` (``count``, ``op`` = write, fsync or any): the next ``count``
  such calls on files under ``root`` fail with EIO, as a failing card's do.
- ``storage_readonly``: opening a file under ``root`` for writing fails with
  EROFS, as after the kernel remounts a failing card read-only.
- ``fsync_delay_s`` (an attribute, for the benchmarks): every fsync under
  ``root`` takes at least this long in real time, as on a slow SD card.
- ``power_cut`` (``mode`` strict or torn, ``seed``): the data directory is
  rewritten to what :class:`hw_sim.medium.DurableMedium` says survives (only
  what was fsync'd; torn: plus a prefix of what was pending), then the
  process dies. Every call that changes the medium is an *operation*, counted
  by :meth:`World.medium_op`, so a scenario can cut after exactly the n-th.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import random
import time
from pathlib import Path
from typing import Any

from hw_sim.medium import DurableMedium, FileNode
from hw_sim.world import Fault, World

_WRAPPED = ("open", "close", "write", "writev", "fsync", "fdatasync", "statvfs", "unlink",
            "remove", "ftruncate", "replace", "rename", "link", "mkdir", "rmdir")
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
#: The medium lost power: nothing reaches it any more (the process is about to die).
_DEAD = errno.EIO


class StorageSim:
    """The simulated medium under ``root``; subscribe to the world's storage faults.

    ``trace``: a file (outside ``root``) that gets one JSON line per medium
    operation when the run ends or the power is cut (``bodycam run --storage-trace``).
    """

    def __init__(self, world: World, root: str | os.PathLike[str], *,
                 trace: str | os.PathLike[str] | None = None) -> None:
        self.world = world
        self.root = os.path.realpath(root)
        self.free: int | None = None  # None: the real file system's numbers
        self.failures: dict[str, int] = {}
        self.readonly = False
        self.fsync_delay_s = 0.0
        self.dead = False
        self.medium: DurableMedium | None = None
        self.trace_path = None if trace is None else Path(trace)
        if self.trace_path is not None:
            world.op_trace = []
        # Our open fds under root -> (opened with O_APPEND, st_dev, st_ino). The file's
        # identity is kept because a file object closes its fd without os.close: the
        # number can come back as another thread's pipe (picamera2's notify pipe did).
        self._fds: dict[int, tuple[bool, int, int]] = {}
        self._real: dict[str, Any] = {}
        world.on_fault("storage_full", self._full)
        world.on_fault("storage_free", self._freed)
        world.on_fault("io_error", self._io_error)
        world.on_fault("storage_readonly", self._readonly)
        world.on_fault("power_cut", self._power_cut)

    # -- faults ------------------------------------------------------------------------

    def _full(self, fault: Fault) -> None:
        self.free = int(fault.params.get("free_bytes", 0))

    def _freed(self, _fault: Fault) -> None:
        """The card was offloaded: the real file system's free space again."""
        self.free = None

    def _readonly(self, _fault: Fault) -> None:
        self.readonly = True

    def _io_error(self, fault: Fault) -> None:
        op = str(fault.params.get("op", "write"))
        self.failures[op] = self.failures.get(op, 0) + int(fault.params.get("count", 1))

    def _power_cut(self, fault: Fault) -> None:
        """Leave on disk only what survives; nothing under ``root`` works afterwards."""
        if self.dead or self.medium is None:
            return
        medium = self.medium
        self.uninstall()  # the rewrite uses the real calls
        self.dead = True
        torn = fault.params.get("mode", "strict") == "torn"
        rng = random.Random(int(fault.params.get("seed", 0))) if torn else None
        pending = medium.pending_counts()
        dropped = medium.cut(rng)
        self.world.log("power_cut_medium", mode="torn" if torn else "strict", **pending,
                       **dropped)
        self.install()  # so that whatever still runs before the kill finds a dead medium

    # -- install -----------------------------------------------------------------------

    def install(self) -> None:
        """Wrap the ``os`` calls; :meth:`uninstall` puts the originals back."""
        if self._real:
            return
        if self.medium is None:
            self.medium = DurableMedium(self.root)
        self._real = {name: getattr(os, name) for name in _WRAPPED}
        for name in _WRAPPED:
            setattr(os, name, getattr(self, "_" + name))

    def uninstall(self) -> None:
        for name, fn in self._real.items():
            setattr(os, name, fn)
        self._real = {}

    def close(self) -> None:
        """Put the ``os`` calls back and write the operation trace, if one was asked for."""
        self.uninstall()
        self.write_trace()

    def write_trace(self) -> None:
        if self.trace_path is None or self.world.op_trace is None:
            return
        with open(self.trace_path, "w", encoding="utf-8") as f:
            for entry in self.world.op_trace:
                f.write(json.dumps(entry, sort_keys=True) + "\n")

    # -- which calls are ours ----------------------------------------------------------

    def _path_under_root(self, path: str | os.PathLike[str]) -> bool:
        real = os.path.realpath(path)
        return real == self.root or real.startswith(self.root + os.sep)

    def _ours(self, path: Any, dir_fd: int | None = None) -> bool:
        return dir_fd is None and not isinstance(path, int) and self._path_under_root(path)

    def _fd_under_root(self, fd: int) -> bool:
        known = self._fds.get(fd)
        try:
            st = os.fstat(fd)
        except OSError:
            return False
        if known is not None:
            if (known[1], known[2]) == (st.st_dev, st.st_ino):
                return True
            del self._fds[fd]  # closed behind our back; the number is something else now
        try:  # opened before install (e.g. the audit log of a test), or reused
            ours = self._path_under_root(os.readlink(f"/proc/self/fd/{fd}"))
        except OSError:
            return False
        if ours:
            append = bool(fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_APPEND)
            self._fds[fd] = (append, st.st_dev, st.st_ino)
        return ours

    def _rel(self, path: Any) -> str:
        return os.path.relpath(os.path.realpath(path), self.root)

    def _maybe_fail(self, op: str) -> None:
        if self.dead:
            raise OSError(_DEAD, "the medium lost power")
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

    def _op(self, kind: str, path: Any, **detail: Any) -> None:
        """One operation on the medium happened: count it (a power cut may follow)."""
        self.world.medium_op(kind, path=path if isinstance(path, str) else self._rel(path),
                             **detail)

    def _fd_path(self, fd: int) -> str:
        return self._rel(os.readlink(f"/proc/self/fd/{fd}"))

    # -- the wrapped calls -------------------------------------------------------------

    def _open(self, path: Any, flags: int, mode: int = 0o777, *, dir_fd: int | None = None) -> int:
        if not self._ours(path, dir_fd):
            return self._real["open"](path, flags, mode, dir_fd=dir_fd)
        assert self.medium is not None
        if flags & _WRITE_FLAGS:
            if self.dead:
                raise OSError(_DEAD, "the medium lost power", str(path))
            if self.readonly:
                raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(path))
        creates = bool(flags & os.O_CREAT) and not os.path.lexists(path)
        node = None if creates or not flags & os.O_TRUNC else self.medium.node_at(str(path))
        if isinstance(node, FileNode):
            self.medium.before_truncate(node, str(path), 0)
        fd = self._real["open"](path, flags, mode, dir_fd=dir_fd)
        st = os.fstat(fd)
        self._fds[fd] = (bool(flags & os.O_APPEND), st.st_dev, st.st_ino)
        if creates:
            self.medium.created(str(path))
            self._op("create", path)
        elif isinstance(node, FileNode):
            self.medium.truncated(node, 0)
            self._op("truncate", path, length=0)
        return fd

    def _close(self, fd: int) -> None:
        self._fds.pop(fd, None)
        self._real["close"](fd)

    def _offset(self, fd: int) -> int:
        if self._fds[fd][0]:
            return os.fstat(fd).st_size
        return os.lseek(fd, 0, os.SEEK_CUR)

    def _write(self, fd: int, data: Any) -> int:
        if not self._fd_under_root(fd):
            return self._real["write"](fd, data)
        return self._writev(fd, [data])

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
        assert self.medium is not None
        offset = self._offset(fd)
        node = self.medium.before_write(fd, offset)
        n = self._real["writev"](fd, views)
        if self.free is not None:
            self.free -= n
        if node is not None and n:
            self.medium.wrote(node, offset, b"".join(views)[:n])
            self._op("write", self._fd_path(fd), offset=offset, bytes=n)
        return n

    def _sync(self, fd: int, name: str) -> None:
        if not self._fd_under_root(fd):
            self._real[name](fd)
            return
        self._maybe_fail("fsync")
        self._slow()
        self._real[name](fd)
        assert self.medium is not None
        self.medium.synced(fd)
        self._op(name, self._fd_path(fd))

    def _fsync(self, fd: int) -> None:
        self._sync(fd, "fsync")

    def _fdatasync(self, fd: int) -> None:
        self._sync(fd, "fdatasync")

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
        if not self._ours(path, dir_fd):
            self._real["unlink"](path, dir_fd=dir_fd)
            return
        if self.dead:
            raise OSError(_DEAD, "the medium lost power", str(path))
        assert self.medium is not None
        size = 0
        if self.free is not None:
            try:
                size = Path(path).stat().st_size
            except OSError:
                size = 0
        self.medium.before_remove(str(path))
        self._real["unlink"](path)
        self.medium.removed(str(path))
        if self.free is not None:
            self.free = (self.free or 0) + size
        self._op("unlink", path)

    _remove = _unlink

    def _ftruncate(self, fd: int, length: int) -> None:
        if not self._fd_under_root(fd):
            self._real["ftruncate"](fd, length)
            return
        if self.dead:
            raise OSError(_DEAD, "the medium lost power")
        assert self.medium is not None
        before = os.fstat(fd).st_size
        node = self.medium.node_of_fd(fd)
        if isinstance(node, FileNode):
            self.medium.before_truncate(node, fd, length)
        self._real["ftruncate"](fd, length)
        if isinstance(node, FileNode):
            self.medium.truncated(node, length)
        if self.free is not None and before > length:
            self.free = (self.free or 0) + before - length
        self._op("truncate", self._fd_path(fd), length=length)

    def _move(self, name: str, src: Any, dst: Any, *, src_dir_fd: int | None = None,
              dst_dir_fd: int | None = None) -> None:
        if not (self._ours(src, src_dir_fd) and self._ours(dst, dst_dir_fd)):
            self._real[name](src, dst, src_dir_fd=src_dir_fd, dst_dir_fd=dst_dir_fd)
            return
        if self.dead:
            raise OSError(_DEAD, "the medium lost power", str(src))
        assert self.medium is not None
        self.medium.before_rename(str(dst))
        self._real[name](src, dst)
        self.medium.renamed(str(src), str(dst))
        self._op("rename", src, to=self._rel(dst))

    def _replace(self, src: Any, dst: Any, **kw: Any) -> None:
        self._move("replace", src, dst, **kw)

    def _rename(self, src: Any, dst: Any, **kw: Any) -> None:
        self._move("rename", src, dst, **kw)

    def _link(self, src: Any, dst: Any, **kw: Any) -> None:
        if kw or not (self._ours(src) and self._ours(dst)):
            self._real["link"](src, dst, **kw)
            return
        if self.dead:
            raise OSError(_DEAD, "the medium lost power", str(dst))
        assert self.medium is not None
        self._real["link"](src, dst)
        self.medium.linked(str(dst))
        self._op("link", dst, source=self._rel(src))

    def _mkdir(self, path: Any, mode: int = 0o777, *, dir_fd: int | None = None) -> None:
        if not self._ours(path, dir_fd):
            self._real["mkdir"](path, mode, dir_fd=dir_fd)
            return
        if self.dead:
            raise OSError(_DEAD, "the medium lost power", str(path))
        assert self.medium is not None
        self._real["mkdir"](path, mode)
        self.medium.created(str(path), directory=True)
        self._op("mkdir", path)

    def _rmdir(self, path: Any, *, dir_fd: int | None = None) -> None:
        if not self._ours(path, dir_fd):
            self._real["rmdir"](path, dir_fd=dir_fd)
            return
        if self.dead:
            raise OSError(_DEAD, "the medium lost power", str(path))
        assert self.medium is not None
        self.medium.before_remove(str(path))
        self._real["rmdir"](path)
        self.medium.removed(str(path))
        self._op("rmdir", path)
