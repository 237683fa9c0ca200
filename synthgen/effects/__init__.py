"""The distortion stack: effects grouped by where they act, each listed once in a name-to-class table."""

from __future__ import annotations

from dataclasses import field, make_dataclass

import cv2
import numpy as np

from synthgen.effects.base import AppliedEffect, EffectStack
from synthgen.effects.decoration import StrikeThrough, TableRules, Underline
from synthgen.effects.geometry import ArcWarp, ElasticWarp, Perspective, Rotation, Shear, SineWarp
from synthgen.effects.imaging import (
    Capture,
    Crease,
    DefocusBlur,
    GaussianBlur,
    Illumination,
    JpegCompression,
    MotionBlur,
    Noise,
    Resample,
    Shadow,
    Tone,
)
from synthgen.effects.printing import Bitmap, InkBleed, ThermalPrint, TonerSpeckle

# On the text layer (a coverage mask), in this order: decoration, print, then geometry so lines bend with the text.
TEXT_EFFECTS = {
    "underline": Underline,
    "strike_through": StrikeThrough,
    "table_rules": TableRules,
    "thermal_print": ThermalPrint,
    "ink_bleed": InkBleed,
    "toner_speckle": TonerSpeckle,
    "bitmap": Bitmap,
    "shear": Shear,
    "rotation": Rotation,
    "perspective": Perspective,
    "sine_warp": SineWarp,
    "arc_warp": ArcWarp,
    "elastic_warp": ElasticWarp,
}
# On the composited image at model height, in this order: paper and light, then camera and file.
IMAGE_EFFECTS = {
    "shadow": Shadow,
    "crease": Crease,
    "illumination": Illumination,
    "gaussian_blur": GaussianBlur,
    "motion_blur": MotionBlur,
    "defocus_blur": DefocusBlur,
    "resample": Resample,
    "noise": Noise,
    "jpeg": JpegCompression,
    "tone": Tone,
    "capture": Capture,  # last: the crop as the scanner and detector deliver it to the recognizer
}


def effects_config_class(name: str, table: dict[str, type]) -> type:
    """A frozen config dataclass with one field per effect, defaulting to the effect's own defaults."""
    return make_dataclass(
        name, [(key, cls, field(default_factory=cls)) for key, cls in table.items()], frozen=True,
        namespace={"__doc__": f"Every effect of {name}: its probability p and parameter ranges.",
                   "__module__": __name__},  # so pickle finds the class (configs travel to worker processes)
    )


TextEffectsConfig = effects_config_class("TextEffectsConfig", TEXT_EFFECTS)
ImageEffectsConfig = effects_config_class("ImageEffectsConfig", IMAGE_EFFECTS)


INK_KEPT_MIN = 0.4  # a text effect leaving less of the ink than this is undone: it would hide characters


def keeps_ink(before, after) -> bool:
    """Whether a text-layer effect left enough ink for every character to stay legible."""
    return ink_total(after) >= INK_KEPT_MIN * ink_total(before)


def ink_total(mask) -> float:
    """The sum of a coverage mask (exact: OpenCV sums uint8 in integers, several times faster than numpy)."""
    return cv2.sumElems(mask)[0] if mask.dtype == np.uint8 and mask.ndim == 2 else float(mask.sum(dtype="float64"))


def build_stack(section, table: dict[str, type]) -> EffectStack:
    """The stack of every effect in the table, configured from its config section; text effects are guarded."""
    return EffectStack([(name, getattr(section, name)) for name in table], keeps=keeps_ink if table is TEXT_EFFECTS else None)


__all__ = ["AppliedEffect", "EffectStack", "TEXT_EFFECTS", "IMAGE_EFFECTS", "TextEffectsConfig", "ImageEffectsConfig", "build_stack"]
