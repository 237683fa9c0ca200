"""Real crops augmented as they are read: a synthgen config's image effects, a pure function of (seed, index)."""

from __future__ import annotations

import numpy as np

from recognizer.config import AugmentSection
from synthgen.config import load_config
from synthgen.effects import IMAGE_EFFECTS, EffectStack, build_stack
from synthgen.errors import ConfigError
from synthgen.seeding import new_stream, reseed

AUGMENT_STREAM = 1  # a third seed word keeps these draws apart from the batch order's (seed, epoch) stream


class Augmentation:
    """Image effects applied to a share of the crops; index counts on across passes, so each pass differs."""

    def __init__(self, stack: EffectStack, rate: float, seed: int) -> None:
        self.stack, self.rate, self.seed = stack, rate, seed
        self.stream = new_stream()

    def __call__(self, image: np.ndarray, index: int) -> np.ndarray:
        """The crop (at model height) with effects drawn for this index, or as it was; the label is never touched."""
        rng = reseed(self.stream, self.seed, index, AUGMENT_STREAM)
        if rng.random() >= self.rate:
            return image
        return self.stack(image, rng)[0]


def augmentation(section: AugmentSection, seed: int) -> Augmentation:
    """The augmentation a dataset entry asks for; a bad synthgen config or override names the entry."""
    try:
        config = load_config(section.config, section.overrides)
    except ConfigError as error:
        raise ConfigError(f"data.datasets augment: {error}") from error
    return Augmentation(build_stack(config.effects.image, IMAGE_EFFECTS), section.rate, seed)
