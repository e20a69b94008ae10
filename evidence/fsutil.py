"""Small file-system helpers with the durability the evidence format relies on."""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path


def write_all(fd: int, data: bytes | memoryview) -> None:
    """Write every byte (os.write may write less than asked)."""
    writev_all(fd, [data])


def writev_all(fd: int, parts: list[bytes | memoryview]) -> None:
    """Write several buffers in order, as one ``writev`` where the OS takes them all:
    a chunk's record goes out without first being copied into one string."""
    views = [memoryview(p).cast("B") for p in parts if len(p)]
    while views:
        n = os.writev(fd, views)
        while views and n >= len(views[0]):
            n -= len(views[0])
            views.pop(0)
        if n:
            views[0] = views[0][n:]


def fsync_dir(path: Path) -> None:
    """fsync a directory so a new or renamed entry in it survives power loss."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(path: Path, data: bytes, *, replace: bool = True) -> None:
    """Write ``path`` all-or-nothing: temp file, fsync, rename, fsync the directory.

    With ``replace=False`` an existing ``path`` is never replaced
    (FileExistsError), which is how evidence files stay write-once.
    """
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        write_all(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    if replace:
        os.replace(tmp, path)
    else:
        try:
            os.link(tmp, path)  # fails if path exists: never overwrite
        except FileExistsError:
            os.unlink(tmp)
            raise
        except OSError:  # no hard links here (e.g. FAT): check, then rename
            if path.exists():
                os.unlink(tmp)
                raise FileExistsError(str(path)) from None
            os.replace(tmp, path)
        else:
            os.unlink(tmp)
    fsync_dir(path.parent)


def sha256_file(path: Path) -> tuple[bytes, int]:
    """SHA-256 and size of a file as it is on disk."""
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            digest.update(block)
            size += len(block)
    return digest.digest(), size


def read_regular(path: Path, limit: int) -> bytes:
    """Read a regular file of at most ``limit`` bytes, never following a symlink or
    opening a FIFO or device (which could hang or feed endless bytes).

    Raises FileNotFoundError, or OSError naming what is wrong.
    """
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        if exc.errno == getattr(os, "ELOOP", -1) or Path(path).is_symlink():
            raise OSError(exc.errno, "is a symbolic link (not followed)") from None
        raise
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise OSError(0, "not a regular file")
        if st.st_size > limit:
            raise OSError(0, f"larger than {limit} bytes")
        data = os.read(fd, limit + 1)
        if len(data) > limit:
            raise OSError(0, f"larger than {limit} bytes")
        return data
    finally:
        os.close(fd)


def write_new_file(path: Path, data: bytes) -> None:
    """Create ``path`` with ``data``: never through a symlink (a dangling one included),
    never over an existing file. One-line OutputExistsError / EvidenceInputError."""
    from evidence.errors import EvidenceInputError, OutputExistsError
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(path, flags, 0o644)
    except FileExistsError:
        what = "a symbolic link" if Path(path).is_symlink() else "a file"
        raise OutputExistsError(f"{path}: {what} is already there; nothing is written "
                                "through or over it (choose another name)") from None
    except OSError as exc:
        raise EvidenceInputError(f"{path}: cannot create: {exc.strerror or exc}") from None
    try:
        write_all(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
