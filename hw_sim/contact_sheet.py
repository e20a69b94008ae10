"""One PNG of every frame the simulated panel showed, each labelled with its scenario time.

Flicking through a folder of PNGs or an animated GIF, a two-second alert is
easily missed; on a contact sheet every captured frame is in view at once, in
order, with the scenario time (seconds from the camera's first frame) under it.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from hw_sim.panel import CapturedFrame

#: The sheet's file name in a ``--display-out`` folder.
SHEET = "contact_sheet.png"
COLUMNS = 8
SCALE = 0.5
LABEL_H = 16
PAD = 4
BACKGROUND = (40, 40, 40)
TEXT = (255, 255, 255)


def contact_sheet(frames: Sequence[CapturedFrame], origin: float, path: Path) -> Path:
    """Write the frames as a grid, ``COLUMNS`` wide, labelled ``t = 12.4 s``."""
    images = [f.image() for f in frames]
    if not images:
        images, times = [Image.new("RGB", (320, 240))], [0.0]
    else:
        times = [f.t - origin for f in frames]
    w = max(1, round(images[0].width * SCALE))
    h = max(1, round(images[0].height * SCALE))
    cols = min(COLUMNS, len(images))
    rows = -(-len(images) // cols)
    cell_w, cell_h = w + PAD, h + LABEL_H + PAD
    sheet = Image.new("RGB", (cols * cell_w + PAD, rows * cell_h + PAD), BACKGROUND)
    draw = ImageDraw.Draw(sheet)
    font = ImageFont.load_default()
    for i, (image, t) in enumerate(zip(images, times, strict=True)):
        x = PAD + (i % cols) * cell_w
        y = PAD + (i // cols) * cell_h
        sheet.paste(image.convert("RGB").resize((w, h)), (x, y))
        draw.text((x + 2, y + h + 2), f"t = {t:.1f} s", fill=TEXT, font=font)
    sheet.save(path)
    return path
