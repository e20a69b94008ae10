"""What a power cut leaves on the card: the durable state, not the page cache.

A process killed with SIGKILL keeps everything it handed to the kernel, because
the page cache survives it; a pulled battery does not. This model keeps, beside
the real files under the data directory, what a cut at this instant would leave:

- per file, the *durable content* (as of its last ``fsync``/``fdatasync``) and
  the writes and truncations since, in order;
- per directory, the *durable entries* (as of the directory's last ``fsync``)
  and the creates, renames, links and removals since, in order.

``cut(rng)`` then rewrites the data directory to that state: strict (``rng`` is
None) keeps only what was durable; torn keeps, in addition, a random in-order
prefix of each file's pending writes and of each directory's pending entry
changes, as a card that got part of the queue out before the power died.

Content is not copied at every write: a file's durable content is "the first
``durable_len`` bytes of the file on disk" until something is about to
overwrite, truncate or remove those bytes; only then is it read into memory.
So the model costs little beyond the pending writes since the last fsync.
"""

from __future__ import annotations

import os
import random
import stat
from dataclasses import dataclass, field
from pathlib import Path

#: A pending file change: (offset, data) for a write, (None, length) for a truncate.
FileOp = tuple[int | None, bytes | int]


@dataclass
class FileNode:
    """One file (an inode) as the card holds it."""

    id: int
    durable_len: int = 0
    durable_bytes: bytes | None = None  # set once the disk no longer holds them
    pending: list[FileOp] = field(default_factory=list)
    mode: int = 0o644


@dataclass
class DirNode:
    """One directory: its durable entries (name -> node id) and what changed since."""

    id: int
    durable: dict[str, int] = field(default_factory=dict)
    # ("add", name, node) | ("remove", name, 0) | ("rename", old, node, new)
    pending: list[tuple[str, ...]] = field(default_factory=list)


Node = FileNode | DirNode


class DurableMedium:
    """The durable-state shadow of the directory tree under ``root``."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = os.path.realpath(root)
        self._nodes: dict[int, Node] = {}
        self._live: dict[int, int] = {}  # st_ino of a file or dir on disk -> node id
        self._next = 0
        if os.path.isdir(self.root):
            self.root_node = self._scan_dir(self.root)
        else:  # the firmware makes its data directory later: it starts empty
            empty = self._new(DirNode(self._id()))
            assert isinstance(empty, DirNode)
            self.root_node = empty

    # -- identity -----------------------------------------------------------------------

    def _new(self, node: Node) -> Node:
        self._nodes[node.id] = node
        return node

    def _id(self) -> int:
        self._next += 1
        return self._next

    def _scan_dir(self, path: str) -> DirNode:
        """Everything on disk when the model starts is durable (it survived the last boot)."""
        d = self._new(DirNode(self._id()))
        assert isinstance(d, DirNode)
        self._live[os.lstat(path).st_ino] = d.id
        with os.scandir(path) as it:
            for entry in sorted(it, key=lambda e: e.name):
                d.durable[entry.name] = self._adopt(entry.path).id
        return d

    def _adopt(self, path: str) -> Node:
        """The node of an existing path (a node is made if the model has not seen it)."""
        st = os.lstat(path)
        known = self._live.get(st.st_ino)
        if known is not None:
            return self._nodes[known]
        if stat.S_ISDIR(st.st_mode):
            return self._scan_dir(path)
        node = self._new(FileNode(self._id(), durable_len=st.st_size,
                                  mode=stat.S_IMODE(st.st_mode)))
        self._live[st.st_ino] = node.id
        return node

    def node_at(self, path: str) -> Node | None:
        """The node of a path on disk now, or None if nothing is there."""
        try:
            return self._adopt(path)
        except FileNotFoundError:
            return None

    def node_of_fd(self, fd: int) -> Node:
        st = os.fstat(fd)
        known = self._live.get(st.st_ino)
        if known is not None:
            return self._nodes[known]
        node = self._new(FileNode(self._id(), durable_len=st.st_size))
        self._live[st.st_ino] = node.id
        return node

    def _parent(self, path: str) -> tuple[DirNode, str]:
        parent = self.node_at(os.path.dirname(path))
        assert isinstance(parent, DirNode), path
        return parent, os.path.basename(path)

    # -- file content -------------------------------------------------------------------

    def _keep_durable(self, node: FileNode, source: str | int) -> None:
        """Read the durable bytes into memory before the disk loses them."""
        if node.durable_bytes is not None or node.durable_len == 0:
            return
        # Through /proc for an fd: it may be write-only, or its file already unlinked.
        path = f"/proc/self/fd/{source}" if isinstance(source, int) else source
        with open(path, "rb") as f:
            node.durable_bytes = f.read(node.durable_len)

    def before_write(self, fd: int, offset: int) -> FileNode | None:
        node = self.node_of_fd(fd)
        if isinstance(node, FileNode) and offset < node.durable_len:
            self._keep_durable(node, fd)
        return node if isinstance(node, FileNode) else None

    def wrote(self, node: FileNode, offset: int, data: bytes) -> None:
        if data:
            node.pending.append((offset, data))

    def before_truncate(self, node: FileNode, source: str | int, length: int) -> None:
        if length < node.durable_len:
            self._keep_durable(node, source)

    def truncated(self, node: FileNode, length: int) -> None:
        node.pending.append((None, length))

    def synced(self, fd: int) -> None:
        """fsync/fdatasync: a file's content, or a directory's entries, are now durable."""
        node = self.node_of_fd(fd)
        if isinstance(node, FileNode):
            node.durable_len = os.fstat(fd).st_size
            node.durable_bytes = None
            node.pending.clear()
            return
        path = os.readlink(f"/proc/self/fd/{fd}")
        with os.scandir(path) as it:
            node.durable = {e.name: self._adopt(e.path).id for e in it}
        node.pending.clear()

    # -- directory entries --------------------------------------------------------------

    def created(self, path: str, *, directory: bool = False) -> None:
        """A new file or directory at ``path`` (already on disk)."""
        st = os.lstat(path)
        if os.path.realpath(path) == self.root:  # the data directory itself appears
            self._live[st.st_ino] = self.root_node.id
            return
        node: Node = (DirNode(self._id()) if directory
                      else FileNode(self._id(), mode=stat.S_IMODE(st.st_mode)))
        self._new(node)
        self._live[st.st_ino] = node.id
        parent, name = self._parent(path)
        parent.pending.append(("add", name, str(node.id)))

    def linked(self, path: str) -> None:
        """A second name for an existing file (``os.link``), already on disk."""
        node = self.node_at(path)
        assert node is not None
        parent, name = self._parent(path)
        parent.pending.append(("add", name, str(node.id)))

    def before_remove(self, path: str) -> None:
        """``path`` is about to go (unlink, rmdir, or replaced by a rename)."""
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            return
        node = self.node_at(path)
        if isinstance(node, FileNode) and st.st_nlink <= 1:
            self._keep_durable(node, path)
            self._live.pop(st.st_ino, None)
        elif isinstance(node, DirNode):
            self._live.pop(st.st_ino, None)

    def removed(self, path: str) -> None:
        parent, name = self._parent(path)
        parent.pending.append(("remove", name, "0"))

    def before_rename(self, dst: str) -> None:
        if os.path.lexists(dst):
            self.before_remove(dst)

    def renamed(self, src: str, dst: str) -> None:
        src_parent, src_name = self._parent(src)
        dst_parent, dst_name = self._parent(dst)
        node = self.node_at(dst)
        assert node is not None
        if src_parent is dst_parent:
            src_parent.pending.append(("rename", src_name, str(node.id), dst_name))
        else:  # across directories: each directory's fsync decides its own half
            src_parent.pending.append(("remove", src_name, "0"))
            dst_parent.pending.append(("add", dst_name, str(node.id)))

    # -- the cut ------------------------------------------------------------------------

    def pending_counts(self) -> dict[str, int]:
        """How much is not durable now: pending file writes and directory changes."""
        files = sum(len(n.pending) for n in self._nodes.values() if isinstance(n, FileNode))
        dirs = sum(len(n.pending) for n in self._nodes.values() if isinstance(n, DirNode))
        return {"file_ops": files, "dir_ops": dirs}

    def _entries(self, d: DirNode, rng: random.Random | None) -> dict[str, int]:
        entries = dict(d.durable)
        ops = d.pending[: rng.randint(0, len(d.pending))] if rng and d.pending else []
        for op in ops:
            if op[0] == "add":
                entries[op[1]] = int(op[2])
            elif op[0] == "remove":
                entries.pop(op[1], None)
            else:
                entries.pop(op[1], None)
                entries[op[3]] = int(op[2])
        return entries

    def _content(self, node: FileNode, disk: dict[int, str],
                 rng: random.Random | None) -> bytes | None:
        """The bytes the cut leaves in a file; None: keep the disk's first durable_len."""
        ops = node.pending[: rng.randint(0, len(node.pending))] if rng and node.pending else []
        if node.durable_bytes is None and not ops:
            return None
        if node.durable_bytes is not None:
            data = bytearray(node.durable_bytes)
        else:
            with open(disk[node.id], "rb") as f:
                data = bytearray(f.read(node.durable_len))
        for offset, payload in ops:
            if offset is None:
                assert isinstance(payload, int)
                del data[payload:]
                data.extend(bytes(max(0, payload - len(data))))
            else:
                assert isinstance(payload, bytes)
                if offset > len(data):
                    data.extend(bytes(offset - len(data)))
                data[offset:offset + len(payload)] = payload
        return bytes(data)

    def cut(self, rng: random.Random | None = None) -> dict[str, int]:
        """Rewrite ``root`` to what survives a power cut now; return what was dropped.

        Must run with the real ``os`` functions (the caller has unwrapped them).
        """
        disk: dict[int, str] = {}  # node id -> a current path holding its bytes
        for dirpath, dirnames, filenames in os.walk(self.root):
            for name in dirnames + filenames:
                p = os.path.join(dirpath, name)
                known = self._live.get(os.lstat(p).st_ino)
                if known is not None:
                    disk.setdefault(known, p)
        files: dict[str, tuple[FileNode, bytes | None]] = {}
        dirs: list[str] = []
        stack: list[tuple[str, DirNode]] = [(self.root, self.root_node)]
        while stack:
            path, d = stack.pop()
            for name, nid in sorted(self._entries(d, rng).items()):
                node, child = self._nodes[nid], os.path.join(path, name)
                if isinstance(node, DirNode):
                    dirs.append(child)
                    stack.append((child, node))
                else:
                    files[child] = (node, self._content(node, disk, rng))
        # Files whose surviving bytes are a prefix of what is at the same path now
        # are cut short in place; everything else is read now, removed and written afresh.
        keep = {p for p, (node, data) in files.items()
                if data is None and disk.get(node.id) == p}
        fresh: dict[str, bytes] = {}
        for p, (node, data) in files.items():
            if p in keep:
                continue
            if data is None:  # elsewhere on disk now (renamed, or a second name)
                where = disk.get(node.id)
                data = b""
                if where is not None:
                    with open(where, "rb") as f:
                        data = f.read(node.durable_len)
            fresh[p] = data
        wanted_dirs = set(dirs)
        dropped = {"files_removed": 0, "bytes_dropped": 0}
        for dirpath, dirnames, filenames in os.walk(self.root, topdown=False):
            for name in filenames:
                p = os.path.join(dirpath, name)
                if p not in keep:
                    if p not in files:
                        dropped["files_removed"] += 1
                        dropped["bytes_dropped"] += os.lstat(p).st_size
                    os.unlink(p)
            for name in dirnames:
                p = os.path.join(dirpath, name)
                if p not in wanted_dirs:
                    os.rmdir(p)
        for p in sorted(wanted_dirs):
            os.makedirs(p, exist_ok=True)
        for p in keep:
            node = files[p][0]
            dropped["bytes_dropped"] += max(0, os.path.getsize(p) - node.durable_len)
            os.truncate(p, node.durable_len)
        for p, data in fresh.items():
            Path(p).write_bytes(data)
            os.chmod(p, files[p][0].mode)
        return dropped
