"""Crop statistics on images built with a known value, the comparison, and the profile command."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from synthgen.cli import main as synthgen_main
from synthgen.fonts.files import matplotlib_font_folder
from synthgen.profile import STATISTICS, Crop, compare, measure


def strokes(height=40, width=200, top=10, bottom=29, left=20, right=179, stroke=4, gap=6, ink=0, paper=255):
    """Vertical strokes (rows top..bottom, columns left..right) on paper: a text band with known geometry."""
    image = np.full((height, width), paper, np.uint8)
    for column in range(left, right + 1, stroke + gap):
        image[top : bottom + 1, column : min(column + stroke, right + 1)] = ink
    image[top : bottom + 1, right - stroke + 1 : right + 1] = ink  # the band ends exactly at `right`
    return image


def statistic(name, image, label=None):
    return STATISTICS[name][0](Crop(image, label))


def test_geometry_of_a_known_band():
    image = strokes()
    assert statistic("crop_height", image) == 40 and statistic("aspect_ratio", image) == 5
    assert statistic("text_height", image) == pytest.approx(20 / 40)
    assert statistic("vertical_margin", image) == pytest.approx(10 / 40)
    assert statistic("horizontal_margin", image) == pytest.approx(20 / 40)
    assert statistic("edge_ink", image) == 0


def test_ink_on_the_top_row_is_counted_as_edge_ink():
    image = strokes()
    image[0, :100] = 0  # a fragment of the line above along half the top edge
    assert statistic("edge_ink", image) == pytest.approx(100 / 400)
    assert statistic("text_height", image) == pytest.approx(20 / 40)  # the main band is still the text


def test_levels_contrast_and_polarity():
    image = strokes(ink=40, paper=230)
    assert statistic("paper_brightness", image) == 230 and statistic("ink_brightness", image) == 40
    assert statistic("contrast", image) == 190 and statistic("light_on_dark", image) == 0
    inverted = 255 - image
    assert statistic("light_on_dark", inverted) == 1 and statistic("contrast", inverted) == 190
    assert statistic("contrast", np.full((32, 80), 200, np.uint8)) is None  # no ink: nothing to measure


def test_colour_of_ink_and_paper():
    image = np.dstack([strokes()] * 3)
    image[strokes() == 0] = (20, 40, 200)  # blue ink
    image[strokes() == 255] = (250, 240, 220)  # cream paper
    assert statistic("ink_chroma", image) == 180 and statistic("paper_chroma", image) == 30
    assert statistic("ink_chroma", strokes()) == 0


@pytest.mark.parametrize("sigma", [1.5, 2.5])
def test_blur_reads_the_gaussian_sigma_of_an_edge(sigma):
    image = np.full((32, 160), 255, np.uint8)
    image[:, 100:] = 0
    blurred = cv2.GaussianBlur(image, (0, 0), sigma)
    assert statistic("blur", blurred) == pytest.approx(sigma, rel=0.15)
    assert statistic("blur", image) < 1.0


def test_noise_reads_the_sigma_of_gaussian_noise():
    image = strokes(height=32, top=8, bottom=23, ink=30, paper=190).astype(np.float32)
    noisy = np.clip(image + np.random.default_rng(0).normal(0, 6, image.shape), 0, 255).astype(np.uint8)
    assert statistic("noise", noisy) == pytest.approx(6, rel=0.15)
    assert statistic("noise", image.astype(np.uint8)) < 0.5


def rendered(text, size=30, paper=235, ink=30):
    """Text drawn with DejaVu Sans on a canvas with a small margin."""
    font = ImageFont.truetype(str(matplotlib_font_folder() / "DejaVuSans.ttf"), size)
    canvas = Image.new("L", (40 + 18 * len(text), 48), paper)
    ImageDraw.Draw(canvas).text((7, 6), text, font=font, fill=ink)
    return np.asarray(canvas)


@pytest.mark.parametrize("quality", [10, 40])
def test_jpeg_at_scan_qualities_shows_blocks(quality):
    image = rendered("Invoice 2024-03-05 TOTAL")
    _, encoded = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    compressed = cv2.imdecode(encoded, cv2.IMREAD_GRAYSCALE)
    assert statistic("jpeg_blockiness", image) < 0.5 < 1.5 < statistic("jpeg_blockiness", compressed)


def test_stroke_width_relative_to_the_text_height():
    image = strokes(height=60, top=10, bottom=49, stroke=4, gap=8)
    assert statistic("stroke_width", image) == pytest.approx(4 / 40, rel=0.1)


@pytest.mark.parametrize("angle", [-5.0, 4.0])
def test_skew_reads_the_angle_of_rotated_text(angle):
    font = ImageFont.truetype(str(matplotlib_font_folder() / "DejaVuSans.ttf"), 40)
    canvas = Image.new("L", (1100, 400), 255)
    ImageDraw.Draw(canvas).text((60, 170), "THE QUICK BROWN FOX 1234", font=font, fill=0)
    rotated = canvas.rotate(angle, resample=Image.BICUBIC, fillcolor=255)  # counter-clockwise: rising to the right
    pixels = np.asarray(rotated)
    rows, columns = np.nonzero(pixels < 128)
    crop = pixels[rows.min() - 6 : rows.max() + 7, columns.min() - 6 : columns.max() + 7]
    assert statistic("skew", crop) == pytest.approx(angle, abs=1.0)


def test_text_statistics_of_a_label():
    image = strokes()
    assert statistic("label_length", image, "Qty: 12") == 7 and statistic("word_count", image, "Qty: 12") == 2
    assert statistic("digit_share", image, "Qty: 12") == pytest.approx(2 / 6)
    assert statistic("symbol_share", image, "Qty: 12") == pytest.approx(1 / 6)
    assert statistic("upper_share", image, "Qty: 12") == pytest.approx(1 / 3)
    assert statistic("label_length", image) is None and statistic("upper_share", image, "12.99") is None


def test_the_comparison_ranks_the_largest_difference_first():
    rng = np.random.default_rng(0)
    real = measure(Crop(strokes(top=10, bottom=29), "TOTAL") for _ in range(30))
    same = measure(Crop(strokes(top=10, bottom=29), "TOTAL") for _ in range(30))
    taller = measure(Crop(strokes(top=2, bottom=37), "TOTAL " * int(rng.integers(1, 4))) for _ in range(30))
    assert all(row["distance"] in (0.0, None) for row in compare(real, same))
    rows = compare(real, taller)
    ranked = [row["statistic"] for row in rows if row["distance"]]
    assert set(ranked[:4]) >= {"text_height", "vertical_margin"} and rows[-1]["distance"] in (0.0, None)


def test_the_profile_command_on_unlabelled_crops_against_a_config(tmp_path, small_config, capsys):
    folder = tmp_path / "crops"
    folder.mkdir()
    for number in range(6):
        cv2.imwrite(str(folder / f"{number}.png"), strokes(top=8 + number, bottom=28))
    cache = small_config().fonts.audit_cache
    code = synthgen_main(["profile", str(folder), "--against", "configs/default.yaml", "-n", "12", "--out",
                          str(tmp_path / "out"), "--set", "fonts.system_fonts=false", "--set", "fonts.font_dirs=[]",
                          "--set", f"fonts.audit_cache={cache}"])
    printed = capsys.readouterr().out
    assert code == 0 and " 1. " in printed and (tmp_path / "out" / "profile.png").stat().st_size > 0
    result = json.loads((tmp_path / "out" / "profile.json").read_text())
    rows = {row["statistic"]: row for row in result["statistics"]}
    assert rows["crop_height"]["real"]["median"] == 40 and rows["crop_height"]["synthetic"]["median"] == 32
    assert rows["label_length"]["real"] is None and rows["label_length"]["synthetic"]["count"] == 12


def test_gaps_between_words_and_between_letters_relative_to_the_text_height():
    image = strokes(width=260, left=20, right=235, stroke=4, gap=6)  # 20 rows of text, letters 6 columns apart
    image[10:30, 74:122] = 255  # one word space: blank from the stroke at 70-73 to a stroke at 122-125
    image[10:30, 122:126] = 0
    word, letter = statistic("word_gap", image, "AB CD"), statistic("letter_gap", image, "AB CD")
    assert word == pytest.approx(48 / 20) and letter == pytest.approx(6 / 20)
    assert statistic("word_gap", image, "ABCD") is None  # one word: no word gap to measure
    assert statistic("letter_gap", image, "ABCD") == pytest.approx(6 / 20)
    assert statistic("word_gap", image) is None  # no label: the spaces are unknown


@pytest.mark.parametrize("name", ["ink_brightness", "contrast", "blur", "noise", "stroke_width"])
def test_appearance_is_measured_as_the_recognizer_sees_it_whatever_the_source_height(name):
    source = rendered("Invoice 2024 TOTAL", ink=20)
    tall = cv2.resize(source, (source.shape[1] * 2, 96), interpolation=cv2.INTER_NEAREST)  # a 96-pixel scan of it
    at_model_height = cv2.resize(tall, (round(tall.shape[1] * 32 / 96), 32), interpolation=cv2.INTER_AREA)
    assert statistic(name, tall) == pytest.approx(statistic(name, at_model_height))
