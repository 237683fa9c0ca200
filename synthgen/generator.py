"""The word generator: (config, seed, index) -> Sample(image, text, meta), as a pure function."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np

from synthgen.backgrounds import BackgroundPool
from synthgen.charset import Charset
from synthgen.config import Config
from synthgen.corpus.choices import pick_weighted
from synthgen.corpus.mixer import CorpusMixer, TextSample
from synthgen.effects import IMAGE_EFFECTS, TEXT_EFFECTS, AppliedEffect, build_stack
from synthgen.fonts.atlas import atlas_cache_of
from synthgen.fonts.sampler import FontChoice, FontCoverageError, FontSampler, build_font_sampler
from synthgen.paths import resolve_path
from synthgen.renderer import FontCache, ink_box, ink_columns, render_mask
from synthgen.seeding import stage_rngs

GREY_WEIGHTS = np.float32([0.114, 0.587, 0.299])  # BGR to luminance, as OpenCV converts
GENERATOR_VERSION = 2  # bump when what a config's samples look like changes (labs key their cached runs on it)
MAX_TEXT_ATTEMPTS = 20  # strings tried per sample when no face can draw one (FontCoverageError)
NEIGHBOR_WORDS = ("and", "THE", "Total", "No.", "of", "QTY", "12", "for", "Item", "x", "Date", "$", "LB")


class GenerationError(RuntimeError):
    """A sample could not be made within the attempt limits; carries the counts of reasons."""


@dataclass(frozen=True)
class Sample:
    """A word image, its label (empty for negatives), and what was drawn."""

    image: np.ndarray  # (H, W) or (H, W, 3) uint8, H = render.height
    text: str
    meta: dict[str, Any] = field(default_factory=dict)


class WordGenerator:
    """Turns a sample index into a Sample; the same (config, seed, index) always gives the same bytes."""

    def __init__(self, config: Config, seed: int | None = None, fonts: FontSampler | None = None) -> None:
        self.config = config
        self.seed = config.seed if seed is None else seed
        self.charset = Charset.from_file(resolve_path(config.charset.path))
        self.corpus = CorpusMixer(config.corpus, self.charset)
        self.fonts = fonts or build_font_sampler(config.fonts, self.charset, progress=False)
        self.backgrounds = BackgroundPool(config.backgrounds)
        self.text_effects = build_stack(config.effects.text, TEXT_EFFECTS)
        self.image_effects = build_stack(config.effects.image, IMAGE_EFFECTS)
        self.font_cache = FontCache(config.render.max_font_cache, config.render.glyph_size, atlas_cache_of(config.fonts))
        self.coverage_failures: Counter = Counter()
        self.stage_generators = stage_rngs(self.seed, 0)  # re-seeded for every sample: one generator object per stage
        self.inks = tuple(config.render.ink_weights)
        self.ink_cumulative = np.cumsum(list(config.render.ink_weights.values()), dtype=np.float64)

    def __call__(self, index: int) -> Sample:
        """Sample `index` of this generator's run."""
        return self.sample_with_coverage(index)[0]

    def sample_with_coverage(self, index: int) -> tuple[Sample, np.ndarray]:
        """Sample `index` and the ink coverage (0..1, same height and width) its text or clutter was drawn with."""
        rngs = stage_rngs(self.seed, index, self.stage_generators)
        if rngs["text"].random() < self.config.render.negative_rate:
            mask, meta = self.negative_mask(rngs["text"]), {"negative": True, "source": "negative"}
            text = ""
        else:
            text, mask, meta = self.text_mask(rngs["text"], rngs["font"])
        mask, text_applied = self.text_effects(mask, rngs["text_effects"])
        image, alpha, background_meta = self.composite(mask, rngs["background"], meta.get("line_fragments", ()))
        image, image_applied = self.image_effects(image, rngs["image_effects"])
        if text:
            image, stretched = ensure_contrast(image, alpha, self.config.render.min_final_contrast)
            meta["contrast_stretched"] = stretched
        meta.update(background_meta, text_effects=effect_log(text_applied), image_effects=effect_log(image_applied))
        return Sample(image, text, meta), alpha

    def label(self, index: int) -> str:
        """The label of sample `index` without drawing its image (the same string `self(index).text` holds)."""
        rngs = stage_rngs(self.seed, index, self.stage_generators)
        if rngs["text"].random() < self.config.render.negative_rate:
            return ""
        return self.choose_text(rngs["text"], rngs["font"])[0].text

    def choose_text(self, text_rng: np.random.Generator, font_rng: np.random.Generator) -> tuple[TextSample, FontChoice]:
        """Draw a string and a face that covers it (strings no face can draw are counted and redrawn, boundedly)."""
        for _ in range(MAX_TEXT_ATTEMPTS):
            drawn = self.corpus.sample(text_rng)
            try:
                return drawn, self.fonts.sample(drawn.text, font_rng)
            except FontCoverageError as error:
                self.coverage_failures[error.characters] += 1
        raise GenerationError(f"no face could draw {MAX_TEXT_ATTEMPTS} strings in a row: {dict(self.coverage_failures)}")

    def text_mask(self, text_rng: np.random.Generator, font_rng: np.random.Generator) -> tuple[str, np.ndarray, dict]:
        """Draw a string and a face that covers it, render it, cropped to its ink with neighbours maybe."""
        drawn, choice = self.choose_text(text_rng, font_rng)
        render = self.config.render
        spaced = font_rng.random() < render.spacing_rate
        spacing = float(font_rng.uniform(*render.spacing_range)) if spaced else 0.0
        stroke = 1 if font_rng.random() < render.stroke_rate else 0
        mask = self.font_cache.render(choice.face, drawn.text, spacing * render.glyph_size, stroke)
        top, bottom = text_rows(mask, *self.font_cache.line_rows(choice.face, stroke))
        neighbors = font_rng.random() < render.neighbor_rate
        if neighbors:
            mask = with_neighbors(mask, self.font_cache.get(choice.face), font_rng, render.glyph_size)
        else:
            mask = crop_columns(mask)
        mask, fragments = mask[top:bottom], ()
        if font_rng.random() < render.line_fragment_rate:
            fragments = (("top",), ("bottom",), ("top", "bottom"))[int(font_rng.integers(3))]
            filler = " ".join(NEIGHBOR_WORDS[int(i)] for i in font_rng.integers(len(NEIGHBOR_WORDS), size=8))
            mask = with_line_fragments(mask, self.font_cache.render(choice.face, filler, 0.0, stroke), fragments, font_rng)
        mask = scale_mask(mask, choice.size / render.glyph_size)
        meta = {
            "negative": False,
            "source": drawn.source,
            "font": f"{choice.face.family} {choice.face.style}",
            "font_family": choice.face.family,
            "font_path": choice.face.path,
            "size": choice.size,
            "spacing": round(spacing * choice.size, 2),
            "stroke": stroke,
            "neighbors": neighbors,
            "line_fragments": list(fragments),
        }
        return drawn.text, mask, meta

    def negative_mask(self, rng: np.random.Generator) -> np.ndarray:
        """Clutter a text detector would fire on, with no legible character."""
        return draw_clutter(rng, height=int(rng.integers(28, 64)), width=int(rng.integers(40, 320)))

    def composite(self, mask: np.ndarray, rng: np.random.Generator, flush: Sequence[str] = ()) -> tuple[np.ndarray, np.ndarray, dict]:
        """Ink on a background at model height (grey or colour as configured), and the ink coverage used.

        The text layer gets its margins (none at a `flush` side: "top"/"bottom", where a fragment of another line
        is cut by the crop edge) and is scaled to the model height first, so the blend runs on the final, smaller
        image; the background is cropped at the scale it would have had before that resize.
        """
        render = self.config.render
        height = mask.shape[0]
        margins = [round(margin * height) for margin in rng.uniform(*render.margin_range, size=4).tolist()]
        for position, side in enumerate(("top", "bottom")):
            if side in flush:
                margins[position] = 0
        framed = cv2.copyMakeBorder(mask, *margins, cv2.BORDER_CONSTANT, value=0)
        alpha = self.resize(framed).astype(np.float32)
        density = float(rng.uniform(*render.ink_density_range))  # > 1 saturates stroke cores as real print and scans do
        alpha *= np.float32(density / 255)
        np.minimum(alpha, 1.0, out=alpha)
        grey = render.channels == 1
        texture_scale = framed.shape[0] / render.height
        background, kind = self.backgrounds.crop(*alpha.shape, rng, grey=grey, texture_scale=texture_scale)
        inverted = rng.random() < render.inverted_rate
        if inverted:
            background = 255 - background
        ink = ink_colour(background, render.min_contrast, rng, self.inks, self.ink_cumulative)
        if grey:
            plain = background.astype(np.float32)
            ink = np.float32([ink @ GREY_WEIGHTS])
            image = ink[0] - plain
            image *= alpha
        else:
            plain = cv2.cvtColor(background, cv2.COLOR_BGR2RGB).astype(np.float32)
            ink = ink[::-1]
            image = ink - plain
            image *= alpha[..., None]
        image += plain  # plain + (ink - plain) * alpha, in place
        image = np.clip(image, 0, 255, out=image).astype(np.uint8)
        return image, alpha, {"background": kind, "inverted": inverted, "ink": [int(v) for v in ink],
                              "ink_density": round(density, 2)}

    def resize(self, image: np.ndarray) -> np.ndarray:
        """To the model height keeping the aspect ratio, squeezed to max_width if wider."""
        render = self.config.render
        height, width = image.shape[:2]
        new_width = min(render.max_width, max(1, round(width * render.height / height)))
        interpolation = cv2.INTER_AREA if height > render.height else cv2.INTER_LINEAR
        return cv2.resize(image, (new_width, render.height), interpolation=interpolation)


def scale_mask(mask: np.ndarray, factor: float) -> np.ndarray:
    """The text layer scaled by factor (area averaging when shrinking, so thin strokes fade rather than break)."""
    if factor == 1.0:
        return mask
    height, width = mask.shape
    size = (max(1, round(width * factor)), max(1, round(height * factor)))
    return cv2.resize(mask, size, interpolation=cv2.INTER_AREA if factor < 1 else cv2.INTER_LINEAR)


def ensure_contrast(image: np.ndarray, alpha: np.ndarray, minimum: float) -> tuple[np.ndarray, bool]:
    """Stretch grey levels about the background when ink and background ended closer than `minimum`.

    Effects drawn independently can stack into text no one could read (faded thermal ink, low
    contrast, dim light); the label must stay true, so the image is made legible, never the label dropped.
    """
    peak = float(alpha.max())
    paper = (alpha < 0.05).view(np.uint8)
    if peak <= 0 or not np.count_nonzero(paper):
        return image, False
    ink = (alpha >= 0.5 * peak).view(np.uint8)  # faded ink (thermal print) counts as ink too
    ink_level, paper_level = masked_mean(image, ink), masked_mean(image, paper)
    difference = abs(ink_level - paper_level)
    if difference >= minimum:
        return image, False
    gain = minimum / max(difference, 1.0)
    levels = np.clip((np.arange(256, dtype=np.float32) - paper_level) * gain + paper_level, 0, 255)
    return cv2.LUT(image, levels.astype(np.uint8)), True


def masked_mean(image: np.ndarray, mask: np.ndarray | None = None) -> float:
    """Mean grey level (over all channels) of the pixels where mask is non-zero, or of all pixels."""
    channels = 1 if image.ndim == 2 else image.shape[2]
    return sum(cv2.mean(image, mask)[:channels]) / channels


def text_rows(mask: np.ndarray, cap_row: int, baseline_row: int) -> tuple[int, int]:
    """Rows to keep: the ink, but never less than cap height to baseline.

    Cropped tightly to its ink, `co` scaled to the model height looks exactly like `CO`; keeping the room
    a capital would take leaves the x-height visible, so the label's case stays readable.
    """
    box = ink_box(mask)
    if box is None:
        return 0, mask.shape[0]
    top, bottom = box[0], box[1]
    return max(0, min(top, cap_row)), min(mask.shape[0], max(bottom, baseline_row))


def with_neighbors(mask: np.ndarray, font, rng: np.random.Generator, size: int) -> np.ndarray:
    """The word with a sliver of a neighbouring word at one or both crop edges, too little to read as a character."""
    columns = ink_columns(mask)
    if columns is None:
        return mask
    left, right = columns
    gap = max(2, int(font.getlength(" ")))
    pieces = [mask[:, left:right]]
    for side in ("left", "right"):
        if rng.random() < 0.6:
            neighbor = crop_columns(render_mask(font, NEIGHBOR_WORDS[int(rng.integers(len(NEIGHBOR_WORDS)))]))
            sliver = max(1, int(rng.uniform(0.04, 0.12) * size))  # an eighth of an em at most: never a whole glyph
            fragment = neighbor[:, -sliver:] if side == "left" else neighbor[:, :sliver]
            if reads_as_bar(fragment):
                continue  # a cut stem would read as l, I or |
            space = np.zeros((mask.shape[0], gap), np.uint8)
            pieces = [fragment, space, *pieces] if side == "left" else [*pieces, space, fragment]
    return np.concatenate([fit_height(piece, mask.shape[0]) for piece in pieces], axis=1)


def with_line_fragments(mask: np.ndarray, other: np.ndarray, sides: Sequence[str], rng: np.random.Generator) -> np.ndarray:
    """The text with the bottom of the line above and/or the top of the line below, as a detector's crop cuts them.

    At most 22% of the text height of the other line shows, under a gap of 10-35%: descenders and the feet of
    letters above, the tops of capitals and ascenders below; the label stays the main text.
    """
    rows = np.flatnonzero(other.max(axis=1) > 0)
    if rows.size == 0:
        return mask
    other = other[rows[0] : rows[-1] + 1]
    height, width = mask.shape
    pieces = [mask]
    for side in sides:
        show = max(1, round(height * rng.uniform(0.08, 0.22)))
        gap = np.zeros((max(1, round(height * rng.uniform(0.1, 0.35))), width), np.uint8)
        part = window(other[-show:] if side == "top" else other[:show], width, rng)
        pieces = [part, gap, *pieces] if side == "top" else [*pieces, gap, part]
    return np.vstack(pieces)


def window(strip: np.ndarray, width: int, rng: np.random.Generator) -> np.ndarray:
    """A `width`-wide piece of a strip at a random offset (zero-padded when the strip is narrower)."""
    if strip.shape[1] >= width:
        start = int(rng.integers(0, strip.shape[1] - width + 1))
        return strip[:, start : start + width]
    placed = np.zeros((strip.shape[0], width), np.uint8)
    start = int(rng.integers(0, width - strip.shape[1] + 1))
    placed[:, start : start + strip.shape[1]] = strip
    return placed


def reads_as_bar(fragment: np.ndarray) -> bool:
    """Whether a sliver holds a column inked over most of its inked height: a vertical bar."""
    inked_rows = np.flatnonzero(fragment.max(axis=1) > 127)
    if inked_rows.size == 0:
        return False
    span = fragment[inked_rows[0] : inked_rows[-1] + 1] > 127
    return bool(span.mean(axis=0).max() >= 0.6)


def crop_columns(mask: np.ndarray) -> np.ndarray:
    """Only the inked columns."""
    columns = ink_columns(mask)
    return mask if columns is None else mask[:, columns[0] : columns[1]]


def fit_height(piece: np.ndarray, height: int) -> np.ndarray:
    """Pad or cut a piece to the given height (all pieces share the same baseline canvas)."""
    if piece.shape[0] == height:
        return piece
    if piece.shape[0] > height:
        return piece[:height]
    return cv2.copyMakeBorder(piece, 0, height - piece.shape[0], 0, 0, cv2.BORDER_CONSTANT, value=0)


def ink_colour(background: np.ndarray, min_contrast: float, rng: np.random.Generator, inks: tuple[str, ...],
               cumulative: np.ndarray) -> np.ndarray:
    """A BGR ink at least min_contrast grey levels from the background's mean: an ink kind drawn by weight on
    light paper (black, faded grey, ballpoint blue, dot-matrix or stamp red), a light grey on dark grounds."""
    level = masked_mean(background)
    if level < 128:
        return np.float32([rng.uniform(min(255.0, level + min_contrast), 255)] * 3)
    kind = pick_weighted(rng, inks, cumulative)
    if kind == "black":
        colour = np.float32([rng.uniform(0, 55)] * 3)
    elif kind == "grey":
        colour = np.float32([rng.uniform(55, max(55.0, level - min_contrast))] * 3)
    elif kind == "blue":
        colour = np.float32([rng.uniform(110, 200), rng.uniform(20, 90), rng.uniform(0, 60)])
    else:
        colour = np.float32([rng.uniform(70, 150), rng.uniform(20, 90), rng.uniform(150, 235)])
    luminance = float(colour @ GREY_WEIGHTS)
    if level - luminance < min_contrast:  # too pale on this paper: darken, keeping the hue
        colour *= max(0.0, level - min_contrast) / max(luminance, 1.0)
    return colour


def draw_clutter(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """What a detector fires on that holds no character: blank paper, soft stains, solid blocks and shading.

    Nothing small or thin is drawn (no dots, dashes, rules, strokes or bars): a negative must never hold a
    shape the charset can name, or the recognizer learns to read a lone `:` or `-` as nothing.
    """
    mask = np.zeros((height, width), np.uint8)
    kind = int(rng.integers(4))
    if kind == 1:  # a soft stain or smudge, larger than a character
        centre = (int(rng.integers(0, width)), int(rng.integers(0, height)))
        axes = (int(rng.integers(height, max(height + 1, width))), int(rng.integers(height // 2, height + 1)))
        cv2.ellipse(mask, centre, axes, float(rng.uniform(0, 180)), 0, 360, int(rng.integers(25, 70)), -1)
        mask = cv2.GaussianBlur(mask, (0, 0), height / 4)
    elif kind == 2:  # a solid block from an edge: part of a logo, a photo or a filled cell
        if rng.random() < 0.5:
            start = int(rng.integers(0, width // 2))
            mask[:, start : start + int(rng.integers(height, max(height + 1, width - start + 1)))] = 255
        else:
            mask[int(rng.integers(0, height // 3)) :, :] = int(rng.integers(120, 256))
    elif kind == 3:  # shading: a smooth ramp of tone across the crop
        ramp = np.linspace(0, float(rng.uniform(30, 90)), width, dtype=np.float32)
        mask[:] = (ramp if rng.random() < 0.5 else ramp[::-1]).astype(np.uint8)
    return mask  # kind 0: blank paper (texture and image effects still apply)


def effect_log(applied: list[AppliedEffect]) -> list[dict[str, Any]]:
    """Applied effects as plain data for the sample's meta."""
    return [{"name": item.name, "params": item.params} for item in applied]
