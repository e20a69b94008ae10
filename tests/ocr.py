"""Reading burned-in watermarks back with real OCR (Tesseract, Debian's tesseract-ocr).

The box is found in the picture, not taken from the renderer's layout: the darkest
rectangle in the lower half of the frame (the watermark's box is video black; the
simulated scene has nothing that dark there). Boxes are cropped, scaled to the
text size Tesseract reads best, inverted to dark text on light, stacked on one
sheet (a few at a time) and read by one ``tesseract`` run a sheet (its start-up
dominates on a busy machine); each word goes back to the box it was found in by
its position on the sheet.
"""

from __future__ import annotations

import csv
import io
import os
import subprocess

import numpy as np
from PIL import Image, ImageOps

from tests.tools import require

#: Luma below this is the box (video black is 16; the scene's darkest floor is 60).
DARK = 40
#: White space around and between boxes on the sheet, in pixels.
GAP = 24
#: Boxes per sheet: on a sheet of twenty, Tesseract read every "2026" as "2626".
GROUP = 4
#: Text is scaled to capitals about this tall: Tesseract misreads "1Z" as "12Z" in
#: much larger or smaller text (seen at 36 px and at 32 px).
CAP_PX = 24


def tesseract() -> str:
    """The tesseract binary (skipped without it, failed under CI: tests/tools.py)."""
    return require("tesseract", "tesseract-ocr")


def find_box(y: np.ndarray) -> tuple[int, int, int, int]:
    """(top, left, bottom, right) of the dark box in the lower half of a luma plane."""
    r0 = y.shape[0] // 2
    dark = y[r0:] < DARK
    rows = np.flatnonzero(dark.sum(axis=1) >= 10)
    cols = np.flatnonzero(dark.sum(axis=0) >= 10)
    assert rows.size and cols.size, "no watermark box in the frame"
    return int(rows[0]) + r0, int(cols[0]), int(rows[-1]) + r0 + 1, int(cols[-1]) + 1


def _first_line_height(box: np.ndarray) -> int:
    """Rows of the first run of text in a box: the height of its capitals and digits."""
    rows = np.flatnonzero((box > 128).any(axis=1))
    assert rows.size, "no text in the watermark box"
    breaks = np.flatnonzero(np.diff(rows) > 1)
    end = rows[breaks[0]] if breaks.size else rows[-1]
    return int(end - rows[0] + 1)


def read_watermarks(lumas: list[np.ndarray]) -> list[list[str]]:
    """The text lines of each frame's watermark box, as Tesseract reads them."""
    return [lines for i in range(0, len(lumas), GROUP) for lines in _read_sheet(lumas[i : i + GROUP])]


def _read_sheet(lumas: list[np.ndarray]) -> list[list[str]]:
    crops = []
    for y in lumas:
        top, left, bottom, right = find_box(y)
        box = np.ascontiguousarray(y[top:bottom, left:right])
        scale = CAP_PX / _first_line_height(box)
        crop = ImageOps.invert(Image.fromarray(box))
        crops.append(crop.resize((round(crop.width * scale), round(crop.height * scale)),
                                 Image.LANCZOS))
    sheet = Image.new("L", (max(c.width for c in crops) + 2 * GAP,
                            sum(c.height + GAP for c in crops) + GAP), 255)
    spans, at = [], GAP
    for c in crops:
        sheet.paste(c, (GAP, at))
        spans.append((at, at + c.height))
        at += c.height + GAP
    buf = io.BytesIO()
    sheet.save(buf, format="PNG")
    out = subprocess.run([tesseract(), "stdin", "stdout", "--psm", "6", "tsv"],
                         input=buf.getvalue(), capture_output=True, check=True, timeout=300,
                         env=dict(os.environ, OMP_THREAD_LIMIT="1")).stdout.decode()
    lines: dict[tuple[int, int, int], list[tuple[int, int, str]]] = {}
    for row in csv.DictReader(io.StringIO(out), delimiter="\t", quoting=csv.QUOTE_NONE):
        if row["level"] == "5" and row["text"].strip():
            key = (int(row["block_num"]), int(row["par_num"]), int(row["line_num"]))
            middle = int(row["top"]) + int(row["height"]) // 2
            lines.setdefault(key, []).append((int(row["left"]), middle, row["text"].strip()))
    found: list[list[tuple[int, str]]] = [[] for _ in crops]
    for words in lines.values():
        middle = sorted(m for _, m, _ in words)[len(words) // 2]
        box = next((i for i, (a, b) in enumerate(spans) if a - GAP // 2 <= middle < b + GAP // 2), None)
        if box is not None:
            found[box].append((middle, " ".join(t for _, _, t in sorted(words))))
    return [[text for _, text in sorted(rows)] for rows in found]
