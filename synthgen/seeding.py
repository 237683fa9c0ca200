"""Per-sample random generators: a sample is a pure function of (seed, index)."""

from __future__ import annotations

import numpy as np

STAGES = ("text", "font", "background", "text_effects", "image_effects")


def sample_rng(seed: int, index: int) -> np.random.Generator:
    """The root generator of sample `index` under run `seed`."""
    return np.random.default_rng([seed, index])


def stage_rngs(seed: int, index: int) -> dict[str, np.random.Generator]:
    """One independent child generator per stage, so switching one stage off never shifts another's draws."""
    return dict(zip(STAGES, sample_rng(seed, index).spawn(len(STAGES))))
