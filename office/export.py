"""``bodycam export``: decrypt verified recordings and join each into one MP4.

Export verifies first and refuses a recording with an integrity problem unless
``force`` is set (then only the parts whose signatures verify are decrypted,
and the sidecar says so). Each exported recording gets ``<device>_<recording>
.mp4`` (H.264 copied, not re-encoded, timestamps from 0) and a JSON sidecar
with the device, recording, UTC start, clock source, bookmarks, the
verification result and the MP4's SHA-256.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from evidence.errors import (
    EXIT_INCOMPLETE,
    EXIT_INTEGRITY,
    EXIT_OK,
    EXIT_UNPINNED,
    EXIT_USAGE,
    BodycamError,
    EvidenceInputError,
    OutputExistsError,
    WrongKeyError,
)
from evidence.fsutil import sha256_file, write_new_file
from evidence.keys import load_custodian_private
from evidence.primitives import (
    chunk_aad,
    forget,
    hpke_open,
    key_id,
    stream_nonce,
    x25519_raw,
)
from evidence.reader import TRUNCATED, SegmentScan
from evidence.timefmt import iso_or_none
from office.progress import SILENT, Progress
from office.remux import RemuxError, remux_to_mp4
from office.verify import RecordingResult, VerifyReport, verify_tree

EXPORTED = "exported"
REFUSED = "refused"
FAILED = "failed"
EMPTY = "empty"
SKIPPED = "already exported"
OTHER_KEY = "sealed to another key"  # a usage matter (exit 2), not an integrity one


@dataclass
class ExportItem:
    """What happened to one recording."""

    device_id: str
    recording_id: str
    verification: str
    outcome: str
    message: str
    mp4: Path | None = None
    sidecar: Path | None = None
    frames: int = 0
    duration_s: float = 0.0
    forced: bool = False

    def as_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {"device_id": self.device_id, "recording_id": self.recording_id,
                "verification": self.verification, "outcome": self.outcome,
                "message": self.message, "mp4": str(self.mp4) if self.mp4 else None,
                "sidecar": str(self.sidecar) if self.sidecar else None,
                "frames": self.frames, "duration_s": self.duration_s, "forced": self.forced}


@dataclass
class ExportReport:
    """Everything ``bodycam export`` did."""

    out_dir: Path
    verify: VerifyReport
    items: list[ExportItem] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        """1 if anything failed integrity or export, 2 if a recording is sealed to
        another custodian key, 3 if something was incomplete, else 0."""
        if any(i.outcome in (REFUSED, FAILED) or (i.verification not in ("intact", TRUNCATED))
               for i in self.items) or self.verify.exit_code == EXIT_INTEGRITY:
            return EXIT_INTEGRITY
        if any(i.outcome == OTHER_KEY for i in self.items):
            return EXIT_USAGE
        if not self.verify.pinned:
            return EXIT_UNPINNED
        if any(i.verification == TRUNCATED for i in self.items):
            return EXIT_INCOMPLETE
        return EXIT_OK

    def as_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {"out_dir": str(self.out_dir), "exit_code": self.exit_code,
                "recordings": [i.as_dict() for i in self.items],
                "verification": self.verify.as_dict()}

    def to_json(self) -> str:
        """The report as JSON text (``--json``)."""
        return json.dumps(self.as_dict(), indent=2, sort_keys=True)

    def text_lines(self) -> list[str]:
        """The report for people."""
        lines = [f"note: {n}" for n in self.verify.notes]
        for i in self.items:
            lines.append(f"{i.device_id}/{i.recording_id}: {i.outcome.upper()} "
                         f"({i.verification}): {i.message}")
        done = sum(1 for i in self.items if i.outcome == EXPORTED)
        before = sum(1 for i in self.items if i.outcome == SKIPPED)
        also = f", {before} exported before" if before else ""
        lines.append(f"{done} of {len(self.items)} recording(s) exported to {self.out_dir}"
                     f"{also} (exit {self.exit_code})")
        return lines


def _decrypt_segment(scan: SegmentScan, custodian: X25519PrivateKey, out: Path) -> None:
    """Decrypt the verified chunks of one segment into ``out`` (plain MPEG-TS)."""
    header = scan.header
    assert header is not None
    try:
        key = bytearray(hpke_open(bytes.fromhex(header["sealed_key"]), custodian))
    except InvalidTag:
        raise _Fail(f"{scan.path.name}: the data key does not open with this custodian "
                    "key") from None
    aead = AESGCM(key)
    prefix = bytes.fromhex(header["nonce_prefix"])
    try:
        with open(scan.path, "rb") as src, open(out, "wb") as dst:
            for chunk in scan.chunks:
                src.seek(chunk.ct_offset)
                ct = src.read(chunk.ct_len)
                try:
                    dst.write(aead.decrypt(stream_nonce(prefix, chunk.index, chunk.last), ct,
                                           chunk_aad(scan.header_hash, chunk.meta)))
                except InvalidTag:
                    raise _Fail(f"{scan.path.name}: chunk {chunk.index} does not decrypt "
                                "(changed since it was verified, or sealed inconsistently)") \
                        from None
    finally:
        forget(key)
        del aead


class _Fail(Exception):
    """One recording cannot be exported; the message says why."""


def _sidecar(result: RecordingResult, mp4: Path, digest: str, frames: int, dur: float,
             fps: float | None, forced: bool) -> dict[str, Any]:
    c = result.check
    info = c.info
    starts = [s.pts_range[0] for s in c.segments if s.pts_range[0] is not None]
    t0 = min(starts) if starts else info.get("start_pts_us", 0)

    def at(pts: int) -> float:
        return round((pts - t0) / 1e6, 6)

    verification = result.as_dict()
    return {
        "tool": "bodycam export", "format_version": 1,
        "device_id": c.device_id, "recording_id": c.recording_id,
        "recording_seq": c.recording_seq,
        "utc_start": iso_or_none(info.get("utc_start_us")), "utc_start_us": info.get("utc_start_us"),
        "clock_source": info.get("clock_source"),
        "first_pts_us": t0,
        "bookmarks": [dict(b, utc=iso_or_none(b["utc_us"]), offset_s=at(b["pts_us"]))
                      for b in info.get("bookmarks", [])],
        "gaps": [dict(g, start_offset_s=at(g["start_pts_us"]), end_offset_s=at(g["end_pts_us"]),
                      seconds=round((g["end_pts_us"] - g["start_pts_us"]) / 1e6, 3))
                 for g in info.get("gaps", [])],
        "verification": {k: verification[k] for k in
                         ("status", "key", "verified", "problems", "notes", "recovered")},
        "exported_with_force": forced,
        "mp4": mp4.name, "mp4_sha256": digest, "frames": frames, "duration_s": dur, "fps": fps,
        "segments": [{"file": s.path.name, "sha256": s.sha256.hex(), "chunks": len(s.chunks)}
                     for s in (c.usable if forced else c.segments) if s.chunks],
    }


def _earlier_export_damage(mp4: Path, side: Path) -> str | None:
    """Why an earlier export cannot be trusted, or None if its MP4 matches its sidecar."""
    try:
        want = json.loads(side.read_text()).get("mp4_sha256")
    except (OSError, ValueError, AttributeError):
        return f"{side.name} is not a readable sidecar"
    try:
        have = sha256_file(mp4)[0].hex()
    except OSError as exc:
        return f"{mp4.name} cannot be read ({exc.strerror or exc})"
    if have != want:
        return f"{mp4.name} does not have the SHA-256 its sidecar records (altered or cut)"
    return None


class Interrupted(BodycamError):
    """Ctrl-C during an export: says what was written and what was left."""

    exit_code = 130


def _export_one(result: RecordingResult, custodian: X25519PrivateKey, my_kid: str,
                out_dir: Path, force: bool) -> ExportItem:
    c = result.check
    item = ExportItem(c.device_id, c.recording_id, result.status, FAILED, "")
    if not c.integrity_ok:
        first = next(p for p in c.problems if p.kind != TRUNCATED)
        if not force:
            item.outcome = REFUSED
            item.message = (f"not exported: {first.text()}; re-run with --force to export "
                            "the parts whose signatures verify")
            return item
        item.forced = True
    chosen = c.usable if item.forced else c.segments
    segs = [s for s in chosen if s.header is not None and s.chunks]
    if not segs:
        item.outcome, item.message = EMPTY, "no verified video to export"
        return item
    foreign = [s for s in segs if s.header and s.header["custodian_key_id"] != my_kid]
    if foreign:
        theirs = (foreign[0].header or {})["custodian_key_id"]
        item.outcome = OTHER_KEY
        item.message = (f"{foreign[0].path.name} is sealed to another custodian key "
                        f"({theirs[:16]}…), not this one "
                        f"({my_kid[:16]}…); export it with that custodian's key")
        return item
    stem = f"{c.device_id}_{c.recording_id}"
    mp4, side = out_dir / f"{stem}.mp4", out_dir / f"{stem}.json"
    if mp4.exists() and side.exists():
        # Exported before (recording ids are unique): keep it, never overwrite, go on
        # with the rest, so exporting a growing tree into one folder just adds to it;
        # but only once its MP4 still has the SHA-256 its sidecar recorded.
        damage = _earlier_export_damage(mp4, side)
        if damage:
            item.mp4, item.sidecar = mp4, side
            item.message = (f"an earlier export is damaged: {damage}; move {mp4.name} and "
                            f"{side.name} away and export again")
            return item
        item.outcome, item.mp4, item.sidecar = SKIPPED, mp4, side
        item.message = f"{mp4.name} is already in {out_dir}; left as it is"
        return item
    for p in (mp4, side):
        if p.is_symlink():
            raise OutputExistsError(f"{p} is a symbolic link; export writes nothing through "
                                    "one (remove it or choose another --out)")
        if p.exists():
            raise OutputExistsError(f"{p} already exists without its pair; refusing to "
                                    "overwrite an export; move it away or choose another --out")
    work: Path | None = None
    try:
        work = Path(tempfile.mkdtemp(prefix=".export-", dir=out_dir))
        ts_files = []
        for n, scan in enumerate(segs):
            ts = work / f"{n:06d}.ts"
            _decrypt_segment(scan, custodian, ts)
            ts_files.append(ts)
        tmp_mp4 = work / "out.mp4"
        try:
            res = remux_to_mp4(ts_files, tmp_mp4)
        except RemuxError as exc:
            raise _Fail(f"decrypted video could not be remuxed: {exc}") from None
        digest = sha256_file(tmp_mp4)[0].hex()
        os.replace(tmp_mp4, mp4)
        doc = _sidecar(result, mp4, digest, res.frames, res.duration_s, res.fps, item.forced)
        write_new_file(side, (json.dumps(doc, indent=2, sort_keys=True) + "\n").encode())
    except _Fail as exc:
        item.message = str(exc)
        return item
    except OSError as exc:  # the output folder, not the evidence: a usage error
        raise EvidenceInputError(f"cannot write {out_dir}: {exc.strerror or exc}; choose "
                                 "another --out") from None
    finally:
        if work is not None:
            shutil.rmtree(work, ignore_errors=True)
    item.outcome, item.mp4, item.sidecar = EXPORTED, mp4, side
    item.frames, item.duration_s = res.frames, round(res.duration_s, 3)
    what = {"intact": "intact", TRUNCATED: "truncated: the verified part"}.get(
        result.status, f"FORCED despite {result.status.upper()}: verified parts only")
    item.message = f"{mp4.name}, {res.frames} frames, {item.duration_s:.3f} s ({what})"
    return item


def check_custodian_key(report: VerifyReport, custodian: X25519PrivateKey, path: Path) -> str:
    """The key id of ``custodian``; WrongKeyError if none of the evidence is sealed to it."""
    mine = key_id(x25519_raw(custodian.public_key()))
    sealed_to = {s.header["custodian_key_id"] for r in report.recordings
                 for s in r.check.segments if s.header is not None}
    if sealed_to and mine not in sealed_to:
        other = sorted(sealed_to)[0]
        raise WrongKeyError(f"{path}: wrong custodian key: this evidence is sealed to key "
                            f"{other[:16]}…, the key given is {mine[:16]}…; use the "
                            "custodian.key whose custodian.pub was given to the device")
    return mine


def export_tree(root: Path, custodian_key: Path, out_dir: Path, device_pubs: list[Path],
                force: bool, progress: Progress = SILENT) -> ExportReport:
    """Verify ``root``, then decrypt and remux each recording into ``out_dir``."""
    custodian = load_custodian_private(Path(custodian_key))
    report = verify_tree(Path(root), list(device_pubs))
    my_kid = check_custodian_key(report, custodian, Path(custodian_key))
    out_dir = Path(out_dir)
    if out_dir.is_symlink():
        raise EvidenceInputError(f"{out_dir}: is a symbolic link; give the real output "
                                 "directory (export writes nothing through a link)")
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise EvidenceInputError(f"cannot write {out_dir}: {exc.strerror or exc}; choose "
                                 "another --out") from None
    export = ExportReport(out_dir, report)
    total = len(report.recordings)
    try:
        for n, result in enumerate(report.recordings, start=1):
            progress(f"exporting {n}/{total}: {result.check.recording_id}")
            export.items.append(_export_one(result, custodian, my_kid, out_dir, force))
    except KeyboardInterrupt:
        done = sum(1 for i in export.items if i.outcome == EXPORTED)
        raise Interrupted(f"interrupted: {done} recording(s) exported to {out_dir}, "
                          f"{total - len(export.items)} not yet; nothing half-written is left "
                          "(each export appears whole or not at all); run the same command "
                          "again to export the rest") from None
    finally:
        progress.done()
    return export
