"""Glyph atlases on disk: the same pixels as drawing each glyph, read back exactly, and never trusted when damaged."""

from __future__ import annotations

import zlib

import numpy as np
import pytest

from synthgen.fonts.atlas import AtlasCache, draw_atlas, pack, unpack
from synthgen.fonts.audit import FontReport
from synthgen.fonts.files import matplotlib_font_folder
from synthgen.fonts.shapes import load_font
from synthgen.renderer import FontCache

TEXT = "AVATAR To: Ta, We 12.99 y. LT P. r, &%$"
COVERAGE = "".join(sorted(set(TEXT)))


def dejavu_report(name: str = "DejaVuSerif.ttf") -> FontReport:
    """A report for one of matplotlib's faces, covering TEXT's characters (filler text may use others)."""
    path = str(matplotlib_font_folder() / name)
    return FontReport(path, 0, f"{hash(name) & 0xFFFFFFFF:024x}", "DejaVu", "Book", "ok", (), COVERAGE)


def plain_render(report: FontReport, text: str, stroke: int, size: int = 32) -> np.ndarray:
    """The text assembled from glyphs drawn one by one, kerned by measuring each pair: what an atlas must reproduce."""
    font = load_font(report.path, report.face, size)
    ascent, descent = font.getmetrics()
    probes = FontCache(8, size).kerns_at_all(report)
    pad = stroke + 2
    glyphs = [draw_atlas(font, character, stroke, False).glyphs[character] for character in text]
    kerns = [font.getlength(text[i : i + 2]) - (glyphs[i][3] + glyphs[i + 1][3]) if probes else 0.0 for i in range(len(text) - 1)]
    kerns.append(0.0)
    width = int(np.ceil(sum(g[3] + k for g, k in zip(glyphs, kerns)))) + 2 * pad + ascent
    canvas = np.zeros((ascent + descent + 2 * pad, width), np.uint8)
    x = float(pad)
    for (bitmap, left, top, advance), kern in zip(glyphs, kerns):
        row, column = ascent + pad + top, int(round(x)) + left
        region = canvas[row : row + bitmap.shape[0], column : column + bitmap.shape[1]]
        np.maximum(region, bitmap, out=region)
        x += advance + kern
    return canvas


@pytest.mark.parametrize("stroke", [0, 1])
def test_text_from_an_atlas_on_disk_has_the_pixels_of_glyphs_drawn_one_by_one(tmp_path, stroke):
    report = dejavu_report()
    drawn = FontCache(8, 32, AtlasCache(tmp_path)).render(report, TEXT + " No.", 0.0, stroke)  # "N", "o" uncovered
    assert list(tmp_path.iterdir()), "the atlas was not stored"
    loaded = FontCache(8, 32, AtlasCache(tmp_path)).render(report, TEXT + " No.", 0.0, stroke)
    expected = plain_render(report, TEXT + " No.", stroke)
    assert np.array_equal(drawn, expected)
    assert np.array_equal(loaded, expected)


def test_a_kerning_face_keeps_its_kerned_pairs_and_nothing_else():
    font = load_font(matplotlib_font_folder() / "DejaVuSerif.ttf", 0, 32)
    atlas = draw_atlas(font, COVERAGE, 0, True)
    measured = {a + b: font.getlength(a + b) - (font.getlength(a) + font.getlength(b)) for a in COVERAGE for b in COVERAGE}
    assert atlas.kerning == {pair: value for pair, value in measured.items() if value}
    assert atlas.kerning, "DejaVu Serif kerns AV, To, ... in Pillow's basic layout"


def test_packing_an_atlas_and_reading_it_back_changes_nothing():
    font = load_font(matplotlib_font_folder() / "DejaVuSans.ttf", 0, 32)
    atlas = draw_atlas(font, COVERAGE, 1, True)
    again = unpack(pack(atlas))
    assert again.covered == atlas.covered and again.kerns == atlas.kerns and again.kerning == atlas.kerning
    for character, (bitmap, left, top, advance) in atlas.glyphs.items():
        other = again.glyphs[character]
        assert np.array_equal(other[0], bitmap) and other[1:] == (left, top, advance)


@pytest.mark.parametrize("damage", ["empty", "truncated", "foreign", "bomb"])
def test_a_damaged_atlas_is_ignored_and_drawn_again(tmp_path, damage):
    report = dejavu_report("DejaVuSans.ttf")
    cache = AtlasCache(tmp_path)
    expected = FontCache(8, 32, cache).render(report, TEXT, 0.0, 0)
    path = cache.path_for(report, 32, 0)
    data = path.read_bytes()
    path.write_bytes({"empty": b"", "truncated": data[: len(data) // 2], "foreign": b"\x80\x04K\x01." * 40,
                      "bomb": data[:15] + zlib.compress(b"\0" * (40 << 20))}[damage])
    assert cache.load(report, 32, 0) is None
    assert np.array_equal(FontCache(8, 32, cache).render(report, TEXT, 0.0, 0), expected)
    assert cache.load(report, 32, 0) is not None, "the redrawn atlas replaces the damaged file"


def test_atlases_are_kept_apart_by_size_stroke_and_face(tmp_path):
    cache = AtlasCache(tmp_path)
    serif, sans = dejavu_report(), dejavu_report("DejaVuSans.ttf")
    paths = {cache.path_for(report, size, stroke) for report in (serif, sans) for size in (32, 48) for stroke in (0, 1)}
    assert len(paths) == 8


def test_fonts_atlas_draws_every_face_once_and_samples_keep_their_bytes(tmp_path, capsys):
    from synthgen.cli import main
    from synthgen.config import load_config
    from synthgen.generator import WordGenerator

    overrides = ["fonts.system_fonts=false", "fonts.font_dirs=[]", f"fonts.audit_cache={tmp_path / 'cache'}"]
    before = [WordGenerator(load_config(None, overrides))(index).image for index in range(30)]
    for path in (tmp_path / "cache" / "glyphs").iterdir():
        path.unlink()  # the samples above stored some atlases: start with none
    arguments = ["fonts", "atlas", *(part for override in overrides for part in ("--set", override)), "--workers", "2"]
    assert main(arguments) == 0
    faces = len(WordGenerator(load_config(None, overrides)).fonts.faces)
    assert len(list((tmp_path / "cache" / "glyphs").iterdir())) == 2 * faces
    assert main(arguments) == 0
    assert "0 drawn" in capsys.readouterr().out.splitlines()[-1]
    after = [WordGenerator(load_config(None, overrides))(index).image for index in range(30)]
    assert all(np.array_equal(first, second) for first, second in zip(before, after))


def test_a_folder_that_cannot_be_written_costs_speed_not_samples(tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the atlas folder should be")
    report = dejavu_report()
    cache = FontCache(8, 32, AtlasCache(blocker / "glyphs"))
    with pytest.warns(RuntimeWarning, match="cannot be kept"):
        drawn = cache.render(report, TEXT, 0.0, 0)
    assert np.array_equal(drawn, plain_render(report, TEXT, 0))
    assert np.array_equal(cache.render(report, TEXT, 0.0, 1), plain_render(report, TEXT, 1))  # warned once, still drawing


def test_a_face_without_a_content_hash_is_never_kept_on_disk(tmp_path):
    from dataclasses import replace

    report = replace(dejavu_report(), sha256="")
    assert np.array_equal(FontCache(8, 32, AtlasCache(tmp_path)).render(report, TEXT, 0.0, 0), plain_render(report, TEXT, 0))
    assert not list(tmp_path.iterdir())
