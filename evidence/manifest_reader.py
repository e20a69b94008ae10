"""Read and check a manifest file without any decryption key (FORMAT.md §7).

Like ``evidence.reader`` for segments: every signature is checked against the
device key given (or, with none pinned, the key the file names), and damaged or
hostile bytes become findings, never exceptions.
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from evidence import canonical, schema
from evidence.canonical import CanonicalError
from evidence.framing import MAGIC_LEN, MANIFEST_VERSIONS, TAG_MANIFEST, Record, iter_records
from evidence.primitives import manifest_message, sha256
from evidence.reader import FOREIGN, MALFORMED, MAX_MANIFEST_FILE, TAMPERED, Finding
from evidence.sigcheck import (
    AnyKey,
    as_public,
    embedded_key,
    open_regular,
    sig_len,
    signature_problem,
    verifies,
)


@dataclass
class ManifestScan:
    """What a check of one manifest file found."""

    path: Path
    size: int = 0
    sha256: bytes = b""
    doc: dict[str, Any] | None = None
    findings: list[Finding] = field(default_factory=list)
    version: int = 0


def scan_manifest(path: Path, key: AnyKey | None) -> ManifestScan:
    """Check a manifest file (v1 or v2); ``key`` None means trust the key it names."""
    scan = ManifestScan(Path(path))
    pkey = None if key is None else as_public(key)
    try:
        with open_regular(path) as f:
            scan.size = os.fstat(f.fileno()).st_size
            data = f.read(MAX_MANIFEST_FILE + 1)
    except OSError as exc:
        scan.findings.append(Finding(MALFORMED, None, f"cannot read: {exc.strerror or exc}"))
        return scan
    if len(data) > MAX_MANIFEST_FILE:
        scan.findings.append(Finding(MALFORMED, None, "manifest file too large"))
        return scan
    scan.sha256 = sha256(data)
    version = MANIFEST_VERSIONS.get(data[:MAGIC_LEN], 0)
    scan.version = version
    if not version:
        scan.findings.append(Finding(MALFORMED, 0, "not a bodycam manifest (bad magic)"))
        return scan
    slen = sig_len(version)
    recs = list(iter_records(io.BytesIO(data), len(data)))
    if len(recs) != 1 or not isinstance(recs[0], Record) or recs[0].tag != TAG_MANIFEST \
            or len(recs[0].body) <= slen:
        scan.findings.append(Finding(TAMPERED, MAGIC_LEN, "manifest is not exactly one "
                                     "signed manifest record (cut, extended or altered)"))
        return scan
    body = recs[0].body
    mjson, msig = body[:-slen], body[-slen:]
    doc: dict[str, Any] | None
    try:
        doc = schema.check_manifest(canonical.decode_object(mjson), version)
        err = ""
    except CanonicalError as exc:
        doc, err = None, str(exc)
    if pkey is None:
        pkey = embedded_key(doc)
        if pkey is None:
            scan.findings.append(Finding(MALFORMED, MAGIC_LEN, f"manifest unreadable: {err}"))
            return scan
    msg = manifest_message(mjson, version)
    if not verifies(pkey, msig, msg, version):
        foreign, text = signature_problem(doc, pkey, msig, msg, "manifest", version)
        scan.findings.append(Finding(FOREIGN if foreign else TAMPERED, MAGIC_LEN, text))
        return scan
    if doc is None:
        scan.findings.append(Finding(MALFORMED, MAGIC_LEN, f"manifest is signed but invalid: "
                                     f"{err}"))
        return scan
    scan.doc = doc
    return scan
