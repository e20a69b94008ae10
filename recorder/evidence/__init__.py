"""The evidence format: encrypted, signed, hash-chained segments and manifests.

``EvidenceStore`` writes it on the device; ``reader`` checks it without keys;
``recorder.verify`` and ``recorder.export`` are the custodian's tools.
docs/FORMAT.md specifies every byte.
"""

from recorder.evidence.identity import DeviceIdentity
from recorder.evidence.store import EvidenceStore, Recording
from recorder.evidence.writer import Segment

__all__ = ["DeviceIdentity", "EvidenceStore", "Recording", "Segment"]
