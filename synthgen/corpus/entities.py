"""Names of people and companies, street addresses and cities from several English-speaking locales."""

from __future__ import annotations

import numpy as np

from synthgen.config import EntitiesConfig
from synthgen.corpus.choices import pick
from synthgen.corpus.fakers import SeededFakers

# Each kind turns a seeded Faker into one entity string.
KINDS = (
    lambda faker: faker.name(),
    lambda faker: f"{faker.first_name()} {faker.last_name()}".upper(),
    lambda faker: faker.company(),
    lambda faker: faker.company().upper(),
    lambda faker: faker.street_address(),
    lambda faker: faker.city(),
    lambda faker: faker.last_name(),
)


class Entities:
    """Person names, company names, street addresses, cities."""

    def __init__(self, config: EntitiesConfig) -> None:
        self.fakers = SeededFakers(config.locales)

    def sample(self, rng: np.random.Generator) -> str:
        """One entity of a random kind."""
        kind = pick(rng, KINDS)
        return kind(self.fakers.for_sample(rng))
