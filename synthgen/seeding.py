"""Per-sample random generators: a sample is a pure function of (seed, index)."""

from __future__ import annotations

import numpy as np

STAGES = ("text", "font", "background", "text_effects", "image_effects")


def stage_rngs(seed: int, index: int) -> dict[str, np.random.Generator]:
    """One independent generator per stage, so switching one stage off never shifts another's draws.

    Seeded by (seed, index, stage number): the same independence as spawning children of one
    per-sample generator, at a lower cost per sample.
    """
    return {stage: np.random.default_rng([seed, index, number]) for number, stage in enumerate(STAGES)}
