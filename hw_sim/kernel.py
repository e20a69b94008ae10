"""The kernel devices picamera2 opens itself, simulated per board.

picamera2 talks to three device nodes without going through libcamera:

* ``/dev/videoN``, probed once at import with VIDIOC_QUERYCAP to tell a Pi 5
  ("pispbe") from older boards ("bcm2835-isp") (``picamera2/platform.py``);
* ``/dev/dma_heap/*``, where its DmaAllocator gets frame buffers with
  DMA_HEAP_IOCTL_ALLOC, names them with DMA_BUF_SET_NAME and brackets CPU
  access with DMA_BUF_IOCTL_SYNC (``picamera2/dma_heap.py``,
  ``allocators/dmaallocator.py``);
* ``/dev/video11``, the V4L2 H.264 encoder of a Pi 4
  (``encoders/v4l2_encoder.py``): :mod:`hw_sim.v4l2_m2m`.

Only those modules are given the simulated kernel: :class:`KernelFinder`
imports them with their own ``__builtins__``, whose ``__import__`` hands them
this module's ``os``/``fcntl``/``mmap``/``select`` front ends and whose ``open``
knows the device nodes. Any other path or file descriptor goes to the real
call, so the rest of the process is untouched. A dma-heap buffer is a memfd, so
``mmap`` (and picamera2's ``MappedArray``) works on it as on a dma-buf.
"""

from __future__ import annotations

import builtins
import ctypes
import fcntl as _fcntl
import importlib.abc
import importlib.machinery
import mmap as _mmap
import os as _os
import select as _select
import sys
import threading
import types
from typing import Any

from hw_sim.board import Board

#: picamera2 modules that make kernel calls of their own.
KERNEL_MODULES = (
    "picamera2.platform",
    "picamera2.dma_heap",
    "picamera2.allocators.dmaallocator",
    "picamera2.encoders.v4l2_encoder",
)

_IOC_NRSHIFT, _IOC_TYPESHIFT = 0, 8


def _ioc_type_nr(request: int) -> tuple[str, int]:
    return chr((request >> _IOC_TYPESHIFT) & 0xFF), (request >> _IOC_NRSHIFT) & 0xFF


class _Node:
    """An open simulated device: a real fd (of /dev/null) stands for it."""

    def __init__(self, kind: str, board: Board) -> None:
        self.kind = kind
        self.board = board
        self.device: Any = None


class Kernel:
    """Device nodes and the dma-bufs handed out, keyed by file descriptor."""

    def __init__(self) -> None:
        #: The board whose devices exist; hw_sim.install sets it from the world (and it
        #: stays after uninstall, for objects picamera2 makes while closing down).
        self.board = Board.PI5
        self._lock = threading.Lock()
        self._nodes: dict[int, _Node] = {}
        self._dmabufs: set[int] = set()

    # -- what exists --------------------------------------------------------

    def _board(self) -> Board:
        return self.board

    def node_kind(self, path: str) -> str | None:
        """Which simulated device ``path`` names on the current board, or None."""
        board = self._board()
        if path == "/dev/video0":
            return "isp"
        if path == "/dev/video11" and board.hardware_encoder:
            return "encoder"
        heap = "/dev/dma_heap/vidbuf_cached" if board is Board.PI5 else "/dev/dma_heap/linux,cma"
        if path == heap:
            return "heap"
        return None

    def _register(self, kind: str) -> int:
        fd = _os.open(_os.devnull, _os.O_RDWR | _os.O_CLOEXEC)
        node = _Node(kind, self._board())
        if kind == "encoder":
            from hw_sim.v4l2_m2m import EncoderDevice

            node.device = EncoderDevice(fd)
        with self._lock:
            self._nodes[fd] = node
        return fd

    def node(self, fd: Any) -> _Node | None:
        """The simulated device behind ``fd`` (an int or an object with fileno())."""
        try:
            num = fd if isinstance(fd, int) else fd.fileno()
        except (AttributeError, ValueError):
            return None
        with self._lock:
            return self._nodes.get(num)

    def forget(self, fd: int) -> None:
        """A descriptor was closed."""
        with self._lock:
            node = self._nodes.pop(fd, None)
            self._dmabufs.discard(fd)
        if node is not None and node.device is not None:
            node.device.close()

    # -- the calls ----------------------------------------------------------

    def os_open(self, path: Any, flags: int, mode: int = 0o777, **kw: Any) -> int:
        kind = self.node_kind(_os.fspath(path)) if isinstance(path, (str, _os.PathLike)) else None
        if kind is not None:
            return self._register(kind)
        if isinstance(path, str) and path.startswith(("/dev/dma_heap/", "/dev/video")):
            raise FileNotFoundError(2, "No such file or directory", path)
        return _os.open(path, flags, mode, **kw)

    def os_close(self, fd: int) -> None:
        self.forget(fd)
        _os.close(fd)

    def path_exists(self, path: Any) -> bool:
        p = _os.fspath(path)
        if p.startswith(("/dev/video", "/dev/dma_heap/")):
            return self.node_kind(p) is not None
        return _os.path.exists(p)

    def open_file(self, file: Any, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
        if isinstance(file, str) and file.startswith(("/dev/video", "/dev/dma_heap/")):
            kind = self.node_kind(file)
            if kind is None:
                raise FileNotFoundError(2, "No such file or directory", file)
            fd = self._register(kind)
            return _DeviceFile(fd, mode, self)
        return builtins.open(file, mode, *args, **kwargs)

    def ioctl(self, fd: Any, request: int, arg: Any = 0, mutate_flag: bool = True) -> Any:
        node = self.node(fd)
        if node is None:
            num = fd if isinstance(fd, int) else fd.fileno()
            if num in self._dmabufs:
                return self._dmabuf_ioctl(request)
            return _fcntl.ioctl(fd, request, arg, mutate_flag)
        if node.kind == "isp":
            return self._isp_ioctl(node, request, arg)
        if node.kind == "heap":
            return self._heap_ioctl(request, arg)
        return node.device.ioctl(request, arg)

    def _isp_ioctl(self, node: _Node, request: int, arg: Any) -> int:
        import videodev2

        if request != videodev2.VIDIOC_QUERYCAP:
            raise OSError(25, "Inappropriate ioctl for device")
        card = node.board.isp_card.encode()
        ctypes.memmove(arg.card, card, len(card))
        driver = card.split(b"-")[0]
        ctypes.memmove(arg.driver, driver, len(driver))
        return 0

    def _heap_ioctl(self, request: int, arg: Any) -> int:
        if _ioc_type_nr(request) != ("H", 0):
            raise OSError(25, "Inappropriate ioctl for device")
        fd = _os.memfd_create("dmabuf", _os.MFD_CLOEXEC)
        _os.ftruncate(fd, int(arg.len))
        with self._lock:
            self._dmabufs.add(fd)
        arg.fd = fd
        return 0

    @staticmethod
    def _dmabuf_ioctl(request: int) -> int:
        if _ioc_type_nr(request) in (("b", 0), ("b", 1)):  # DMA_BUF_IOCTL_SYNC, DMA_BUF_SET_NAME
            return 0
        raise OSError(25, "Inappropriate ioctl for device")

    # -- the front ends a kernel module sees --------------------------------

    def builtins_for(self) -> dict[str, Any]:
        """A ``__builtins__`` whose import and open go through this kernel."""
        fronts = {
            "os": _front(_os, open=self.os_open, close=self.os_close,
                         path=_front(_os.path, exists=self.path_exists)),
            "fcntl": _front(_fcntl, ioctl=self.ioctl),
            "mmap": _front(_mmap, mmap=self.mmap),
            "select": _front(_select, poll=self.poll),
        }
        real_import = builtins.__import__

        def kernel_import(name: str, globals: Any = None, locals: Any = None,  # noqa: A002
                          fromlist: Any = (), level: int = 0) -> Any:
            if level == 0 and name in fronts:
                return fronts[name]
            return real_import(name, globals, locals, fromlist, level)

        table = dict(vars(builtins))
        table["__import__"] = kernel_import
        table["open"] = self.open_file
        return table

    def mmap(self, fileno: int, length: int, *args: Any, **kwargs: Any) -> Any:
        node = self.node(fileno)
        if node is not None and node.device is not None:
            return node.device.mmap(length, kwargs.get("offset", 0))
        return _mmap.mmap(fileno, length, *args, **kwargs)

    def poll(self) -> Any:
        return _Poll(self)


class _Poll:
    """select.poll() that asks a simulated device for its readiness."""

    def __init__(self, kernel: Kernel) -> None:
        self._kernel = kernel
        self._fds: dict[int, int] = {}
        self._real = _select.poll()

    def register(self, fd: Any, events: int = _select.POLLIN | _select.POLLOUT) -> None:
        num = fd if isinstance(fd, int) else fd.fileno()
        if self._kernel.node(num) is not None:
            self._fds[num] = events
        else:
            self._real.register(num, events)

    def poll(self, timeout_ms: float | None = None) -> list[tuple[int, int]]:
        if not self._fds:
            return self._real.poll(timeout_ms)
        fd, events = next(iter(self._fds.items()))  # picamera2 polls its one encoder fd
        node = self._kernel.node(fd)
        if node is None:
            return [(fd, _select.POLLNVAL)]
        ready = node.device.wait(events, timeout_ms)
        return [(fd, ready)] if ready else []


class _DeviceFile:
    """What ``open('/dev/videoN', 'rb+', buffering=0)`` returns for a simulated node."""

    def __init__(self, fd: int, mode: str, kernel: Kernel) -> None:
        self._fd = fd
        self.mode = mode
        self._kernel = kernel
        self.closed = False

    def fileno(self) -> int:
        if self.closed:
            raise ValueError("I/O operation on closed file")
        return self._fd

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self._kernel.os_close(self._fd)

    def __enter__(self) -> _DeviceFile:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def _front(real: types.ModuleType, **overrides: Any) -> types.ModuleType:
    """A module that is ``real`` except for ``overrides``."""
    mod = types.ModuleType(real.__name__, real.__doc__)
    mod.__dict__.update({k: v for k, v in vars(real).items() if not k.startswith("__")})
    mod.__dict__.update(overrides)
    return mod


class _KernelLoader(importlib.abc.Loader):
    def __init__(self, inner: Any, kernel: Kernel) -> None:
        self._inner = inner
        self._kernel = kernel

    def create_module(self, spec: Any) -> Any:
        return self._inner.create_module(spec)

    def exec_module(self, module: types.ModuleType) -> None:
        module.__dict__["__builtins__"] = self._kernel.builtins_for()
        self._inner.exec_module(module)


class KernelFinder(importlib.abc.MetaPathFinder):
    """Imports :data:`KERNEL_MODULES` against the simulated kernel (see the module doc)."""

    def __init__(self, kernel: Kernel) -> None:
        self.kernel = kernel

    def find_spec(self, fullname: str, path: Any, target: Any = None) -> Any:
        if fullname not in KERNEL_MODULES:
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is not None and spec.loader is not None:
            spec.loader = _KernelLoader(spec.loader, self.kernel)
        return spec


#: The one simulated kernel of this process.
KERNEL = Kernel()
_finder = KernelFinder(KERNEL)


def install_finder() -> None:
    """Put the finder first on sys.meta_path (idempotent)."""
    if _finder not in sys.meta_path:
        sys.meta_path.insert(0, _finder)
