"""Statistics of word crops, one small pure function each, applied alike to real crops and to generated samples."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cached_property

import cv2
import numpy as np

MODEL_HEIGHT = 32
MIN_CONTRAST = 20  # grey levels: below this a crop has no ink to measure (empty negatives, blank crops)
IMMERKAER = np.float32([[1, -2, 1], [-2, 4, -2], [1, -2, 1]])  # Laplacian difference: Gaussian noise estimate


@dataclass
class Crop:
    """A crop as the statistics read it: source pixels, its label if any, and what is derived once from them."""

    image: np.ndarray  # (H, W) or (H, W, 3) uint8, RGB, at source resolution
    label: str | None = None

    @cached_property
    def grey(self) -> np.ndarray:
        return self.image if self.image.ndim == 2 else cv2.cvtColor(self.image, cv2.COLOR_RGB2GRAY)

    @cached_property
    def threshold(self) -> float:
        """Otsu's threshold between ink and paper."""
        return float(cv2.threshold(self.grey, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)[0])

    @cached_property
    def light_on_dark(self) -> bool:
        """Ink brighter than paper: the paper is the majority side of the threshold."""
        return bool((self.grey > self.threshold).mean() < 0.5)

    @cached_property
    def ink(self) -> np.ndarray:
        """Boolean ink mask at source resolution (empty when the crop has no contrast)."""
        if self.levels is None:
            return np.zeros(self.grey.shape, bool)
        return self.grey > self.threshold if self.light_on_dark else self.grey <= self.threshold

    @cached_property
    def levels(self) -> tuple[float, float] | None:
        """(paper, ink) median grey levels, or None for a crop without contrast."""
        above, below = self.grey[self.grey > self.threshold], self.grey[self.grey <= self.threshold]
        if not above.size or not below.size:
            return None
        light, dark = float(np.median(above)), float(np.median(below))
        if light - dark < MIN_CONTRAST:
            return None
        return (dark, light) if self.light_on_dark else (light, dark)

    @cached_property
    def band(self) -> tuple[int, int, int, int] | None:
        """(top, bottom, left, right) of the main text: the row run holding most ink, and its ink columns."""
        if self.levels is None:
            return None
        rows = self.ink.sum(axis=1)
        inked = rows >= 0.08 * rows.max()
        runs, start = [], None
        for row, flag in enumerate([*inked, False]):
            if flag and start is None:
                start = row
            elif not flag and start is not None:
                runs.append((int(rows[start:row].sum()), start, row - 1))
                start = None
        _, top, bottom = max(runs)
        columns = np.flatnonzero(self.ink[top : bottom + 1].any(axis=0))
        return top, bottom, int(columns[0]), int(columns[-1])

    @cached_property
    def model(self) -> Crop:
        """The crop at model height, aspect and colour kept: what a recognizer sees (itself when already there)."""
        height, width = self.image.shape[:2]
        if height == MODEL_HEIGHT:
            return self
        interpolation = cv2.INTER_AREA if height > MODEL_HEIGHT else cv2.INTER_LINEAR
        size = (max(1, round(width * MODEL_HEIGHT / height)), MODEL_HEIGHT)
        return Crop(cv2.resize(self.image, size, interpolation=interpolation), self.label)

    @cached_property
    def paper(self) -> np.ndarray:
        """Paper pixels at least two pixels from any ink."""
        return cv2.erode((~self.ink).astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool)


def crop_height(crop: Crop) -> float:
    """Source crop height in pixels."""
    return float(crop.image.shape[0])


def aspect_ratio(crop: Crop) -> float:
    """Width over height."""
    return crop.image.shape[1] / crop.image.shape[0]


def text_height(crop: Crop) -> float | None:
    """Height of the main text band as a share of the crop height."""
    if crop.band is None:
        return None
    top, bottom, _, _ = crop.band
    return (bottom - top + 1) / crop.image.shape[0]


def vertical_margin(crop: Crop) -> float | None:
    """Mean of the space above and below the text band, as a share of the crop height."""
    if crop.band is None:
        return None
    top, bottom, _, _ = crop.band
    return (top + crop.image.shape[0] - 1 - bottom) / 2 / crop.image.shape[0]


def horizontal_margin(crop: Crop) -> float | None:
    """Mean of the space left and right of the text, as a share of the crop height."""
    if crop.band is None:
        return None
    _, _, left, right = crop.band
    return (left + crop.image.shape[1] - 1 - right) / 2 / crop.image.shape[0]


def edge_ink(crop: Crop) -> float | None:
    """Share of the top and bottom rows covered by ink: fragments of the lines above and below."""
    if crop.levels is None:
        return None
    return float(np.concatenate([crop.ink[0], crop.ink[-1]]).mean())


def skew(crop: Crop) -> float | None:
    """Angle of the text in degrees (positive: rising to the right), from the ink centroid of each column."""
    if crop.band is None:
        return None
    ink = crop.ink.astype(np.float64)
    weights = ink.sum(axis=0)
    columns = np.flatnonzero(weights)
    if columns.size < 2 * crop.image.shape[0] or columns[-1] - columns[0] < crop.image.shape[0]:
        return None  # too short to tell a slope from the shapes of the letters
    centroids = (ink[:, columns] * np.arange(ink.shape[0])[:, None]).sum(axis=0) / weights[columns]
    slope = np.polyfit(columns, centroids, 1, w=np.sqrt(weights[columns]))[0]
    return float(-math.degrees(math.atan(slope)))


def paper_brightness(crop: Crop) -> float | None:
    """Median grey level of the paper at model height."""
    levels = crop.model.levels
    return levels[0] if levels else None


def ink_brightness(crop: Crop) -> float | None:
    """Median grey level of the ink at model height (thin strokes of a tall crop grey as it is scaled down)."""
    levels = crop.model.levels
    return levels[1] if levels else None


def contrast(crop: Crop) -> float | None:
    """Grey levels between paper and ink at model height."""
    levels = crop.model.levels
    return abs(levels[0] - levels[1]) if levels else None


def light_on_dark(crop: Crop) -> float | None:
    """1 for light text on a dark ground, 0 for dark on light."""
    return float(crop.model.light_on_dark) if crop.model.levels else None


def chroma_of(crop: Crop, ink: bool) -> float | None:
    """Median colourfulness (max minus min of R, G, B) of the ink or the paper at model height; 0 for grey crops."""
    crop = crop.model
    if crop.levels is None:
        return None
    if crop.image.ndim == 2:
        return 0.0
    pixels = crop.image[crop.ink if ink else ~crop.ink].astype(np.int16)
    return float(np.median(pixels.max(axis=1) - pixels.min(axis=1))) if pixels.size else None


def paper_chroma(crop: Crop) -> float | None:
    """Colourfulness of the paper (0 grey, about 100 and more for strongly tinted paper)."""
    return chroma_of(crop, ink=False)


def ink_chroma(crop: Crop) -> float | None:
    """Colourfulness of the ink (blue ballpoint, pink dot matrix, red stamps)."""
    return chroma_of(crop, ink=True)


def blur(crop: Crop) -> float | None:
    """Edge spread in pixels at model height: the Gaussian sigma a sharp edge of this contrast would need."""
    model = crop.model
    if model.levels is None:
        return None
    rows, columns = np.gradient(model.grey.astype(np.float32))
    steepest = float(np.percentile(np.hypot(rows, columns), 99))
    return contrast(model) / (math.sqrt(2 * math.pi) * max(steepest, 1e-3))


def noise(crop: Crop) -> float | None:
    """Noise sigma in grey levels on the paper at model height (Immerkaer's estimator)."""
    model = crop.model
    paper = model.paper
    if model.levels is None or paper.sum() < 32:
        return None
    response = cv2.filter2D(model.grey.astype(np.float32), -1, IMMERKAER, borderType=cv2.BORDER_REFLECT)
    return float(math.sqrt(math.pi / 2) / 6 * np.abs(response[paper]).mean())


def jpeg_blockiness(crop: Crop) -> float | None:
    """Grey levels by which small steps on the strongest 8-pixel grid exceed steps elsewhere (0 without JPEG blocks).

    Only steps below 24 levels count: block edges are small jumps in smooth areas, letter edges are large. The grid's
    phase is searched because a detector crops a page at any offset.
    """
    grey = crop.grey.astype(np.float32)
    excesses = []
    for axis in (1, 0):
        steps = np.abs(np.diff(grey, axis=axis))
        small = steps < 24
        sums, counts = (np.where(small, steps, 0).sum(axis=1 - axis), small.sum(axis=1 - axis))
        if sums.size < 24:
            continue
        phases = np.array([sums[phase::8].sum() / max(counts[phase::8].sum(), 1) for phase in range(8)])
        strongest = int(phases.argmax())
        excesses.append(float(phases[strongest] - np.delete(phases, strongest).mean()))
    return float(np.mean(excesses)) if excesses else None


def stroke_width(crop: Crop) -> float | None:
    """Mean stroke width (twice the ink area over its outline length) over the text band's height, at model height."""
    crop = crop.model
    if crop.band is None:
        return None
    top, bottom, left, right = crop.band
    ink = crop.ink[top : bottom + 1, left : right + 1].astype(np.uint8)
    contours, _ = cv2.findContours(ink, cv2.RETR_LIST, cv2.CHAIN_APPROX_NONE)
    outline = sum(cv2.arcLength(contour, True) for contour in contours)
    if outline <= 0:
        return None
    return 2 * float(ink.sum()) / outline / (bottom - top + 1)


def blank_runs(crop: Crop) -> list[int]:
    """Widths of the runs of inkless columns between the first and last ink column of the text band."""
    if crop.band is None:
        return []
    top, bottom, left, right = crop.band
    inked = crop.ink[top : bottom + 1, left : right + 1].any(axis=0)
    edges = np.flatnonzero(np.diff(inked.astype(np.int8)))  # a run starts after a -1 step and ends at a +1 step
    return [int(end - start) for start, end in zip(edges[::2], edges[1::2])]


def gaps(crop: Crop) -> tuple[list[float], list[float]] | None:
    """(word gaps, letter gaps) over the band's height: the widest blank runs, one per space in the label; the rest."""
    if not crop.label or crop.band is None:
        return None
    top, bottom, _, _ = crop.band
    spaces = len(crop.label.split()) - 1
    runs = sorted((run / (bottom - top + 1) for run in blank_runs(crop)), reverse=True)
    if len(runs) < spaces:
        return None  # words touch where the label has spaces: no gap to measure
    return runs[:spaces], runs[spaces:]


def word_gap(crop: Crop) -> float | None:
    """Mean width of the spaces between words, as a share of the text band's height (labelled crops with spaces)."""
    measured = gaps(crop)
    return float(np.mean(measured[0])) if measured and measured[0] else None


def letter_gap(crop: Crop) -> float | None:
    """Median width of the blank runs between letters, as a share of the text band's height (labelled crops)."""
    measured = gaps(crop)
    return float(np.median(measured[1])) if measured and measured[1] else None


def label_length(crop: Crop) -> float | None:
    """Characters in the label."""
    return None if crop.label is None else float(len(crop.label))


def word_count(crop: Crop) -> float | None:
    """Space-separated tokens in the label."""
    return None if crop.label is None else float(len(crop.label.split()))


def share_of(crop: Crop, test: Callable[[str], bool]) -> float | None:
    """Share of the label's non-space characters passing a test."""
    if not crop.label or not crop.label.strip():
        return None
    characters = [c for c in crop.label if not c.isspace()]
    return sum(map(test, characters)) / len(characters)


def digit_share(crop: Crop) -> float | None:
    """Share of digits among the label's characters."""
    return share_of(crop, str.isdigit)


def symbol_share(crop: Crop) -> float | None:
    """Share of punctuation and symbols among the label's characters."""
    return share_of(crop, lambda character: not character.isalnum())


def upper_share(crop: Crop) -> float | None:
    """Share of capitals among the label's letters (case mix)."""
    letters = [c for c in crop.label or "" if c.isalpha()]
    return sum(c.isupper() for c in letters) / len(letters) if letters else None


# name: (statistic, group). Geometry is measured at source resolution; appearance at model height, as the recognizer
# sees it and as samples are made (JPEG blockiness at source, where the 8-pixel grid is).
STATISTICS: dict[str, tuple[Callable[[Crop], float | None], str]] = {
    "crop_height": (crop_height, "geometry"),
    "aspect_ratio": (aspect_ratio, "geometry"),
    "text_height": (text_height, "geometry"),
    "vertical_margin": (vertical_margin, "geometry"),
    "horizontal_margin": (horizontal_margin, "geometry"),
    "edge_ink": (edge_ink, "geometry"),
    "skew": (skew, "geometry"),
    "paper_brightness": (paper_brightness, "appearance"),
    "ink_brightness": (ink_brightness, "appearance"),
    "contrast": (contrast, "appearance"),
    "light_on_dark": (light_on_dark, "appearance"),
    "paper_chroma": (paper_chroma, "appearance"),
    "ink_chroma": (ink_chroma, "appearance"),
    "blur": (blur, "appearance"),
    "noise": (noise, "appearance"),
    "jpeg_blockiness": (jpeg_blockiness, "appearance"),
    "stroke_width": (stroke_width, "appearance"),
    "word_gap": (word_gap, "geometry"),
    "letter_gap": (letter_gap, "geometry"),
    "label_length": (label_length, "text"),
    "word_count": (word_count, "text"),
    "digit_share": (digit_share, "text"),
    "symbol_share": (symbol_share, "text"),
    "upper_share": (upper_share, "text"),
}


def measure(crops: Iterable[Crop]) -> dict[str, list[float]]:
    """Every statistic over the crops (crops where a statistic does not apply are left out of it)."""
    values: dict[str, list[float]] = {name: [] for name in STATISTICS}
    for crop in crops:
        for name, (statistic, _) in STATISTICS.items():
            value = statistic(crop)
            if value is not None and math.isfinite(value):
                values[name].append(float(value))
    return values


def wasserstein(first: list[float], second: list[float], points: int = 512) -> float:
    """The earth mover's distance between two samples: the mean gap between their quantile functions."""
    levels = (np.arange(points) + 0.5) / points
    return float(np.abs(np.quantile(first, levels) - np.quantile(second, levels)).mean())


def describe(values: list[float]) -> dict[str, float | int] | None:
    """Count, mean, standard deviation and quantiles of one statistic."""
    if not values:
        return None
    array = np.asarray(values)
    p5, p25, p50, p75, p95 = np.percentile(array, [5, 25, 50, 75, 95])
    return {"count": int(array.size), "mean": float(array.mean()), "std": float(array.std()), "p5": float(p5),
            "p25": float(p25), "median": float(p50), "p75": float(p75), "p95": float(p95)}


def compare(real: dict[str, list[float]], synthetic: dict[str, list[float]]) -> list[dict]:
    """Per statistic: both descriptions and the distance in units of the real spread, largest first."""
    rows = []
    for name, (_, group) in STATISTICS.items():
        a, b = real.get(name, []), synthetic.get(name, [])
        distance = None
        if a and b:  # the pooled spread keeps a statistic that is constant on one side (one word per crop) finite
            spread = max(math.sqrt((float(np.var(a)) + float(np.var(b))) / 2), 0.01 * abs(float(np.mean(a))), 1e-3)
            distance = wasserstein(a, b) / spread
        rows.append({"statistic": name, "group": group, "distance": distance, "real": describe(a), "synthetic": describe(b)})
    return sorted(rows, key=lambda row: -1.0 if row["distance"] is None else row["distance"], reverse=True)
