"""Backgrounds: procedural textures made once per process into a pool, and the user's images, cropped at random."""

from __future__ import annotations

import bisect
import functools
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

from synthgen.config import BackgroundConfig
from synthgen.errors import ConfigError
from synthgen.paths import resolve_path

TEXTURE_SIZE = 384
POOL_SEED = 7  # the pool is the same in every process, so samples stay pure functions of (seed, index)
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff")


def smooth_noise(rng: np.random.Generator, size: int, scale: float) -> np.ndarray:
    """Band-limited noise in [0, 1]: white noise blurred at `scale` pixels."""
    field = cv2.GaussianBlur(rng.random((size, size)).astype(np.float32), (0, 0), scale)
    return (field - field.min()) / max(float(np.ptp(field)), 1e-6)


def wood(rng: np.random.Generator, size: int) -> np.ndarray:
    """Growth rings bent by noise, in brown tones."""
    rows, columns = np.mgrid[0:size, 0:size].astype(np.float32)
    rings = np.sin((rows * 0.08 + 6 * smooth_noise(rng, size, 12)) * rng.uniform(0.6, 1.4))
    grain = 0.5 + 0.35 * rings + 0.15 * smooth_noise(rng, size, 1.5)
    return tint(grain, low=(60, 90, 130), high=(140, 180, 220))


def marble(rng: np.random.Generator, size: int) -> np.ndarray:
    """Veins: a sine of position disturbed by turbulence, on light stone."""
    rows, columns = np.mgrid[0:size, 0:size].astype(np.float32)
    turbulence = smooth_noise(rng, size, 20) * 4 + smooth_noise(rng, size, 6) * 2
    veins = np.abs(np.sin((columns + rows) * 0.02 + turbulence * 2.5)) ** 0.3
    return tint(veins, low=(150, 150, 155), high=(235, 238, 240))


def paper(rng: np.random.Generator, size: int) -> np.ndarray:
    """Paper fibre: faint streaks and mottling on an off-white."""
    fibres = cv2.GaussianBlur(rng.random((size, size)).astype(np.float32), (0, 0), sigmaX=6, sigmaY=0.7)
    mottle = smooth_noise(rng, size, 25)
    surface = 0.85 + 0.08 * (fibres - fibres.mean()) / max(float(fibres.std()), 1e-6) * 0.3 + 0.1 * mottle
    return tint(np.clip(surface, 0, 1), low=(150, 160, 170), high=(250, 252, 255))


def granite(rng: np.random.Generator, size: int) -> np.ndarray:
    """Speckled stone."""
    speckle = (rng.random((size, size)) ** 6).astype(np.float32)
    base = 0.55 + 0.25 * smooth_noise(rng, size, 3) - 0.5 * speckle
    return tint(np.clip(base, 0, 1), low=(40, 40, 45), high=(210, 205, 200))


def fabric(rng: np.random.Generator, size: int) -> np.ndarray:
    """A woven pattern of crossing threads."""
    rows, columns = np.mgrid[0:size, 0:size].astype(np.float32)
    period = rng.uniform(3, 7)
    weave = 0.5 + 0.25 * np.sin(rows * 2 * np.pi / period) * np.sin(columns * 2 * np.pi / period)
    return tint(np.clip(weave + 0.1 * smooth_noise(rng, size, 2), 0, 1), low=(80, 90, 100), high=(200, 210, 220))


def flat(rng: np.random.Generator, size: int, shade: float = 0.1) -> np.ndarray:
    """One light colour with a trace of noise (most documents), at most `shade` below white."""
    level = 1.0 - shade * rng.random() ** 2  # most plain paper scans near white
    return tint(np.full((size, size), level, np.float32) + 0.01 * smooth_noise(rng, size, 4), (0, 0, 0), (255, 255, 255))


def gradient(rng: np.random.Generator, size: int) -> np.ndarray:
    """A linear gradient between two colours."""
    ramp = np.linspace(0, 1, size, dtype=np.float32)[None, :].repeat(size, axis=0)
    low, high = rng.integers(120, 256, size=3), rng.integers(120, 256, size=3)
    return tint(ramp, tuple(int(v) for v in low), tuple(int(v) for v in high))


def tint(field: np.ndarray, low: tuple[int, int, int], high: tuple[int, int, int]) -> np.ndarray:
    """Map a [0, 1] field onto a colour ramp; (H, W, 3) uint8 in BGR order."""
    low_array, high_array = np.array(low, np.float32), np.array(high, np.float32)
    return np.clip(low_array + field[..., None] * (high_array - low_array), 0, 255).astype(np.uint8)


TEXTURES: dict[str, Callable[[np.random.Generator, int], np.ndarray]] = {
    "flat": flat,
    "paper": paper,
    "gradient": gradient,
    "wood": wood,
    "marble": marble,
    "granite": granite,
    "fabric": fabric,
}


class BackgroundPool:
    """Textures made once, plus user images; `crop` cuts a randomly placed, scaled and flipped piece."""

    def __init__(self, config: BackgroundConfig) -> None:
        rng = np.random.default_rng(POOL_SEED)
        makers = {**TEXTURES, "flat": functools.partial(flat, shade=config.flat_shade)}
        self.kinds: list[str] = []
        self.images: list[np.ndarray] = []
        weights: list[float] = []
        for kind, weight in config.texture_weights.items():
            if kind not in TEXTURES:
                raise ConfigError(f"backgrounds.texture_weights: unknown texture {kind!r}; known: {', '.join(TEXTURES)}")
            for _ in range(config.variants if weight > 0 else 0):
                self.kinds.append(kind)
                self.images.append(makers[kind](rng, TEXTURE_SIZE))
                weights.append(weight / config.variants)
        for path in user_images(resolve_path(config.folder)):
            self.kinds.append(f"image:{path.name}")
            self.images.append(path_image(path))
            weights.append(config.user_image_weight)
        self.cumulative = np.cumsum(weights).tolist()
        self.greys = [cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) for image in self.images]

    def crop(self, height: int, width: int, rng: np.random.Generator, grey: bool = False, texture_scale: float = 1.0) -> tuple[np.ndarray, str]:
        """A (height, width, 3) BGR or (height, width) grey uint8 background, and the name of its source.

        texture_scale > 1 shows more of the texture (finer grain), as when a larger crop is shrunk to this size.
        """
        position = bisect.bisect_right(self.cumulative, rng.random() * self.cumulative[-1])
        source = (self.greys if grey else self.images)[min(position, len(self.images) - 1)]
        scale = rng.uniform(0.5, 1.5) * texture_scale
        piece_height = min(source.shape[0], max(2, round(height * scale)))
        piece_width = min(source.shape[1], max(2, round(width * scale)))
        top = int(rng.integers(0, source.shape[0] - piece_height + 1))
        left = int(rng.integers(0, source.shape[1] - piece_width + 1))
        piece = source[top : top + piece_height, left : left + piece_width]
        if rng.random() < 0.5:
            piece = piece[:, ::-1]
        return cv2.resize(piece, (width, height), interpolation=cv2.INTER_LINEAR), self.kinds[min(position, len(self.kinds) - 1)]


def user_images(folder: Path) -> list[Path]:
    """Image files in the user's background folder."""
    if not folder.is_dir():
        return []
    return sorted(path for path in folder.rglob("*") if path.suffix.lower() in IMAGE_SUFFIXES)


def path_image(path: Path) -> np.ndarray:
    """A user image as (H, W, 3) uint8 BGR, at most 1024 pixels on its long side."""
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise ConfigError(f"background image {path} cannot be read")
    scale = min(1.0, 1024 / max(image.shape[:2]))
    return cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA) if scale < 1 else image
