"""Every word the front display shows, in one table per language.

Translators and reviewers edit only this file. ``\\u00ad`` (soft hyphen) marks
where a long German word may be split across lines on a narrow panel; it is
invisible unless the layout breaks there.
"""

from __future__ import annotations

SHY = "\u00ad"

TEXT: dict[str, dict[str, str]] = {
    "de": {
        "rec_badge": "AUFNAHME",
        "notice": f"Video{SHY}aufzeichnung möglich",
        "prerecord_on": f"Vorab-{SHY}Aufnahme an",
        "prerecord_armed": f"Vorab-{SHY}Aufnahme scharf",
        "no_camera_image": "Kein Kamerabild",
        "storage_low": "Speicher fast voll",
        "storage_full": "Speicher voll",
        "storage_error": f"Speicher{SHY}fehler",
        "camera_fault": f"Kamera{SHY}fehler",
        "mic_fault": "Kein Ton",
        "clock_unsynced": "Uhr nicht synchron",
        "key_missing": "Schlüssel fehlt",
    },
    "en": {
        "rec_badge": "REC",
        "notice": "Video recording possible",
        "prerecord_on": "Pre-record on",
        "prerecord_armed": "Pre-record armed",
        "no_camera_image": "No camera image",
        "storage_low": "Storage almost full",
        "storage_full": "Storage full",
        "storage_error": "Storage error",
        "camera_fault": "Camera fault",
        "mic_fault": "No sound",
        "clock_unsynced": "Clock not synced",
        "key_missing": "Key missing",
    },
}


def text(key: str, language: str) -> str:
    """The display text ``key`` in ``language`` (``"de"`` or ``"en"``); KeyError if missing."""
    return TEXT[language][key]


def format_elapsed(seconds: float) -> str:
    """Recording time as ``MM:SS``, or ``H:MM:SS`` from one hour on (same in every language)."""
    s = max(0, int(seconds))
    hours, rest = divmod(s, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}:{minutes:02d}:{secs:02d}"
    return f"{minutes:02d}:{secs:02d}"
