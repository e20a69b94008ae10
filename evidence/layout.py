"""The data directory's layout: every file name and pattern, in one place (FORMAT.md §8).

::

    device.pub                      the device's public identity (not a pin)
    chain.json                      chain head and last recording number
    audit.log                       the hash-chained audit log
    .space-reserve                  room held back for closing on a full card
    recordings/<recording id>/
        recording.json              start values, for recovery after a crash
        events.jsonl                bookmarks and gaps as they happen
        seg-000000.bcs ...          segments (FORMAT.md §5)
        manifest.bcm                signed manifest (FORMAT.md §7)

The device writes it (``recorder/``), the office reads it (``office/``), and both
ask this module for the names.
"""

from __future__ import annotations

import re

DEVICE_PUB = "device.pub"
CHAIN_FILE = "chain.json"
AUDIT_LOG = "audit.log"
RESERVE_NAME = ".space-reserve"
RECORDINGS = "recordings"
RECORDING_INFO = "recording.json"
EVENTS = "events.jsonl"
MANIFEST_NAME = "manifest.bcm"
#: A segment file's name; group 1 is its six-digit index.
SEGMENT_FILE = re.compile(r"^seg-([0-9]{6})\.bcs$")
SEGMENT_GLOB = "seg-*.bcs"


def segment_name(index: int) -> str:
    """File name of segment ``index``: ``seg-000000.bcs``."""
    return f"seg-{index:06d}.bcs"
