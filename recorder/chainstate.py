"""The device-life hash chain's persisted head (``chain.json`` in the data dir).

Segments and manifests form one chain: each segment header names the hash of
the item before it, each manifest the hash of its last segment. The head and
the last recording number live here so the chain continues across reboots and
across offloads that remove old recordings from the device.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from evidence import canonical
from evidence.canonical import CanonicalError
from evidence.fsutil import atomic_write, read_regular
from evidence.layout import CHAIN_FILE
from evidence.primitives import HASH_LEN

GENESIS = bytes(HASH_LEN)


@dataclass
class ChainState:
    """Head of the chain and the last recording number handed out."""

    device_id: str
    head: bytes = GENESIS
    head_ref: str = ""
    recording_seq: int = 0

    def to_bytes(self) -> bytes:
        """Canonical JSON of the state."""
        return canonical.encode({"device_id": self.device_id, "format_version": 1,
                                 "head": self.head.hex(), "head_ref": self.head_ref,
                                 "recording_seq": self.recording_seq}) + b"\n"

    def save(self, data_dir: Path) -> None:
        """Persist atomically (a power cut leaves the old or the new state)."""
        atomic_write(Path(data_dir) / CHAIN_FILE, self.to_bytes())


def load_chain(data_dir: Path, device_id: str) -> tuple[ChainState, str | None]:
    """Load chain.json; returns a fresh state and a note if it is missing or unreadable.

    An unreadable file is renamed aside (kept, never deleted) so recovery can
    rebuild the state from the recordings on disk.
    """
    path = Path(data_dir) / CHAIN_FILE
    try:
        data = read_regular(path, 64 * 1024)
    except FileNotFoundError:
        return ChainState(device_id), None
    except OSError as exc:  # a directory, FIFO or link where the file should be
        problem = exc.strerror or str(exc)
        aside = path.with_name(f"{CHAIN_FILE}.unreadable-{os.getpid()}")
        os.replace(path, aside)
        return ChainState(device_id), (f"chain state {path} unusable ({problem}); moved "
                                       f"aside as {aside.name}, rebuilt from the recordings")
    try:
        doc = canonical.decode_object(data.rstrip(b"\n"))
        head = bytes.fromhex(doc["head"])
        seq = doc["recording_seq"]
        if len(head) != HASH_LEN or not isinstance(seq, int) or seq < 0 \
                or not isinstance(doc["head_ref"], str):
            raise ValueError("bad field")
        if doc["device_id"] != device_id:
            raise ValueError(f"belongs to device {doc['device_id']!r}")
        return ChainState(device_id, head, doc["head_ref"], seq), None
    except (CanonicalError, ValueError, KeyError, TypeError) as exc:
        aside = path.with_name(f"{CHAIN_FILE}.unreadable-{os.getpid()}-{len(data)}")
        os.replace(path, aside)
        return ChainState(device_id), f"chain state {path} unreadable ({exc}); kept as " \
                                      f"{aside.name}, rebuilt from the recordings on disk"
