"""Receipt and product-catalog lines: quantities with units, abbreviated product words, brand tokens."""

from __future__ import annotations

import numpy as np

from synthgen.config import UpcConfig
from synthgen.corpus.choices import CORPORA, chance, pick, read_word_list

QUANTITIES = ("1", "2", "3", "4", "5", "6", "8", "10", "12", "16", "18", "24", "32", "36", "48", "64", "100", "500")
DECIMAL_QUANTITIES = ("0.5", "1.5", "2.5", "1.75", "3.5", "0.75")


class UpcLines:
    """Lines like `24QT TISSUE PAPER`, `2% MILK GAL`, `ORG BANANAS LB`, `KF MODELLING CLAY KIDDY FISH`."""

    def __init__(self, config: UpcConfig) -> None:
        folder = CORPORA / "upc"
        self.products = read_word_list(folder / "products.txt")
        self.brands = read_word_list(folder / "brands.txt")
        self.units = read_word_list(folder / "units.txt")
        self.layouts = self.build_layouts()

    def sample(self, rng: np.random.Generator) -> str:
        """One line from a handful of receipt layouts, mostly upper case."""
        line = pick(rng, self.layouts)(rng)
        return line.title() if chance(rng, 0.1) else line

    def build_layouts(self) -> tuple:
        """Each layout turns rng into one line."""
        return (
            lambda rng: f"{self.quantity(rng)} {pick(rng, self.products)}",
            lambda rng: f"{pick(rng, self.brands)} {pick(rng, self.products)}",
            lambda rng: f"{pick(rng, self.brands)} {pick(rng, self.products)} {self.quantity(rng)}",
            lambda rng: f"{pick(rng, self.products)} {pick(rng, self.units)}",
            lambda rng: f"{pick(rng, self.brands)} {pick(rng, self.products)} {pick(rng, self.products)}",
            lambda rng: pick(rng, self.products),
        )

    def quantity(self, rng: np.random.Generator) -> str:
        """A quantity glued to its unit (12OZ, 6PK) or spaced (2.5 LB)."""
        amount = pick(rng, DECIMAL_QUANTITIES) if chance(rng, 0.15) else pick(rng, QUANTITIES)
        separator = " " if chance(rng, 0.25) else ""
        return f"{amount}{separator}{pick(rng, self.units)}"
