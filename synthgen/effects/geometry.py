"""Geometry of the text layer: rotation, shear, perspective, sinusoidal and curved baselines."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from synthgen.effects.base import RangedEffect, uniform


def warp_affine_expanding(mask: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """Apply a 2x3 affine map, growing the canvas so no ink leaves it."""
    height, width = mask.shape[:2]
    corners = np.array([[0, 0, 1], [width, 0, 1], [0, height, 1], [width, height, 1]], dtype=np.float64)
    moved = corners @ matrix.T
    low, high = moved.min(axis=0), moved.max(axis=0)
    shifted = matrix.copy()
    shifted[:, 2] -= low
    size = (int(np.ceil(high[0] - low[0])), int(np.ceil(high[1] - low[1])))
    return cv2.warpAffine(mask, shifted, size, flags=cv2.INTER_LINEAR, borderValue=0)


def rotate(mask: np.ndarray, degrees: float) -> np.ndarray:
    """Rotate about the centre by degrees (counter-clockwise), canvas grown to fit."""
    height, width = mask.shape[:2]
    matrix = cv2.getRotationMatrix2D((width / 2, height / 2), degrees, 1.0)
    return warp_affine_expanding(mask, matrix)


def shear(mask: np.ndarray, factor: float) -> np.ndarray:
    """Slant: x moves by factor times the height above the bottom (positive leans right, like italics)."""
    height = mask.shape[0]
    matrix = np.array([[1.0, -factor, factor * height], [0.0, 1.0, 0.0]])
    return warp_affine_expanding(mask, matrix)


def perspective(mask: np.ndarray, corner_shifts: np.ndarray) -> np.ndarray:
    """Move the four corners by (4, 2) shifts given as fractions of the height, canvas grown to fit."""
    height, width = mask.shape[:2]
    source = np.float32([[0, 0], [width, 0], [width, height], [0, height]])
    target = source + corner_shifts.astype(np.float32) * height
    target -= target.min(axis=0)
    size = (int(np.ceil(target[:, 0].max())), int(np.ceil(target[:, 1].max())))
    matrix = cv2.getPerspectiveTransform(source, target)
    return cv2.warpPerspective(mask, matrix, size, flags=cv2.INTER_LINEAR, borderValue=0)


def displace_columns(mask: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Shift each column down by its offset in pixels (fractional, interpolated), canvas grown to fit."""
    pad = int(np.ceil(np.abs(offsets).max())) + 1
    padded = cv2.copyMakeBorder(mask, pad, pad, 0, 0, cv2.BORDER_CONSTANT, value=0)
    height, width = padded.shape[:2]
    map_x = np.tile(np.arange(width, dtype=np.float32), (height, 1))
    map_y = np.arange(height, dtype=np.float32)[:, None] - offsets.astype(np.float32)[None, :]
    return cv2.remap(padded, map_x, map_y, cv2.INTER_LINEAR, borderValue=0)


def sine_warp(mask: np.ndarray, amplitude: float, wavelength: float, phase: float) -> np.ndarray:
    """A wavy baseline: columns shifted by amplitude * sin(2 pi x / wavelength + phase), in pixels."""
    columns = np.arange(mask.shape[1], dtype=np.float64)
    return displace_columns(mask, amplitude * np.sin(2 * np.pi * columns / wavelength + phase))


def arc_warp(mask: np.ndarray, sag: float) -> np.ndarray:
    """A curved baseline: the middle sags by `sag` pixels relative to the ends (negative bulges up)."""
    width = mask.shape[1]
    position = (np.arange(width, dtype=np.float64) - width / 2) / max(width / 2, 1)
    return displace_columns(mask, sag * (1 - position**2))


@dataclass(frozen=True)
class Rotation(RangedEffect):
    """Small rotation of the word."""

    p: float = 0.3
    degrees_range: tuple[float, float] = (-3.0, 3.0)

    def __call__(self, mask, rng):
        degrees = uniform(rng, self.degrees_range)
        return rotate(mask, degrees), {"degrees": round(degrees, 3)}


@dataclass(frozen=True)
class Shear(RangedEffect):
    """Italic-like slant."""

    p: float = 0.15
    factor_range: tuple[float, float] = (-0.15, 0.3)

    def __call__(self, mask, rng):
        factor = uniform(rng, self.factor_range)
        return shear(mask, factor), {"factor": round(factor, 3)}


@dataclass(frozen=True)
class Perspective(RangedEffect):
    """A slightly oblique camera: each corner moves by up to `strength` of the height."""

    p: float = 0.15
    strength_range: tuple[float, float] = (0.02, 0.12)

    def __call__(self, mask, rng):
        strength = uniform(rng, self.strength_range)
        shifts = rng.uniform(-strength, strength, size=(4, 2))
        return perspective(mask, shifts), {"strength": round(strength, 3)}


@dataclass(frozen=True)
class SineWarp(RangedEffect):
    """Wavy paper: a sinusoidal baseline."""

    p: float = 0.1
    amplitude_range: tuple[float, float] = (0.02, 0.08)  # fraction of the height
    wavelength_range: tuple[float, float] = (2.0, 6.0)  # multiples of the height

    def __call__(self, mask, rng):
        height = mask.shape[0]
        amplitude, wavelength = uniform(rng, self.amplitude_range), uniform(rng, self.wavelength_range)
        phase = float(rng.uniform(0, 2 * np.pi))
        params = {"amplitude": round(amplitude, 4), "wavelength": round(wavelength, 3), "phase": round(phase, 3)}
        return sine_warp(mask, amplitude * height, wavelength * height, phase), params


@dataclass(frozen=True)
class ArcWarp(RangedEffect):
    """A curved baseline, as on a bent receipt or a bottle label."""

    p: float = 0.1
    sag_range: tuple[float, float] = (-0.15, 0.15)  # fraction of the height

    def __call__(self, mask, rng):
        sag = uniform(rng, self.sag_range)
        return arc_warp(mask, sag * mask.shape[0]), {"sag": round(sag, 4)}


def elastic_warp(mask: np.ndarray, displacement: np.ndarray) -> np.ndarray:
    """Move every pixel by a smooth displacement field ((H, W, 2) float32: dx, dy in pixels)."""
    height, width = mask.shape
    displacement = displacement.copy()
    displacement[..., 0] += np.arange(width, dtype=np.float32)[None, :]
    displacement[..., 1] += np.arange(height, dtype=np.float32)[:, None]
    return cv2.remap(mask, displacement, None, cv2.INTER_LINEAR, borderValue=0)


def smooth_field(rng: np.random.Generator, shape: tuple[int, int], smoothness: float, amplitude: float) -> np.ndarray:
    """Smooth random 2-D displacements, (H, W, 2) float32, correlated over about `smoothness` pixels, at most `amplitude`.

    Noise is drawn on a grid of cells half the smoothness wide, blurred there and scaled up: the same kind of
    field as blurring full-resolution noise, at a small fraction of the cost.
    """
    cell = max(1.0, smoothness / 2)
    coarse = (int(np.ceil(shape[0] / cell)) + 1, int(np.ceil(shape[1] / cell)) + 1, 2)
    field = cv2.GaussianBlur(rng.uniform(-1, 1, size=coarse).astype(np.float32), (0, 0), 1.0)
    field = cv2.resize(field, (shape[1], shape[0]), interpolation=cv2.INTER_CUBIC)
    peak = float(np.abs(field).max())
    return field * np.float32(amplitude / peak) if peak > 0 else field


@dataclass(frozen=True)
class ElasticWarp(RangedEffect):
    """Wobbly, hand-fed or crumpled paper: a smooth random displacement of the strokes."""

    p: float = 0.08
    amplitude_range: tuple[float, float] = (0.01, 0.04)  # largest displacement, fraction of the height
    smoothness_range: tuple[float, float] = (0.15, 0.4)  # blur of the field, fraction of the height

    def __call__(self, mask, rng):
        height = mask.shape[0]
        amplitude, smoothness = uniform(rng, self.amplitude_range), uniform(rng, self.smoothness_range)
        field = smooth_field(rng, mask.shape, smoothness * height, amplitude * height)
        return elastic_warp(mask, field), {"amplitude": round(amplitude, 4), "smoothness": round(smoothness, 3)}
