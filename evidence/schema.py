"""Field-by-field checks of the JSON documents (FORMAT.md §5-§7).

A document that is signed by the device but does not have exactly these fields
of exactly these types is *malformed*; checking here keeps every later
``doc["field"]`` from raising on a hostile file.
"""

from __future__ import annotations

import enum
import re
from typing import Any

from evidence.canonical import CanonicalError
from evidence.layout import SEGMENT_FILE
from evidence.primitives import (
    FORMAT_VERSION,
    FORMAT_VERSION_2,
    HPKE_SUITE_NAME,
    NONCE_PREFIX_LEN,
    PAYLOAD_AEAD_NAME,
    SEALED_KEY_LEN,
)

CONTAINER = "video/mp2t"
_HEX = re.compile(r"^[0-9a-f]*$")
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
_SEG_FILE = SEGMENT_FILE


class ClockSource(enum.Enum):
    """How far a recording's UTC can be trusted (v2: exactly one of these)."""

    NTP = "ntp"
    RTC = "rtc"
    UNSYNCED = "unsynced"


def _hex(n_bytes: int) -> Any:
    def check(v: Any) -> bool:
        return isinstance(v, str) and len(v) == 2 * n_bytes and bool(_HEX.fullmatch(v))
    return check


def _int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _uint(v: Any) -> bool:
    return _int(v) and v >= 0


def _opt_int(v: Any) -> bool:
    return v is None or _int(v)


def _short_str(limit: int) -> Any:
    def check(v: Any) -> bool:
        return isinstance(v, str) and len(v) <= limit
    return check


def _ident(v: Any) -> bool:
    return isinstance(v, str) and bool(_ID.fullmatch(v))


def _const(value: Any) -> Any:
    def check(v: Any) -> bool:
        return v == value and type(v) is type(value)
    return check


def _bool(v: Any) -> bool:
    return isinstance(v, bool)


HEADER = {
    "clock_source": _short_str(32),
    "container": _const(CONTAINER),
    "custodian_key_id": _hex(32),
    "device_id": _ident,
    "device_key": _hex(32),
    "format_version": _const(FORMAT_VERSION),
    "hpke_suite": _const(HPKE_SUITE_NAME),
    "kind": _const("segment-header"),
    "nonce_prefix": _hex(NONCE_PREFIX_LEN),
    "opened_utc_us": _int,
    "payload_aead": _const(PAYLOAD_AEAD_NAME),
    "prev_hash": _hex(32),
    "recording_id": _ident,
    "recording_seq": _uint,
    "sealed_key": _hex(SEALED_KEY_LEN),
    "segment_index": _uint,
    "start_pts_us": _int,
    "utc_start_us": _int,
}

TRAILER = {
    "chunks": _uint,
    "closed_utc_us": _int,
    "first_pts_us": _opt_int,
    "frames": _uint,
    "kind": _const("segment-trailer"),
    "last_pts_us": _opt_int,
    "payload_bytes": _uint,
    "segment_index": _uint,
}

MANIFEST_SEGMENT = {
    "chunks": _uint,
    "complete": _bool,
    "file": lambda v: isinstance(v, str) and bool(_SEG_FILE.fullmatch(v)),
    "first_pts_us": _opt_int,
    "frames": _uint,
    "index": _uint,
    "last_pts_us": _opt_int,
    "payload_bytes": _uint,
    "sha256": _hex(32),
    "size": _uint,
}

def _clock_source(v: Any) -> bool:
    return v in {c.value for c in ClockSource}


def _key_alg(v: Any) -> bool:
    return v in ("ed25519", "ecdsa-p256-sha256")


def _device_key(v: Any) -> bool:
    return _hex(32)(v) or _hex(65)(v)


def _counter_kind(v: Any) -> bool:
    return v in ("tpm-nv", "file")


_V2_SIGNER = {"counter": _uint, "counter_kind": _counter_kind, "device_key": _device_key,
              "device_key_alg": _key_alg, "format_version": _const(FORMAT_VERSION_2),
              "clock_source": _clock_source}

HEADER_V2 = {**HEADER, **_V2_SIGNER, "chunk_key": _hex(32)}

BOOKMARK = {"label": _short_str(200), "pts_us": _int, "utc_us": _int}
GAP = {"end_pts_us": _int, "reason": _short_str(200), "start_pts_us": _int}

MANIFEST = {
    "bookmarks": list,
    "clock_source": _short_str(32),
    "device_id": _ident,
    "device_key": _hex(32),
    "duration_us": _uint,
    "finished_utc_us": _int,
    "format_version": _const(FORMAT_VERSION),
    "frames": _uint,
    "gaps": list,
    "kind": _const("recording-manifest"),
    "note": _short_str(1000),
    "prev_hash": _hex(32),
    "recording_id": _ident,
    "recording_seq": _uint,
    "recovered": _bool,
    "segments": list,
    "start_prev_hash": _hex(32),
    "start_pts_us": _int,
    "utc_start_us": _int,
}


MANIFEST_V2 = {**MANIFEST, **_V2_SIGNER}

EVENT_BOOKMARK = {**BOOKMARK, "kind": _const("bookmark")}
EVENT_GAP = {**GAP, "kind": _const("gap")}


def check(doc: dict[str, Any], spec: dict[str, Any], what: str) -> dict[str, Any]:
    """Raise CanonicalError unless ``doc`` has exactly the fields of ``spec``, well typed."""
    if set(doc) != set(spec):
        extra = sorted(set(doc) - set(spec))
        missing = sorted(set(spec) - set(doc))
        raise CanonicalError(f"{what}: fields differ (missing {missing}, unexpected {extra})")
    for key, test in spec.items():
        ok = isinstance(doc[key], test) if isinstance(test, type) else test(doc[key])
        if not ok:
            raise CanonicalError(f"{what}: field {key!r} has a bad value")
    return doc


def check_manifest(doc: dict[str, Any], version: int = FORMAT_VERSION) -> dict[str, Any]:
    """Check a manifest including its lists."""
    check(doc, MANIFEST if version == 1 else MANIFEST_V2, "manifest")
    for entry in doc["segments"]:
        if not isinstance(entry, dict):
            raise CanonicalError("manifest: segment entry is not an object")
        check(entry, MANIFEST_SEGMENT, "manifest segment")
    for entry in doc["bookmarks"]:
        if not isinstance(entry, dict):
            raise CanonicalError("manifest: bookmark is not an object")
        check(entry, BOOKMARK, "manifest bookmark")
    for entry in doc["gaps"]:
        if not isinstance(entry, dict):
            raise CanonicalError("manifest: gap is not an object")
        check(entry, GAP, "manifest gap")
    return doc
