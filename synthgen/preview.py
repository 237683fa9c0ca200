"""Pictures a person looks at: a grid of samples with labels, and a gallery of one effect across its range."""

from __future__ import annotations

from dataclasses import fields, replace
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from synthgen.effects import IMAGE_EFFECTS, TEXT_EFFECTS, EffectStack
from synthgen.errors import ConfigError
from synthgen.fonts.sheet import label_font
from synthgen.generator import Sample, WordGenerator

SCALE = 2  # samples are 32 pixels high: shown twice as large
TILE_WIDTH = 440
GALLERY_STEPS = 5
GALLERY_ROWS = 6


def as_picture(image: np.ndarray) -> Image.Image:
    """A sample image as an RGB picture, scaled up for the eye, never wider than a tile."""
    picture = Image.fromarray(image).convert("RGB")
    width = min(TILE_WIDTH - 8, picture.width * SCALE)
    return picture.resize((width, picture.height * SCALE), Image.Resampling.NEAREST)


def caption(sample: Sample) -> tuple[str, str]:
    """The label (or a note for a negative) and where it came from."""
    label = repr(sample.text) if sample.text else "'' (negative)"
    origin = sample.meta.get("source", "")
    font = sample.meta.get("font")
    return label, f"{origin} · {font}" if font else origin


def write_preview(generator: WordGenerator, count: int, path: str | Path, columns: int = 4) -> Path:
    """A grid of samples 0..count-1, each with its label, source and font."""
    samples = [generator(index) for index in range(count)]
    tile_height = 32 * SCALE + 40
    rows = -(-count // columns)
    sheet = Image.new("RGB", (TILE_WIDTH * columns, tile_height * rows), "white")
    draw = ImageDraw.Draw(sheet)
    for position, sample in enumerate(samples):
        left, top = (position % columns) * TILE_WIDTH, (position // columns) * tile_height
        sheet.paste(as_picture(sample.image), (left + 4, top + 4))
        label, origin = caption(sample)
        draw.text((left + 4, top + 32 * SCALE + 8), label[:60], fill=(0, 0, 0), font=label_font(13))
        draw.text((left + 4, top + 32 * SCALE + 24), origin[:64], fill=(110, 110, 110), font=label_font(10))
    return save(sheet, path)


def effect_at(effect, fraction: float):
    """The effect always applied, with every (low, high) range pinned at `fraction` of the way from low to high."""
    pinned = {}
    for item in fields(effect):
        value = getattr(effect, item.name)
        if item.name.endswith("_range"):
            point = value[0] + (value[1] - value[0]) * fraction
            pinned[item.name] = (point, point)
    return replace(effect, p=1.0, **pinned)


def write_effect_gallery(generator: WordGenerator, name: str, path: str | Path, first_index: int = 0) -> Path:
    """Rows of samples: the first column without any effect, then the named effect alone across its range."""
    if name in TEXT_EFFECTS:
        stage, section = "text_effects", generator.config.effects.text
    elif name in IMAGE_EFFECTS:
        stage, section = "image_effects", generator.config.effects.image
    else:
        raise ConfigError(f"unknown effect {name!r}; effects: {', '.join([*TEXT_EFFECTS, *IMAGE_EFFECTS])}")
    effect = getattr(section, name)
    nothing = EffectStack([])
    generator.text_effects, generator.image_effects = nothing, nothing
    fractions = [index / (GALLERY_STEPS - 1) for index in range(GALLERY_STEPS)]
    columns: list[list[Sample]] = [[generator(first_index + row) for row in range(GALLERY_ROWS)]]
    for fraction in fractions:
        setattr(generator, stage, EffectStack([(name, effect_at(effect, fraction))]))
        columns.append([generator(first_index + row) for row in range(GALLERY_ROWS)])
    headers = ["before"] + [f"{name} {fraction:.2f} of range" for fraction in fractions]
    return save(gallery_sheet(columns, headers), path)


def gallery_sheet(columns: list[list[Sample]], headers: list[str]) -> Image.Image:
    """Columns of samples under their headers."""
    width = max(as_picture(sample.image).width for column in columns for sample in column) + 12
    row_height = 32 * SCALE + 10
    sheet = Image.new("RGB", (width * len(columns), 24 + row_height * len(columns[0])), "white")
    draw = ImageDraw.Draw(sheet)
    for number, (header, column) in enumerate(zip(headers, columns)):
        draw.text((number * width + 4, 4), header, fill=(0, 0, 0), font=label_font(12))
        for row, sample in enumerate(column):
            sheet.paste(as_picture(sample.image), (number * width + 4, 24 + row * row_height))
    return sheet


def save(picture: Image.Image, path: str | Path) -> Path:
    """Write a PNG, creating its folder."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    picture.save(path)
    return path
