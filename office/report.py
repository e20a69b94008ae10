"""``bodycam report``: what happened to each recording, on one page a person reads.

Verifies a data directory exactly as ``bodycam verify`` does, reads its audit log,
and writes ``<name>-report.html`` (self-contained: no script, nothing fetched,
prints to PDF) and ``<name>-report.json`` (the same facts for machines) per data
directory. With the custodian key it also decrypts a few verified frames (start,
bookmarks, either side of each gap) into thumbnails. Exit codes as verify's:
0 all intact, 1 integrity problem, 3 incomplete but untampered; 2 for a usage or
input error (and an output folder that cannot be written).
"""

from __future__ import annotations

import json
import os
import platform
import tempfile
import time
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import av
import cryptography
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from evidence.errors import (
    EXIT_INCOMPLETE,
    EXIT_INTEGRITY,
    EXIT_OK,
    EvidenceInputError,
)
from evidence.keys import load_custodian_private, load_device_pub
from evidence.primitives import key_id, x25519_raw
from evidence.sigcheck import raw_public
from office import report_html as page
from office.export import check_custodian_key
from office.progress import SILENT, Progress
from office.report_audit import add_moments, read_rows
from office.report_frames import thumbnails
from office.report_model import RecordingView, Verdict, recording_view
from office.verify import AUDIT_LOG, VerifyReport, verify_tree

RECORDINGS = "recordings"
CHECKS = [
    "Each segment file's header, every chunk and its trailer carry the device's Ed25519 "
    "signature; every signature was checked against the device key below.",
    "Chunks are numbered: none is missing, repeated or out of order, and a segment's last "
    "chunk is marked as the last (a cut-off segment is told apart from a shortened one).",
    "The segments of a recording chain by SHA-256, and its signed manifest lists every "
    "file with its hash, its bookmarks and its gaps.",
    "A camera's recordings chain into one another: one missing between two that are here "
    "is detected.",
    "The audit log is a SHA-256 hash chain; its signed checkpoints were checked with the "
    "device key.",
]


@dataclass
class DirReport:
    """The report on one data directory."""

    data_dir: Path
    verify: VerifyReport
    views: list[RecordingView]
    html: Path | None = None
    json: Path | None = None
    problems: list[str] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        """verify's exit code for this directory."""
        return self.verify.exit_code


@dataclass
class ReportRun:
    """Everything ``bodycam report`` did."""

    dirs: list[DirReport] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        """The worst of the directories: 1, then 3, then 0."""
        codes = {d.exit_code for d in self.dirs}
        for code in (EXIT_INTEGRITY, EXIT_INCOMPLETE):
            if code in codes:
                return code
        return EXIT_OK

    def text_lines(self) -> list[str]:
        """What was written, for people."""
        lines = []
        for d in self.dirs:
            counts = ", ".join(f"{n} {k}" for k, n in d.verify.counts().items()) or "none"
            lines.append(f"{d.data_dir}: {len(d.views)} recording(s) ({counts}) -> {d.html}")
            lines += [f"    note: {p}" for p in d.problems]
        lines.append(f"report written (exit {self.exit_code})")
        return lines


def tool_version() -> str:
    """This tool and the libraries that checked and decoded, for the record."""
    try:
        version = metadata.version("bodycam")
    except metadata.PackageNotFoundError:
        version = "unknown"
    return (f"bodycam {version} (bodycam report); cryptography {cryptography.__version__}; "
            f"PyAV {av.__version__}; Python {platform.python_version()}")


def data_dirs(root: Path) -> list[Path]:
    """``root`` if it is one device's data directory, else the ones directly under it."""
    def is_data(p: Path) -> bool:
        return (p / RECORDINGS).is_dir() or (p / AUDIT_LOG).is_file()

    if is_data(root):
        return [root]
    try:
        children = sorted(p for p in root.iterdir() if p.is_dir() and is_data(p))
    except OSError:
        children = []
    return children or [root]


def _key_rows(report: VerifyReport, pubs: list[Path],
              custodian: X25519PrivateKey | None, custodian_path: Path | None) -> list[Any]:
    rows = []
    for p in pubs:
        device_id, key = load_device_pub(p)
        rows.append((f"device {device_id}: pinned with --device-pub {p}",
                     key_id(raw_public(key))))
    if not pubs:
        rows.append(("device key: NOT pinned (no --device-pub given)", "-"))
    if custodian is not None:
        rows.append((f"custodian key (decrypts the thumbnails): {custodian_path}",
                     key_id(x25519_raw(custodian.public_key()))))
    return rows


def _summary(report: VerifyReport, views: list[RecordingView]) -> tuple[str, Verdict]:
    code = report.exit_code
    n = len(views)
    if code == EXIT_INTEGRITY:
        bad = sum(1 for v in views if v.verdict is Verdict.PROBLEM)
        what = f"{bad} of {n} recording(s) have an integrity problem" if bad else \
            "the audit log has an integrity problem"
        return f"PROBLEM: {what}; see below.", Verdict.PROBLEM
    if code == EXIT_INCOMPLETE:
        return (f"{n} recording(s), some cut off by power loss or a storage failure; "
                "nothing was altered.", Verdict.INCOMPLETE)
    return f"All {n} recording(s) intact: nothing missing, nothing altered.", Verdict.INTACT


def build(root: Path, pubs: list[Path], custodian: X25519PrivateKey | None,
          custodian_path: Path | None,
          progress: Progress = SILENT) -> tuple[DirReport, str, dict[str, Any]]:
    """Verify one data directory and lay out its page and JSON."""
    report = verify_tree(root, pubs)
    if custodian is not None and custodian_path is not None:
        check_custodian_key(report, custodian, custodian_path)
    rows = read_rows(root / AUDIT_LOG)
    d = DirReport(root, report, [])
    for n, result in enumerate(report.recordings, start=1):
        progress(f"report on {root}: recording {n}/{len(report.recordings)}")
        view = recording_view(result)
        add_moments(view, rows)
        if custodian is not None:
            d.problems += thumbnails(view, result.check, custodian)
        d.views.append(view)
    summary, verdict = _summary(report, d.views)
    a = report.audit
    if a is None:
        status, ok, notes = "No audit log in this directory.", None, []
    else:
        state = "intact" if a.ok else "PROBLEM"
        status = (f"Audit log {state}: {a.entries} entries, {a.checkpoints} signed "
                  f"checkpoint(s) verified, {a.unsigned_tail} entries after the last one.")
        ok, notes = a.ok, a.problems + a.notes
    generated = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    tool = tool_version()
    keys = _key_rows(report, pubs, custodian, custodian_path)
    checks = CHECKS + ([
        "Thumbnails were decrypted with the custodian key from chunks whose signatures "
        "verified, and decoded with PyAV; the evidence files were not changed."]
        if custodian is not None else [])
    title = f"Evidence report: {root.name or root}"
    html = page.page_html(
        title, summary, verdict, d.views,
        page.audit_html(status, ok, [[str(r.line), r.utc, r.words] for r in rows], notes),
        page.verification_html(checks + [f"Report generated {generated}."], keys, tool),
        d.problems + report.notes)
    doc = {"tool": tool, "generated_utc": generated, "data_dir": str(root),
           "summary": summary, "verdict": verdict.value, "exit_code": report.exit_code,
           "recordings": [v.as_dict() for v in d.views], "checks": checks,
           "keys": [{"key": k, "fingerprint": f} for k, f in keys],
           "audit_log": {"status": status, "ok": ok, "notes": notes,
                         "entries": [r.as_dict() for r in rows]},
           "verification": report.as_dict(), "problems": d.problems}
    return d, html, doc


def _write(path: Path, text: str) -> None:
    """Whole or not at all: a temporary file renamed into place."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def report_tree(root: Path, device_pubs: list[Path], custodian_key: Path | None,
                out_dir: Path, progress: Progress = SILENT) -> ReportRun:
    """Write one page and one JSON file per data directory under ``root``."""
    root, out_dir = Path(root), Path(out_dir)
    if not root.is_dir():
        raise EvidenceInputError(f"{root}: no such directory; give the offloaded data "
                                 "directory of a device")
    custodian = load_custodian_private(custodian_key) if custodian_key is not None else None
    run = ReportRun()
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        probe = tempfile.NamedTemporaryFile(dir=out_dir, prefix=".probe-")
        probe.close()
    except OSError as exc:
        raise EvidenceInputError(f"cannot write {out_dir}: {exc.strerror or exc}; choose "
                                 "another --out") from None
    dirs = data_dirs(root)
    for n, data_dir in enumerate(dirs, start=1):
        progress(f"report on {data_dir} ({n}/{len(dirs)}): verifying")
        try:
            d, html, doc = build(data_dir, list(device_pubs), custodian, custodian_key, progress)
        finally:
            progress.done()
        stem = (data_dir.resolve().name or "evidence") + "-report"
        d.html, d.json = out_dir / f"{stem}.html", out_dir / f"{stem}.json"
        try:
            _write(d.html, html)
            _write(d.json, json.dumps(doc, indent=2, sort_keys=True) + "\n")
        except OSError as exc:
            raise EvidenceInputError(f"cannot write {d.html}: {exc.strerror or exc}; choose "
                                     "another --out") from None
        run.dirs.append(d)
    return run
