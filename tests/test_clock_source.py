"""The device clock's source: an RTC is trusted only if it kept time across power-off."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from drivers.clock import SystemClock

LAST_SHUTDOWN = datetime(2026, 3, 2, 17, 40, tzinfo=UTC).timestamp()
NEXT_MORNING = datetime(2026, 3, 3, 7, 5, tzinfo=UTC).timestamp()


def device(tmp_path: Path, since_epoch: str | None, *, ntp: bool = False,
           name: str = "rpi-rtc") -> SystemClock:
    """A SystemClock over a sysfs RTC directory and timesyncd's clock file made in tmp_path."""
    rtc = tmp_path / "rtc0"
    rtc.mkdir()
    (rtc / "name").write_text(f"{name}\n")
    if since_epoch is not None:
        (rtc / "since_epoch").write_text(f"{since_epoch}\n")
    clock_file = tmp_path / "timesync-clock"
    clock_file.touch()
    os.utime(clock_file, (LAST_SHUTDOWN, LAST_SHUTDOWN))
    return SystemClock(rtc_dir=rtc, last_known=clock_file, ntp=lambda: ntp)


def test_pi5_without_battery_is_unsynced_until_ntp(tmp_path: Path) -> None:
    # The Pi 5's RTC has no battery: at power-on it starts again from 1970 and counts up.
    clock = device(tmp_path, "41")
    assert clock.source() == "unsynced"


def test_rtc_with_a_battery_kept_time(tmp_path: Path) -> None:
    assert device(tmp_path, str(int(NEXT_MORNING))).source() == "rtc"


def test_rtc_behind_the_last_known_time_lost_it(tmp_path: Path) -> None:
    # A flat coin cell: the RTC stopped while the camera was off, reads last week.
    a_week_before = int(LAST_SHUTDOWN - 7 * 86400)
    assert device(tmp_path, str(a_week_before)).source() == "unsynced"


def test_an_rtc_whose_driver_says_the_time_is_invalid(tmp_path: Path) -> None:
    # ds3231 and friends answer EINVAL when their oscillator stopped: no since_epoch to read.
    assert device(tmp_path, None, name="rtc-ds1307").source() == "unsynced"


def test_no_rtc_at_all(tmp_path: Path) -> None:
    clock = SystemClock(rtc_dir=tmp_path / "missing", last_known=tmp_path / "none", ntp=lambda: False)
    assert clock.source() == "unsynced"


@pytest.mark.parametrize("since_epoch", ["41", str(int(NEXT_MORNING)), None])
def test_ntp_wins_whatever_the_rtc_says(tmp_path: Path, since_epoch: str | None) -> None:
    assert device(tmp_path, since_epoch, ntp=True).source() == "ntp"
