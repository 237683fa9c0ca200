"""Faker instances driven by our Generator: each call reseeds the instance from the sample's rng."""

from __future__ import annotations

import numpy as np
from faker import Faker


class SeededFakers:
    """One Faker per locale; `for_sample` picks a locale and seeds it from rng, so output depends on rng only."""

    def __init__(self, locales: tuple[str, ...]) -> None:
        self.fakers = [Faker(locale) for locale in locales]

    def for_sample(self, rng: np.random.Generator) -> Faker:
        """A Faker seeded from rng (never from global random state)."""
        faker = self.fakers[int(rng.integers(len(self.fakers)))]
        faker.seed_instance(int(rng.integers(2**63)))
        return faker
