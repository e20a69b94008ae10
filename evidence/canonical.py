"""Canonical JSON: the one byte encoding of every signed or hashed JSON document.

Signatures cover the stored bytes, so a verifier never re-serialises to check a
signature; canonical form still matters so the same document always gives the
same bytes (reproducible test vectors) and so a verifier can reject a document
that was re-encoded by something else. Rules (docs/FORMAT.md §2): UTF-8, object
keys sorted by code point, no whitespace, ASCII only (``\\uXXXX`` escapes as
Python's ``json`` writes them), integers only (no floats), no duplicate keys.
"""

from __future__ import annotations

import json
from typing import Any

#: Largest JSON document any parser here accepts (a manifest of a very long
#: recording fits many times over); guards memory against hostile files.
MAX_JSON_BYTES = 16 * 1024 * 1024


class CanonicalError(ValueError):
    """The bytes are not a canonical JSON document as FORMAT.md defines it."""


def _check(value: Any, depth: int = 0) -> None:
    if depth > 32:
        raise CanonicalError("JSON nested too deeply")
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return
    if isinstance(value, int):
        if abs(value) >= 1 << 63:
            raise CanonicalError("integer out of 64-bit range")
        return
    if isinstance(value, list):
        for item in value:
            _check(item, depth + 1)
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise CanonicalError("object key is not a string")
            _check(item, depth + 1)
        return
    raise CanonicalError(f"value of type {type(value).__name__} not allowed")


def encode(value: Any) -> bytes:
    """Canonical bytes of ``value`` (dict/list/str/int/bool/None only)."""
    _check(value)
    return json.dumps(value, sort_keys=True, separators=(",", ":"),
                      ensure_ascii=True, allow_nan=False).encode("ascii")


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise CanonicalError(f"duplicate key {key!r}")
        out[key] = value
    return out


def _no_float(text: str) -> Any:
    raise CanonicalError("floating-point number not allowed")


def decode(data: bytes, *, strict: bool = True) -> Any:
    """Parse canonical JSON; with ``strict`` the bytes must re-encode identically."""
    if len(data) > MAX_JSON_BYTES:
        raise CanonicalError("JSON document too large")
    try:
        text = data.decode("ascii")
        value = json.loads(text, object_pairs_hook=_no_duplicates, parse_float=_no_float,
                           parse_constant=_no_float)
        _check(value)
    except CanonicalError:
        raise
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise CanonicalError(f"not valid JSON ({type(exc).__name__})") from None
    if strict and encode(value) != data:
        raise CanonicalError("JSON is not in canonical form")
    return value


def decode_object(data: bytes, *, strict: bool = True) -> dict[str, Any]:
    """Like :func:`decode` but the document must be a JSON object."""
    value = decode(data, strict=strict)
    if not isinstance(value, dict):
        raise CanonicalError("JSON document is not an object")
    return value
