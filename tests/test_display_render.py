"""The renderer: what a person in front of the camera sees for each state."""

from __future__ import annotations

import numpy as np
import pytest

from display import DisplayState, fonts, layout, panel_on, render, rgb565_to_rgb, screens, yuv
from display.state import ALERT_CODES
from display.text import TEXT
from tests.test_display_support import (
    first_glyph_height,
    ink,
    ink_width,
    rgb_to_i420,
    share,
    solid_lores,
)

SIZES = [(320, 240), (240, 240)]
RED, WHITE, BLACK, AMBER = screens.REC_RED, screens.WHITE, screens.BLACK, screens.AMBER


def picture(state: DisplayState, lores, size, now: float = 0.2) -> np.ndarray:
    return rgb565_to_rgb(render(state, lores, size, now))


def left_bright_lores(w: int = 640, h: int = 480) -> np.ndarray:
    """The camera sees something bright in the left quarter of its picture."""
    rgb = np.full((h, w, 3), 30, np.uint8)
    rgb[:, : w // 4] = 230
    return rgb_to_i420(rgb)


@pytest.mark.parametrize("size", SIZES)
def test_mirror_shows_the_camera_left_on_the_viewers_right(size) -> None:
    w, h = size
    mirrored = picture(DisplayState(mirror=True), left_bright_lores(), size)
    plain = picture(DisplayState(mirror=False), left_bright_lores(), size)
    mid = (h // 3, 2 * h // 3)
    right_strip = (w - w // 8, mid[0], w, mid[1])
    left_strip = (0, mid[0], w // 8, mid[1])
    assert share(mirrored, right_strip, (230, 230, 230)) > 0.95
    assert share(mirrored, left_strip, (30, 30, 30)) > 0.95
    assert share(plain, left_strip, (230, 230, 230)) > 0.95
    assert share(plain, right_strip, (30, 30, 30)) > 0.95


@pytest.mark.parametrize("space", ["rec709", "smpte170m", "sycc"])
@pytest.mark.parametrize("colour", [(220, 30, 30), (30, 200, 40), (40, 60, 220),
                                    (250, 250, 250), (128, 128, 128), (224, 172, 105)])
def test_camera_colours_reach_the_panel(colour, space) -> None:
    out = rgb565_to_rgb(render(DisplayState(), solid_lores(colour, colour_space=space),
                               (320, 240), 0.0, colour_space=space))
    assert np.abs(out.astype(int) - np.array(colour)).max() <= 14


def test_colour_table_error_is_under_one_rgb565_step_on_average() -> None:
    rng = np.random.default_rng(7)
    y, u, v = (rng.integers(16, 236, 50_000), rng.integers(16, 241, 50_000),
               rng.integers(16, 241, 50_000))
    ref = yuv.yuv_to_rgb_float(y, u, v, "rec709")
    got = yuv.colour_table("rec709")[(y >> 2) << 10 | (u >> 3) << 5 | (v >> 3)].astype(int)
    want = np.rint(ref * [31, 63, 31]).astype(int)
    err = np.abs(np.stack([got >> 11, (got >> 5) & 63, got & 31], -1) - want)
    assert err.mean() < 0.5
    assert err.max() <= 2


@pytest.mark.parametrize("src,dst", [((640, 480), (320, 240)), ((320, 240), (320, 240)),
                                     ((640, 360), (240, 240)), ((426, 240), (320, 240))])
@pytest.mark.parametrize("mirror", [True, False])
def test_fast_sampling_equals_a_plain_per_pixel_lookup(src, dst, mirror) -> None:
    """Slices, gathers and chroma spreading pick exactly the samples a naive loop would."""
    sw, sh = src
    dw, dh = dst
    lores = np.random.default_rng(3).integers(0, 256, (sh * 3 // 2, sw), dtype=np.uint8)
    flat = lores.reshape(-1)
    scale = max(dw / sw, dh / sh)
    xs = [min(sw - 1, int((sw - dw / scale) / 2 + (x + 0.5) / scale)) for x in range(dw)]
    ys = [min(sh - 1, int((sh - dh / scale) / 2 + (y + 0.5) / scale)) for y in range(dh)]
    if mirror:
        xs = xs[::-1]
    sx, sy = np.array(xs)[None, :], np.array(ys)[:, None]
    q = (sw // 2) * (sh // 2)
    y = flat[sy * sw + sx].astype(int)
    u = flat[sw * sh + (sy // 2) * (sw // 2) + sx // 2].astype(int)
    v = flat[sw * sh + q + (sy // 2) * (sw // 2) + sx // 2].astype(int)
    want = yuv.colour_table("rec709")[(y >> 2) << 10 | (u >> 3) << 5 | (v >> 3)]
    assert np.array_equal(yuv.to_rgb565(lores, dst, mirror), want)


def test_wide_camera_picture_is_cropped_to_fill_not_letterboxed() -> None:
    w, h = 640, 360  # 16:9 onto a 4:3 panel: the sides are cut
    rgb = np.zeros((h, w, 3), np.uint8)
    rgb[:, :] = (0, 180, 0)
    rgb[:, : w // 10] = (200, 0, 0)
    rgb[:, -w // 10:] = (200, 0, 0)
    out = picture(DisplayState(), rgb_to_i420(rgb), (320, 240))
    assert share(out, (0, 0, 320, 240), (0, 180, 0), tol=20) > 0.99


def test_lores_must_be_i420() -> None:
    with pytest.raises(ValueError):
        render(DisplayState(), np.zeros((481, 640), np.uint8), (320, 240), 0.0)
    with pytest.raises(ValueError):
        render(DisplayState(), np.zeros((720, 640), np.uint16), (320, 240), 0.0)


@pytest.mark.parametrize("size", SIZES)
def test_recording_shows_red_frame_badge_and_blinking_dot(size) -> None:
    w, h = size
    state = DisplayState(mode="recording", recording_elapsed_s=12)
    lores = solid_lores((0, 120, 255))
    on, off = picture(state, lores, size, 0.2), picture(state, lores, size, 0.7)
    boxes = layout(state, size, 0.2)
    b = screens._border(size)
    for edge in ((0, 0, w, b), (0, h - b, w, h), (0, 0, b, h), (w - b, 0, w, h)):
        assert share(on, edge, RED) == 1.0
    x0, y0, x1, y1 = boxes["rec_dot"][0]
    dot_core = (x0 + 6, y0 + 6, x1 - 6, y1 - 6)
    assert share(on, dot_core, WHITE) == 1.0
    assert share(off, dot_core, RED) == 1.0
    badge = boxes["rec_badge"][0]
    assert badge[3] - badge[1] >= 40  # large: at least a sixth of the panel's height
    assert share(on, badge, RED) > 0.5
    # Outside the overlays the live picture is untouched.
    centre = (w // 2 - 20, h // 2 + 10, w // 2 + 20, h // 2 + 30)
    assert share(on, centre, (0, 120, 255), tol=16) == 1.0


@pytest.mark.parametrize("size", SIZES)
def test_rec_badge_speaks_the_configured_language(size) -> None:
    lores = solid_lores((0, 0, 0))
    widths = {}
    for lang in ("de", "en"):
        state = DisplayState(mode="recording", language=lang)
        out = picture(state, lores, size)
        box = layout(state, size, 0.2)["rec_text"][0]
        mask = ink(out, box, WHITE, pad=0)
        assert first_glyph_height(mask) >= screens.REC_MIN_CAP
        widths[lang] = ink_width(mask)
    assert widths["de"] > 2 * widths["en"]  # "AUFNAHME" vs "REC"


def test_timer_shows_minutes_and_seconds_and_changes_each_second() -> None:
    lores = solid_lores((90, 90, 90))

    def timer(t: float) -> np.ndarray:
        state = DisplayState(mode="recording", recording_elapsed_s=t)
        out = picture(state, lores, (320, 240))
        x0, y0, x1, y1 = layout(state, (320, 240), 0.2)["elapsed"][0]
        return out[y0:y1, x0:x1]

    assert np.array_equal(timer(5.0), timer(5.9))
    assert not np.array_equal(timer(5.0), timer(6.0))
    mask = ink(picture(DisplayState(mode="recording", recording_elapsed_s=754), lores,
                       (320, 240)),
               layout(DisplayState(mode="recording", recording_elapsed_s=754), (320, 240),
                      0.2)["elapsed"][0], WHITE, pad=0)
    assert first_glyph_height(mask) >= screens.ALERT_MIN_CAP


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("prerecord", ["on", "armed"])
def test_standby_live_says_when_prerecord_is_buffering(size, prerecord) -> None:
    lores = solid_lores((0, 90, 200))
    state = DisplayState(prerecord=prerecord)
    out = picture(state, lores, size)
    box = layout(state, size, 0.0)["prerecord"][0]
    assert share(out, box, AMBER) > 0.5
    mask = ink(out, layout(state, size, 0.0)["prerecord_text"][0], BLACK, tol=40, pad=0)
    assert first_glyph_height(mask) >= screens.PRERECORD_MIN_CAP
    # Pre-record off: only the mirror, no badge.
    plain = picture(DisplayState(prerecord="off"), lores, size)
    assert share(plain, (0, 0) + size, (0, 90, 200), tol=16) == 1.0


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("lang", ["de", "en"])
def test_notice_screen_is_readable_and_ignores_the_camera(size, lang) -> None:
    state = DisplayState(standby_view="notice", language=lang)
    out = picture(state, solid_lores((255, 0, 0)), size)
    assert np.array_equal(out, picture(state, None, size))
    assert share(out, (0, 0) + size, screens.NOTICE_BLUE, tol=10) > 0.6
    lines = layout(state, size, 0.0, live=False)["notice"]
    assert len(lines) >= 2
    for line in lines:
        assert line[0] >= 0 and line[2] <= size[0]
    first = ink(out, lines[0], WHITE, pad=0)
    assert first_glyph_height(first) >= screens.NOTICE_MIN_CAP


def test_standby_off_is_dark_unless_an_alert_is_pending() -> None:
    dark = DisplayState(standby_view="off")
    assert not panel_on(dark)
    assert not render(dark, solid_lores((200, 200, 200)), (320, 240), 0.0).any()
    alert = DisplayState(standby_view="off", alerts=("storage_full",))
    assert panel_on(alert)
    out = picture(alert, None, (320, 240))
    assert share(out, layout(alert, (320, 240), 0.0, live=False)["alert"][0],
                 screens.ALERT_RED) > 0.4


@pytest.mark.parametrize("mode", ["stealth", "off"])
def test_stealth_and_off_show_nothing(mode) -> None:
    state = DisplayState(mode=mode, alerts=("camera_fault",), prerecord="on")
    assert not panel_on(state)
    assert not render(state, solid_lores((255, 255, 255)), (320, 240), 0.0).any()


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("lang", ["de", "en"])
@pytest.mark.parametrize("code", ALERT_CODES)
@pytest.mark.parametrize("mode", ["recording", "standby"])
def test_each_alert_has_icon_and_text_readable_at_arms_length(size, lang, code, mode) -> None:
    state = DisplayState(mode=mode, alerts=(code,), language=lang)
    out = picture(state, solid_lores((60, 60, 60)), size)
    boxes = layout(state, size, 0.0)
    banner = boxes["alert"][0]
    bg, fg = ((AMBER, BLACK) if code in screens.WARNINGS else (screens.ALERT_RED, WHITE))
    assert banner[3] >= size[1] - screens._border(size)  # at the bottom edge
    assert share(out, banner, bg) > 0.4
    icon = boxes["alert_icon"][0]
    assert 0.1 < share(out, icon, fg, tol=60) < 0.9  # a shape, neither empty nor a block
    lines = boxes["alert_text"]
    assert 1 <= len(lines) <= 2
    for x0, y0, x1, y1 in lines:
        assert banner[0] <= x0 and x1 <= banner[2] and banner[1] <= y0 and y1 <= banner[3]
    height = first_glyph_height(ink(out, lines[0], fg, pad=4))
    assert height >= screens.ALERT_MIN_CAP


def test_several_alerts_take_turns_most_severe_first() -> None:
    state = DisplayState(alerts=("clock_unsynced", "storage_full"), language="en")
    first = picture(state, solid_lores((60, 60, 60)), (320, 240), 0.0)
    second = picture(state, solid_lores((60, 60, 60)), (320, 240), 2.6)
    b1 = layout(state, (320, 240), 0.0)["alert"][0]
    b2 = layout(state, (320, 240), 2.6)["alert"][0]
    assert share(first, b1, screens.ALERT_RED) > 0.4  # storage full: severe, red, first
    assert share(second, b2, AMBER) > 0.4  # then the clock warning


def test_no_camera_frame_shows_a_message_not_a_stale_picture() -> None:
    state = DisplayState(mode="recording", recording_elapsed_s=3)
    out = picture(state, None, (320, 240))
    boxes = layout(state, (320, 240), 0.2, live=False)
    assert "no_camera_image" in boxes
    assert share(out, boxes["rec_badge"][0], RED) > 0.5
    centre = (100, 100, 220, 110)
    assert share(out, centre, screens.NO_SIGNAL_GREY, tol=10) + \
        share(out, centre, WHITE, tol=60) > 0.95


def test_every_text_exists_in_both_languages() -> None:
    assert set(TEXT["de"]) == set(TEXT["en"])
    for code in ALERT_CODES:
        assert TEXT["de"][code] and TEXT["en"][code]


def test_without_system_font_german_is_spelt_without_umlauts(monkeypatch) -> None:
    monkeypatch.setattr(fonts, "FONT_CANDIDATES", ["/nonexistent/font.ttf"])
    for fn in (fonts._system_font_path, fonts.face, fonts.face_for_cap):
        fn.cache_clear()
    try:
        f = fonts.face_for_cap(20)
        assert f.cap_height >= 20
        assert fonts.displayable(f, "Schlüssel möglich") == "Schluessel moeglich"
        lines = fonts.wrap("Video\u00adaufzeichnung möglich", f, 220)
        assert lines is not None and "".join(lines).replace("-", "") == "Videoaufzeichnungmoeglich"
    finally:
        for fn in (fonts._system_font_path, fonts.face, fonts.face_for_cap):
            fn.cache_clear()
        screens.overlay.cache_clear()
        screens.status_frame.cache_clear()


def test_state_rejects_unknown_values() -> None:
    with pytest.raises(ValueError):
        DisplayState(mode="recordng")
    with pytest.raises(ValueError):
        DisplayState(language="fr")
    assert DisplayState(alerts=["storage_low"]).alerts == ("storage_low",)
