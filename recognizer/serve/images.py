"""Uploaded images to RGB pixels, safely: size limits checked from the header before any pixel is decoded."""

from __future__ import annotations

import io
import warnings

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from recognizer.serve.config import Limits
from recognizer.serve.errors import RequestError

MIN_SIDE = 4  # pixels: smaller crops hold nothing a recognizer can read


def decode_upload(data: bytes, limits: Limits, name: str = "image") -> np.ndarray:
    """PNG, JPEG, WebP, BMP, TIFF or GIF bytes as (H, W, 3) RGB uint8: EXIF orientation applied, transparency on white."""
    if not data:
        raise RequestError(400, "empty_image", f"{name} is empty")
    if len(data) > limits.image_bytes:
        raise RequestError(413, "image_too_large", f"{name} is {len(data)} bytes; the limit is {limits.image_bytes}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))  # reads the header only
            width, height = image.size
            check_size(width, height, limits, name)
            image = ImageOps.exif_transpose(image)  # decodes the pixels, only now that their count is known
            return as_rgb(image)
    except RequestError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):  # Pillow's own guard, before ours
        raise RequestError(413, "too_many_pixels", f"{name} declares more pixels than the limit of {limits.pixels}") from None
    except UnidentifiedImageError:
        raise RequestError(415, "not_an_image", f"{name} is not an image this service reads (PNG, JPEG, WebP, BMP, TIFF, GIF)") from None
    except (OSError, ValueError, SyntaxError) as error:  # truncated or corrupt pixel data
        raise RequestError(400, "corrupt_image", f"{name} cannot be decoded: {str(error)[:120]}") from None


def check_size(width: int, height: int, limits: Limits, name: str) -> None:
    """Refuse images too small to read or too large to decode safely (decompression bombs)."""
    if min(width, height) < MIN_SIDE:
        raise RequestError(400, "image_too_small", f"{name} is {width}x{height}; crops need at least {MIN_SIDE} pixels a side")
    if max(width, height) > limits.side or width * height > limits.pixels:
        raise RequestError(413, "too_many_pixels", f"{name} is {width}x{height}; the limits are {limits.side} pixels a "
                                                   f"side and {limits.pixels} pixels in all")


def as_rgb(image: Image.Image) -> np.ndarray:
    """Any mode (grey, palette, RGBA, 16-bit, CMYK) as RGB; transparent parts become white paper."""
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        paper = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(paper, rgba)
    elif image.mode in ("I", "I;16", "I;16B", "F"):
        pixels = np.asarray(image, dtype=np.float64)
        low, high = float(pixels.min()), float(pixels.max())
        image = Image.fromarray(((pixels - low) / max(high - low, 1e-9) * 255).astype(np.uint8))
    return np.asarray(image.convert("RGB"))
