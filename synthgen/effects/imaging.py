"""Effects on the composited image: paper and light (shadow, crease, illumination), camera and file."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from synthgen.effects.base import RangedEffect, uniform


def scale_light(image: np.ndarray, factors: np.ndarray) -> np.ndarray:
    """Multiply every pixel by a (H, W) light factor map, clipped to uint8."""
    if image.ndim == 3:
        factors = factors[:, :, None]
    return np.clip(image * factors, 0, 255).astype(np.uint8)


def side_of_line(shape: tuple[int, int], angle: float, offset: float) -> np.ndarray:
    """Signed distance in pixels of each pixel from a line through the centre shifted by offset pixels."""
    height, width = shape
    across = (np.arange(width, dtype=np.float32) - width / 2) * np.float32(np.cos(angle))
    down = (np.arange(height, dtype=np.float32) - height / 2) * np.float32(np.sin(angle)) - np.float32(offset)
    return down[:, None] + across[None, :]  # broadcast: two short vectors instead of two full grids


def cast_shadow(image: np.ndarray, angle: float, offset: float, darkness: float, softness: float) -> np.ndarray:
    """Darken one side of a line by `darkness`, with a gradient edge `softness` pixels wide."""
    distance = side_of_line(image.shape[:2], angle, offset)
    shade = 1.0 - darkness * np.clip(0.5 + distance / max(softness, 1e-3), 0.0, 1.0)
    return scale_light(image, shade)


def crease(image: np.ndarray, angle: float, offset: float, strength: float, shift: int) -> np.ndarray:
    """A fold line: a highlight on one side, a shadow on the other, the far side displaced by `shift` pixels."""
    distance = side_of_line(image.shape[:2], angle, offset)
    displaced = np.roll(image, shift, axis=0 if abs(np.sin(angle)) > abs(np.cos(angle)) else 1)
    out = np.where((distance > 0)[..., None] if image.ndim == 3 else distance > 0, displaced, image)
    profile = 1.0 + strength * np.exp(-(((distance + 1.5) / 1.2) ** 2)) - strength * np.exp(-(((distance - 1.5) / 1.2) ** 2))
    return scale_light(out, profile)


def illumination(image: np.ndarray, angle: float, low: float, high: float) -> np.ndarray:
    """Uneven light: a linear ramp from `low` to `high` across the image along `angle`."""
    distance = side_of_line(image.shape[:2], angle, 0.0)
    span = max(float(np.abs(distance).max()), 1.0)
    return scale_light(image, low + (high - low) * (distance / span + 1) / 2)


def motion_kernel(length: int, angle_degrees: float) -> np.ndarray:
    """A normalized line kernel for motion blur."""
    kernel = np.zeros((length, length), np.float32)
    kernel[length // 2, :] = 1.0
    rotation = cv2.getRotationMatrix2D((length / 2 - 0.5, length / 2 - 0.5), angle_degrees, 1.0)
    kernel = cv2.warpAffine(kernel, rotation, (length, length))
    return kernel / max(kernel.sum(), 1e-6)


def disk_kernel(radius: float) -> np.ndarray:
    """A normalized disk kernel for defocus blur."""
    size = int(np.ceil(radius)) * 2 + 1
    rows, columns = np.mgrid[0:size, 0:size] - size // 2
    kernel = (rows**2 + columns**2 <= radius**2).astype(np.float32)
    return kernel / kernel.sum()


def add_noise(image: np.ndarray, noise: np.ndarray) -> np.ndarray:
    """Add a float noise field (same shape) and clip."""
    return np.clip(image.astype(np.float32) + noise, 0, 255).astype(np.uint8)


def jpeg(image: np.ndarray, quality: int) -> np.ndarray:
    """Encode and decode as JPEG at the given quality."""
    _, encoded = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    decoded = cv2.imdecode(encoded, cv2.IMREAD_UNCHANGED)
    return decoded.reshape(image.shape)


def resample(image: np.ndarray, factor: float) -> np.ndarray:
    """Downscale by factor and back up: the softness of a low-resolution scan."""
    height, width = image.shape[:2]
    small = cv2.resize(image, (max(1, round(width / factor)), max(1, round(height / factor))), interpolation=cv2.INTER_AREA)
    return cv2.resize(small, (width, height), interpolation=cv2.INTER_LINEAR).reshape(image.shape)


def capture(image: np.ndarray, source_height: int, quality: int, cubic: bool) -> np.ndarray:
    """A crop as a low-resolution scan delivers it: `source_height` pixels high, JPEG-compressed, upsampled back."""
    height, width = image.shape[:2]
    small_size = (max(1, round(width * source_height / height)), source_height)
    small = jpeg(cv2.resize(image, small_size, interpolation=cv2.INTER_AREA), quality)
    interpolation = cv2.INTER_CUBIC if cubic else cv2.INTER_LINEAR
    return cv2.resize(small, (width, height), interpolation=interpolation).reshape(image.shape)


def tone(image: np.ndarray, contrast: float, brightness: float, gamma: float) -> np.ndarray:
    """Contrast about mid-grey, brightness offset, then gamma, through a lookup table."""
    levels = np.arange(256, dtype=np.float32)
    levels = np.clip((levels - 128) * contrast + 128 + brightness, 0, 255)
    table = np.clip(255 * (levels / 255) ** gamma, 0, 255).astype(np.uint8)
    return cv2.LUT(image, table)


@dataclass(frozen=True)
class Shadow(RangedEffect):
    """A soft cast shadow with a gradient edge across part of the crop."""

    p: float = 0.12
    darkness_range: tuple[float, float] = (0.15, 0.5)
    softness_range: tuple[float, float] = (0.1, 0.8)  # fraction of the height

    def __call__(self, image, rng):
        height, width = image.shape[:2]
        angle = float(rng.uniform(0, 2 * np.pi))
        offset = float(rng.uniform(-0.4, 0.4)) * width
        darkness, softness = uniform(rng, self.darkness_range), uniform(rng, self.softness_range)
        params = {"darkness": round(darkness, 3), "softness": round(softness, 3), "angle": round(angle, 3)}
        return cast_shadow(image, angle, offset, darkness, softness * height), params


@dataclass(frozen=True)
class Crease(RangedEffect):
    """A crease or fold: a line with highlight and shadow and a small displacement across it."""

    p: float = 0.05
    strength_range: tuple[float, float] = (0.05, 0.18)
    shift_range: tuple[float, float] = (0.0, 1.5)  # pixels

    def __call__(self, image, rng):
        height, width = image.shape[:2]
        angle = float(rng.uniform(np.pi / 3, 2 * np.pi / 3))  # folds within 30 degrees of horizontal: never a | in a word
        offset = float(rng.uniform(-0.35, 0.35)) * min(width, 3 * height)
        strength, shift = uniform(rng, self.strength_range), int(round(uniform(rng, self.shift_range)))
        return crease(image, angle, offset, strength, shift), {"strength": round(strength, 2), "shift": shift}


@dataclass(frozen=True)
class Illumination(RangedEffect):
    """Uneven lighting across the crop."""

    p: float = 0.2
    low_range: tuple[float, float] = (0.6, 0.95)
    high_range: tuple[float, float] = (1.0, 1.15)

    def __call__(self, image, rng):
        angle = float(rng.uniform(0, 2 * np.pi))
        low, high = uniform(rng, self.low_range), uniform(rng, self.high_range)
        return illumination(image, angle, low, high), {"low": round(low, 2), "high": round(high, 2)}


@dataclass(frozen=True)
class GaussianBlur(RangedEffect):
    """Out-of-focus softness."""

    p: float = 0.25
    sigma_range: tuple[float, float] = (0.3, 1.1)  # pixels at model height

    def __call__(self, image, rng):
        sigma = uniform(rng, self.sigma_range)
        return cv2.GaussianBlur(image, (0, 0), sigma).reshape(image.shape), {"sigma": round(sigma, 2)}


@dataclass(frozen=True)
class MotionBlur(RangedEffect):
    """Camera shake along a direction."""

    p: float = 0.08
    length_range: tuple[float, float] = (2.0, 4.0)  # pixels at model height

    def __call__(self, image, rng):
        length = max(2, int(round(uniform(rng, self.length_range))))
        angle = float(rng.uniform(0, 180))
        out = cv2.filter2D(image, -1, motion_kernel(length, angle), borderType=cv2.BORDER_REFLECT)
        return out.reshape(image.shape), {"length": length, "angle": round(angle, 1)}


@dataclass(frozen=True)
class DefocusBlur(RangedEffect):
    """A lens out of focus: a disk kernel."""

    p: float = 0.05
    radius_range: tuple[float, float] = (0.8, 1.6)

    def __call__(self, image, rng):
        radius = uniform(rng, self.radius_range)
        out = cv2.filter2D(image, -1, disk_kernel(radius), borderType=cv2.BORDER_REFLECT)
        return out.reshape(image.shape), {"radius": round(radius, 2)}


@dataclass(frozen=True)
class Noise(RangedEffect):
    """Sensor and scanner noise."""

    p: float = 0.2
    sigma_range: tuple[float, float] = (1.0, 8.0)  # grey levels

    def __call__(self, image, rng):
        sigma = uniform(rng, self.sigma_range)
        noise = rng.standard_normal(size=image.shape, dtype=np.float32) * np.float32(sigma)
        return add_noise(image, noise), {"sigma": round(sigma, 2)}


@dataclass(frozen=True)
class JpegCompression(RangedEffect):
    """JPEG artefacts of photos and scans."""

    p: float = 0.25
    quality_range: tuple[float, float] = (25.0, 90.0)

    def __call__(self, image, rng):
        quality = int(round(uniform(rng, self.quality_range)))
        return jpeg(image, quality), {"quality": quality}


@dataclass(frozen=True)
class Resample(RangedEffect):
    """Down-and-up resampling: low-resolution scans and screenshots scaled in a viewer."""

    p: float = 0.15
    factor_range: tuple[float, float] = (1.2, 2.0)

    def __call__(self, image, rng):
        factor = uniform(rng, self.factor_range)
        return resample(image, factor), {"factor": round(factor, 2)}


@dataclass(frozen=True)
class Tone(RangedEffect):
    """Contrast, brightness and gamma changes of exposure and scanning."""

    p: float = 0.2
    contrast_range: tuple[float, float] = (0.8, 1.25)
    brightness_range: tuple[float, float] = (-25.0, 25.0)
    gamma_range: tuple[float, float] = (0.7, 1.4)

    def __call__(self, image, rng):
        contrast, brightness, gamma = (uniform(rng, r) for r in (self.contrast_range, self.brightness_range, self.gamma_range))
        params = {"contrast": round(contrast, 2), "brightness": round(brightness, 1), "gamma": round(gamma, 2)}
        return tone(image, contrast, brightness, gamma), params


@dataclass(frozen=True)
class Capture(RangedEffect):
    """Small text as scanners and cameras deliver it: a crop 8-24 px high, JPEG at scan qualities, upsampled to the model."""

    p: float = 0.3
    source_height_range: tuple[float, float] = (12.0, 24.0)  # pixels of the crop before the recognizer resizes it
    quality_range: tuple[float, float] = (40.0, 95.0)

    def __call__(self, image, rng):
        source_height = int(round(uniform(rng, self.source_height_range)))
        quality, cubic = int(round(uniform(rng, self.quality_range))), bool(rng.random() < 0.5)
        if source_height >= image.shape[0]:
            return image, {"source_height": image.shape[0]}
        params = {"source_height": source_height, "quality": quality, "interpolation": "cubic" if cubic else "linear"}
        return capture(image, source_height, quality, cubic), params
