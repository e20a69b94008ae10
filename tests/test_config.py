"""Configuration: every mistake is one clear line naming the key; docs match the schema."""

from __future__ import annotations

from pathlib import Path

import pytest

from firmware import config
from firmware.cli import main

ROOT = Path(__file__).resolve().parent.parent


def test_defaults_and_overrides() -> None:
    conf = config.parse("[prerecord]\nseconds = 60\nmode = \"armed\"\n")
    assert conf["prerecord"]["seconds"] == 60.0
    assert conf["prerecord"]["mode"] == "armed"
    assert conf["recording"]["segment_seconds"] == 60.0


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[prerecord]\nseconds = 500\n", "line 2: key 'prerecord.seconds' 500 is out of range 0 to 120"),
        ("[prerecord]\nseconds = \"30\"\n", "line 2: key 'prerecord.seconds' must be a number, not str"),
        ("[button]\n\npin = 4\nactive_low = 1\n", "line 4: key 'button.active_low' must be true or false"),
        ("[button]\npin = 3.5\n", "line 2: key 'button.pin' must be an integer, not float"),
        ("[prerecord]\nmode = \"sometimes\"\n", "line 2: key 'prerecord.mode' 'sometimes' is not one of on"),
        ("[camera]\nfps = 30\nfsp = 30\n", "line 3: unknown key 'camera.fsp'"),
        ("[camra]\nfps = 30\n", "line 1: unknown section [camra]"),
        ("[camera]\nfps = = 30\n", "not valid TOML"),
        ("camera = 5\n", "'camera' must be a [section] table"),
        ("[button]\nhold_seconds = 5\nstealth_hold_seconds = 4\n",
         "line 3: key 'button.stealth_hold_seconds' (4) must be longer than 'button.hold_seconds' (5)"),
        ("[cues]\nled_pin = 17\n", "keys 'button.pin' and 'cues.led_pin' both use GPIO 17"),
        ("[camera]\nwidth = 641\n", "line 2: key 'camera.width' (641) must be even"),
        ("[display]\nenabled = true\ndc_pin = 0\n",
         "line 3: key 'display.dc_pin' is 0, which luma.core takes for 'no D/C line'"),
        ("[display]\nwidth = 300\nheight = 200\n",
         "line 2: keys 'display.width' and 'display.height' (300x200): luma.lcd drives an ILI9341 only"),
        ("[cues]\nbuzzer_pin = 8\n", "line 2: key 'cues.buzzer_pin' is GPIO 8, spi0 CE0 while SPI is on"),
        ("[button]\npin = 10\n", "line 2: key 'button.pin' is GPIO 10, spi0 MOSI"),
        ("[watermark]\n\nofficer_id = \"Müller\"\n",
         "line 3: key 'watermark.officer_id' ('Müller') must be up to 32 letters, digits"),
        ("[watermark]\nposition = \"center\"\n",
         "line 2: key 'watermark.position' 'center' is not one of bottom-left, bottom-right"),
    ],
)
def test_each_kind_of_bad_line_is_named(text: str, expected: str) -> None:
    with pytest.raises(config.ConfigError) as err:
        config.parse(text, "dev.toml")
    msg = str(err.value)
    assert expected in msg
    assert msg.startswith("dev.toml")
    assert "\n" not in msg


def test_bad_config_exits_2_with_one_line_and_no_traceback(tmp_path: Path, capsys) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[recording]\nsegment_seconds = 1\n")
    code = main(["run", "--sim", "--fast", "--config", str(bad), "--data-dir", str(tmp_path / "d")])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1
    assert "recording.segment_seconds" in err and "Traceback" not in err
    assert not (tmp_path / "d").exists(), "nothing starts on a bad configuration"


def test_dc_pin_0_exits_2_with_one_line(tmp_path: Path, capsys) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[display]\nenabled = true\ndc_pin = 0\n")
    code = main(["run", "--sim", "--fast", "--config", str(bad), "--data-dir", str(tmp_path / "d")])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "Traceback" not in err
    assert "display.dc_pin" in err and "wire D/C to another GPIO" in err


def test_missing_config_file(tmp_path: Path, capsys) -> None:
    assert main(["run", "--sim", "--config", str(tmp_path / "none.toml")]) == 2
    assert "configuration file not found" in capsys.readouterr().err


def test_docs_and_example_follow_the_schema() -> None:
    doc = (ROOT / "docs" / "CONFIG.md").read_text()
    assert config.markdown_table() in doc, "regenerate the table in docs/CONFIG.md"
    example = (ROOT / "firmware" / "config.example.toml").read_text()
    assert example == config.example_toml()
    assert config.parse(example) == config.defaults()
