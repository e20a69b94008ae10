"""Sound end to end on the simulated hardware: record, export, read back with ffprobe and
measure sync from the tone bursts against the frame tags (hw_sim/avsync.py)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path

import av

from hw_sim.avsync import measure
from hw_sim.frametag import frame_numbers
from tests.test_e2e_sim import FPS, ROOT, _audit_events, _bodycam, export, keys, run_sim, write
from tests.tools import require

__all__ = ["keys"]  # the module-scoped fixture, shared

#: One video frame: the goal for A/V offset.
FRAME_MS = 1000 / FPS
SMALL = "[camera]\nwidth = 320\nheight = 240\nlores_width = 160\nlores_height = 120\n"


def ffprobe(path: Path, *entries: str) -> list[dict]:
    """Streams of a file as ffprobe (Debian's ffmpeg) reports them."""
    exe = require("ffprobe", "ffmpeg")
    out = subprocess.run([exe, "-v", "error", "-show_entries", f"stream={','.join(entries)}",
                          "-of", "json", str(path)], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)["streams"]


def audio_packets(path: Path) -> list[float]:
    exe = require("ffprobe", "ffmpeg")
    out = subprocess.run([exe, "-v", "error", "-select_streams", "a:0", "-show_entries",
                          "packet=pts_time", "-of", "csv=p=0", str(path)],
                         capture_output=True, text=True, check=True).stdout
    return [float(x) for x in out.split()]


def test_export_has_h264_and_aac_that_ffprobe_reads_in_sync_after_ten_seconds(
        tmp_path, keys, capsys) -> None:
    run_sim(tmp_path, keys,
            'duration = 16.0\nmic_clock_ppm = 2000\n[[event]]\nat = 2.0\naction = "press"\n'
            '[[event]]\nat = 12.0\naction = "hold"\nseconds = 3.5\n',
            SMALL + "[audio]\nin_prerecord = true\n", capsys)
    (mp4,) = export(tmp_path, keys)
    video, audio = ffprobe(mp4, "codec_type", "codec_name", "sample_rate", "channels",
                           "start_time")
    assert (video["codec_name"], audio["codec_name"]) == ("h264", "aac")
    assert (audio["sample_rate"], audio["channels"]) == ("48000", 1)
    with av.open(str(mp4)) as c:  # AudioSpecificConfig: object type 2 is AAC-LC
        assert c.streams.audio[0].codec_context.extradata[0] >> 3 == 2
    # ffmpeg decodes both streams end to end without a complaint.
    decoded = subprocess.run([require("ffmpeg", "ffmpeg"), "-v", "error", "-i", str(mp4),
                              "-f", "null", "-"], capture_output=True, text=True)
    assert decoded.returncode == 0 and decoded.stderr == "", decoded.stderr
    # Sound in the pre-roll: audio and video start together (within one AAC frame).
    assert abs(float(audio["start_time"]) - float(video["start_time"])) < 0.0214
    points = measure(mp4, FPS)
    assert len(points) >= 14  # a burst every second from 0 to 15.5 s
    assert max(abs(p.offset_ms) for p in points) < FRAME_MS, [p.offset_ms for p in points]


def test_still_in_sync_after_a_long_standby_with_a_fast_microphone(tmp_path, keys, capsys) -> None:
    # 2 minutes at 10000 ppm gather the drift of 10 minutes at 2000 ppm (1.2 s): picamera2's
    # sample counting would put the bursts 1.2 s late (bench/bench_audio.py measures both).
    run_sim(tmp_path, keys,
            'duration = 132.0\nmic_clock_ppm = 10000\n[[event]]\nat = 120.0\naction = "press"\n'
            '[[event]]\nat = 126.0\naction = "hold"\nseconds = 3.5\n',
            SMALL + "[prerecord]\nseconds = 2\n", capsys)
    (mp4,) = export(tmp_path, keys)
    points = measure(mp4, FPS)
    assert len(points) >= 8
    assert {p.tag for p in points} >= {s * FPS for s in range(121, 129)}
    assert max(abs(p.offset_ms) for p in points) < FRAME_MS, [p.offset_ms for p in points]


def test_preroll_without_sound_by_default_sound_starts_at_the_press(tmp_path, keys, capsys) -> None:
    press = 8.0
    run_sim(tmp_path, keys,
            f'duration = 14.0\n[[event]]\nat = {press}\naction = "press"\n'
            '[[event]]\nat = 10.5\naction = "hold"\nseconds = 3.5\n',
            SMALL + "[prerecord]\nseconds = 4\n", capsys)
    (mp4,) = export(tmp_path, keys)
    frames = frame_numbers(mp4)
    assert frames[0] <= (press - 4) * FPS  # the pre-roll has picture...
    video, audio = ffprobe(mp4, "codec_type", "start_time")
    first_frame_s = frames[0] / FPS
    # ...and the sound starts at the press, not before it (one AAC frame of rounding).
    assert abs(first_frame_s + float(audio["start_time"]) - press) < 0.03
    points = measure(mp4, FPS)
    # No burst from the pre-roll; the one at the press itself is cut at its start.
    assert points and min(p.tag for p in points) == press * FPS
    assert max(abs(p.offset_ms) for p in points if p.tag > press * FPS) < FRAME_MS


def test_preroll_with_sound_when_configured(tmp_path, keys, capsys) -> None:
    press = 8.0
    run_sim(tmp_path, keys,
            f'duration = 12.0\n[[event]]\nat = {press}\naction = "press"\n'
            '[[event]]\nat = 9.0\naction = "hold"\nseconds = 3.5\n',
            SMALL + "[prerecord]\nseconds = 4\n[audio]\nin_prerecord = true\n", capsys)
    (mp4,) = export(tmp_path, keys)
    frames = frame_numbers(mp4)
    points = measure(mp4, FPS)
    # Bursts from the first pre-roll second on, each where its frame is.
    assert min(p.tag for p in points) == frames[0]
    assert {p.tag // FPS for p in points} >= set(range(frames[0] // FPS, 12))
    assert max(abs(p.offset_ms) for p in points) < FRAME_MS


def test_a_seam_inside_a_burst_loses_and_repeats_no_sound(tmp_path, keys, capsys) -> None:
    # Segments roll over at keyframes, which fall on whole seconds: exactly where each burst
    # starts, so every seam is inside sound.
    summary = run_sim(tmp_path, keys,
                      'duration = 16.0\n[[event]]\nat = 1.0\naction = "press"\n'
                      '[[event]]\nat = 12.0\naction = "hold"\nseconds = 3.5\n',
                      SMALL + "[recording]\nsegment_seconds = 5\n[audio]\nin_prerecord = true\n",
                      capsys)
    assert summary["recordings"][0]["segments"] >= 3
    (mp4,) = export(tmp_path, keys)
    pts = audio_packets(mp4)
    steps = {round((b - a) * 48000) for a, b in zip(pts, pts[1:], strict=False)}
    assert steps == {1024}, steps  # every AAC frame once, none missing, none twice
    assert summary["recordings"][0]["audio_packets"] == len(pts) + sum(1 for p in pts if p < 0)
    points = measure(mp4, FPS)
    assert {p.tag // FPS for p in points} >= set(range(1, 15))
    assert max(abs(p.offset_ms) for p in points) < FRAME_MS


def test_microphone_failure_mid_recording_keeps_video_and_records_the_gap(
        tmp_path, keys, capsys) -> None:
    run_sim(tmp_path, keys,
            'duration = 16.0\n[[event]]\nat = 2.0\naction = "press"\n'
            '[[event]]\nat = 5.5\naction = "mic_fail"\n[[event]]\nat = 8.5\naction = "mic_back"\n'
            '[[event]]\nat = 12.0\naction = "hold"\nseconds = 3.5\n',
            SMALL + "[prerecord]\nseconds = 1\n[audio]\nretry_seconds = 1\n", capsys)
    (mp4,) = export(tmp_path, keys)
    frames = frame_numbers(mp4)
    assert frames == list(range(frames[0], frames[-1] + 1))  # not one frame lost
    events = [e["event"] for e in _audit_events(tmp_path / "data")]
    assert "mic_failed" in events and "mic_back" in events
    sidecar = json.loads(mp4.with_suffix(".json").read_text())
    (gap,) = [g for g in sidecar["gaps"] if g["reason"].startswith("no sound")]
    t0 = frames[0] / FPS
    assert 5.4 < t0 + gap["start_offset_s"] < 5.6
    assert 8.5 < t0 + gap["end_offset_s"] < 9.7  # back within one retry period
    seconds = {p.tag // FPS for p in measure(mp4, FPS)}
    assert {3, 4, 5, 10, 11, 12, 13, 14} <= seconds and not {6, 7, 8} & seconds
    assert max(abs(p.offset_ms) for p in measure(mp4, FPS)) < FRAME_MS


def test_without_a_microphone_video_records_and_the_display_says_no_sound(
        tmp_path, keys, capsys) -> None:
    run_sim(tmp_path, keys,
            'duration = 8.0\n[[event]]\nat = 1.0\naction = "press"\n',
            SMALL + '[audio]\ndevice = "hw:7"\n', capsys)
    (mp4,) = export(tmp_path, keys)
    assert len(frame_numbers(mp4)) >= 7 * FPS
    assert [s["codec_type"] for s in ffprobe(mp4, "codec_type")] == ["video"]
    failed = [e for e in _audit_events(tmp_path / "data") if e["event"] == "mic_failed"]
    assert failed and "hw:7" in failed[0]["error"]


def test_power_cut_keeps_sound_up_to_the_fsync_interval_before_it(tmp_path, keys, capsys) -> None:
    data = tmp_path / "data"
    cut_at = 9.5
    scenario = write(tmp_path / "cut.toml",
                     f'duration = 20.0\n[[event]]\nat = 3.0\naction = "press"\n'
                     f'[[event]]\nat = {cut_at}\naction = "power_cut"\n')
    config = write(tmp_path / "c.toml", SMALL + "[audio]\nin_prerecord = true\n")
    proc = _bodycam("run", "--sim", "--fast", "--data-dir", str(data), "--identity", str(keys["id"]),
                    "--scenario", str(scenario), "--config", str(config),
                    env={**os.environ, "PYTHONPATH": str(ROOT)})
    proc.communicate(timeout=120)
    assert proc.returncode == -signal.SIGKILL
    run_sim(tmp_path, keys, 'duration = 2.0\n', SMALL, capsys)  # reboot: recovery closes it
    (mp4,) = export(tmp_path, keys, expect=3)
    frames = frame_numbers(mp4)
    pts = audio_packets(mp4)
    last_sound = frames[0] / FPS + pts[-1] + 1024 / 48000
    assert last_sound >= cut_at - 1.0 - 0.05  # fsync interval 1 s, one packet held by the muxer
    seconds = {p.tag // FPS for p in measure(mp4, FPS)}
    assert set(range(0, 9)) <= seconds
