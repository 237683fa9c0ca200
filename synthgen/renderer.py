"""Drawing a string as a coverage mask (255 = full ink) with a chosen face, size, spacing and weight."""

from __future__ import annotations

from collections import OrderedDict

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from synthgen.font_audit import FontReport
from synthgen.glyph_shapes import load_font


class FontCache:
    """Loaded FreeType faces by (path, face, size), least recently used dropped first."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.fonts: OrderedDict[tuple[str, int, int], ImageFont.FreeTypeFont] = OrderedDict()

    def get(self, report: FontReport, size: int) -> ImageFont.FreeTypeFont:
        """The face at this size, loaded once."""
        key = (report.path, report.face, size)
        font = self.fonts.get(key)
        if font is None:
            font = load_font(report.path, report.face, size)
            self.fonts[key] = font
            if len(self.fonts) > self.capacity:
                self.fonts.popitem(last=False)
        else:
            self.fonts.move_to_end(key)
        return font


def render_mask(font: ImageFont.FreeTypeFont, text: str, spacing: float, stroke: int) -> np.ndarray:
    """The text on a canvas as tall as the face's ascent plus descent; `spacing` pixels added between characters."""
    ascent, descent = font.getmetrics()
    pad = stroke + 2
    if spacing == 0:
        advances = [font.getlength(text)]
        pieces = [text]
    else:
        pieces = list(text)
        advances = [font.getlength(character) + spacing for character in pieces]
    width = int(np.ceil(sum(advances))) + 2 * pad + ascent  # room for overhangs of italics
    canvas = Image.new("L", (max(width, 1), ascent + descent + 2 * pad), 0)
    draw = ImageDraw.Draw(canvas)
    x = float(pad)
    for piece, advance in zip(pieces, advances):
        draw.text((x, ascent + pad), piece, fill=255, font=font, anchor="ls", stroke_width=stroke, stroke_fill=255)
        x += advance
    return np.asarray(canvas)


def ink_columns(mask: np.ndarray) -> tuple[int, int] | None:
    """First and one-past-last column holding ink, or None when blank."""
    columns = np.flatnonzero(mask.max(axis=0) > 0)
    return (int(columns[0]), int(columns[-1]) + 1) if columns.size else None


def ink_box(mask: np.ndarray) -> tuple[int, int, int, int] | None:
    """(top, bottom, left, right) of the ink, exclusive ends, or None when blank."""
    rows = np.flatnonzero(mask.max(axis=1) > 0)
    columns = ink_columns(mask)
    if columns is None:
        return None
    return int(rows[0]), int(rows[-1]) + 1, columns[0], columns[1]
