"""Drawing a string as a coverage mask (255 = full ink) with a chosen face, size, spacing and weight."""

from __future__ import annotations

from collections import OrderedDict

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from synthgen.fonts.atlas import Atlas, AtlasCache, PlacedGlyph, draw_atlas, draw_glyph
from synthgen.fonts.audit import FontReport
from synthgen.fonts.shapes import load_font

GLYPH_CACHE_LIMIT = 200000  # glyph bitmaps kept (a few hundred bytes each) before the least recently used faces' are dropped
KERNING_PROBES = ("AV", "To", "Ta", "We", "Yo", "LT", "P.", "r,", "y.", "AT")


class FontCache:
    """Faces drawn at one glyph size, with their glyph atlases, metrics and kerning kept; least recently used dropped first.

    Every face is drawn at the same pixels per em and the caller scales the text layer to the size it wants:
    one atlas per face and stroke instead of one per size keeps the long tail of faces warm. With an
    `atlas_cache` on disk, a face's glyphs are drawn once per machine rather than once per process.
    """

    def __init__(self, capacity: int, glyph_size: int, atlas_cache: AtlasCache | None = None) -> None:
        self.capacity = capacity
        self.glyph_size = glyph_size
        self.atlas_cache = atlas_cache
        self.fonts: OrderedDict[tuple[str, int], ImageFont.FreeTypeFont] = OrderedDict()
        self.atlases: OrderedDict[tuple[str, int, int], Atlas] = OrderedDict()  # by (path, face, stroke)
        self.glyph_count = 0  # glyphs held in all atlases
        self.kerned: dict[tuple[str, int], bool] = {}  # whether the face kerns at all
        self.metrics: dict[tuple[str, int], tuple[int, int]] = {}  # (ascent, descent)
        self.cap_tops: dict[tuple[str, int], int] = {}  # top of a capital relative to the baseline (negative)

    def get(self, report: FontReport) -> ImageFont.FreeTypeFont:
        """The face at the glyph size, loaded once while it stays in use."""
        key = (report.path, report.face)
        font = self.fonts.get(key)
        if font is None:
            font = load_font(report.path, report.face, self.glyph_size)
            self.fonts[key] = font
            if len(self.fonts) > self.capacity:
                self.fonts.popitem(last=False)
        else:
            self.fonts.move_to_end(key)
        return font

    def atlas(self, report: FontReport, stroke: int) -> Atlas:
        """The face's glyphs and kerning at this stroke, from memory, else from disk, else drawn (and stored)."""
        key = (report.path, report.face, stroke)
        atlas = self.atlases.get(key)
        if atlas is not None:
            self.atlases.move_to_end(key)
            return atlas
        atlas = self.atlas_cache.load(report, self.glyph_size, stroke) if self.atlas_cache else None
        if atlas is None:
            atlas = draw_atlas(self.get(report), report.coverage, stroke, self.kerns_at_all(report),
                               self.known_kerning(report, stroke))
            if self.atlas_cache:
                self.atlas_cache.store(report, self.glyph_size, stroke, atlas)
        self.atlases[key] = atlas
        self.glyph_count += len(atlas.glyphs)
        while self.glyph_count > GLYPH_CACHE_LIMIT and len(self.atlases) > 1:
            self.glyph_count -= len(self.atlases.popitem(last=False)[1].glyphs)  # least recently used first
        return atlas

    def known_kerning(self, report: FontReport, stroke: int) -> dict[str, float] | None:
        """The face's kerned pairs from its unstroked atlas when drawing a stroked one (kerning ignores the stroke)."""
        if not stroke or not self.kerns_at_all(report):
            return None
        unstroked = self.atlas(report, 0)
        if unstroked.covered != frozenset(report.coverage):
            return None
        return unstroked.covered_kerning()

    def glyph(self, report: FontReport, character: str, stroke: int) -> PlacedGlyph:
        """(bitmap, left, top, advance) of one character relative to the pen on the baseline, drawn once."""
        glyphs = self.atlas(report, stroke).glyphs
        found = glyphs.get(character)
        if found is None:  # outside the face's coverage (filler words, or the audit ignored): kept in memory only
            found = glyphs[character] = draw_glyph(self.get(report), character, stroke)
            self.glyph_count += 1
        return found

    def kerns_at_all(self, report: FontReport) -> bool:
        """Whether the face kerns (Pillow's basic layout reads only a kern table): probed once on classic pairs."""
        key = (report.path, report.face)
        found = self.kerned.get(key)
        if found is None:
            font = self.get(report)
            found = any(abs(font.getlength(pair) - font.getlength(pair[0]) - font.getlength(pair[1])) > 0.01
                        for pair in KERNING_PROBES)
            self.kerned[key] = found
        return found

    def ascent_descent(self, report: FontReport) -> tuple[int, int]:
        """The face's ascent and descent in pixels at the glyph size."""
        key = (report.path, report.face)
        found = self.metrics.get(key)
        if found is None:
            found = self.metrics[key] = self.get(report).getmetrics()
        return found

    def line_rows(self, report: FontReport, stroke: int) -> tuple[int, int]:
        """(cap-height row, baseline row) on the canvas `render` draws for this face and stroke."""
        key = (report.path, report.face)
        cap_top = self.cap_tops.get(key)
        if cap_top is None:
            ascent, _ = self.ascent_descent(report)
            capital = next((c for c in "HIEXT" if c in report.coverage), None)
            cap_top = int(self.get(report).getbbox(capital, anchor="ls")[1]) if capital else -round(0.7 * ascent)
            self.cap_tops[key] = cap_top
        baseline = self.ascent_descent(report)[0] + stroke + 2
        return baseline + cap_top - stroke, baseline

    def render(self, report: FontReport, text: str, spacing: float, stroke: int) -> np.ndarray:
        """The text at the glyph size as a coverage mask, assembled from glyph bitmaps drawn once per face and stroke.

        FreeType's TrueType hinting makes drawing a string cost up to 50 us per character; cached glyphs
        placed at their (kerned) advances cost a few microseconds each. `spacing` is extra pixels per character.
        """
        ascent, descent = self.ascent_descent(report)
        pad = stroke + 2
        atlas = self.atlas(report, stroke)
        glyphs = [atlas.glyphs.get(character) or self.glyph(report, character, stroke) for character in text]
        if atlas.kerns:
            font = self.get(report)
            kerns = [atlas.kern(font, text[i : i + 2]) for i in range(len(text) - 1)]
            kerns.append(0.0)
        else:
            kerns = [0.0] * len(text)
        width = int(np.ceil(sum(g[3] + spacing + k for g, k in zip(glyphs, kerns)))) + 2 * pad + ascent
        canvas = np.zeros((ascent + descent + 2 * pad, max(width, 1)), np.uint8)
        baseline, x = ascent + pad, float(pad)
        rows, columns = canvas.shape
        for (bitmap, left, top, advance), kern in zip(glyphs, kerns):
            row, column = baseline + top, round(x) + left
            height, width = bitmap.shape
            if row >= 0 and column >= 0 and row + height <= rows and column + width <= columns:
                region = canvas[row : row + height, column : column + width]  # inside, as nearly every glyph is
                np.maximum(region, bitmap, out=region)
            else:
                paste_max(canvas, bitmap, row, column)
            x += advance + spacing + kern
        return canvas


def paste_max(canvas: np.ndarray, patch: np.ndarray, row: int, column: int) -> None:
    """Combine patch into canvas at (row, column) by maximum, clipping what falls outside."""
    rows, columns = patch.shape
    if row >= 0 and column >= 0 and row + rows <= canvas.shape[0] and column + columns <= canvas.shape[1]:
        region = canvas[row : row + rows, column : column + columns]  # inside, as nearly every glyph is: no clipping
        np.maximum(region, patch, out=region)
        return
    top, left = max(row, 0), max(column, 0)
    bottom, right = min(row + rows, canvas.shape[0]), min(column + columns, canvas.shape[1])
    if bottom > top and right > left:
        region = canvas[top:bottom, left:right]
        np.maximum(region, patch[top - row : bottom - row, left - column : right - column], out=region)


def render_mask(font: ImageFont.FreeTypeFont, text: str, stroke: int = 0) -> np.ndarray:
    """The text on a canvas as tall as the face's ascent plus descent, baseline at the ascent."""
    ascent, descent = font.getmetrics()
    pad = stroke + 2
    width = int(np.ceil(font.getlength(text))) + 2 * pad + ascent  # room for overhangs of italics
    canvas = Image.new("L", (max(width, 1), ascent + descent + 2 * pad), 0)
    ImageDraw.Draw(canvas).text((pad, ascent + pad), text, fill=255, font=font, anchor="ls", stroke_width=stroke, stroke_fill=255)
    return np.asarray(canvas)


def ink_columns(mask: np.ndarray) -> tuple[int, int] | None:
    """First and one-past-last column holding ink, or None when blank."""
    box = ink_box(mask)
    return None if box is None else (box[2], box[3])


def ink_box(mask: np.ndarray) -> tuple[int, int, int, int] | None:
    """(top, bottom, left, right) of the ink, exclusive ends, or None when blank."""
    left, top, width, height = cv2.boundingRect(mask)  # of the non-zero pixels of a one-channel uint8 image
    return (top, top + height, left, left + width) if width else None
