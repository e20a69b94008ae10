"""The configuration as frozen dataclasses, one per section: generated, do not edit.

Written by ``python -m firmware.settings_gen`` from ``firmware.config.SCHEMA``; a
test fails when it is out of date. ``Settings.of(conf)`` takes the checked
configuration (``firmware.config.load``/``defaults``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal


@dataclass(frozen=True)
class CameraSettings:
    """The [camera] section."""

    width: int
    height: int
    fps: int
    bitrate: int
    gop_seconds: float
    lores_width: int
    lores_height: int
    stall_seconds: float


@dataclass(frozen=True)
class PrerecordSettings:
    """The [prerecord] section."""

    mode: Literal["on", "armed", "off"]
    seconds: float
    max_mib: int


@dataclass(frozen=True)
class RecordingSettings:
    """The [recording] section."""

    segment_seconds: float
    fsync_interval: float
    chunk_max_kib: int


@dataclass(frozen=True)
class AudioSettings:
    """The [audio] section."""

    enabled: bool
    in_prerecord: bool
    device: str
    gain_db: float
    bitrate: int
    retry_seconds: float


@dataclass(frozen=True)
class ButtonSettings:
    """The [button] section."""

    pin: int
    active_low: bool
    debounce_ms: int
    hold_seconds: float
    double_press_seconds: float
    stealth_hold_seconds: float


@dataclass(frozen=True)
class CuesSettings:
    """The [cues] section."""

    enabled: bool
    led_pin: int
    vibration_pin: int
    buzzer_pin: int
    active_high: bool
    reminder_seconds: float


@dataclass(frozen=True)
class GesturesSettings:
    """The [gestures] section."""

    start: Literal["press", "double_press"]
    bookmark: bool


@dataclass(frozen=True)
class DisplaySettings:
    """The [display] section."""

    enabled: bool
    kind: Literal["ili9341", "st7789"]
    width: int
    height: int
    rotation: int
    spi_port: int
    spi_device: int
    spi_hz: int
    dc_pin: int
    rst_pin: int
    backlight_pin: int
    backlight_active_low: bool
    fps: float
    mirror: bool
    standby_view: Literal["live", "notice", "off"]
    language: Literal["de", "en"]


@dataclass(frozen=True)
class StorageSettings:
    """The [storage] section."""

    data_dir: str
    nearly_full_percent: float
    min_free_mib: int
    reserve_mib: int


@dataclass(frozen=True)
class IdentitySettings:
    """The [identity] section."""

    dir: str
    tpm_tcti: str


@dataclass(frozen=True)
class WatermarkSettings:
    """The [watermark] section."""

    enabled: bool
    officer_id: str
    position: Literal["bottom-left", "bottom-right", "top-left", "top-right"]


@dataclass(frozen=True)
class Settings:
    """The whole configuration, one attribute per section."""

    camera: CameraSettings
    prerecord: PrerecordSettings
    recording: RecordingSettings
    audio: AudioSettings
    button: ButtonSettings
    cues: CuesSettings
    gestures: GesturesSettings
    display: DisplaySettings
    storage: StorageSettings
    identity: IdentitySettings
    watermark: WatermarkSettings

    @classmethod
    def of(cls, conf: Mapping[str, Mapping[str, Any]]) -> Settings:
        """The checked configuration mapping as typed, frozen sections."""
        return cls(
            camera=CameraSettings(**conf["camera"]),
            prerecord=PrerecordSettings(**conf["prerecord"]),
            recording=RecordingSettings(**conf["recording"]),
            audio=AudioSettings(**conf["audio"]),
            button=ButtonSettings(**conf["button"]),
            cues=CuesSettings(**conf["cues"]),
            gestures=GesturesSettings(**conf["gestures"]),
            display=DisplaySettings(**conf["display"]),
            storage=StorageSettings(**conf["storage"]),
            identity=IdentitySettings(**conf["identity"]),
            watermark=WatermarkSettings(**conf["watermark"]),
        )
