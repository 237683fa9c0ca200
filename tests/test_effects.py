"""Contract tests over every effect: same seed same bytes, input never mutated, dtype and shape rules."""

from __future__ import annotations

import numpy as np
import pytest

from synthgen.effects import IMAGE_EFFECTS, TEXT_EFFECTS, EffectStack
from synthgen.effects.base import uniform
from synthgen.effects.geometry import rotate
from synthgen.fonts.files import matplotlib_font_folder
from synthgen.fonts.shapes import load_font
from synthgen.renderer import render_mask


@pytest.fixture(scope="module")
def text_mask():
    return render_mask(load_font(matplotlib_font_folder() / "DejaVuSans.ttf", 0, 32), "Sample 12.99")


@pytest.fixture(scope="module", params=["grey", "colour"])
def word_image(request):
    rng = np.random.default_rng(0)
    base = rng.integers(150, 230, size=(32, 140), dtype=np.uint8)
    base[10:22, 20:120] = 30
    return np.repeat(base[..., None], 3, axis=2).copy() if request.param == "colour" else base


def always(effect_class):
    return effect_class(p=1.0)


@pytest.mark.parametrize("name", list(TEXT_EFFECTS))
def test_text_effects_keep_the_contract(name, text_mask):
    effect = always(TEXT_EFFECTS[name])
    before = text_mask.copy()
    first, params = effect(text_mask, np.random.default_rng([1, 2]))
    second, _ = effect(text_mask, np.random.default_rng([1, 2]))
    assert np.array_equal(text_mask, before), "input mutated"
    assert first.dtype == np.uint8 and first.ndim == 2
    assert np.array_equal(first, second), "same seed, different bytes"
    assert isinstance(params, dict)
    assert first.max() > 0, "the text vanished"


@pytest.mark.parametrize("name", list(IMAGE_EFFECTS))
def test_image_effects_keep_the_contract(name, word_image):
    effect = always(IMAGE_EFFECTS[name])
    before = word_image.copy()
    first, _ = effect(word_image, np.random.default_rng([3, 4]))
    second, _ = effect(word_image, np.random.default_rng([3, 4]))
    assert np.array_equal(word_image, before), "input mutated"
    assert first.dtype == np.uint8 and first.shape == word_image.shape
    assert np.array_equal(first, second), "same seed, different bytes"


@pytest.mark.parametrize("name", list(IMAGE_EFFECTS))
def test_image_effects_do_something_at_the_top_of_their_range(name, word_image):
    effect = IMAGE_EFFECTS[name](p=1.0)
    changed = [not np.array_equal(effect(word_image, np.random.default_rng([5, k]))[0], word_image) for k in range(5)]
    assert any(changed)


def test_disabling_one_effect_leaves_the_others_draws_unchanged(text_mask):
    names = list(TEXT_EFFECTS)
    full = EffectStack([(name, TEXT_EFFECTS[name](p=0.5)) for name in names])
    without = EffectStack([(name, TEXT_EFFECTS[name](p=0.0 if name == "rotation" else 0.5)) for name in names])
    for seed in range(20):
        _, applied = full(text_mask, np.random.default_rng(seed))
        _, applied_without = without(text_mask, np.random.default_rng(seed))
        expected = [item for item in applied if item.name != "rotation"]
        assert [(a.name, a.params) for a in applied_without] == [(a.name, a.params) for a in expected]


def test_pure_kernels_need_no_randomness(text_mask):
    turned = rotate(text_mask, 90.0)
    assert abs(turned.shape[0] - text_mask.shape[1]) <= 2 and abs(turned.shape[1] - text_mask.shape[0]) <= 2
    assert uniform(np.random.default_rng(0), (2.0, 2.0)) == 2.0


def test_thermal_print_lays_its_dot_grid_on_solid_strokes_but_not_on_dot_matrix_text(text_mask):
    from synthgen.effects.printing import ThermalPrint

    quiet = ThermalPrint(p=1.0, dot_pitch_range=(0.1, 0.1), streaks_range=(0, 0), fade_range=(1, 1), dropout_range=(0, 0))
    dotted = np.zeros((40, 200), np.uint8)
    dotted[8:32:3, 4:196:3] = 255  # text drawn in dots, as by a dot-matrix face
    changed_solid = changed_dotted = 0
    for seed in range(20):
        changed_solid += not np.array_equal(quiet(text_mask, np.random.default_rng(seed))[0], text_mask)
        changed_dotted += not np.array_equal(quiet(dotted, np.random.default_rng(seed))[0], dotted)
    assert changed_solid >= 5 and changed_dotted == 0
