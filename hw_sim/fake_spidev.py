"""A stand-in for py-spidev's ``spidev`` module, registered under that name by ``hw_sim.install``.

Same surface as ``spidev.SpiDev`` (open/close, the mode attributes, writebytes,
writebytes2, xfer/xfer2/xfer3, readbytes) and the same limits (a list transfer
of at most :data:`BUFSIZ` bytes, TypeError on an empty list, OSError on a closed
device), so driver code that is wrong on the device is wrong here too.

Every transfer is counted and the recent ones recorded on the :class:`Port` for
its (bus, chip select). Whatever is attached to a port (a
``hw_sim.panel.SimPanel``) receives the bytes as they go out. With
``realtime=True`` a transfer takes as long as the bits would take at
``max_speed_hz``, so a simulated display is bus-limited like the real one.
"""

from __future__ import annotations

import errno
import os
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Protocol

#: The spidev kernel module's default ``bufsiz``: the largest list transfer.
BUFSIZ = 4096
#: What ``max_speed_hz`` reads right after open (the value is the device tree's; any
#: plausible number does, drivers set their own).
DEFAULT_SPEED_HZ = 125_000_000

SPI_CPHA, SPI_CPOL, SPI_CS_HIGH, SPI_LSB_FIRST = 0x01, 0x02, 0x04, 0x08
SPI_3WIRE, SPI_LOOP, SPI_NO_CS = 0x10, 0x20, 0x40


class Sink(Protocol):
    """Something wired to a chip select: gets every byte written to it."""

    def receive(self, data: memoryview) -> None: ...


@dataclass(frozen=True)
class Transfer:
    """One recorded transfer: which call, the bytes, the clock it ran at, when."""

    op: str
    data: bytes
    speed_hz: int
    t: float


@dataclass
class Port:
    """One (bus, chip select): what is attached, and what went over the wire."""

    bus: int
    device: int
    sink: Sink | None = None
    realtime: bool = False
    transfers: deque[Transfer] = field(default_factory=lambda: deque(maxlen=64))
    bytes_written: int = 0
    transfer_count: int = 0
    bus_seconds: float = 0.0
    opens: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def write(self, op: str, data: memoryview, speed_hz: int, bits_per_word: int) -> None:
        """Carry ``data`` to the sink; in realtime mode, return when the bits are out."""
        start = time.perf_counter()
        n = data.nbytes
        seconds = n * max(8, bits_per_word) / float(speed_hz)
        with self._lock:
            self.bytes_written += n
            self.transfer_count += 1
            self.bus_seconds += seconds
            if self.transfers.maxlen:  # keep=0: count only (a no-op bus for benchmarks)
                self.transfers.append(Transfer(op, data.tobytes(), speed_hz, time.monotonic()))
            if self.sink is not None:
                self.sink.receive(data)
        if self.realtime:
            # The panel decodes in hardware while the bits flow: only wait for the rest.
            remaining = seconds - (time.perf_counter() - start)
            if remaining > 0:
                time.sleep(remaining)


_ports: dict[tuple[int, int], Port] = {}
_ports_lock = threading.Lock()
#: The /dev/spidev<bus>.<device> nodes of a Pi with ``dtparam=spi=on`` (what deploy.sh
#: sets): spi0 with its two chip selects. Other buses need a dtoverlay (spi1-3cs, ...).
DEFAULT_NODES = frozenset({(0, 0), (0, 1)})
_nodes: set[tuple[int, int]] = set(DEFAULT_NODES)


def enable(bus: int, device: int) -> None:
    """Make /dev/spidev<bus>.<device> exist (a dtoverlay enabling that bus)."""
    with _ports_lock:
        _nodes.add((int(bus), int(device)))


def disable(bus: int) -> None:
    """Remove every /dev/spidev<bus>.* node (SPI off for that bus in config.txt)."""
    with _ports_lock:
        _nodes.difference_update({n for n in _nodes if n[0] == int(bus)})


def port(bus: int, device: int) -> Port:
    """The port for (bus, device), created empty if nothing was attached."""
    with _ports_lock:
        key = (int(bus), int(device))
        if key not in _ports:
            _ports[key] = Port(*key)
        return _ports[key]


def attach(bus: int, device: int, sink: Sink | None = None, *, realtime: bool = False,
           keep: int = 64) -> Port:
    """Wire ``sink`` to (bus, device), replacing whatever was there; returns the new port."""
    with _ports_lock:
        p = Port(int(bus), int(device), sink, realtime, deque(maxlen=keep))
        _ports[(int(bus), int(device))] = p
        return p


def reset() -> None:
    """Forget every port and go back to :data:`DEFAULT_NODES` (between tests and runs)."""
    with _ports_lock:
        _ports.clear()
        _nodes.clear()
        _nodes.update(DEFAULT_NODES)


def _as_bytes(values: Any, what: str) -> memoryview:
    """A sequence of Python ints as bytes, with py-spidev's errors (numpy scalars are not ints)."""
    if isinstance(values, (bytes, bytearray)):
        raw = bytes(values)
    else:
        try:
            items = list(values)
        except TypeError as e:
            raise TypeError(f"{what}: expected a sequence") from e
        if not set(map(type, items)) <= {int, bool}:
            bad = next(v for v in items if not isinstance(v, int))
            raise TypeError(f"Non-Int/Long value in arguments: {bad!r}.")
        try:
            raw = bytes(items)
        except ValueError:  # the C code keeps the low byte of larger ints
            raw = bytes(v & 0xFF for v in items)
    if not raw:
        raise TypeError("Empty argument list.")
    return memoryview(raw)


class SpiDev:
    """``spidev.SpiDev``: a handle on one /dev/spidevB.D."""

    def __init__(self, bus: int | None = None, device: int | None = None) -> None:
        self._port: Port | None = None
        self._mode = 0
        self._bits = 0
        self._speed = 0
        self.read0 = False
        if bus is not None:
            self.open(bus, 0 if device is None else device)

    # -- opening ---------------------------------------------------------------

    def open(self, bus: int, device: int) -> None:
        """Connect to /dev/spidev<bus>.<device>."""
        if not isinstance(bus, int) or not isinstance(device, int):
            raise TypeError("open() argument must be int")  # PyArg_ParseTuple "ii"
        if (bus, device) not in _nodes:
            # open("/dev/spidevB.D") fails; py-spidev raises from errno (spidev_module.c:1341).
            raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT))
        self._port = port(bus, device)
        self._port.opens += 1
        self._mode, self._bits, self._speed = 0, 8, DEFAULT_SPEED_HZ

    def close(self) -> None:
        """Disconnect; further transfers raise OSError (EBADF) as on the device."""
        self._port = None
        self._mode = self._bits = self._speed = 0

    def fileno(self) -> int:
        """-1 when closed, else a number standing in for the file descriptor."""
        return -1 if self._port is None else 1000 + self._port.bus * 16 + self._port.device

    def _open_port(self) -> Port:
        if self._port is None:
            raise OSError(errno.EBADF, os.strerror(errno.EBADF))
        return self._port

    # -- attributes ------------------------------------------------------------

    def _set_flag(self, flag: int, value: Any, name: str) -> None:
        if not isinstance(value, bool):
            raise TypeError(f"The {name} attribute must be boolean")
        self._open_port()
        self._mode = (self._mode | flag) if value else (self._mode & ~flag)

    @property
    def mode(self) -> int:
        return self._mode & (SPI_CPHA | SPI_CPOL)

    @mode.setter
    def mode(self, value: int) -> None:
        if not isinstance(value, int) or not 0 <= value <= 3:
            raise TypeError("The mode attribute must be an integer between 0 and 3.")
        self._open_port()
        self._mode = (self._mode & ~(SPI_CPHA | SPI_CPOL)) | value

    @property
    def bits_per_word(self) -> int:
        return self._bits

    @bits_per_word.setter
    def bits_per_word(self, value: int) -> None:
        if not isinstance(value, int) or not 8 <= value <= 32:
            raise TypeError("invalid bits_per_word (8 to 32)")
        self._open_port()
        self._bits = value

    @property
    def max_speed_hz(self) -> int:
        return self._speed

    @max_speed_hz.setter
    def max_speed_hz(self, value: int) -> None:
        if not isinstance(value, int):
            raise TypeError("The max_speed_hz attribute must be an integer")
        self._open_port()
        self._speed = value

    cshigh = property(lambda self: bool(self._mode & SPI_CS_HIGH),
                      lambda self, v: self._set_flag(SPI_CS_HIGH, v, "cshigh"))
    lsbfirst = property(lambda self: bool(self._mode & SPI_LSB_FIRST),
                        lambda self, v: self._set_flag(SPI_LSB_FIRST, v, "lsbfirst"))
    threewire = property(lambda self: bool(self._mode & SPI_3WIRE),
                         lambda self, v: self._set_flag(SPI_3WIRE, v, "3wire"))
    loop = property(lambda self: bool(self._mode & SPI_LOOP),
                    lambda self, v: self._set_flag(SPI_LOOP, v, "loop"))
    no_cs = property(lambda self: bool(self._mode & SPI_NO_CS),
                     lambda self, v: self._set_flag(SPI_NO_CS, v, "no_cs"))

    # -- transfers -------------------------------------------------------------

    def _send(self, op: str, data: memoryview, speed_hz: int = 0) -> None:
        p = self._open_port()
        p.write(op, data, speed_hz or self._speed or DEFAULT_SPEED_HZ, self._bits)

    def writebytes(self, values: Any) -> None:
        """Write up to :data:`BUFSIZ` bytes given as a sequence of ints."""
        data = _as_bytes(values, "writebytes")
        if data.nbytes > BUFSIZ:
            raise OverflowError(f"Argument list size exceeds {BUFSIZ} bytes.")
        self._send("writebytes", data)

    def writebytes2(self, values: Any) -> None:
        """Write any amount: a buffer (numpy array, bytes, ...) as is, or a list of ints.

        The real call splits into :data:`BUFSIZ` chunks with separate transfers
        (chip select released between them); the controller does not care, so
        the chunks are forwarded whole here, timed as the sum of their bits.
        """
        try:
            view = memoryview(values)
        except TypeError:
            self._send("writebytes2", _as_bytes(values, "writebytes2"))
            return
        if not view.c_contiguous:
            raise BufferError("writebytes2 needs a C-contiguous buffer")
        data = view.cast("B") if view.format != "B" or view.ndim != 1 else view
        if data.nbytes:
            self._send("writebytes2", data)

    def _xfer(self, op: str, values: Any, speed_hz: int, limit: bool) -> list[int]:
        data = _as_bytes(values, op)
        if limit and data.nbytes > BUFSIZ:
            raise OverflowError(f"Argument list size exceeds {BUFSIZ} bytes.")
        self._send(op, data, speed_hz)
        return [0] * data.nbytes  # MISO is not wired on a write-only panel

    def xfer(self, values: Any, speed_hz: int = 0, delay_usecs: int = 0,
             bits_per_word: int = 0) -> list[int]:
        """Full-duplex transfer (chip select toggled between bytes on the real one)."""
        return self._xfer("xfer", values, speed_hz, True)

    def xfer2(self, values: Any, speed_hz: int = 0, delay_usecs: int = 0,
              bits_per_word: int = 0) -> list[int]:
        """Full-duplex transfer, chip select held."""
        return self._xfer("xfer2", values, speed_hz, True)

    def xfer3(self, values: Any, speed_hz: int = 0, delay_usecs: int = 0,
              bits_per_word: int = 0) -> tuple[int, ...]:
        """Full-duplex transfer of any length; returns a tuple as py-spidev does."""
        return tuple(self._xfer("xfer3", values, speed_hz, False))

    def readbytes(self, n: int) -> list[int]:
        """Read ``n`` bytes (1..BUFSIZ): zeros, nothing drives MISO in the simulation."""
        self._open_port()
        return [0] * max(1, min(int(n), BUFSIZ))
