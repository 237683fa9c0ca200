"""Strict YAML configuration loaded into frozen, validated dataclasses."""

from __future__ import annotations

import dataclasses
import difflib
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from synthgen.errors import ConfigError


def bounded(default: Any, low: float | None = None, high: float | None = None, **kwargs: Any) -> Any:
    """A dataclass field whose numeric value must lie in [low, high]."""
    return field(default=default, metadata={"low": low, "high": high}, **kwargs)


@dataclass(frozen=True)
class CharsetConfig:
    """Which characters labels may contain."""

    path: str = "corpora/charset.txt"


FONT_SPLITS = ("all", "train", "heldout")
INK_KINDS = ("black", "grey", "blue", "red")  # toner and thermal black, faded print, ballpoint, dot-matrix and stamps
FONT_WEIGHTINGS = ("catalog", "uniform")
AUDIT_MODES = ("enforce", "ignore")


@dataclass(frozen=True)
class FontConfig:
    """Where fonts come from and how often each is drawn."""

    catalog: str = "fonts/catalog.yaml"
    font_dirs: tuple[str, ...] = ("fonts",)
    system_fonts: bool = True
    matplotlib_fonts: bool = True
    audit_cache: str = "fonts/.audit-cache"  # audit reports, and glyph atlases under glyphs/
    tag_weights: dict[str, float] = field(default_factory=dict)
    bold_rate: float = bounded(0.15, 0.0, 1.0)
    italic_rate: float = bounded(0.1, 0.0, 1.0)
    size_min: int = bounded(20, 6, 512)
    size_max: int = bounded(36, 6, 512)
    size_step: int = bounded(4, 1, 512)  # sizes drawn are size_min, size_min + step, ... (the text layer is scaled to it)
    split: str = "all"  # all | train | heldout: font-disjoint training and validation sets
    heldout_share: float = bounded(0.1, 0.0, 0.9)  # share of families (by a stable hash of the name) held out
    weighting: str = "catalog"  # catalog: popularity weights | uniform: every family alike (tag weights still apply)
    audit: str = "enforce"  # enforce | ignore: every readable face for every character (an ablation: wrong labels)

    def __post_init__(self) -> None:
        for name, allowed in (("split", FONT_SPLITS), ("weighting", FONT_WEIGHTINGS), ("audit", AUDIT_MODES)):
            if getattr(self, name) not in allowed:
                raise ConfigError(f"fonts.{name} must be one of {', '.join(allowed)}, got {getattr(self, name)!r}")
        if self.size_min > self.size_max:
            raise ConfigError(f"fonts.size_min ({self.size_min}) is larger than fonts.size_max ({self.size_max})")
        for tag, weight in self.tag_weights.items():
            if weight < 0:
                raise ConfigError(f"fonts.tag_weights.{tag} must be >= 0, got {weight!r}")


def source_weight(default: float) -> Any:
    """The mixing weight of a corpus source (relative; 0 switches the source off)."""
    return bounded(default, 0.0, None)


@dataclass(frozen=True)
class BooksConfig:
    """Words and short phrases with the frequency profile of real prose."""

    weight: float = source_weight(0.5)
    text_dir: str | None = None  # a folder of .txt files (e.g. Gutenberg books) used instead of word frequencies
    vocabulary_size: int = bounded(50000, 100, 500000)
    temperature: float = bounded(1.5, 0.1, 100.0)  # 1 keeps the Zipf curve; larger flattens it
    capitalized_rate: float = bounded(0.2, 0.0, 1.0)
    upper_rate: float = bounded(0.08, 0.0, 1.0)
    punctuation_rate: float = bounded(0.15, 0.0, 1.0)
    hyphenation_rate: float = bounded(0.02, 0.0, 1.0)


@dataclass(frozen=True)
class UpcConfig:
    """Receipt and product-catalog lines such as `24QT TISSUE PAPER`."""

    weight: float = source_weight(0.08)


@dataclass(frozen=True)
class DatesConfig:
    """Dates and times in many formats."""

    weight: float = source_weight(0.07)
    year_min: int = bounded(1990, 1, 9999)
    year_max: int = bounded(2035, 1, 9999)

    def __post_init__(self) -> None:
        if self.year_min > self.year_max:
            raise ConfigError(f"corpus.sources.dates.year_min ({self.year_min}) is larger than year_max ({self.year_max})")


@dataclass(frozen=True)
class PricesConfig:
    """Prices, amounts, percentages and quantities."""

    weight: float = source_weight(0.08)


@dataclass(frozen=True)
class UrlsConfig:
    """Web addresses and e-mail addresses."""

    weight: float = source_weight(0.05)


@dataclass(frozen=True)
class CodesConfig:
    """Phone numbers, invoice numbers, SKUs, tax IDs, card tails, postcodes, barcodes."""

    weight: float = source_weight(0.07)


@dataclass(frozen=True)
class FieldsConfig:
    """Field labels and lone marks printed as words of their own (`TOTAL`, `Qty`, `Date:`, `:`, `@`, `1`)."""

    weight: float = source_weight(0.12)
    vocabularies: tuple[str, ...] = ("corpora/fields/receipt.tsv", "corpora/fields/forms.tsv")  # weight<TAB>token lines


@dataclass(frozen=True)
class EntitiesConfig:
    """Person and company names, street addresses, cities."""

    weight: float = source_weight(0.1)
    locales: tuple[str, ...] = ("en_US", "en_GB", "en_AU", "en_CA", "en_IE", "en_NZ")


@dataclass(frozen=True)
class SourcesConfig:
    """Every corpus source; a source with weight 0 is never drawn."""

    books: BooksConfig = field(default_factory=BooksConfig)
    upc: UpcConfig = field(default_factory=UpcConfig)
    dates: DatesConfig = field(default_factory=DatesConfig)
    prices: PricesConfig = field(default_factory=PricesConfig)
    urls: UrlsConfig = field(default_factory=UrlsConfig)
    codes: CodesConfig = field(default_factory=CodesConfig)
    entities: EntitiesConfig = field(default_factory=EntitiesConfig)
    fields: FieldsConfig = field(default_factory=FieldsConfig)


@dataclass(frozen=True)
class ShapeConfig:
    """What a crop holds, by weight: a phrase as drawn, one token of it (as word detectors cut), or a text line."""

    phrase: float = bounded(0.25, 0.0, None)
    word: float = bounded(0.6, 0.0, None)
    line: float = bounded(0.15, 0.0, None)
    line_chars: tuple[int, ...] = (12, 56)  # length range of line labels (phrases joined by spaces)

    def __post_init__(self) -> None:
        if self.phrase + self.word + self.line <= 0:
            raise ConfigError("corpus.shape: at least one of phrase, word, line needs a positive weight")
        if len(self.line_chars) != 2 or not 1 <= self.line_chars[0] <= self.line_chars[1]:
            raise ConfigError(f"corpus.shape.line_chars must be [low, high] with 1 <= low <= high, got {list(self.line_chars)!r}")


@dataclass(frozen=True)
class BalanceConfig:
    """Raising rare characters to a minimum share by mixing in strings built around them."""

    enabled: bool = True
    min_share: float = bounded(0.0015, 0.0, 0.05)  # of all non-space characters, for every charset character
    calibration_samples: int = bounded(4000, 100, 1000000)


@dataclass(frozen=True)
class CorpusConfig:
    """What text is drawn: sources and their weights, phrase and length limits, balancing."""

    max_words: int = bounded(3, 1, 20)
    max_chars: int = bounded(25, 1, 200)  # keep consistent with the recognizer's input width
    max_attempts: int = bounded(100, 1, 100000)  # rejected draws per string before CorpusExhaustedError
    upper_rate: float = bounded(0.1, 0.0, 1.0)  # labels printed in capitals whatever their source (receipts shout)
    shape: ShapeConfig = field(default_factory=ShapeConfig)
    sources: SourcesConfig = field(default_factory=SourcesConfig)
    balance: BalanceConfig = field(default_factory=BalanceConfig)


@dataclass(frozen=True)
class RenderConfig:
    """How a string becomes a word image."""

    height: int = bounded(32, 8, 256)  # model input height; output keeps the aspect ratio
    max_width: int = bounded(800, 16, 4096)  # wider images are squeezed to this width (lines of 56 characters fit)
    channels: int = bounded(1, 1, 3)  # 1 grayscale, 3 colour
    inverted_rate: float = bounded(0.03, 0.0, 1.0)  # light text on a dark background
    spacing_rate: float = bounded(0.25, 0.0, 1.0)  # share of words drawn with extra letter spacing
    spacing_range: tuple[float, ...] = (-0.02, 0.15)  # extra space between characters, fraction of the size
    stroke_rate: float = bounded(0.05, 0.0, 1.0)  # faux bold by stroking the outline
    margin_range: tuple[float, ...] = (0.05, 0.4)  # space around the text, fraction of the text height
    min_contrast: float = bounded(90.0, 10.0, 255.0)  # grey levels between ink and background
    min_final_contrast: float = bounded(45.0, 0.0, 255.0)  # grey levels between ink and paper after all effects
    negative_rate: float = bounded(0.03, 0.0, 1.0)  # samples with clutter but no text (label "")
    neighbor_rate: float = bounded(0.05, 0.0, 1.0)  # fragments of neighbouring words cut at the crop edges
    line_fragment_rate: float = bounded(0.15, 0.0, 1.0)  # the bottom of the line above / top of the line below at the edge
    ink_weights: dict[str, float] = field(default_factory=lambda: {"black": 0.55, "grey": 0.3, "blue": 0.1, "red": 0.05})
    ink_density_range: tuple[float, ...] = (1.2, 2.2)  # gain on the anti-aliased text layer: >1 fills stroke cores
    glyph_size: int = bounded(32, 8, 256)  # pixels per em every face is drawn at before scaling to the drawn size
    max_font_cache: int = bounded(2048, 8, 100000)  # open faces kept (about 85 kB each): the default set has 1,687

    def __post_init__(self) -> None:
        for name in ("spacing_range", "margin_range", "ink_density_range"):
            value = getattr(self, name)
            if len(value) != 2 or value[0] > value[1]:
                raise ConfigError(f"render.{name} must be [low, high] with low <= high, got {list(value)!r}")
        if self.channels == 2:
            raise ConfigError("render.channels must be 1 (grayscale) or 3 (colour), got 2")
        unknown = sorted(set(self.ink_weights) - set(INK_KINDS))
        if unknown:
            raise ConfigError(f"render.ink_weights: unknown ink {unknown[0]!r}; known: {', '.join(INK_KINDS)}")
        if any(weight < 0 for weight in self.ink_weights.values()) or sum(self.ink_weights.values()) <= 0:
            raise ConfigError(f"render.ink_weights must be >= 0 with a positive total, got {self.ink_weights!r}")


@dataclass(frozen=True)
class BackgroundConfig:
    """Procedural textures and the user's own background images."""

    folder: str = "backgrounds"
    texture_weights: dict[str, float] = field(
        default_factory=lambda: {"flat": 8.0, "paper": 3.0, "gradient": 0.5, "wood": 0.2, "marble": 0.2,
                                 "granite": 0.1, "fabric": 0.1}  # documents are mostly plain white paper
    )
    variants: int = bounded(4, 1, 64)  # textures made per kind at start-up
    flat_shade: float = bounded(0.1, 0.0, 1.0)  # plain paper is 1 - flat_shade * r^2 of white (r uniform): scans sit near 0.98-1
    user_image_weight: float = bounded(1.0, 0.0, None)


@dataclass(frozen=True)
class Config:
    """The whole configuration: one section per component."""

    seed: int = bounded(0, 0, 2**63 - 1)
    output_dir: str = "output"
    charset: CharsetConfig = field(default_factory=CharsetConfig)
    fonts: FontConfig = field(default_factory=FontConfig)
    corpus: CorpusConfig = field(default_factory=CorpusConfig)
    render: RenderConfig = field(default_factory=RenderConfig)
    backgrounds: BackgroundConfig = field(default_factory=BackgroundConfig)
    effects: "EffectsConfig" = field(default_factory=lambda: EffectsConfig())


def load_config(path: str | Path | None = None, overrides: typing.Sequence[str] = ()) -> Config:
    """Load a YAML file (or the built-in defaults when path is None) and apply `key=value` overrides."""
    return load_dataclass(Config, path, overrides)


def load_dataclass(cls: type, path: str | Path | None = None, overrides: typing.Sequence[str] = ()) -> Any:
    """Any strict config dataclass from a YAML file (or its defaults) and `section.key=value` overrides."""
    data: dict[str, Any] = {}
    if path is not None:
        data = read_yaml_mapping(Path(path))
    for override in overrides:
        apply_override(data, override)
    return build_dataclass(cls, data, section="")


def read_yaml_mapping(path: Path) -> dict[str, Any]:
    """Read a YAML file that must hold a mapping (an empty file is an empty mapping)."""
    if not path.is_file():
        raise ConfigError(f"config file not found: {path}")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as error:
        raise ConfigError(f"cannot parse {path}: {error}") from error
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path} must hold a mapping of sections, got {type(data).__name__}")
    return data


def apply_override(data: dict[str, Any], override: str) -> None:
    """Set `section.key=value` (value parsed as YAML) inside the raw config mapping."""
    dotted, separator, raw_value = override.partition("=")
    if not separator or not dotted.strip():
        raise ConfigError(f"override {override!r} must look like section.key=value")
    keys = dotted.strip().split(".")
    try:
        value = yaml.safe_load(raw_value)
    except yaml.YAMLError as error:
        raise ConfigError(f"cannot parse the value of override {override!r}: {error}") from error
    target = data
    for key in keys[:-1]:
        child = target.setdefault(key, {})
        if not isinstance(child, dict):
            raise ConfigError(f"override {override!r}: '{key}' is not a section")
        target = child
    target[keys[-1]] = value


def build_dataclass(cls: type, data: Any, section: str) -> Any:
    """Build a frozen dataclass from a mapping, rejecting unknown keys and wrong types."""
    where = f"section '{section}'" if section else "the top level"
    if not isinstance(data, Mapping):
        raise ConfigError(f"{where} must be a mapping, got {data!r}")
    hints = typing.get_type_hints(cls)
    known = [item.name for item in dataclasses.fields(cls)]
    for key in data:
        if key not in known:
            raise ConfigError(unknown_key_message(str(key), where, known))
    values = {}
    for item in dataclasses.fields(cls):
        if item.name in data:
            dotted = f"{section}.{item.name}" if section else item.name
            value = convert_value(hints[item.name], data[item.name], dotted)
            check_bounds(item, value, dotted)
            values[item.name] = value
    return cls(**values)


def unknown_key_message(key: str, where: str, known: list[str]) -> str:
    """Explain an unknown key: where it was, the closest valid key, every valid key."""
    guess = difflib.get_close_matches(key, known, n=1)
    hint = f" (did you mean '{guess[0]}'?)" if guess else ""
    return f"unknown key '{key}' in {where}{hint}; valid keys: {', '.join(known)}"


def convert_value(hint: Any, value: Any, dotted: str) -> Any:
    """Check a raw YAML value against a type hint and convert it (lists to tuples, ints to floats)."""
    origin = typing.get_origin(hint)
    arguments = typing.get_args(hint)
    if dataclasses.is_dataclass(hint):
        return build_dataclass(hint, value, dotted)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in arguments:
            return None
        inner = [argument for argument in arguments if argument is not type(None)]
        return convert_value(inner[0], value, dotted)
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{dotted} must be a list, got {value!r}")
        return tuple(convert_value(arguments[0], item, f"{dotted}[{index}]") for index, item in enumerate(value))
    if origin is dict:
        if not isinstance(value, Mapping):
            raise ConfigError(f"{dotted} must be a mapping, got {value!r}")
        return {str(key): convert_value(arguments[1], item, f"{dotted}.{key}") for key, item in value.items()}
    return convert_scalar(hint, value, dotted)


def convert_scalar(hint: Any, value: Any, dotted: str) -> Any:
    """Check a scalar: bool, int, float or str, without silent coercion from other types."""
    if hint is bool and isinstance(value, bool):
        return value
    if hint is int and isinstance(value, int) and not isinstance(value, bool):
        return value
    if hint is float and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if hint is str and isinstance(value, str):
        return value
    raise ConfigError(f"{dotted} must be {getattr(hint, '__name__', hint)}, got {value!r}")


def check_bounds(item: dataclasses.Field, value: Any, dotted: str) -> None:
    """Reject a numeric value outside the field's [low, high] range."""
    low, high = item.metadata.get("low"), item.metadata.get("high")
    if low is not None and value < low:
        raise ConfigError(f"{dotted} must be >= {low}, got {value!r}")
    if high is not None and value > high:
        raise ConfigError(f"{dotted} must be <= {high}, got {value!r}")


def config_as_dict(config: Any) -> dict[str, Any]:
    """The resolved configuration as plain data (for manifests and printing)."""
    return dataclasses.asdict(config)


from synthgen.effects import ImageEffectsConfig, TextEffectsConfig  # noqa: E402  (effects import this module)


@dataclass(frozen=True)
class EffectsConfig:
    """The distortion stack: effects on the text layer, then on the composited image."""

    text: TextEffectsConfig = field(default_factory=TextEffectsConfig)
    image: ImageEffectsConfig = field(default_factory=ImageEffectsConfig)
