"""UTC timestamps as text, one way for the audit log, verify's report and export's sidecar."""

from __future__ import annotations

import time


def iso_utc_us(utc_us: int) -> str:
    """``2026-01-15T08:00:00.000000Z`` for microseconds since the epoch; raises
    OverflowError, OSError or ValueError for a time the platform cannot show."""
    secs, us = divmod(utc_us, 1_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(secs)) + f".{us:06d}Z"


def us_of(utc: float) -> int:
    """Microseconds since the epoch of UTC seconds, rounded to the nearest."""
    secs = int(utc // 1)
    us = int(round((utc - secs) * 1_000_000))
    return secs * 1_000_000 + us


def iso_or_none(utc_us: int | None) -> str | None:
    """:func:`iso_utc_us`, or None for a missing or impossible time (in a report)."""
    if utc_us is None:
        return None
    try:
        return iso_utc_us(utc_us)
    except (OverflowError, OSError, ValueError):
        return None
