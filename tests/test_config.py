"""Strict configuration: typos, wrong types and out-of-range values are errors that name the culprit."""

from __future__ import annotations

import pytest

from synthgen.config import Config, ConfigError, load_config
from synthgen.paths import PROJECT_ROOT


def write(tmp_path, text):
    path = tmp_path / "config.yaml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("path", sorted((PROJECT_ROOT / "configs").glob("*.yaml")), ids=lambda path: path.name)
def test_every_shipped_config_loads(path):
    if path.name.startswith(("train-", "finetune-")):  # training recipes, for the recognizer
        from recognizer.config import TrainConfig, load_train_config

        training = load_train_config(path)
        assert isinstance(training, TrainConfig)
        if training.data.synthetic is not None:
            assert isinstance(load_config(training.data.synthetic.config, training.data.synthetic.overrides), Config)
    else:
        assert isinstance(load_config(path), Config)


def test_defaults_need_no_file():
    config = load_config()
    assert config.fonts.size_min <= config.fonts.size_max
    assert load_config(PROJECT_ROOT / "configs" / "default.yaml") == config


def test_a_misspelt_key_names_the_key_its_section_and_the_valid_keys(tmp_path):
    with pytest.raises(ConfigError) as raised:
        load_config(write(tmp_path, "fonts:\n  bold_rat: 0.2\n"))
    message = str(raised.value)
    assert "bold_rat" in message and "section 'fonts'" in message
    assert "did you mean 'bold_rate'" in message and "italic_rate" in message


def test_an_unknown_section_is_rejected(tmp_path):
    with pytest.raises(ConfigError, match="unknown key 'font'.*valid keys: seed, output_dir, charset, fonts"):
        load_config(write(tmp_path, "font:\n  bold_rate: 0.2\n"))


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("fonts:\n  bold_rate: high\n", "fonts.bold_rate must be float, got 'high'"),
        ("fonts:\n  bold_rate: 1.5\n", "fonts.bold_rate must be <= 1.0, got 1.5"),
        ("fonts:\n  size_min: 30.5\n", "fonts.size_min must be int, got 30.5"),
        ("fonts:\n  system_fonts: 1\n", "fonts.system_fonts must be bool, got 1"),
        ("fonts:\n  size_min: 60\n  size_max: 30\n", "size_min (60) is larger than fonts.size_max (30)"),
        ("fonts:\n  tag_weights: {thermal: -1}\n", "fonts.tag_weights.thermal must be >= 0, got -1.0"),
        ("fonts:\n  font_dirs: fonts\n", "fonts.font_dirs must be a list, got 'fonts'"),
        ("fonts: 3\n", "section 'fonts' must be a mapping, got 3"),
        ("- 1\n- 2\n", "must hold a mapping"),
    ],
)
def test_wrong_types_and_ranges_name_the_value(tmp_path, text, fragment):
    with pytest.raises(ConfigError) as raised:
        load_config(write(tmp_path, text))
    assert fragment in str(raised.value)


def test_overrides_set_values_and_are_checked_like_the_file():
    config = load_config(None, ["fonts.bold_rate=0.4", "fonts.tag_weights={thermal: 3}", "seed=7"])
    assert config.fonts.bold_rate == 0.4 and config.fonts.tag_weights == {"thermal": 3.0} and config.seed == 7
    with pytest.raises(ConfigError, match="unknown key 'boldrate'"):
        load_config(None, ["fonts.boldrate=0.4"])
    with pytest.raises(ConfigError, match="section.key=value"):
        load_config(None, ["fonts.bold_rate"])


def test_config_values_are_frozen():
    config = load_config()
    with pytest.raises(AttributeError):
        config.fonts.bold_rate = 0.9  # type: ignore[misc]


def test_a_missing_config_file_is_named(tmp_path):
    with pytest.raises(ConfigError, match="config file not found: .*nope.yaml"):
        load_config(tmp_path / "nope.yaml")
