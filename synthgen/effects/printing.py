"""How ink lands on paper: thermal-print dropout, ink bleed and thinning, toner speckle, bitmapped text."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from synthgen.effects.base import RangedEffect, uniform


def dot_grid(mask: np.ndarray, pitch: float) -> np.ndarray:
    """Ink only where round dots on a grid of `pitch` pixels fall, as a dot-matrix or thermal head prints."""
    height, width = mask.shape
    rows = (np.arange(height) % pitch) - pitch / 2
    columns = (np.arange(width) % pitch) - pitch / 2
    distance = np.sqrt(rows[:, None] ** 2 + columns[None, :] ** 2)
    dots = np.clip((pitch * 0.55 - distance) / max(pitch * 0.15, 0.5), 0, 1)
    return (mask * dots).astype(np.uint8)


def already_dotted(mask: np.ndarray) -> bool:
    """Whether the text is drawn in dots (a dot-matrix face): many more ink blobs than glyphs could make.

    A second dot grid over dots leaves scattered specks no one can read, so such text keeps its own dots.
    """
    blobs = cv2.connectedComponents((mask > 64).astype(np.uint8))[0] - 1
    return blobs > 3 * mask.shape[1] / max(mask.shape[0], 1)


def fade_rows(mask: np.ndarray, factors: np.ndarray) -> np.ndarray:
    """Scale each row's ink by its factor (print-head streaks and faded bands)."""
    return (mask * factors[:, None]).astype(np.uint8)


def drop_pixels(mask: np.ndarray, keep: np.ndarray) -> np.ndarray:
    """Remove ink where keep is False (broken, speckled strokes)."""
    return np.where(keep, mask, 0).astype(np.uint8)


def stroke_half_width(mask: np.ndarray) -> float:
    """Typical half-width of the strokes in pixels (90th percentile of the distance to the edge inside ink)."""
    inside = cv2.distanceTransform((mask > 127).astype(np.uint8), cv2.DIST_L2, 3)
    values = inside[inside > 0]
    return float(np.percentile(values, 90)) if values.size else 0.0


def thicken(mask: np.ndarray, radius: int) -> np.ndarray:
    """Bleed: ink spreads by `radius` pixels (negative thins it, only strokes thick enough to survive), edges softened."""
    half_width = stroke_half_width(mask) if radius else 0.0
    if radius < 0 and half_width < abs(radius) + 1.0:
        radius = 0  # thinning would erase the strokes: the label would lie
    radius = min(radius, max(1, int(half_width)))  # spreading by more than a stroke fills counters: o becomes a blob
    if radius == 0:
        return mask
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * abs(radius) + 1, 2 * abs(radius) + 1))
    changed = cv2.dilate(mask, kernel) if radius > 0 else cv2.erode(mask, kernel)
    return cv2.GaussianBlur(changed, (3, 3), 0)


def bitmap(mask: np.ndarray, factor: float) -> np.ndarray:
    """Text rendered without antialiasing at 1/factor the size, then scaled back: screenshot pixels."""
    height, width = mask.shape
    small = cv2.resize(mask, (max(1, round(width / factor)), max(1, round(height / factor))), interpolation=cv2.INTER_AREA)
    hard = np.where(small >= min(110, int(small.max()) // 2 + 1), 255, 0).astype(np.uint8)  # thin strokes survive
    return cv2.resize(hard, (width, height), interpolation=cv2.INTER_NEAREST)


@dataclass(frozen=True)
class ThermalPrint(RangedEffect):
    """Cash-register tape: dotted glyphs, print-head streaks, faded bands, broken and speckled strokes."""

    p: float = 0.1
    dot_pitch_range: tuple[float, float] = (0.06, 0.1)  # fraction of the height; 0 disables dots
    streaks_range: tuple[float, float] = (0.0, 0.08)  # share of rows printed faintly
    fade_range: tuple[float, float] = (0.55, 1.0)  # ink left in the faintest band
    dropout_range: tuple[float, float] = (0.0, 0.06)  # share of ink pixels lost

    def __call__(self, mask, rng):
        height = mask.shape[0]
        pitch_share = uniform(rng, self.dot_pitch_range)
        pitch = pitch_share * height
        streaks = uniform(rng, self.streaks_range)
        fade = uniform(rng, self.fade_range)
        dropout = uniform(rng, self.dropout_range)
        dotted = pitch >= 2.0 and rng.random() < 0.5
        out = dot_grid(mask, pitch) if dotted and not already_dotted(mask) else mask
        band = np.linspace(0, np.pi, height) + rng.uniform(0, np.pi)
        factors = fade + (1 - fade) * (0.5 + 0.5 * np.cos(band))
        factors[rng.random(height) < streaks] *= 0.35
        out = fade_rows(out, factors)
        out = drop_pixels(out, rng.random(mask.shape) >= dropout)
        params = {"dot_pitch": round(pitch_share, 4), "streaks": round(streaks, 3), "fade": round(fade, 2), "dropout": round(dropout, 3)}
        return out, params


@dataclass(frozen=True)
class InkBleed(RangedEffect):
    """Ink spreading (bleed, smudge) or starved strokes (thin ink), as a fraction of the text height."""

    p: float = 0.15
    radius_range: tuple[float, float] = (-0.04, 0.035)

    def __call__(self, mask, rng):
        radius = uniform(rng, self.radius_range)
        return thicken(mask, int(round(radius * mask.shape[0]))), {"radius": round(radius, 4)}


@dataclass(frozen=True)
class TonerSpeckle(RangedEffect):
    """Toner dots and broken strokes: some ink pixels dropped, a few stray dots added near the text."""

    p: float = 0.1
    dropout_range: tuple[float, float] = (0.0, 0.08)
    dots_range: tuple[float, float] = (0.0, 0.004)

    def __call__(self, mask, rng):
        dropout, dots = uniform(rng, self.dropout_range), uniform(rng, self.dots_range)
        out = drop_pixels(mask, rng.random(mask.shape) >= dropout)
        stray = rng.random(mask.shape) < dots
        out = np.where(stray, np.maximum(out, 200), out).astype(np.uint8)
        return out, {"dropout": round(dropout, 3), "dots": round(dots, 4)}


@dataclass(frozen=True)
class Bitmap(RangedEffect):
    """Lightly bitmapped text as in screenshots: no antialiasing at a small size, scaled back up."""

    p: float = 0.03
    factor_range: tuple[float, float] = (1.2, 1.6)  # more turns O into D and e into c at small sizes

    def __call__(self, mask, rng):
        factor = uniform(rng, self.factor_range)
        return bitmap(mask, factor), {"factor": round(factor, 2)}
