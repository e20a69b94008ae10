"""Writes ``firmware/settings.py``: one frozen dataclass per configuration section, from the schema.

The schema (``firmware.config.SCHEMA``) stays the single source of truth; this
turns it into types a reader and pyright can follow (``settings.camera.fps``
is an ``int``, ``settings.prerecord.mode`` one of three strings). Run
``python -m firmware.settings_gen`` after changing the schema; a test fails
while the file is out of date.
"""

from __future__ import annotations

import sys
from pathlib import Path

from .config import SCHEMA, Key

TARGET = Path(__file__).with_name("settings.py")


def _annotation(key: Key) -> str:
    if key.choices is not None:
        return "Literal[" + ", ".join(f'"{c}"' for c in key.choices) + "]"
    types = key.type if isinstance(key.type, tuple) else (key.type,)
    if float in types:
        return "float"
    return types[0].__name__


def _class_name(section: str) -> str:
    return section.capitalize() + "Settings"


def render() -> str:
    """The source of ``firmware/settings.py`` for the current schema."""
    out = [
        '"""The configuration as frozen dataclasses, one per section: generated, do not edit.',
        "",
        "Written by ``python -m firmware.settings_gen`` from ``firmware.config.SCHEMA``; a",
        "test fails when it is out of date. ``Settings.of(conf)`` takes the checked",
        "configuration (``firmware.config.load``/``defaults``).",
        '"""',
        "",
        "from __future__ import annotations",
        "",
        "from collections.abc import Mapping",
        "from dataclasses import dataclass",
        "from typing import Any, Literal",
    ]
    for section, keys in SCHEMA.items():
        out += ["", "", "@dataclass(frozen=True)", f"class {_class_name(section)}:",
                f'    """The [{section}] section."""', ""]
        for name, key in keys.items():
            out.append(f"    {name}: {_annotation(key)}")
    out += ["", "", "@dataclass(frozen=True)", "class Settings:",
            '    """The whole configuration, one attribute per section."""', ""]
    for section in SCHEMA:
        out.append(f"    {section}: {_class_name(section)}")
    out += ["", "    @classmethod",
            "    def of(cls, conf: Mapping[str, Mapping[str, Any]]) -> Settings:",
            '        """The checked configuration mapping as typed, frozen sections."""',
            "        return cls("]
    for section in SCHEMA:
        out.append(f'            {section}={_class_name(section)}(**conf["{section}"]),')
    out += ["        )", ""]
    return "\n".join(out)


def main() -> int:
    """Write the module; 0 if it changed or not."""
    TARGET.write_text(render(), encoding="utf-8")
    print(f"wrote {TARGET}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
