"""Rendering single glyphs and turning them into comparable shape vectors."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

RENDER_SIZE = 40  # pixels per em when auditing
INK_LEVEL = 48  # a pixel darker than this (on 0..255 coverage) counts as ink
FRAME = 32  # side of the square a glyph is normalized into
FRAME_BASELINE = 22  # row of the baseline in the frame
FRAME_CAP_HEIGHT = 14  # rows between baseline and cap height in the frame
REFERENCE_FILES = (
    "DejaVuSans.ttf",
    "DejaVuSans-Bold.ttf",
    "DejaVuSans-Oblique.ttf",
    "DejaVuSerif.ttf",
    "DejaVuSerif-Bold.ttf",
    "DejaVuSerif-Italic.ttf",
    "DejaVuSansMono.ttf",
    "STIXGeneral.ttf",
    "STIXGeneralItalic.ttf",
    "STIXGeneralBol.ttf",
)


@dataclass(frozen=True)
class Glyph:
    """One character drawn at RENDER_SIZE on a fixed canvas with its baseline at a fixed row."""

    character: str
    canvas: np.ndarray  # (H, W) uint8 coverage, 255 = full ink
    ink_box: tuple[int, int, int, int] | None  # (top, bottom, left, right) of inked pixels, exclusive ends

    @property
    def has_ink(self) -> bool:
        """Whether any pixel is dark enough to be seen."""
        return self.ink_box is not None

    @property
    def fingerprint(self) -> bytes:
        """Exact identity of the drawn bitmap, position included."""
        return self.canvas.tobytes()


def find_ink_box(canvas: np.ndarray) -> tuple[int, int, int, int] | None:
    """(top, bottom, left, right) of the pixels dark enough to be seen, exclusive ends, or None when blank."""
    ink = canvas > INK_LEVEL
    rows = np.flatnonzero(ink.any(axis=1))
    if rows.size == 0:
        return None
    columns = np.flatnonzero(ink.any(axis=0))
    return int(rows[0]), int(rows[-1]) + 1, int(columns[0]), int(columns[-1]) + 1


def canvas_origin() -> tuple[int, int]:
    """(x, y) of the pen position and baseline on the glyph canvas."""
    return RENDER_SIZE // 2, int(RENDER_SIZE * 1.6)


def load_font(path: str | Path, index: int, size: int = RENDER_SIZE) -> ImageFont.FreeTypeFont:
    """Open one face with FreeType through Pillow, without complex shaping."""
    return ImageFont.truetype(str(path), size=size, index=index, layout_engine=ImageFont.Layout.BASIC)


def render_glyph(font: ImageFont.FreeTypeFont, character: str) -> Glyph:
    """Draw one character with its baseline and pen position at the canvas origin."""
    canvas = Image.new("L", (RENDER_SIZE * 3, RENDER_SIZE * 5 // 2), 0)
    ImageDraw.Draw(canvas).text(canvas_origin(), character, fill=255, font=font, anchor="ls")
    pixels = np.asarray(canvas)
    return Glyph(character, pixels, find_ink_box(pixels))


def cap_height(glyphs: dict[str, Glyph]) -> int:
    """Cap height in pixels, measured on H (or another flat-topped capital), else a typical ratio."""
    baseline = canvas_origin()[1]
    for character in "HIEFTLKN":
        glyph = glyphs.get(character)
        box = glyph.ink_box if glyph else None
        if box is not None and baseline - box[0] > 2:
            return baseline - box[0]
    return int(RENDER_SIZE * 0.7)


def frame_vector(glyph: Glyph, cap_pixels: int) -> np.ndarray | None:
    """The glyph scaled so the face's cap height fills FRAME_CAP_HEIGHT rows, centred, blurred, unit length.

    Keeps vertical position (a comma differs from an apostrophe) and proportions.
    """
    box = glyph.ink_box
    if box is None:
        return None
    top, bottom, left, right = box
    scale = FRAME_CAP_HEIGHT / max(cap_pixels, 1)
    crop = glyph.canvas[top:bottom, left:right]
    height, width = max(1, round(crop.shape[0] * scale)), max(1, round(crop.shape[1] * scale))
    small = cv2.resize(crop, (width, height), interpolation=cv2.INTER_AREA)
    frame = np.zeros((FRAME, FRAME), np.float32)
    row = FRAME_BASELINE - round((canvas_origin()[1] - top) * scale)
    column = (FRAME - width) // 2
    paste(frame, small.astype(np.float32), row, column)
    return unit_vector(frame)


def shape_vector(glyph: Glyph, cap_pixels: int) -> np.ndarray | None:
    """Frame and box vectors joined: a dot product averages position-aware and size-free correlations."""
    frame = frame_vector(glyph, cap_pixels)
    if frame is None:
        return None
    return np.concatenate([frame, box_vector(glyph)]) / np.sqrt(2.0)


def box_vector(glyph: Glyph) -> np.ndarray | None:
    """The glyph's ink box padded to a square and scaled to FRAME: shape alone, size and position removed."""
    box = glyph.ink_box
    if box is None:
        return None
    top, bottom, left, right = box
    crop = glyph.canvas[top:bottom, left:right]
    side = max(crop.shape)
    square = np.zeros((side, side), np.uint8)
    paste(square, crop, (side - crop.shape[0]) // 2, (side - crop.shape[1]) // 2)
    return unit_vector(cv2.resize(square, (FRAME, FRAME), interpolation=cv2.INTER_AREA).astype(np.float32))


def paste(frame: np.ndarray, patch: np.ndarray, row: int, column: int) -> None:
    """Copy patch into frame at (row, column), clipping whatever falls outside."""
    top, left = max(row, 0), max(column, 0)
    bottom, right = min(row + patch.shape[0], frame.shape[0]), min(column + patch.shape[1], frame.shape[1])
    if bottom > top and right > left:
        frame[top:bottom, left:right] = patch[top - row : bottom - row, left - column : right - column]


def unit_vector(image: np.ndarray) -> np.ndarray:
    """Blur, centre and scale to unit length, so a dot product is a correlation in [-1, 1]."""
    blurred = cv2.GaussianBlur(image, (0, 0), 1.2).ravel()
    centred = blurred - blurred.mean()
    norm = float(np.linalg.norm(centred))
    return centred / norm if norm > 0 else centred


@dataclass(frozen=True)
class ReferenceShapes:
    """Shape vectors of many characters drawn in well-known faces, for recognising what a glyph shows."""

    characters: tuple[str, ...]  # the distinct characters, in the order of their row groups
    group_starts: np.ndarray  # first row of each character's group
    vectors: np.ndarray  # (rows, 2 * FRAME * FRAME), rows grouped by character

    def similarities(self, vectors: np.ndarray) -> np.ndarray:
        """(glyphs, characters): the best correlation of each shape vector with each reference character."""
        return np.maximum.reduceat(vectors @ self.vectors.T, self.group_starts, axis=1)


@lru_cache(maxsize=4)
def reference_shapes(characters: str) -> ReferenceShapes:
    """Reference vectors for the given characters, drawn in matplotlib's DejaVu and STIX faces."""
    from synthgen.fonts.files import matplotlib_font_folder

    vectors_by_character: dict[str, list[np.ndarray]] = {character: [] for character in characters}
    for name in REFERENCE_FILES:
        font = load_font(matplotlib_font_folder() / name, 0)
        glyphs = {character: render_glyph(font, character) for character in characters}
        cap_pixels = cap_height(glyphs)
        for character, glyph in glyphs.items():
            vector = shape_vector(glyph, cap_pixels)
            if vector is not None:
                vectors_by_character[character].append(vector)
    drawn = [character for character in characters if vectors_by_character[character]]
    sizes = [len(vectors_by_character[character]) for character in drawn]
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.intp)
    vectors = np.stack([vector for character in drawn for vector in vectors_by_character[character]])
    return ReferenceShapes(tuple(drawn), starts, vectors)
