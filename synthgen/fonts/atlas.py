"""Glyph atlases: every character a face may draw, drawn once at the glyph size and kept on disk.

A glyph costs one FreeType render (about 50 us); a word needs eight or so, and a long tail of faces keeps
missing any cache a single process can warm. An atlas holds a whole face at once, so a fresh process
(a DataLoader worker, a writer's worker, the next run) starts warm. The bitmaps are the same bytes a
direct render gives: the file is keyed by the face's content hash, the glyph size, the stroke, and the
Pillow and FreeType builds that drew it.
"""

from __future__ import annotations

import os
import struct
import warnings
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path

import numpy as np
from PIL import Image, ImageFont, features
from PIL import __version__ as PILLOW_VERSION
from tqdm import tqdm

from synthgen.config import FontConfig
from synthgen.files import write_bytes_atomically
from synthgen.fonts.audit import FontReport
from synthgen.paths import resolve_path

ATLAS_VERSION = 1  # bump when what an atlas holds changes, so old files are redrawn
MAX_ATLAS_BYTES = 16 << 20  # an atlas larger than this, on disk or unpacked, is not read (a face takes tens of kB)
MAGIC = b"synthgen-atlas\n"
PlacedGlyph = tuple[np.ndarray, int, int, float]  # (bitmap, left, top, advance) relative to the pen on the baseline


@dataclass
class Atlas:
    """A face's glyphs at one size and stroke, the characters the audit lets it draw, and its non-zero kerning."""

    glyphs: dict[str, PlacedGlyph]
    covered: frozenset[str]  # the characters drawn when the atlas was made (more may be added to `glyphs` later)
    kerns: bool  # whether the face kerns at all (when not, every pair's kerning is taken as 0)
    kerning: dict[str, float]  # extra advance of each kerned pair of covered characters; a covered pair not here: 0

    def covered_kerning(self) -> dict[str, float]:
        """The kerned pairs of covered characters only (what is stored; pairs measured later stay in memory)."""
        return {pair: value for pair, value in self.kerning.items() if pair[0] in self.covered and pair[1] in self.covered}

    def kern(self, font: ImageFont.FreeTypeFont, pair: str) -> float:
        """The kerning of a pair; one holding a character outside the atlas is measured (and kept)."""
        found = self.kerning.get(pair)
        if found is None:
            if not self.kerns or pair[0] in self.covered and pair[1] in self.covered:
                return 0.0
            found = self.kerning[pair] = font.getlength(pair) - (font.getlength(pair[0]) + font.getlength(pair[1]))
        return found


def draw_glyph(font: ImageFont.FreeTypeFont, character: str, stroke: int) -> PlacedGlyph:
    """One character as a coverage bitmap with its offset from the pen on the baseline, and its advance."""
    core, (left, top) = font.getmask2(character, mode="L", anchor="ls", stroke_width=stroke)
    bitmap = np.asarray(Image.Image()._new(core))  # one FreeType load instead of a draw on a canvas
    return bitmap, left, top, font.getlength(character)


def draw_atlas(font: ImageFont.FreeTypeFont, characters: str, stroke: int, kerns: bool,
               kerning: dict[str, float] | None = None) -> Atlas:
    """Every character of `characters` drawn with the face, and (when the face kerns) every kerned pair measured
    unless `kerning` gives them (kerning does not depend on the stroke).

    Pillow's basic layout reads the kerning a face's `kern` table gives a pair; measuring all pairs of ~100
    characters once (about 40 ms) replaces a measurement per pair and face that no cache keeps warm.
    """
    covered = "".join(dict.fromkeys(characters))
    glyphs = {character: draw_glyph(font, character, stroke) for character in covered}
    if kerning is None:
        kerning = measure_kerning(font, covered, glyphs) if kerns else {}
    return Atlas(glyphs, frozenset(covered), kerns, dict(kerning))


def measure_kerning(font: ImageFont.FreeTypeFont, covered: str, glyphs: dict[str, PlacedGlyph]) -> dict[str, float]:
    """Every pair of covered characters the face kerns, with its extra advance."""
    kerning = {}
    for first in covered:
        for second in covered:
            extra = font.getlength(first + second) - (glyphs[first][3] + glyphs[second][3])
            if extra:
                kerning[first + second] = extra
    return kerning


def renderer_fingerprint() -> str:
    """The Pillow and FreeType builds that draw glyphs: another build may place or shade a pixel differently."""
    return f"pil{PILLOW_VERSION}-ft{features.version('freetype2')}".replace(".", "_")


class AtlasCache:
    """Atlases on disk, one file per face content hash, face index, glyph size, stroke, renderer and atlas version."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        self.renderer = renderer_fingerprint()
        self.writable = True

    def path_for(self, report: FontReport, size: int, stroke: int) -> Path:
        """Where the atlas of this face at this size and stroke is kept."""
        return self.folder / f"{report.sha256[:24]}-{report.face}-{size}px-s{stroke}-{self.renderer}-v{ATLAS_VERSION}.atlas"

    def load(self, report: FontReport, size: int, stroke: int) -> Atlas | None:
        """The stored atlas, or None when absent, too large or unreadable (it is then drawn again)."""
        if not report.sha256:  # no content hash, no safe key
            return None
        path = self.path_for(report, size, stroke)
        try:
            if path.stat().st_size > MAX_ATLAS_BYTES:
                return None
            return unpack(path.read_bytes())
        except (OSError, ValueError, zlib.error):
            return None

    def store(self, report: FontReport, size: int, stroke: int, atlas: Atlas) -> None:
        """Write an atlas atomically (a crash or a concurrent writer never leaves a half-written file).

        A folder that cannot be written (read-only, full) only costs speed: generation goes on, warned once.
        """
        if not self.writable or not report.sha256:
            return
        try:
            write_bytes_atomically(self.path_for(report, size, stroke), pack(atlas))
        except OSError as error:
            self.writable = False
            warnings.warn(f"glyph atlases cannot be kept in {self.folder} ({error.strerror or error}): every process "
                          "will draw its own", RuntimeWarning, stacklevel=2)


def atlas_cache_of(fonts: FontConfig) -> AtlasCache:
    """Where a config's atlases are kept: beside its audit reports."""
    return AtlasCache(resolve_path(fonts.audit_cache) / "glyphs")


def pack(atlas: Atlas) -> bytes:
    """An atlas as bytes: magic, then compressed: glyph count, code points, (rows, columns, left, top) boxes,
    advances, whether the face kerns, kerned pair count, pairs as code points, their kerning, and last all pixels end to end."""
    glyphs = {character: atlas.glyphs[character] for character in sorted(atlas.covered)}
    boxes = [(*bitmap.shape, left, top) for bitmap, left, top, _ in glyphs.values()]
    pairs = atlas.covered_kerning()
    parts = [
        struct.pack("<I", len(glyphs)),
        np.array([ord(character) for character in glyphs], "<u4").tobytes(),
        np.array(boxes, "<i4").reshape(-1, 4).tobytes(),
        np.array([glyph[3] for glyph in glyphs.values()], "<f8").tobytes(),
        struct.pack("<II", atlas.kerns, len(pairs)),
        np.array([[ord(pair[0]), ord(pair[1])] for pair in pairs], "<u4").reshape(-1, 2).tobytes(),
        np.array(list(pairs.values()), "<f8").tobytes(),
        *(np.ascontiguousarray(glyph[0], np.uint8).tobytes() for glyph in glyphs.values()),
    ]
    return MAGIC + zlib.compress(b"".join(parts), 1)


def unpack(data: bytes) -> Atlas:
    """The atlas `pack` stored; ValueError when the bytes are not an atlas or do not fit together."""
    if not data.startswith(MAGIC):
        raise ValueError("not a glyph atlas")
    inflater = zlib.decompressobj()
    body = inflater.decompress(data[len(MAGIC) :], MAX_ATLAS_BYTES)
    if inflater.unconsumed_tail:
        raise ValueError("glyph atlas too large")
    count, offset = read_count(body, 0)
    codepoints = read_array(body, "<u4", count, offset).tolist()
    boxes = read_array(body, "<i4", 4 * count, offset + 4 * count).reshape(count, 4)
    advances = read_array(body, "<f8", count, offset + 20 * count).tolist()
    kerns, offset = read_count(body, offset + 28 * count)
    pair_count, offset = read_count(body, offset)
    pairs = read_array(body, "<u4", 2 * pair_count, offset).reshape(pair_count, 2).tolist()
    kerns = read_array(body, "<f8", pair_count, offset + 8 * pair_count).tolist()
    offset += 16 * pair_count
    sizes = boxes[:, 0].astype(np.int64) * boxes[:, 1]
    if (boxes[:, :2] < 0).any() or offset + int(sizes.sum()) != len(body):
        raise ValueError("inconsistent glyph atlas")
    pixels = np.frombuffer(body, np.uint8, offset=offset)
    glyphs, end = {}, 0
    for codepoint, (rows, columns, left, top), advance in zip(codepoints, boxes.tolist(), advances):
        start, end = end, end + rows * columns
        glyphs[chr(codepoint)] = (pixels[start:end].reshape(rows, columns), left, top, advance)
    kerning = {chr(first) + chr(second): value for (first, second), value in zip(pairs, kerns)}
    return Atlas(glyphs, frozenset(glyphs), bool(kerns), kerning)


def read_count(body: bytes, offset: int) -> tuple[int, int]:
    """A little-endian uint32 at offset, and the offset after it."""
    if len(body) < offset + 4:
        raise ValueError("truncated glyph atlas")
    return struct.unpack_from("<I", body, offset)[0], offset + 4


def read_array(body: bytes, dtype: str, count: int, offset: int) -> np.ndarray:
    """`count` items of dtype at offset; ValueError when the body is too short."""
    if len(body) < offset + count * np.dtype(dtype).itemsize:
        raise ValueError("truncated glyph atlas")
    return np.frombuffer(body, dtype, count, offset)


def prepare_atlases(reports: Sequence[FontReport], glyph_size: int, cache: AtlasCache, strokes: Sequence[int] = (0, 1),
                    workers: int | None = None, progress: bool = True) -> tuple[int, int]:
    """Draw the atlases of these faces missing on disk (in parallel, with a progress bar): (drawn, already there)."""
    jobs = [(report, glyph_size, stroke, cache.folder) for report in reports for stroke in strokes
            if not cache.path_for(report, glyph_size, stroke).exists()]
    workers = max(1, min(workers or os.cpu_count() or 1, len(jobs)))
    bar = tqdm(total=len(jobs), desc="drawing glyph atlases", unit="atlas", disable=not progress or not jobs)
    if workers == 1:
        for job in jobs:
            draw_and_store(job)
            bar.update()
    else:
        with get_context("spawn").Pool(workers) as pool:
            for _ in pool.imap_unordered(draw_and_store, jobs, chunksize=4):
                bar.update()
    bar.close()
    return len(jobs), len(reports) * len(strokes) - len(jobs)


def draw_and_store(job: tuple[FontReport, int, int, Path]) -> None:
    """Worker entry point: the atlas of one face at one size and stroke, drawn and stored as a generator would."""
    from synthgen.renderer import FontCache  # the renderer builds on this module

    report, glyph_size, stroke, folder = job
    FontCache(4, glyph_size, AtlasCache(folder)).atlas(report, stroke)
