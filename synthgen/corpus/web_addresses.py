"""Web addresses and e-mail addresses with realistic hosts, paths and query strings."""

from __future__ import annotations

import numpy as np

from synthgen.config import UrlsConfig
from synthgen.corpus.choices import pick
from synthgen.corpus.fakers import SeededFakers

PATH_WORDS = ("receipt", "order", "help", "store", "account", "track", "survey", "menu", "login", "returns", "faq")
QUERY_KEYS = ("id", "ref", "q", "page", "utm_source", "code", "lang")

# Each layout turns (faker, rng) into one address.
LAYOUTS = (
    lambda faker, rng: f"www.{faker.domain_name()}",
    lambda faker, rng: faker.domain_name(),
    lambda faker, rng: f"https://{faker.domain_name()}/{pick(rng, PATH_WORDS)}",
    lambda faker, rng: f"{faker.domain_name()}/{pick(rng, PATH_WORDS)}?{pick(rng, QUERY_KEYS)}={rng.integers(1, 99999)}",
    lambda faker, rng: f"http://www.{faker.domain_name()}",
    lambda faker, rng: faker.email(),
    lambda faker, rng: faker.company_email(),
    lambda faker, rng: faker.free_email(),
)


class WebAddresses:
    """URLs (with and without scheme, www, path and query) and e-mail addresses."""

    def __init__(self, config: UrlsConfig) -> None:
        self.fakers = SeededFakers(("en_US", "en_GB"))

    def sample(self, rng: np.random.Generator) -> str:
        """One address."""
        return pick(rng, LAYOUTS)(self.fakers.for_sample(rng), rng)
