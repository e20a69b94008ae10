"""The monotonic counter bound into every v2 segment header, manifest and audit checkpoint.

Each signed item takes the next value, so the values along a device's evidence
run without gaps: a verifier that sees a gap knows something signed was
removed, even the newest item once the device signs anything after it. With a
TPM the counter is a TPM NV counter (``drivers.tpm.TpmCounter``): it never goes
back, whatever is done to the card. With a key file it is :class:`FileCounter`,
a file in the data directory: restoring an older copy of the card rolls it back
with everything else, so a rollback is not detected (docs/FORMAT.md §3).
"""

from __future__ import annotations

import enum
from pathlib import Path
from typing import Protocol

from evidence.fsutil import atomic_write, read_regular

COUNTER_FILE = "counter"
_MAX = (1 << 63) - 1


class CounterKind(enum.Enum):
    """Where the counter lives, as a document names it."""

    TPM_NV = "tpm-nv"
    FILE = "file"


class Counter(Protocol):
    """Hands out strictly increasing values, one per signed item."""

    @property
    def kind(self) -> CounterKind:
        """Where the counter lives."""
        ...

    def next(self) -> int:
        """Increment and return the new value."""
        ...

    def current(self) -> int:
        """The value last handed out (no increment)."""
        ...


class FileCounter:
    """A counter kept in a file: rolls back with the card (the key-file backend's limit)."""

    kind = CounterKind.FILE

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        try:
            text = read_regular(self.path, 64).decode("ascii").strip()
            self._value = int(text) if text.isdigit() else 0
        except FileNotFoundError:
            self._value = 0
        except (OSError, UnicodeDecodeError):
            self._value = 0

    def current(self) -> int:
        """The value last handed out."""
        return self._value

    def next(self) -> int:
        """Increment, persist (atomically), return."""
        value = min(self._value + 1, _MAX)
        atomic_write(self.path, f"{value}\n".encode())
        self._value = value
        return value
