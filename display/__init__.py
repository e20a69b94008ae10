"""What the front display shows: live-view mirror, REC badge, notices, alerts, languages.

Pure image work (numpy, Pillow); the panel driver and the display thread live
in ``drivers.panel`` and ``firmware.front_display``. Entry points:

* :class:`DisplayState` - what to show;
* :func:`render` - state + latest low-res camera frame -> big-endian RGB565 pixels;
* :func:`panel_on` / :func:`uses_live` - whether the panel is lit / needs a camera frame;
* :mod:`display.text` - every word shown, per language.
"""

from display.render import layout, render
from display.rgb565 import pack as rgb_to_rgb565
from display.rgb565 import unpack as rgb565_to_rgb
from display.state import (
    ALERT_CODES,
    Alert,
    DisplaySnapshot,
    DisplayState,
    Mode,
    active_alerts,
    panel_on,
    uses_live,
)
from display.text import TEXT, text

__all__ = [
    "ALERT_CODES",
    "Alert",
    "DisplaySnapshot",
    "DisplayState",
    "Mode",
    "TEXT",
    "active_alerts",
    "layout",
    "panel_on",
    "render",
    "rgb565_to_rgb",
    "rgb_to_rgb565",
    "text",
    "uses_live",
]
