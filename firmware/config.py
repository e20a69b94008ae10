"""The device configuration: one TOML file, every key checked before anything starts.

The schema below is the single source of truth: the loader checks types and
ranges against it, and docs/CONFIG.md documents every entry (a test keeps the
two in step). A mistake gets one line naming the file, line, key and the fix,
and exit code 2; the daemon never runs on a half-understood configuration.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evidence.errors import BodycamError
from evidence.fsutil import read_regular

MAX_CONFIG = 1 << 20


class ConfigError(BodycamError):
    """The configuration file cannot be used as it is."""

    exit_code = 2


@dataclass(frozen=True)
class Key:
    """One configuration key: its type, default, allowed values and meaning."""

    type: type | tuple[type, ...]
    default: Any
    doc: str
    min: float | None = None
    max: float | None = None
    choices: tuple[str, ...] | None = None


MiB = 1024 * 1024
#: The sizes luma.lcd's ili9341 accepts (luma/lcd/device.py:650-657 in luma.lcd 2.13).
ILI9341_SIZES = ((320, 240), (240, 240), (320, 180))
#: The lines spi0 takes when SPI is on: the kernel holds them, no process can claim them.
SPI0_LINES = {7: "spi0 CE1", 8: "spi0 CE0", 9: "spi0 MISO", 10: "spi0 MOSI", 11: "spi0 SCLK"}

SCHEMA: dict[str, dict[str, Key]] = {
    "camera": {
        "width": Key(int, 1920, "Main (recorded) stream width in pixels (even).", 320, 4096),
        "height": Key(int, 1080, "Main stream height in pixels (even).", 240, 2304),
        "fps": Key(int, 30, "Frames per second.", 5, 60),
        "bitrate": Key(int, 9_000_000, "H.264 bitrate in bit/s.", 500_000, 25_000_000),
        "gop_seconds": Key((int, float), 1.0, "Seconds between keyframes (GOP length).", 0.25, 5),
        "lores_width": Key(int, 320, "Width of the lores stream the display mirrors (even).", 64, 1280),
        "lores_height": Key(int, 240, "Height of the low-resolution stream (even).", 48, 960),
        "stall_seconds": Key((int, float), 2.0, "No packets this long is a camera stall.", 0.5, 30),
    },
    "prerecord": {
        "mode": Key(str, "on", "on: always buffering; armed: only after the arm gesture; off: none.",
                    choices=("on", "armed", "off")),
        "seconds": Key((int, float), 30.0, "Seconds of video before the press kept in RAM.", 0, 120),
        "max_mib": Key(int, 172, "RAM cap for the buffer in MiB (172 MiB = 120 s at 12 Mbit/s).",
                       1, 2048),
    },
    "recording": {
        "segment_seconds": Key((int, float), 60.0, "Segment length; segments roll over at keyframes.",
                               5, 3600),
        "fsync_interval": Key((int, float), 1.0, "Most seconds of footage that may be in RAM only.",
                              0.1, 10),
        "chunk_max_kib": Key(int, 4096, "Largest sealed chunk in KiB.", 64, 65536),
    },
    "audio": {
        "enabled": Key(bool, True, "Record sound with the picture (AAC-LC, 48 kHz mono). Muting is a "
                                   "configuration change, never a gesture."),
        "in_prerecord": Key(bool, False, "Keep sound in the pre-record buffer too; false: the pre-roll "
                                         "has picture only and sound starts at the press."),
        "device": Key(str, "default", "ALSA capture device of the microphone (e.g. "
                      "plughw:CARD=Device,DEV=0; arecord -L lists them)."),
        "gain_db": Key((int, float), 0.0, "Gain applied to the microphone's samples, in dB.", -20, 40),
        "bitrate": Key(int, 64_000, "AAC bitrate in bit/s.", 32_000, 256_000),
        "retry_seconds": Key((int, float), 2.0, "How often a missing or failed microphone is tried "
                                                "again.", 0.5, 60),
    },
    "button": {
        "pin": Key(int, 17, "BCM GPIO number of the record button.", 0, 27),
        "active_low": Key(bool, True, "The button pulls the line to ground (internal pull-up)."),
        "debounce_ms": Key(int, 30, "Contact must be stable this long to count.", 5, 200),
        "hold_seconds": Key((int, float), 3.0, "Hold this long to stop recording.", 1, 10),
        "double_press_seconds": Key((int, float), 0.5, "Most time between the two presses of a double press.",
                                    0.2, 1.5),
        "stealth_hold_seconds": Key((int, float), 6.0,
                                    "Hold this long to toggle stealth; 0 = no stealth gesture. "
                                    "Must exceed hold_seconds.", 0, 20),
    },
    "cues": {
        "enabled": Key(bool, True, "Cues on the LED, motor and buzzer; false keeps all three off "
                                   "(the recording LED too); cues are still audit-logged."),
        "led_pin": Key(int, 5, "BCM GPIO of the red LED (lit while recording); -1 = not fitted.", -1, 27),
        "vibration_pin": Key(int, 6, "BCM GPIO of the vibration motor's driver; -1 = not fitted.", -1, 27),
        "buzzer_pin": Key(int, 13, "BCM GPIO of the active buzzer; -1 = not fitted.", -1, 27),
        "active_high": Key(bool, True, "A high level switches a part on; false for low-side drivers."),
        "reminder_seconds": Key((int, float), 120.0, "Seconds between reminder cues while recording; "
                                                     "0 = none.", 0, 600),
    },
    "gestures": {
        "start": Key(str, "press", "Gesture that starts recording.", choices=("press", "double_press")),
        "bookmark": Key(bool, True, "A press while recording drops a bookmark."),
    },
    "display": {
        "enabled": Key(bool, True, "Drive the front panel; false: no panel is opened."),
        "kind": Key(str, "ili9341", "Panel controller: ILI9341 (2.8\", 320x240) or ST7789 (240x240).",
                    choices=("ili9341", "st7789")),
        "width": Key(int, 0, "Panel width at rotation 0: 0 = the controller's usual size (ILI9341 "
                     "320, ST7789 240), else 128 to 320, set together with height.", 0, 320),
        "height": Key(int, 0, "Panel height at rotation 0: 0 = the controller's usual size "
                      "(ILI9341 240, ST7789 240), else 128 to 320, set together with width.", 0, 320),
        "rotation": Key(int, 0, "Rotation in 90-degree clockwise steps.", 0, 3),
        "spi_port": Key(int, 0, "SPI bus (/dev/spidev<port>.<device>).", 0, 6),
        "spi_device": Key(int, 0, "SPI chip select.", 0, 2),
        "spi_hz": Key(int, 32_000_000, "SPI clock in Hz.", 500_000, 80_000_000),
        "dc_pin": Key(int, 24, "BCM GPIO of the panel's data/command line.", 0, 27),
        "rst_pin": Key(int, 25, "BCM GPIO of the panel's reset line.", 0, 27),
        "backlight_pin": Key(int, 18, "BCM GPIO of the backlight.", 0, 27),
        "backlight_active_low": Key(bool, False, "The backlight is on when its pin is low."),
        "fps": Key((int, float), 15.0, "Live-view frames per second (the bus allows about 26 at 32 MHz).",
                   1, 30),
        "mirror": Key(bool, True, "Flip the live view left-right, as a mirror."),
        "standby_view": Key(str, "live", "What standby shows: the live view, a notice, or nothing.",
                            choices=("live", "notice", "off")),
        "language": Key(str, "de", "Language of every text on the panel.", choices=("de", "en")),
    },
    "storage": {
        "data_dir": Key(str, "/var/lib/bodycam", "Where evidence and the audit log are written."),
        "nearly_full_percent": Key((int, float), 10.0, "Warn (display, audit) when free space falls "
                                   "below this share of the medium.", 1, 50),
        "min_free_mib": Key(int, 64, "A recording is not started with less free space than this.",
                            1, 4096),
        "reserve_mib": Key(int, 8, "Space held back so a full medium can still close the segment "
                           "and log the fault.", 1, 256),
    },
    "identity": {
        "dir": Key(str, "/etc/bodycam/identity", "Device identity directory (bodycam keys device)."),
        "tpm_tcti": Key(str, "", "TPM of a --key-store tpm identity, as a TCTI string (e.g. "
                        "device:/dev/tpmrm0); empty: the BODYCAM_TPM_TCTI environment variable."),
    },
    "watermark": {
        "enabled": Key(bool, True, "Burn each frame's UTC capture time, the device id and (when not "
                                   "NTP) the clock source into the video (docs/WATERMARK.md)."),
        "officer_id": Key(str, "", "Officer id burned in after the device id; empty = none. "
                                   "Up to 32 letters, digits, space, '.', '_', '/' or '-'."),
        "position": Key(str, "bottom-left", "Corner of the watermark box.",
                        choices=("bottom-left", "bottom-right", "top-left", "top-right")),
    },
}

#: What ``watermark.officer_id`` may hold: it is drawn with a fixed set of glyphs.
OFFICER_ID_RE = re.compile(r"[A-Za-z0-9 ._/-]{0,32}")


def defaults() -> dict[str, dict[str, Any]]:
    """The configuration with every key at its default."""
    return {sec: {k: key.default for k, key in keys.items()} for sec, keys in SCHEMA.items()}


def _line_of(text: str, section: str, key: str | None) -> int | None:
    """Line number of ``[section]`` (or of ``key`` inside it) in the TOML text."""
    lines = text.splitlines()
    in_section = False
    for no, line in enumerate(lines, 1):
        stripped = line.strip()
        header = re.match(r"^\[\s*([^\]\s]+)\s*\]", stripped)
        if header:
            in_section = header.group(1) == section
            if in_section and key is None:
                return no
            continue
        if in_section and key is not None and re.match(rf"^{re.escape(key)}\s*=", stripped):
            return no
    return None


def _type_name(t: type | tuple[type, ...]) -> str:
    names = {int: "an integer", float: "a number", str: "a string", bool: "true or false"}
    if isinstance(t, tuple):
        return "a number"
    return names.get(t, t.__name__)


def _check(section: str, name: str, key: Key, value: Any) -> tuple[Any, str | None]:
    """The value converted to its type, or an error message."""
    types = key.type if isinstance(key.type, tuple) else (key.type,)
    ok = isinstance(value, types) and not (isinstance(value, bool) and bool not in types)
    if not ok:
        return None, f"must be {_type_name(key.type)}, not {type(value).__name__} {value!r}"
    if key.choices is not None and value not in key.choices:
        return None, f"{value!r} is not one of {', '.join(key.choices)}"
    if key.min is not None and key.max is not None and not key.min <= value <= key.max:
        return None, f"{value!r} is out of range {_num(key.min)} to {_num(key.max)}"
    return (float(value) if float in types else value), None


def parse(
    text: str, source: str = "config", base: dict[str, dict[str, Any]] | None = None
) -> dict[str, dict[str, Any]]:
    """Check a TOML text against the schema; returns the complete configuration.

    Keys the text leaves out come from ``base`` (the defaults if not given).
    """
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{source}: not valid TOML ({e}); fix the syntax and try again") from None
    except RecursionError:  # nesting deeper than the parser can follow
        raise ConfigError(f"{source}: not a bodycam configuration (nested too deeply)") from None
    conf = {sec: dict(keys) for sec, keys in (base or defaults()).items()}
    for section, table in data.items():
        where = f"{source} line {_line_of(text, section, None) or '?'}"
        if section not in SCHEMA:
            raise ConfigError(
                f"{where}: unknown section [{section}] (known: {', '.join(SCHEMA)}); "
                "remove it or fix its spelling"
            )
        if not isinstance(table, dict):
            raise ConfigError(f"{where}: '{section}' must be a [section] table; "
                              "see docs/CONFIG.md")
        for name, value in table.items():
            where = f"{source} line {_line_of(text, section, name) or '?'}"
            key = SCHEMA[section].get(name)
            if key is None:
                raise ConfigError(
                    f"{where}: unknown key '{section}.{name}' "
                    f"(known in [{section}]: {', '.join(SCHEMA[section])}); remove it or fix its spelling"
                )
            checked, problem = _check(section, name, key, value)
            if problem:
                raise ConfigError(f"{where}: key '{section}.{name}' {problem}; see docs/CONFIG.md")
            conf[section][name] = checked
    _check_together(conf, text, source)
    return conf


def _check_together(conf: dict[str, dict[str, Any]], text: str, source: str) -> None:
    """Rules that involve more than one key."""
    btn = conf["button"]
    if btn["stealth_hold_seconds"] and btn["stealth_hold_seconds"] <= btn["hold_seconds"]:
        line = _line_of(text, "button", "stealth_hold_seconds") or _line_of(text, "button", "hold_seconds")
        raise ConfigError(
            f"{source} line {line or '?'}: key 'button.stealth_hold_seconds' "
            f"({btn['stealth_hold_seconds']:g}) must be longer than 'button.hold_seconds' "
            f"({btn['hold_seconds']:g}); make it longer, or 0 for no stealth gesture"
        )
    cam = conf["camera"]
    for key in ("width", "height", "lores_width", "lores_height"):
        if cam[key] % 2:
            raise ConfigError(
                f"{source} line {_line_of(text, 'camera', key) or '?'}: key 'camera.{key}' "
                f"({cam[key]}) must be even (YUV420 halves it); use an even number"
            )
    for lo, main in (("lores_width", "width"), ("lores_height", "height")):
        if cam[lo] > cam[main]:
            raise ConfigError(
                f"{source} line {_line_of(text, 'camera', lo) or '?'}: key 'camera.{lo}' "
                f"({cam[lo]}) must not exceed 'camera.{main}' ({cam[main]}): picamera2 refuses a "
                "lores stream larger than the main stream"
            )
    cues, disp = conf["cues"], conf["display"]
    pins = {"button.pin": btn["pin"]} | {
        f"cues.{k}": cues[k] for k in ("led_pin", "vibration_pin", "buzzer_pin") if cues[k] >= 0
    }
    if disp["enabled"]:
        pins |= {f"display.{k}": disp[k] for k in ("dc_pin", "rst_pin", "backlight_pin")}
    if (disp["width"] == 0) != (disp["height"] == 0) or 0 < min(disp["width"], disp["height"]) < 128:
        raise ConfigError(
            f"{source} line {_line_of(text, 'display', 'width') or '?'}: keys 'display.width' and "
            "'display.height' do not match; set both to 0 (the panel's usual size) or "
            "both to 128 to 320"
        )
    size = (disp["width"], disp["height"])
    if disp["enabled"] and disp["kind"] == "ili9341" and disp["width"] and size not in ILI9341_SIZES:
        raise ConfigError(
            f"{source} line {_line_of(text, 'display', 'width') or '?'}: keys 'display.width' and "
            f"'display.height' ({size[0]}x{size[1]}): luma.lcd drives an ILI9341 only at "
            f"{', '.join(f'{w}x{h}' for w, h in ILI9341_SIZES)}; use one of those or 0 and 0"
        )
    if disp["enabled"] and disp["dc_pin"] == 0:
        raise ConfigError(
            f"{source} line {_line_of(text, 'display', 'dc_pin') or '?'}: key 'display.dc_pin' is 0, "
            "which luma.core takes for 'no D/C line' (pixels would go out as commands); "
            "wire D/C to another GPIO"
        )
    for key, pin in pins.items():
        if pin in SPI0_LINES:
            section, name = key.split(".")
            raise ConfigError(
                f"{source} line {_line_of(text, section, name) or '?'}: key '{key}' is GPIO {pin}, "
                f"{SPI0_LINES[pin]} while SPI is on (deploy.sh sets dtparam=spi=on); the kernel "
                "holds it and GPIO claims fail with 'GPIO busy': choose a pin outside 7 to 11"
            )
    officer = conf["watermark"]["officer_id"]
    if not OFFICER_ID_RE.fullmatch(officer):
        raise ConfigError(
            f"{source} line {_line_of(text, 'watermark', 'officer_id') or '?'}: key "
            f"'watermark.officer_id' ({officer!r}) must be up to 32 letters, digits, spaces, "
            "'.', '_', '/' or '-'"
        )
    seen: dict[int, str] = {}
    for key, pin in pins.items():
        if pin in seen:
            raise ConfigError(
                f"{source}: keys '{seen[pin]}' and '{key}' both use GPIO {pin}; give each its own pin"
            )
        seen[pin] = key


def load(path: Path | str, base: dict[str, dict[str, Any]] | None = None) -> dict[str, dict[str, Any]]:
    """Read and check a configuration file (missing keys from ``base``)."""
    path = Path(path)
    try:
        # A regular file of sane size only: a FIFO would block the loop, /dev/zero fill RAM.
        text = read_regular(path, MAX_CONFIG).decode("utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: configuration file not found; pass an existing --config FILE") from None
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"{path}: cannot read the configuration ({e}); "
                          "check the path and its permissions") from None
    return parse(text, str(path), base)


def _num(value: float) -> str:
    """A range bound as people write it: 25000000, not 2.5e+07; 0.5 stays 0.5."""
    if float(value).is_integer():
        return str(int(value))
    return f"{value:g}"


def _fmt(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"'
    return f"{value:g}" if isinstance(value, float) else str(value)


def markdown_table() -> str:
    """The reference table of every key, as docs/CONFIG.md carries it."""
    rows = ["| key | default | allowed | meaning |", "|---|---|---|---|"]
    for section, keys in SCHEMA.items():
        for name, key in keys.items():
            if key.choices:
                allowed = ", ".join(f"`{c}`" for c in key.choices)
            elif key.min is not None:
                allowed = f"{_num(key.min)} to {_num(key.max if key.max is not None else key.min)}"
            else:
                allowed = _type_name(key.type)
            rows.append(f"| `{section}.{name}` | `{_fmt(key.default)}` | {allowed} | {key.doc} |")
    return "\n".join(rows) + "\n"


def example_toml() -> str:
    """A complete configuration file with every key at its default."""
    out = ["# bodycam configuration: every key at its default (docs/CONFIG.md)."]
    for section, keys in SCHEMA.items():
        out.append(f"\n[{section}]")
        for name, key in keys.items():
            out.append(f"# {key.doc}")
            out.append(f"{name} = {_fmt(key.default)}")
    return "\n".join(out) + "\n"
