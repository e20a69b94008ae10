"""The microphone driver over the simulated pyalsaaudio: stamping, drift, faults, AAC."""

from __future__ import annotations

import av
import numpy as np
import pytest

from drivers.audio_timing import RATE, DriftTracker, GridResampler
from drivers.microphone import POLL_SECONDS, MicEvent, Microphone, MicState
from hw_sim.avsync import tone_onsets
from recorder.aac import FRAME_SAMPLES, AacEncoder, adts_header
from recorder.packet import AUDIO


def decode(packets) -> tuple[np.ndarray, np.ndarray]:
    """Boot-time of every decoded sample, and the samples (packets of one run)."""
    dec = av.CodecContext.create("aac", "r")
    times, out = [], []
    for p in packets:
        for f in dec.decode(av.Packet(p.data)):
            x = f.to_ndarray()[0]
            out.append(x)
            times.append(p.pts_us / 1e6 + np.arange(len(x)) / RATE)
    return np.concatenate(times), np.concatenate(out)


def run_mic(world, seconds: float, **kw) -> tuple[Microphone, list, list]:
    packets, events = [], []
    world.set_frame_origin(world.clock.monotonic() + 0.3)
    mic = Microphone(world.clock, packets.append, on_event=events.append, **kw)
    mic.start()
    world.clock.run(until=world.clock.monotonic() + seconds)
    return mic, packets, events


@pytest.mark.parametrize("ppm", [0.0, 2000.0, -3000.0])
def test_bursts_sit_on_the_frame_times_whatever_the_cards_clock(world, ppm) -> None:
    world.mic_clock_ppm = ppm
    mic, packets, events = run_mic(world, 40.0)
    assert not events and mic.state is MicState.RUNNING
    assert abs(mic.clock_ppm - ppm) < 20  # measured against the sensor's clock
    assert all(p.stream == AUDIO and p.keyframe for p in packets)
    steps = {b.pts_us - a.pts_us for a, b in zip(packets, packets[1:], strict=False)}
    assert steps <= {21333, 21334}  # 1024 samples at 48 kHz of the sensor's clock, back to back
    times, samples = decode(packets)
    onsets = np.array(tone_onsets(times, samples)) - world.frame_origin
    assert len(onsets) >= 39
    # Every burst within 2 ms of its whole second (USB packets are 1 ms), the last as the first.
    assert np.max(np.abs(onsets - np.round(onsets))) < 0.002, onsets


def test_sound_starts_when_the_microphone_opens(world) -> None:
    """ALSA captures from the first read on (not from open): the driver reads at once, so
    a burst right at the opening is heard from its start, not a poll interval later."""
    packets: list = []
    world.set_frame_origin(world.clock.monotonic())
    Microphone(world.clock, packets.append).start()
    world.clock.run(until=world.clock.monotonic() + 2.5)
    times, samples = decode(packets)
    onsets = np.array(tone_onsets(times, samples)) - world.frame_origin
    assert abs(onsets[0]) < 0.002 and len(onsets) == 3, onsets


def test_a_samples_count_alone_would_drift(world) -> None:
    """The reason for the tracker: at 2000 ppm the card's 48000th sample is 2 ms early a second."""
    world.mic_clock_ppm = 2000.0
    raw: list[tuple[int, np.ndarray]] = []
    mic, packets, _ = run_mic(world, 30.0)
    mic.raw_tap = lambda i, x: raw.append((i, x))
    world.clock.run(until=world.clock.monotonic() + 10.0)
    x = np.concatenate([b for _, b in raw])
    counted = tone_onsets(np.arange(len(x)) / RATE, x)
    # Counted at the nominal rate, nine bursts span 9 * 1.002 s instead of 9 s.
    assert abs((counted[-1] - counted[0]) - 9 * 1.002) < 0.002


def test_gain_and_level(world) -> None:
    mic, _, _ = run_mic(world, 3.0, gain_db=-6.0)
    # Bursts of -6 dBFS peak, 10 % of the time: about -19 dBFS RMS at the card.
    assert -21 < mic.level_dbfs < -17


def test_a_missing_microphone_is_reported_and_retried_never_raised(world) -> None:
    world.mic_failed = True
    mic, packets, events = run_mic(world, 3.0, retry_seconds=1.0)
    assert mic.state is MicState.FAILED and not packets
    assert [e.event for e in events] == [MicEvent.FAILED]
    assert "No such device" in events[0].detail
    world.mic_back()
    world.clock.run(until=world.clock.monotonic() + 1.5)
    assert mic.state is MicState.RUNNING
    assert [e.event for e in events] == [MicEvent.FAILED, MicEvent.BACK]
    world.clock.run(until=world.clock.monotonic() + 1.0)
    assert packets


def test_an_unplugged_microphone_ends_the_run_and_comes_back_on_the_same_grid(world) -> None:
    mic, packets, events = run_mic(world, 3.0, retry_seconds=0.5)
    world.mic_fail()
    world.clock.run(until=world.clock.monotonic() + 0.1)
    assert mic.state is MicState.FAILED
    failed_at = events[0].pts_us
    last = packets[-1].pts_us
    assert failed_at == last + 21333  # the gap starts where the last sound ends
    world.mic_back()
    world.clock.run(until=world.clock.monotonic() + 2.0)
    after = [p for p in packets if p.pts_us > last]
    assert after and after[0].pts_us - failed_at >= 0
    # On the same 48 kHz lattice of the sensor's clock as before the gap.
    assert all(-(-p.pts_us * RATE // 1_000_000) * 1_000_000 // RATE == p.pts_us for p in after)


def test_an_overrun_is_a_gap_not_a_failure(world) -> None:
    mic, packets, events = run_mic(world, 1.0)
    mic._timer.cancel()  # the loop stalls for half a second: ALSA's buffer overflows
    world.clock.run(until=world.clock.monotonic() + 0.5)
    mic._timer = world.clock.call_later(POLL_SECONDS, mic._poll)
    world.clock.run(until=world.clock.monotonic() + 1.0)
    assert [e.event for e in events] == [MicEvent.GAP]
    assert mic.state is MicState.RUNNING


def test_tracker_holds_the_rate_through_jitter() -> None:
    rng = np.random.default_rng(1)
    tracker = DriftTracker()
    true_rate = RATE * (1 + 150e-6)
    for i in range(1, 3000):
        t = 5000.0 + i * 0.02
        tracker.observe(int(t * true_rate - 5000.0 * true_rate), t + rng.uniform(0, 0.001))
    fit = tracker.fit()
    assert fit is not None and abs(fit.ppm - 150) < 5


def test_resampler_output_is_continuous_across_feeds() -> None:
    from drivers.audio_timing import Fit

    fit = Fit(0, 10.0, 1 / (RATE * 1.001))
    r = GridResampler()
    ramp = np.arange(48_000, dtype=np.float32) / 1000
    got = []
    for i in range(0, len(ramp), 1000):
        r.feed(i, ramp[i:i + 1000])
        got.append(r.pull(fit))
    ks = [k for k, x in got if len(x)]
    lens = [len(x) for k, x in got if len(x)]
    assert all(b == a + n for a, b, n in zip(ks, ks[1:], lens, strict=False))
    y = np.concatenate([x for _, x in got])
    assert np.allclose(np.diff(y), 1.001e-3, atol=1e-5)  # each grid step is 1.001 card samples


def test_adts_header_and_encoder_timestamps() -> None:
    assert adts_header(100)[:2] == b"\xff\xf1" and len(adts_header(100)) == 7
    enc = AacEncoder(96_000)
    k0 = 48_000 * 1000
    pkts = enc.encode(k0, np.zeros(FRAME_SAMPLES * 3 + 10, np.float32)) + enc.flush()
    assert pkts[0].pts_us == (k0 - FRAME_SAMPLES) * 1_000_000 // RATE  # the priming frame
    assert [p.pts_us for p in pkts[1:4]] == [(k0 + i * 1024) * 1_000_000 // RATE for i in range(3)]
    with pytest.raises(ValueError, match="flush first"):
        enc.encode(k0, np.zeros(10, np.float32))
        enc.encode(k0 + 99, np.zeros(10, np.float32))


def test_older_pyalsaaudio_without_keywords_or_avail_still_syncs(world, monkeypatch) -> None:
    """Raspberry Pi OS bookworm ships pyalsaaudio 0.8.4: PCM(type, mode, device) and setters."""
    from hw_sim import fake_alsaaudio

    pcm_011 = fake_alsaaudio.PCM

    class Pcm084:
        """0.8.4's alsaaudio.c: four periods always (alsapcm_setup), each setter sets up
        again, read() refuses a period over 8000 bytes."""

        def __init__(self, type, mode, device="default"):  # noqa: A002
            self._args = {"type": type, "mode": mode, "device": device}
            self._rate, self._periodsize = 44100, 32
            self._pcm = pcm_011(rate=self._rate, channels=1, periodsize=32, periods=4,
                                **self._args)

        def _setup(self):
            self._pcm.close()
            self._pcm = pcm_011(rate=self._rate, channels=1, periodsize=self._periodsize,
                                periods=4, **self._args)

        def setchannels(self, n):
            return 1

        def setrate(self, r):
            self._rate = r
            self._setup()
            return self._pcm.info()["rate"]

        def setformat(self, f):
            return f

        def setperiodsize(self, n):
            self._periodsize = n
            self._setup()
            return n

        def read(self):
            if self._periodsize * 2 > 8000:
                raise fake_alsaaudio.ALSAAudioError(
                    "Capture data too large. Try decreasing period size")
            return self._pcm.read()

        def cardname(self):
            return self._pcm.cardname()

        def close(self):
            self._pcm.close()

    monkeypatch.setattr(fake_alsaaudio, "PCM", Pcm084)
    world.mic_clock_ppm = 500.0
    mic, packets, events = run_mic(world, 10.0)
    # A loop busy for a quarter of a second loses nothing: four periods still hold 320 ms.
    mic._timer.cancel()
    world.clock.run(until=world.clock.monotonic() + 0.25)
    mic._timer = world.clock.call_later(POLL_SECONDS, mic._poll)
    world.clock.run(until=world.clock.monotonic() + 10.0)
    assert not events and abs(mic.clock_ppm - 500) < 50
    times, samples = decode(packets)
    onsets = np.array(tone_onsets(times, samples)) - world.frame_origin
    assert np.max(np.abs(onsets[5:] - np.round(onsets[5:]))) < 0.003, onsets


# -- the simulated library against pyalsaaudio 0.11 (docs/SIMULATION.md, issue 13) ---------------


def _capture(alsa, **kw):
    args = {"type": alsa.PCM_CAPTURE, "mode": alsa.PCM_NONBLOCK, "rate": RATE, "channels": 1,
            "periodsize": 48, "periods": 4, **kw}
    return alsa.PCM(**args)


def test_capture_starts_at_the_first_read_not_at_open(world) -> None:
    """snd_pcm_hw_params leaves the stream PREPARED; the first readi starts it: a stream
    opened and left alone neither fills nor overruns."""
    import alsaaudio

    pcm = _capture(alsaaudio)
    world.clock.run(until=world.clock.monotonic() + 1.0)
    assert pcm.avail() == 0
    assert pcm.read() == (0, b"")  # started now; nothing captured yet (-EAGAIN)
    world.clock.run(until=world.clock.monotonic() + 0.002)
    n, data = pcm.read()  # two 1 ms USB packets are in: one period is read
    assert n == 48 and len(data) == 2 * 48 and pcm.avail() == 48


def test_an_overrun_is_a_full_buffer_and_capture_stops_until_the_next_read(world) -> None:
    import errno

    import alsaaudio

    pcm = _capture(alsaaudio, periods=2)  # a buffer of 96 frames: two 1 ms USB packets
    pcm.read()
    world.clock.run(until=world.clock.monotonic() + 0.002)
    # Full is an overrun (stop_threshold is the buffer size), and avail() says so.
    assert pcm.avail() == -errno.EPIPE
    assert pcm.read() == (-errno.EPIPE, b"")
    # Prepared again: nothing is captured until the next read starts the stream.
    world.clock.run(until=world.clock.monotonic() + 0.010)
    assert pcm.avail() == 0
    assert pcm.read() == (0, b"")
    world.clock.run(until=world.clock.monotonic() + 0.001)
    assert pcm.read()[0] == 48


def test_an_unplugged_stream_fails_its_reads_and_says_so_in_avail(world) -> None:
    """Only read() raises for a card that is gone; avail() hands back -ENODEV as the count,
    info() and cardname() still answer; only a closed PCM raises everywhere."""
    import errno

    import alsaaudio

    pcm = _capture(alsaaudio)
    pcm.read()
    world.mic_fail()
    with pytest.raises(alsaaudio.ALSAAudioError, match=r"^No such device \[default\]$"):
        pcm.read()
    assert pcm.avail() == -errno.ENODEV
    assert pcm.cardname() == "default" and pcm.info()["rate"] == RATE
    pcm.close()
    pcm.close()  # closing twice is fine
    for call in (pcm.read, pcm.avail, pcm.info, pcm.cardname):
        with pytest.raises(alsaaudio.ALSAAudioError, match="PCM device is closed"):
            call()


def test_cardname_is_the_device_name_the_stream_was_opened_with(world) -> None:
    import alsaaudio

    assert _capture(alsaaudio).cardname() == "default"
    assert _capture(alsaaudio, device="sysdefault:CARD=Device").cardname() == \
        "sysdefault:CARD=Device"


def test_an_unplug_between_draining_and_avail_is_reported_at_the_next_poll(world,
                                                                          monkeypatch) -> None:
    """avail() returns -ENODEV then instead of raising: the driver neither counts it as
    captured samples nor raises; the next read() fails and the gap starts where sound ends."""
    from hw_sim import fake_alsaaudio

    real_read = fake_alsaaudio.PCM.read
    unplug_at = world.clock.monotonic() + 2.0

    def read(self):
        got = real_read(self)
        if got[0] == 0 and world.clock.monotonic() >= unplug_at and not world.mic_failed:
            world.mic_fail()  # drained; the card goes before avail()
        return got

    monkeypatch.setattr(fake_alsaaudio.PCM, "read", read)
    mic, packets, events = run_mic(world, 3.0, retry_seconds=10.0)
    assert [e.event for e in events] == [MicEvent.FAILED]
    assert "No such device" in events[0].detail
    assert events[0].pts_us == packets[-1].pts_us + 21333


def test_the_constructor_takes_pyalsaaudios_arguments_in_its_order(world) -> None:
    """type, mode, device, cardindex, card (deprecated), rate, channels, format, periodsize,
    periods; and a PCM has no rate/channels attributes, only info()."""
    import alsaaudio

    pcm = alsaaudio.PCM(alsaaudio.PCM_CAPTURE, alsaaudio.PCM_NONBLOCK, "default", -1, None,
                        RATE, 1, alsaaudio.PCM_FORMAT_S16_LE, 1024, 16)
    info = pcm.info()
    assert (info["rate"], info["channels"], info["period_size"], info["periods"]) == \
        (RATE, 1, 1024, 16)
    assert info["buffer_size"] == 16384 and info["state"] == "PREPARED"
    assert not any(hasattr(pcm, a) for a in ("rate", "channels", "periodsize", "periods"))
    with pytest.warns(DeprecationWarning):
        by_card = alsaaudio.PCM(alsaaudio.PCM_CAPTURE, card="Device")
    assert by_card.cardname() == "default:CARD=Device"


def test_the_constructor_takes_what_the_device_gives_instead_of_failing(world) -> None:
    """alsapcm_setup ignores a setting the device refuses and reads back what it got: the
    card (hw:) is 16-bit mono at 44.1/48 kHz; a plug device converts to what is asked."""
    import alsaaudio

    f32, s32 = alsaaudio.PCM_FORMAT_FLOAT_LE, alsaaudio.PCM_FORMAT_S32_LE
    info = _capture(alsaaudio, device="hw:CARD=Device,DEV=0", rate=16000, channels=2, format=s32).info()
    assert (info["rate"], info["channels"], info["format_name"]) == (44100, 1, "S16_LE")
    pcm = _capture(alsaaudio, device="plughw:2,0", rate=16000, channels=2, format=f32)
    info = pcm.info()
    assert (info["rate"], info["channels"], info["format_name"]) == (16000, 2, "FLOAT_LE")
    world.set_frame_origin(world.clock.monotonic())
    pcm.read()
    world.clock.run(until=world.clock.monotonic() + 0.003)
    n, data = pcm.read()  # 16 samples a millisecond now, each frame two float channels
    frames = np.frombuffer(data, "<f4").reshape(n, 2)
    assert n == 48 and np.array_equal(frames[:, 0], frames[:, 1]) and np.abs(frames).max() > 0.1


def test_bad_arguments_fail_with_pyalsaaudios_messages(world) -> None:
    import alsaaudio

    for kw, message in (({"type": 7}, "PCM type must be PCM_PLAYBACK (0) or PCM_CAPTURE (1)"),
                        ({"mode": 3}, "Invalid PCM mode"),
                        ({"cardindex": 32}, "Invalid card number 32"),
                        ({"device": "nonesuch"}, "No such file or directory [nonesuch]")):
        with pytest.raises(alsaaudio.ALSAAudioError) as got:
            _capture(alsaaudio, **kw)
        assert str(got.value) == message
    assert _capture(alsaaudio, type="capture").pcmtype() == alsaaudio.PCM_CAPTURE


def test_what_the_simulation_cannot_do_is_not_an_alsa_error(world) -> None:
    """A blocking read would wait on a device; the fake cannot, and says so in a way the
    driver will not mistake for an unplugged microphone."""
    import alsaaudio

    pcm = _capture(alsaaudio, mode=alsaaudio.PCM_NORMAL)
    with pytest.raises(NotImplementedError):
        pcm.read()
    with pytest.raises(NotImplementedError):
        alsaaudio.PCM(alsaaudio.PCM_PLAYBACK)


def test_the_deprecated_setters_set_up_again_and_return_what_the_device_gives(world) -> None:
    import alsaaudio

    pcm = _capture(alsaaudio, device="hw:2")
    with pytest.warns(DeprecationWarning):
        assert pcm.setperiodsize(2048) == 2048
    with pytest.warns(DeprecationWarning):
        assert pcm.setchannels(2) == 1 and pcm.setrate(47000) == RATE
    assert pcm.info()["buffer_size"] == 2048 * 4
    pcm.read()  # running now: hw params cannot change
    with pytest.warns(DeprecationWarning), pytest.raises(alsaaudio.ALSAAudioError,
                                                         match=r"bad state \[hw:2\]"):
        pcm.setrate(44100)


def test_the_cards_are_the_boards_then_the_microphone_which_opens_by_number_or_id(world) -> None:
    """cards() lists ids (snd_ctl_card_info_get_id); on a Pi 5 the two HDMI outputs are
    cards 0 and 1, so the USB microphone is card 2 and plughw:1,0 is no microphone."""
    import alsaaudio

    assert alsaaudio.cards() == ["vc4hdmi0", "vc4hdmi1", "Device"]
    assert alsaaudio.card_indexes() == [0, 1, 2]
    assert alsaaudio.card_name(2)[0] == "USB PnP Sound Device"
    with pytest.raises(alsaaudio.ALSAAudioError, match=r"^No such file or directory \[5\]$"):
        alsaaudio.card_name(5)
    with pytest.raises(alsaaudio.ALSAAudioError, match=r"^No such file or directory \[plughw:1,0\]$"):
        _capture(alsaaudio, device="plughw:1,0")
    assert _capture(alsaaudio, device="plughw:2,0").info()["card_no"] == 2
    # What pcms() lists for capture are the names by card id, and each of them opens.
    names = alsaaudio.pcms(alsaaudio.PCM_CAPTURE)
    assert "plughw:CARD=Device,DEV=0" in names and not any(":1" in n or ":2" in n for n in names)
    assert all(_capture(alsaaudio, device=n).info()["rate"] == RATE for n in names)


def test_a_pi_4s_microphone_comes_after_its_headphone_jack_and_hdmi_cards() -> None:
    import hw_sim
    from hw_sim.board import Board
    from hw_sim.clock import VirtualClock
    from hw_sim.world import World

    with hw_sim.installed(World(VirtualClock(fast=True), board=Board.PI4)):
        import alsaaudio

        assert alsaaudio.cards() == ["Headphones", "vc4hdmi0", "vc4hdmi1", "Device"]
        assert _capture(alsaaudio, device="hw:3").info()["card_no"] == 3
        with pytest.raises(alsaaudio.ALSAAudioError, match="No such file or directory"):
            _capture(alsaaudio, device="hw:2")


def test_an_unplugged_card_is_gone_from_the_lists_and_fails_to_open(world) -> None:
    """By number, snd_card_get_index finds no /dev/snd/controlC2 (ENOENT); by id it finds
    no card with that id (ENODEV)."""
    import alsaaudio

    world.mic_fail()
    assert alsaaudio.cards() == ["vc4hdmi0", "vc4hdmi1"]
    assert alsaaudio.pcms(alsaaudio.PCM_CAPTURE) == ["default"]
    for device, error in (("hw:2", "No such file or directory"), ("plughw:2,0", "No such file or directory"),
                          ("sysdefault:CARD=Device", "No such device"), ("default", "No such device")):
        with pytest.raises(alsaaudio.ALSAAudioError) as got:
            _capture(alsaaudio, device=device)
        assert str(got.value) == f"{error} [{device}]"
    world.mic_back()
    assert alsaaudio.cards()[-1] == "Device" and _capture(alsaaudio, device="hw:2")
