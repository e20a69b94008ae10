"""What is missing across a device's evidence (docs/FORMAT.md §9, "Continuity").

Every v2 segment header, manifest and audit checkpoint takes the next value of
the device's counter, so the values a tree holds must run without gaps or
repeats; the signed checkpoints name the recording numbers and the chain head,
so every recording they name must be present and no recording may be newer
than the log; numbers must run on; UTC may not run backwards along the chain
unless the log records a clock step. A receipt from an earlier verification
extends all of this to the newest items: everything after it must be there.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from evidence.auditlog import AuditReport
from evidence.check import Problem, RecordingCheck
from evidence.errors import EvidenceInputError
from evidence.fsutil import read_regular
from evidence.reader import DUPLICATED, MISSING, TAMPERED

RECEIPT_FORMAT = "bodycam-receipt/1"
_MAX_RECEIPT = 64 * 1024


@dataclass(frozen=True)
class Receipt:
    """What a verification established: the external anchor for the next one."""

    device_id: str
    recording_seq: int
    counter: int
    chain_head: str
    audit_head: str

    def to_bytes(self) -> bytes:
        """The receipt file: one JSON object."""
        return (json.dumps({"audit_head": self.audit_head, "chain_head": self.chain_head,
                            "counter": self.counter, "device_id": self.device_id,
                            "format": RECEIPT_FORMAT, "recording_seq": self.recording_seq},
                           sort_keys=True) + "\n").encode()


def load_receipt(path: Path) -> Receipt:
    """Read a receipt written by ``bodycam verify --receipt-out``; one-line error if not."""
    try:
        doc = json.loads(read_regular(Path(path), _MAX_RECEIPT))
        if doc.get("format") != RECEIPT_FORMAT:
            raise ValueError("format")
        receipt = Receipt(str(doc["device_id"]), int(doc["recording_seq"]), int(doc["counter"]),
                          str(doc["chain_head"]), str(doc["audit_head"]))
    except FileNotFoundError:
        raise EvidenceInputError(f"{path}: no such receipt file") from None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise EvidenceInputError(f"{path}: not a bodycam receipt ({exc}); give a file written "
                                 "by 'bodycam verify --receipt-out'") from None
    return receipt


def _signed_items(recs: list[RecordingCheck], audit: AuditReport | None) -> list[tuple[int, str]]:
    """(counter, what) of every verified v2 item."""
    items: list[tuple[int, str]] = []
    for rec in recs:
        for scan in rec.scans:
            if scan.header is not None and "counter" in scan.header:
                items.append((scan.header["counter"], f"{rec.rel}/{scan.path.name}"))
        if rec.manifest is not None and rec.manifest.doc is not None \
                and "counter" in rec.manifest.doc:
            items.append((rec.manifest.doc["counter"], f"{rec.rel}/manifest.bcm"))
    if audit is not None:
        for doc in audit.signed:
            if doc["counter"]:  # 0: a log without a counter (no store behind it)
                items.append((doc["counter"], f"audit.log checkpoint seq {doc['seq']}"))
    return sorted(items)


def check_continuity(recs: list[RecordingCheck], audit: AuditReport | None,
                     receipt: Receipt | None, clock_steps: int) -> list[Problem]:
    """Problems across one device's tree (recordings, log, receipt)."""
    out: list[Problem] = []
    items = _signed_items(recs, audit)
    floor = receipt.counter if receipt is not None else 0  # before a receipt: offloaded
    for (a, what_a), (b, what_b) in zip(items, items[1:], strict=False):
        if b <= floor:
            continue
        if a == b:
            out.append(Problem(DUPLICATED, what_b, "counter", f"counter {b} also signs "
                               f"{what_a}: the data was rolled back (key-file counter) or copied"))
        elif b > a + 1 and not (audit is not None
                                and set(range(a + 1, b)) <= audit.lost):
            out.append(Problem(MISSING, what_b, "counter", f"counter values {a + 1}..{b - 1} "
                               f"are absent between {what_a} and here: signed items were "
                               "removed (or lost to a failed write the log records)"))
    if receipt is not None:
        out += _since(receipt, items, recs)
    out += _log_names(recs, audit, receipt)
    out += _numbers(recs)
    if clock_steps == 0:
        out += _utc_order(recs)
    return out


def _since(receipt: Receipt, items: list[tuple[int, str]],
           recs: list[RecordingCheck]) -> list[Problem]:
    newest = items[-1][0] if items else 0
    out = []
    if newest < receipt.counter:
        out.append(Problem(MISSING, "", "receipt", f"the newest signed item has counter "
                           f"{newest}, older than the receipt's {receipt.counter}: evidence "
                           "from before the receipt was put back, or the newest was removed"))
    after = [c for c, _ in items if c > receipt.counter]
    if after and after[0] != receipt.counter + 1 and not any(c == receipt.counter
                                                              for c, _ in items):
        out.append(Problem(MISSING, "", "receipt", f"counter values {receipt.counter + 1}.."
                           f"{after[0] - 1} after the receipt are absent"))
    seqs = {r.recording_seq for r in recs if r.recording_seq is not None}
    top = max(seqs, default=0)
    if top < receipt.recording_seq:
        out.append(Problem(MISSING, "", "receipt", f"recording #{receipt.recording_seq} was "
                           f"verified before, the tree ends at #{top}"))
    for n in range(receipt.recording_seq + 1, top + 1):
        if n not in seqs:
            out.append(Problem(MISSING, "", "receipt", f"recording #{n} (after the receipt) "
                               "is not in the tree"))
    return out


def _log_names(recs: list[RecordingCheck], audit: AuditReport | None,
               receipt: Receipt | None) -> list[Problem]:
    """The signed log names recording numbers: each it names (after the receipt, if
    one is given: older ones may have been offloaded) must be there; none may be newer
    than the log's last checkpoint."""
    if audit is None or not audit.signed:
        return []
    named = max(doc["recording_seq"] for doc in audit.signed)
    seqs = {r.recording_seq for r in recs if r.recording_seq is not None}
    out = []
    low = min((doc["recording_seq"] for doc in audit.signed if doc["recording_seq"]),
              default=named + 1)
    if receipt is not None:
        low = max(low, receipt.recording_seq + 1)
    for n in range(low, named + 1):
        if n not in seqs:
            out.append(Problem(MISSING, "audit.log", "checkpoint", f"recording #{n} is named "
                               "by the signed audit log but not in the tree"))
    for rec in recs:
        if rec.recording_seq is not None and rec.recording_seq > named:
            out.append(Problem(TAMPERED, "audit.log", "checkpoint", f"recording "
                               f"#{rec.recording_seq} is newer than the signed audit log's "
                               "last checkpoint: the log was cut back"))
    return out


def _numbers(recs: list[RecordingCheck]) -> list[Problem]:
    seqs = sorted({r.recording_seq for r in recs if r.recording_seq is not None})
    return [Problem(MISSING, "", "recording numbers", f"recordings #{a + 1}..#{b - 1} are "
                    "not in the tree") for a, b in zip(seqs, seqs[1:], strict=False) if b > a + 1]


def _utc_order(recs: list[RecordingCheck]) -> list[Problem]:
    """Without a logged clock step, UTC starts never run backwards along the chain."""
    ordered = sorted((r for r in recs if r.recording_seq is not None and
                      isinstance(r.info.get("utc_start_us"), int) and r.info.get(
                          "clock_source") != "unsynced" and r.info["utc_start_us"] > 0),
                     key=lambda r: r.recording_seq or 0)
    out = []
    for a, b in zip(ordered, ordered[1:], strict=False):
        if b.info["utc_start_us"] < a.info["utc_start_us"]:
            out.append(Problem(TAMPERED, b.rel, "utc", f"starts before #{a.recording_seq} "
                               "although the audit log records no clock step"))
    return out


def make_receipt(device_id: str, recs: list[RecordingCheck], audit: AuditReport | None) -> Receipt:
    """The receipt for what was just verified."""
    items = _signed_items(recs, audit)
    top = max((r for r in recs if r.recording_seq is not None),
              key=lambda r: r.recording_seq or 0, default=None)
    return Receipt(device_id, top.recording_seq or 0 if top else 0,
                   items[-1][0] if items else 0,
                   (top.manifest_sha or "") if top else "",
                   audit.head if audit is not None else "")
