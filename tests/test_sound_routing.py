"""firmware/sound.py: what sound is kept, and what a failing microphone leaves behind."""

from __future__ import annotations

from drivers.microphone import MicEvent, MicReport
from firmware import config
from firmware.sound import ALERT, Sound
from hw_sim.clock import VirtualClock
from recorder.packet import AUDIO, VIDEO, Packet
from recorder.ringbuffer import PreRecordBuffer


class Writer:
    def __init__(self) -> None:
        self.gaps: list[tuple[int, int, str]] = []

    def add_gap(self, start_pts_us: int, end_pts_us: int, reason: str) -> None:
        self.gaps.append((start_pts_us, end_pts_us, reason))


def sound(**audio) -> tuple[Sound, dict, list]:
    conf = config.defaults()["audio"] | audio
    alerts: dict[str, bool] = {}
    audit: list[tuple[str, dict]] = []
    s = Sound(conf, VirtualClock(), lambda ev, **kw: audit.append((ev, kw)),
              lambda code, on: alerts.__setitem__(code, on))
    return s, alerts, audit


def apkt(us: int) -> Packet:
    return Packet(b"\xff\xf1", True, us, AUDIO)


def test_default_sound_starts_at_the_press_not_in_the_preroll() -> None:
    s, _, _ = sound()
    assert not s.buffered(None)  # standby: no sound into the pre-record buffer
    s.recording_started(Writer(), trigger_us=5_000_000, first_us=1_000_000)
    assert not s.live(apkt(4_990_000)) and s.live(apkt(5_000_000))


def test_with_in_prerecord_the_preroll_keeps_sound_from_its_first_keyframe() -> None:
    s, _, _ = sound(in_prerecord=True)
    assert s.buffered(None)
    buf = PreRecordBuffer(seconds=2)
    for n in range(0, 90):  # 3 s of video, GOP 1 s; sound arriving 30 ms late
        us = n * 33_333
        buf.append(Packet(b"v", n % 30 == 0, us, VIDEO))
        if n % 2:
            buf.append(apkt(us - 30_000))
    pre = buf.take(2_900_000)
    assert pre[0].stream == VIDEO and pre[0].keyframe
    assert min(p.pts_us for p in pre if p.stream == AUDIO) >= pre[0].pts_us  # cut together
    s.recording_started(Writer(), trigger_us=2_900_000, first_us=pre[0].pts_us)
    assert s.live(apkt(pre[0].pts_us))


def test_a_failure_mid_recording_is_an_alert_an_audit_entry_and_a_gap() -> None:
    s, alerts, audit = sound()
    w = Writer()
    s.recording_started(w, trigger_us=1_000_000, first_us=0)
    s._event(MicReport(MicEvent.FAILED, 3_000_000, "No such device [hw:1]"))
    assert alerts[ALERT] is True and audit[-1][0] == "mic_failed"
    s._event(MicReport(MicEvent.BACK, 5_000_000, "open again"))
    assert alerts[ALERT] is False and audit[-1][0] == "mic_back"
    assert s.live(apkt(5_100_000))  # the first sound after it closes the gap
    assert w.gaps == [(3_000_000, 5_100_000, "no sound: microphone failed")]


def test_a_recording_started_without_a_microphone_has_a_gap_to_its_end() -> None:
    s, alerts, _ = sound()
    s._event(MicReport(MicEvent.FAILED, 1_000_000, "No such device"))
    w = Writer()
    s.recording_started(w, trigger_us=2_000_000, first_us=0)
    s.recording_stopping(9_000_000)
    assert w.gaps == [(2_000_000, 9_000_000, "no sound: microphone failed")]
    assert alerts[ALERT] is True  # still missing: the alert stays


def test_sound_off_in_the_configuration_opens_nothing() -> None:
    s, alerts, audit = sound(enabled=False)
    s.start(lambda p: None)
    assert s.mic is None and not alerts and not audit
