"""``bodycam doctor``'s microphone line: does it open, does it hear, how fast is its clock.

Runs the daemon's own driver (drivers/microphone.py) for :data:`MIC_SECONDS` of
clock time. It fails when the device does not open or delivers nothing, when
the input is digital silence (a muted or dead capsule: the recording would have
a sound track with nothing on it), or when the card's sample clock is more than
:data:`MAX_PPM` off the sensor's: the driver corrects any drift, but a card that
far off is faulty. Otherwise it passes with the level and the measured drift.
"""

from __future__ import annotations

from typing import Any

from .doctor import Check, failed, passed

MIC_SECONDS = 6.0
#: Digital silence: nothing above the last bit of 16-bit samples.
SILENT_DBFS = -90.0
#: A sound card's crystal is within about 100 ppm; this much is a fault.
MAX_PPM = 5000.0


def check_microphone(conf: dict[str, dict[str, Any]], clock: Any) -> Check:
    """Open the microphone through its driver, listen, and judge level and clock rate."""
    audio = conf["audio"]
    if not audio["enabled"]:
        return passed("microphone", "audio.enabled is false: recordings have no sound")
    from drivers.microphone import MicEvent, Microphone, MicState

    device = audio["device"]
    problems: list[str] = []
    packets: list[Any] = []

    def on_event(report: Any) -> None:
        if report.event is MicEvent.FAILED:
            problems.append(report.detail)

    try:
        mic = Microphone(clock, packets.append, device=device, gain_db=audio["gain_db"],
                         bitrate=audio["bitrate"], on_event=on_event, retry_seconds=MIC_SECONDS)
    except ImportError:
        return failed("microphone", "pyalsaaudio is not installed",
                      "run deploy.sh (it installs python3-alsaaudio)")
    try:
        mic.start()
        if mic.state is MicState.RUNNING:
            clock.run(until=clock.monotonic() + MIC_SECONDS)
    finally:
        mic.close()
    hint = ("check the USB/I2S microphone is plugged in; 'arecord -l' lists capture devices; "
            "set audio.device (e.g. plughw:CARD=Device,DEV=0; arecord -L lists them)")
    if problems:
        return failed("microphone", f"{device}: {problems[0]}", hint)
    if not packets:
        return failed("microphone", f"{device}: opened but delivered no sound", hint)
    level, ppm = mic.level_dbfs, mic.clock_ppm
    what = f"{device}: level {level:.1f} dBFS, clock {ppm:+.0f} ppm against the sensor's"
    if level < SILENT_DBFS:
        return failed("microphone", f"{what}: digital silence",
                      "the capsule is muted or dead: check 'alsamixer' capture switch and gain")
    if abs(ppm) > MAX_PPM:
        return failed("microphone", f"{what}: the card's clock is far off",
                      "a sound card should be within about 100 ppm; replace it")
    return passed("microphone", f"{what} (corrected while recording)")
