"""Fonts with planted defects, built with fontTools from matplotlib's DejaVu Sans (always installed)."""

from __future__ import annotations

import string
from pathlib import Path

from fontTools.pens.transformPen import TransformPen
from fontTools.pens.ttGlyphPen import TTGlyphPen
from fontTools.ttLib import TTFont

from synthgen.fonts.files import matplotlib_font_folder

SOURCE = "DejaVuSans.ttf"


def open_source(name: str = SOURCE) -> TTFont:
    """A fresh, fully loaded copy of a matplotlib face."""
    return TTFont(str(matplotlib_font_folder() / name))


def remap(font: TTFont, mapping: dict[str, str | None]) -> None:
    """Point characters at other glyph names in every Unicode cmap (None removes the character)."""
    for table in font["cmap"].tables:
        if table.isUnicode():
            for character, glyph in mapping.items():
                if glyph is None:
                    table.cmap.pop(ord(character), None)
                else:
                    table.cmap[ord(character)] = glyph


def glyph_name(font: TTFont, character: str) -> str:
    """The glyph a character maps to in the source face."""
    return font.getBestCmap()[ord(character)]


def rename_family(font: TTFont, family: str) -> None:
    """Give the face a new family name (name IDs 1, 4 and 16 where present)."""
    for record in font["name"].names:
        if record.nameID in (1, 4, 16):
            record.string = family


def save(font: TTFont, folder: Path, file_name: str, family: str) -> Path:
    """Write the face under a new family name."""
    rename_family(font, family)
    path = folder / file_name
    font.save(str(path))
    return path


def good_font(folder: Path) -> Path:
    """An unmodified copy of DejaVu Sans under another family name."""
    return save(open_source(), folder, "good.ttf", "Planted Good")


def missing_digits_font(folder: Path) -> Path:
    """Digits removed from the character map."""
    font = open_source()
    remap(font, {digit: None for digit in string.digits})
    return save(font, folder, "missing_digits.ttf", "Planted Missing")


def tofu_font(folder: Path) -> Path:
    """Currency signs drawn with a copy of the .notdef box, and four symbols sharing one square glyph."""
    font = open_source()
    font.setGlyphOrder(font.getGlyphOrder() + ["notdef.copy"])
    font["glyf"]["notdef.copy"] = font["glyf"][".notdef"]
    font["hmtx"]["notdef.copy"] = font["hmtx"][".notdef"]
    square = glyph_name(font, "\u25a0")
    remap(font, {"€": "notdef.copy", "£": "notdef.copy", "#": square, "%": square, "&": square, "@": square})
    return save(font, folder, "tofu.ttf", "Planted Tofu")


def empty_glyphs_font(folder: Path) -> Path:
    """The glyphs of k and w emptied (no contours, advance kept)."""
    font = open_source()
    for character in "kw":
        font["glyf"][glyph_name(font, character)] = TTGlyphPen(None).glyph()
    return save(font, folder, "empty.ttf", "Planted Empty")


def zero_width_space_font(folder: Path) -> Path:
    """A space with no advance: two words would print as one."""
    font = open_source()
    font["hmtx"][glyph_name(font, " ")] = (0, 0)
    return save(font, folder, "zero_space.ttf", "Planted Zero Space")


def caps_only_font(folder: Path) -> Path:
    """Every lowercase letter mapped to its capital's glyph."""
    font = open_source()
    remap(font, {letter: glyph_name(font, letter.upper()) for letter in string.ascii_lowercase})
    return save(font, folder, "caps_only.ttf", "Planted Caps")


def small_caps_font(folder: Path) -> Path:
    """Every lowercase letter drawn as its capital scaled to 72%."""
    font = open_source()
    glyph_set = font.getGlyphSet()
    for letter in string.ascii_lowercase:
        capital = glyph_name(font, letter.upper())
        pen = TTGlyphPen(glyph_set)
        glyph_set[capital].draw(TransformPen(pen, (0.72, 0, 0, 0.72, 0, 0)))
        lower = glyph_name(font, letter)
        font["glyf"][lower] = pen.glyph()
        width, _ = font["hmtx"][capital]
        font["hmtx"][lower] = (int(width * 0.72), 0)
    return save(font, folder, "small_caps.ttf", "Planted Small Caps")


def symbol_font(folder: Path) -> Path:
    """Letters and digits mapped to dingbat and arrow glyphs, as symbol fonts do."""
    font = open_source()
    cmap = font.getBestCmap()
    symbols = [cmap[code] for code in list(range(0x2190, 0x21FF)) + list(range(0x2600, 0x26FF)) if code in cmap]
    characters = string.ascii_letters + string.digits
    remap(font, dict(zip(characters, symbols[1::2])))
    return save(font, folder, "symbol.ttf", "Planted Symbol")


def swapped_letters_font(folder: Path) -> Path:
    """The glyphs of a and e swapped, of h and y, and of 3 and 7."""
    font = open_source()
    names = {character: glyph_name(font, character) for character in "aehy37"}
    remap(font, {"a": names["e"], "e": names["a"], "h": names["y"], "y": names["h"], "3": names["7"], "7": names["3"]})
    return save(font, folder, "swapped.ttf", "Planted Swapped")


def truncated_font(folder: Path) -> Path:
    """The first 2 KB of a real font file."""
    path = folder / "truncated.ttf"
    path.write_bytes((matplotlib_font_folder() / SOURCE).read_bytes()[:2048])
    return path


def not_a_font(folder: Path) -> Path:
    """A text file with a font's name."""
    path = folder / "readme.otf"
    path.write_text("this is not a font\n", encoding="utf-8")
    return path


PLANTED = {
    good_font: {},
    missing_digits_font: {"missing_glyphs": string.digits},
    tofu_font: {"tofu": "#%&@£€"},
    empty_glyphs_font: {"empty_glyphs": "kw"},
    zero_width_space_font: {"empty_glyphs": " "},
    caps_only_font: {"case_mismatch": string.ascii_lowercase},
    small_caps_font: {"case_mismatch": string.ascii_lowercase},
    swapped_letters_font: {"wrong_glyphs": "aehy37"},
    truncated_font: {"unreadable": ""},
    not_a_font: {"unreadable": ""},
}
