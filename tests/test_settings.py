"""The typed configuration follows the schema: generated from it, and holding the checked values."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from firmware import config, settings_gen
from firmware.settings import Settings


def test_the_generated_module_is_up_to_date() -> None:
    assert settings_gen.TARGET.read_text(encoding="utf-8") == settings_gen.render(), \
        "run: python -m firmware.settings_gen"


def test_a_loaded_file_reads_as_frozen_typed_sections(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text('[prerecord]\nmode = "armed"\nseconds = 12\n[camera]\nfps = 25\n')
    s = Settings.of(config.load(path))
    assert s.prerecord.mode == "armed" and s.prerecord.seconds == 12.0
    assert isinstance(s.prerecord.seconds, float) and s.camera.fps == 25
    assert s.storage.reserve_mib == config.SCHEMA["storage"]["reserve_mib"].default
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.camera.fps = 30  # type: ignore[misc]
    assert [f.name for f in dataclasses.fields(s)] == list(config.SCHEMA)
