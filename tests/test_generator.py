"""The word generator: a pure function of (config, seed, index), true labels, honoured negative rate, visible ink."""

from __future__ import annotations

import hashlib
import subprocess
import sys

import cv2
import numpy as np
import pytest

from synthgen.generator import WordGenerator
from synthgen.paths import PROJECT_ROOT

COUNT = 300


@pytest.fixture(scope="module")
def generator(small_config):
    return WordGenerator(small_config("render.negative_rate=0.1"))


def digest(image: np.ndarray) -> str:
    return hashlib.sha256(image.tobytes() + str(image.shape).encode()).hexdigest()


def test_same_index_same_bytes_in_a_new_generator(generator, small_config):
    again = WordGenerator(small_config("render.negative_rate=0.1"))
    for index in (0, 7, 123):
        first, second = generator(index), again(index)
        assert first.text == second.text and digest(first.image) == digest(second.image)
    assert digest(generator(1).image) != digest(generator(2).image)


def test_same_bytes_in_another_process(generator, tmp_path_factory):
    cache = tmp_path_factory.getbasetemp() / "audit-cache"
    script = (
        "import hashlib; from synthgen.config import load_config; from synthgen.generator import WordGenerator;"
        f"g = WordGenerator(load_config(None, ['fonts.system_fonts=false', 'fonts.font_dirs=[]', "
        f"'fonts.audit_cache={cache}', 'render.negative_rate=0.1'])); s = g(42);"
        "print(hashlib.sha256(s.image.tobytes() + str(s.image.shape).encode()).hexdigest(), repr(s.text))"
    )
    output = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=PROJECT_ROOT, check=True)
    sample = generator(42)
    assert output.stdout.split()[0] == digest(sample.image)


def test_turning_one_effect_off_leaves_the_other_draws_alone(generator, small_config):
    quiet = WordGenerator(small_config("render.negative_rate=0.1", "effects.image.noise.p=0"))
    for index in range(40):
        full, without = generator(index), quiet(index)
        assert full.text == without.text and full.meta.get("font") == without.meta.get("font")
        expected = [effect for effect in full.meta["image_effects"] if effect["name"] != "noise"]
        assert without.meta["image_effects"] == expected
        assert without.meta["text_effects"] == full.meta["text_effects"]


def test_images_have_the_model_height_and_labels_stay_in_the_charset(generator):
    allowed = set(generator.charset.characters)
    for index in range(COUNT):
        sample = generator(index)
        assert sample.image.dtype == np.uint8 and sample.image.shape[0] == 32
        assert 1 <= sample.image.shape[1] <= generator.config.render.max_width
        assert set(sample.text) <= allowed


def test_a_label_without_its_image_is_the_sample_s_label(generator):
    assert [generator.label(index) for index in range(80)] == [generator(index).text for index in range(80)]


def test_the_negative_rate_is_honoured_and_negatives_have_empty_labels(generator):
    samples = [generator(index) for index in range(COUNT)]
    negatives = [sample for sample in samples if sample.meta["negative"]]
    assert 0.05 * COUNT <= len(negatives) <= 0.16 * COUNT
    assert all(sample.text == "" for sample in negatives)
    assert all(sample.text for sample in samples if not sample.meta["negative"])


def test_every_text_sample_has_visible_ink_where_its_text_was_drawn(generator):
    minimum = generator.config.render.min_final_contrast
    for index in range(COUNT):
        sample, coverage = generator.sample_with_coverage(index)
        if not sample.text:
            continue
        assert coverage.max() > 0.3, (index, sample.text)
        ink, paper = coverage >= 0.5 * coverage.max(), coverage < 0.05
        assert ink.sum() >= 10, (index, sample.text)
        image = sample.image.astype(np.float32)
        assert abs(image[ink].mean() - image[paper].mean()) >= minimum - 1.0, (index, sample.text)


def test_colour_output_has_three_channels(small_config):
    colour = WordGenerator(small_config("render.channels=3"))
    assert colour(3).image.shape[2] == 3


def test_lower_case_words_keep_the_room_a_capital_would_take(generator):
    from synthgen.generator import crop_columns, text_rows

    face = next(f.report for f in generator.fonts.faces if f.report.family == "DejaVu Sans" and f.report.style == "Book")
    crops = {}
    for text in ("co", "CO", "xo"):
        mask = generator.font_cache.render(face, text, 0.0, 0)
        top, bottom = text_rows(mask, *generator.font_cache.line_rows(face, 0))
        crops[text] = crop_columns(mask)[top:bottom]
    assert crops["co"].shape[0] == crops["CO"].shape[0]  # same box height: case is not lost by scaling
    upper_rows = crops["co"].shape[0] // 4
    assert crops["co"][:upper_rows].max() == 0 and crops["CO"][:upper_rows].max() > 0
    assert crops["xo"][:upper_rows].max() == 0


def test_negatives_never_hold_a_shape_the_charset_could_name():
    from synthgen.generator import draw_clutter

    for seed in range(300):
        rng = np.random.default_rng(seed)
        height, width = int(rng.integers(28, 64)), int(rng.integers(40, 320))
        mask = draw_clutter(rng, height, width)
        count, _, stats, _ = cv2.connectedComponentsWithStats((mask > 0).astype(np.uint8))
        for left, top, box_width, box_height, _ in stats[1:count]:
            # no dot, dash, rule, stroke or bar: every mark is at least half the crop high and as wide
            assert box_height >= height // 2 and box_width >= height // 2, (seed, box_width, box_height)


def test_line_fragments_sit_at_the_crop_edge_and_leave_the_text_alone():
    from synthgen.generator import with_line_fragments

    text = np.zeros((20, 60), np.uint8)
    text[2:18, 5:55] = 255
    other = np.zeros((24, 200), np.uint8)
    other[3:21, ::3] = 255
    framed = with_line_fragments(text, other, ("top", "bottom"), np.random.default_rng(0))
    inked = np.flatnonzero(framed.max(axis=1))
    assert inked[0] == 0 and inked[-1] == framed.shape[0] - 1  # fragments touch both edges
    start = next(row for row in range(framed.shape[0]) if np.array_equal(framed[row : row + 20], text))
    assert framed[:start].max(axis=1).tolist().count(0) >= 2  # a gap of paper between fragment and text
    assert start <= round(0.22 * 20) + round(0.35 * 20)  # at most a fifth of the other line shows, above a gap


@pytest.mark.parametrize("ink", ["black", "grey", "blue", "red"])
def test_every_ink_keeps_its_distance_from_the_paper(ink):
    from synthgen.generator import GREY_WEIGHTS, ink_colour

    for seed in range(100):
        paper = np.full((8, 8, 3), 150 + seed, np.uint8)
        colour = ink_colour(paper, 90, np.random.default_rng(seed), (ink,), np.array([1.0]))
        assert 150 + seed - float(colour @ GREY_WEIGHTS) >= 90 - 1e-3
        if ink == "blue":
            assert colour[0] > colour[2]  # BGR: more blue than red
        if ink == "red":
            assert colour[2] > colour[0]


@pytest.mark.parametrize("shade", [0.0, 0.04, 0.3])
def test_plain_paper_stays_within_its_shade_of_white(shade):
    from synthgen.backgrounds import BackgroundPool
    from synthgen.config import BackgroundConfig

    pool = BackgroundPool(BackgroundConfig(texture_weights={"flat": 1.0}, variants=32, flat_shade=shade, folder="absent"))
    levels = [float(grey.mean()) for grey in pool.greys]
    assert len(levels) == 32 and all(255 * (1 - shade) - 3 <= level <= 255 for level in levels)
    assert max(levels) - min(levels) <= 255 * shade + 3  # the trace of noise is about a grey level either way
    if shade >= 0.3:
        assert min(levels) < 255 * (1 - shade / 4)  # the shade is used, not only the white end
