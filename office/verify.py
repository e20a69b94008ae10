"""``bodycam verify``: check an evidence tree without any decryption key.

Finds every recording under a directory, checks signatures, chains, chunk
order and completeness and the device's identity, and says per recording
whether it is intact, truncated by power loss (and how much verified), or has
an integrity problem (tampered, missing, reordered, duplicated, foreign,
malformed), naming the file and the place. Exit codes: 0 all intact,
1 integrity problem, 2 usage or input error, 3 incomplete but untampered.
"""

from __future__ import annotations

import json
import os
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from evidence.auditlog import AuditReport, verify_audit_log
from evidence.check import (
    INTACT,
    SEG_FILE,
    Problem,
    RecordingCheck,
    check_chain,
    check_recording,
    peek_json,
)
from evidence.continuity import Receipt, check_continuity, load_receipt, make_receipt
from evidence.errors import (
    EXIT_INCOMPLETE,
    EXIT_INTEGRITY,
    EXIT_OK,
    EXIT_UNPINNED,
    EvidenceInputError,
    KeyFileError,
)
from evidence.keys import load_device_pub, load_device_pub_full
from evidence.layout import AUDIT_LOG, DEVICE_PUB, SEGMENT_GLOB
from evidence.manifest import MANIFEST_NAME
from evidence.primitives import key_id
from evidence.reader import TRUNCATED
from evidence.sigcheck import embedded_key
from evidence.signer import PublicKey
from evidence.timefmt import iso_or_none

PINNED = "pinned (--device-pub)"
TREE_PUB = "device.pub found in the tree: identity NOT independently pinned"
EMBEDDED = "key named inside the files: identity NOT established"




def _gap_seconds(gap: dict[str, Any]) -> float:
    """How long a manifest gap is, in seconds."""
    return round((gap["end_pts_us"] - gap["start_pts_us"]) / 1e6, 3)


@dataclass
class RecordingResult:
    """The verdict on one recording."""

    check: RecordingCheck

    @property
    def status(self) -> str:
        """intact, truncated, tampered, missing, reordered, duplicated, foreign or malformed."""
        return self.check.status

    def as_dict(self) -> dict[str, Any]:
        """JSON form."""
        c = self.check
        info = c.info
        return {
            "path": c.rel,
            "device_id": c.device_id,
            "recording_id": c.recording_id,
            "recording_seq": c.recording_seq,
            "status": c.status,
            "key": c.key_source,
            "utc_start": iso_or_none(info.get("utc_start_us")),
            "start_pts_us": info.get("start_pts_us"),
            "clock_source": info.get("clock_source"),
            "manifest": c.manifest is not None and c.manifest.doc is not None,
            "recovered": bool(info.get("recovered", False)),
            "verified": c.totals(),
            "bookmarks": info.get("bookmarks", []),
            "gaps": [dict(g, seconds=_gap_seconds(g)) for g in info.get("gaps", [])],
            "problems": [{"kind": p.kind, "file": p.file, "place": p.place,
                          "message": p.message} for p in c.problems],
            "notes": c.notes,
        }

    def text_lines(self) -> list[str]:
        """Human-readable lines."""
        c = self.check
        t = c.totals()
        amount = (f"verified {t['segments']} segment(s), {t['chunks']} chunks, "
                  f"{t['frames']} frames, {t['seconds']:.3f} s")
        head = f"{c.rel}: {c.status.upper()}"
        if c.status == TRUNCATED:
            head += f" by power loss or storage failure; {amount}"
        elif c.status == INTACT:
            head += f"; {amount}"
        else:
            head += f" ({amount})"
        lines = [head]
        lines += [f"    {p.text()}" for p in c.problems if p.kind != TRUNCATED
                  or c.status == TRUNCATED]
        lines += [f"    note: {n}" for n in c.notes]
        t0 = c.info.get("start_pts_us", 0)
        lines += [f"    gap: {_gap_seconds(g):.3f} s of footage missing from "
                  f"{(g['start_pts_us'] - t0) / 1e6:.3f} s ({g['reason']})"
                  for g in c.info.get("gaps", [])]
        return lines


@dataclass
class VerifyReport:
    """Everything ``bodycam verify`` found."""

    root: Path
    recordings: list[RecordingResult] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    audit: AuditReport | None = None  # the device's audit log, if the tree has one
    tree_problems: list[Problem] = field(default_factory=list)  # across recordings and log
    pinned: bool = True
    receipt: Receipt | None = None

    @property
    def exit_code(self) -> int:
        """0 all intact, 1 integrity problem, 3 incomplete but untampered, 4 nothing
        tampered found but the identity was not pinned."""
        statuses = {r.status for r in self.recordings}
        if statuses - {INTACT, TRUNCATED} or (self.audit is not None and not self.audit.ok) \
                or any(p.kind != TRUNCATED for p in self.tree_problems):
            return EXIT_INTEGRITY
        if not self.pinned:
            return EXIT_UNPINNED
        if TRUNCATED in statuses:
            return EXIT_INCOMPLETE
        return EXIT_OK

    def counts(self) -> dict[str, int]:
        """How many recordings have each status."""
        out: dict[str, int] = defaultdict(int)
        for r in self.recordings:
            out[r.status] += 1
        return dict(sorted(out.items()))

    def as_dict(self) -> dict[str, Any]:
        """JSON form."""
        audit = None if self.audit is None else {
            "ok": self.audit.ok, "entries": self.audit.entries,
            "checkpoints": self.audit.checkpoints, "after_last_checkpoint": self.audit.unsigned_tail,
            "problems": self.audit.problems, "notes": self.audit.notes}
        return {"root": str(self.root), "exit_code": self.exit_code, "counts": self.counts(),
                "notes": self.notes, "recordings": [r.as_dict() for r in self.recordings],
                "audit_log": audit, "identity_established": self.pinned,
                "continuity": [{"kind": p.kind, "file": p.file, "place": p.place,
                                "message": p.message} for p in self.tree_problems]}

    def to_json(self) -> str:
        """The report as JSON text (``--json``)."""
        return json.dumps(self.as_dict(), indent=2, sort_keys=True)

    def text_lines(self) -> list[str]:
        """The report for people, one recording after another, then a summary."""
        lines = [f"note: {n}" for n in self.notes]
        by_device: dict[str, list[RecordingResult]] = defaultdict(list)
        for r in self.recordings:
            by_device[r.check.device_id or "?"].append(r)
        for device, recs in sorted(by_device.items()):
            lines.append(f"device {device} (key: {recs[0].check.key_source})")
            for r in recs:
                lines += ["  " + line for line in r.text_lines()]
        if self.audit is not None:
            a = self.audit
            state = "INTACT" if a.ok else "TAMPERED"
            lines.append(f"audit log: {state}; {a.entries} entries, {a.checkpoints} signed "
                         f"checkpoint(s) verified, {a.unsigned_tail} entries after the last")
            lines += [f"    {AUDIT_LOG}: {p}" for p in a.problems]
            lines += [f"    note: {n}" for n in a.notes]
        lines += [f"continuity: {p.text()}" for p in self.tree_problems]
        summary = ", ".join(f"{n} {k}" for k, n in self.counts().items())
        verdict = {EXIT_OK: "all intact", EXIT_INCOMPLETE: "incomplete but untampered",
                   EXIT_INTEGRITY: "INTEGRITY PROBLEM",
                   EXIT_UNPINNED: "identity not established (pass --device-pub)"}[self.exit_code]
        lines.append(f"{len(self.recordings)} recording(s): {summary or 'none'} -> {verdict} "
                     f"(exit {self.exit_code})")
        return lines




def _load_pins(paths: list[Path]) -> dict[str, PublicKey]:
    pins: dict[str, PublicKey] = {}
    for path in paths:
        device_id, key = load_device_pub(Path(path))
        if device_id in pins and pins[device_id] != key:
            raise KeyFileError(f"{path}: a second, different key for device "
                               f"{device_id!r}; give one device.pub per device")
        pins[device_id] = key
    return pins


def find_recordings(root: Path, problems: list[Problem] | None = None
                    ) -> tuple[list[Path], list[Path]]:
    """Recording directories and device.pub files under ``root``. A folder that cannot
    be read, or a symbolic link to one (never followed), goes into ``problems``: what
    cannot be looked at is never silently passed over."""
    recs, pubs = [], []
    found = problems if problems is not None else []
    denied: list[OSError] = []

    def unreadable(exc: OSError) -> None:
        # The data directory or its recordings folder closed to us: the custodian's
        # account, not the evidence (exit 2). One recording folder closed while its
        # siblings open is a problem in the evidence, never skipped.
        if isinstance(exc, PermissionError) and exc.filename is not None and \
                Path(exc.filename) in (Path(root), Path(root) / "recordings"):
            denied.append(exc)
            return
        hint = "; run as root or the bodycam user" if isinstance(exc, PermissionError) else ""
        found.append(Problem("malformed", _rel_to(exc.filename, root), "",
                             f"folder cannot be read: {exc.strerror or exc}{hint}"))

    for dirpath, dirnames, filenames in os.walk(root, onerror=unreadable):
        dirnames.sort()
        for name in list(dirnames):
            if (Path(dirpath) / name).is_symlink():
                found.append(Problem("malformed", _rel_to(Path(dirpath) / name, root), "",
                                     "symbolic link to a folder: not followed"))
                dirnames.remove(name)
        if DEVICE_PUB in filenames:
            pubs.append(Path(dirpath) / DEVICE_PUB)
        if MANIFEST_NAME in filenames or any(SEG_FILE.fullmatch(f) for f in filenames):
            recs.append(Path(dirpath))
    for exc in denied:  # a folder we may not read is not "no recordings"
        if isinstance(exc, PermissionError):
            raise _denied(exc.filename or root)
    return recs, pubs


def _denied(path: object) -> EvidenceInputError:
    return EvidenceInputError(f"{path}: permission denied: run as root or the bodycam user")


def _rel_to(path: Any, root: Path) -> str:
    try:
        return str(Path(path).relative_to(root))
    except (ValueError, TypeError):
        return str(path)


def verify_tree(root: Path, device_pubs: list[Path], since: Path | None = None) -> VerifyReport:
    """Check every recording under ``root``; pinned keys come from ``device_pubs``;
    ``since``: a receipt from an earlier verification, everything after it must be here."""
    root = Path(root)
    try:
        os.stat(root)
    except PermissionError:  # a folder above it may not be entered
        raise _denied(root) from None
    except OSError:
        pass
    if not root.is_dir():
        raise EvidenceInputError(f"{root}: no such directory; give the offloaded data "
                                 "directory of a device")
    pins = _load_pins(list(device_pubs))
    custodians = {pub.device_id: pub.custodian_key_id
                   for pub in (load_device_pub_full(Path(p)) for p in device_pubs)}
    receipt = load_receipt(since) if since is not None else None
    walk_problems: list[Problem] = []
    rec_dirs, pub_files = find_recordings(root, walk_problems)
    if not rec_dirs and not walk_problems and not (root / AUDIT_LOG).is_file():
        raise EvidenceInputError(f"{root}: no bodycam recordings found; give the "
                                 "offloaded data directory of a device (it holds "
                                 "recordings/<id>/seg-*.bcs and manifest.bcm)")
    report = VerifyReport(root, pinned=bool(pins), tree_problems=walk_problems)
    if not rec_dirs:
        report.notes.append("no recordings in this data directory: only its audit log "
                            "was checked")
    tree_keys: dict[str, PublicKey] = {}
    if not pins:
        for path in pub_files:
            try:
                device_id, key = load_device_pub(path)
            except KeyFileError as exc:
                report.notes.append(f"ignored {exc}")
                continue
            tree_keys.setdefault(device_id, key)
        report.notes.append("no --device-pub given: device identity was NOT independently "
                            "pinned; pass the device.pub registered by the custodian")
    checks = []
    for rec_dir in rec_dirs:
        rec = RecordingCheck(rec_dir, str(rec_dir.relative_to(root)) or ".")
        key = _resolve_key(rec, pins, tree_keys)
        if key is not None or not pins:
            try:
                check_recording(rec, root, key)
            except OSError as exc:
                rec.add("malformed", rec.rel, "", f"cannot read the directory: "
                        f"{exc.strerror or exc}")
            _check_custodian(rec, custodians.get(rec.device_id))
        checks.append(rec)
    by_device: dict[str, list[RecordingCheck]] = defaultdict(list)
    for rec in checks:
        by_device[rec.device_id].append(rec)
    for recs in by_device.values():
        check_chain(recs, root)
    report.recordings = [RecordingResult(r) for r in sorted(
        checks, key=lambda r: (r.device_id, r.recording_seq or 0, r.rel))]
    if (root / AUDIT_LOG).is_file():
        if not os.access(root / AUDIT_LOG, os.R_OK):
            raise _denied(root / AUDIT_LOG)
        # The log is the device's own: check its checkpoints with that device's key
        # (the one device the recordings name), never with another device's.
        devices = {r.device_id for r in checks if r.device_id}
        keys = pins or tree_keys
        if not devices and len(keys) == 1:  # no recordings yet: the one key given
            devices = set(keys)
        key = keys.get(next(iter(devices))) if len(devices) == 1 else None
        report.audit = verify_audit_log(root / AUDIT_LOG, key)
    _continuity(report, checks, pins, receipt)
    return report


def _check_custodian(rec: RecordingCheck, registered: str | None) -> None:
    """Every header must be sealed to the custodian key registered with the device."""
    if registered is None:
        return
    for scan in rec.scans:
        if scan.header is not None and scan.header["custodian_key_id"] != registered:
            rec.add("tampered", f"{rec.rel}/{scan.path.name}", "header",
                    f"sealed to custodian key {scan.header['custodian_key_id'][:16]}, not "
                    f"{registered[:16]} registered in device.pub (custodian.pub was replaced)")


def _continuity(report: VerifyReport, checks: list[RecordingCheck],
                pins: dict[str, PublicKey], receipt: Receipt | None) -> None:
    """Across the tree: the log present, counters and numbers continuous, the receipt's
    successors all here; then the receipt for what was verified."""
    devices = sorted({r.device_id for r in checks if r.device_id})
    v2 = any(s.version == 2 for r in checks for s in r.scans)
    if v2 and report.audit is None:
        report.tree_problems.append(Problem("missing", AUDIT_LOG, "", "the device's audit log "
                                            "is not in the tree (a data directory holds it)"))
    if receipt is not None and devices != [receipt.device_id]:
        report.tree_problems.append(Problem("foreign", "", "receipt", f"the receipt is for "
                                            f"{receipt.device_id!r}, the tree holds {devices}"))
        return
    if len(devices) != 1:
        return
    audit = report.audit
    report.tree_problems += check_continuity(checks, audit, receipt,
                                             audit.clock_steps if audit else 0)
    report.receipt = make_receipt(devices[0], checks, audit)


def _resolve_key(rec: RecordingCheck, pins: dict[str, PublicKey],
                 tree_keys: dict[str, PublicKey]) -> PublicKey | None:
    """Pick the key a recording is checked against, and say where it came from."""
    doc = peek_json(rec.dir / MANIFEST_NAME)
    if doc is None:
        for p in sorted(rec.dir.glob(SEGMENT_GLOB)):
            if (doc := peek_json(p)) is not None:
                break
    device_id = doc.get("device_id") if doc else None
    rec.device_id = device_id if isinstance(device_id, str) else ""
    if doc is None and not (rec.dir / MANIFEST_NAME).exists():
        # Power lost while the first segment's header was being written: nothing here
        # names a device or claims any footage, so there is nothing to be foreign.
        rec.add("truncated", rec.rel, "", "no segment header or manifest could be read: "
                "cut before any footage was written; nothing to verify")
        return None
    if pins:
        key = pins.get(rec.device_id)
        rec.key_source = PINNED
        if key is None:
            rec.add("foreign", rec.rel, "", f"device {rec.device_id or '?'!r} is not among "
                    "the --device-pub keys given")
        return key
    if rec.device_id in tree_keys:
        rec.key_source = TREE_PUB
        return tree_keys[rec.device_id]
    rec.key_source = EMBEDDED
    key = embedded_key(doc)
    if key is None:
        return None
    rec.notes.append(f"checked against key {key_id(key.raw)[:16]} named in the files")
    return key
