"""Small file-system helpers with the durability the evidence format relies on."""

from __future__ import annotations

import hashlib
import os
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
