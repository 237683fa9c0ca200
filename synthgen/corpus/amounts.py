"""Prices and amounts as receipts and invoices print them."""

from __future__ import annotations

import numpy as np

from synthgen.config import PricesConfig
from synthgen.corpus.choices import pick

CURRENCY_PREFIXES = ("$", "$", "$", "£", "€", "RM", "USD ", "EUR ", "S$", "A$", "¥")
WEIGHT_UNITS = ("kg", "lb", "g", "oz", "KG", "LB", "L", "ml")
TAX_FLAGS = ("EA", "ea", "T", "F", "N", "S", "A")


def amount(rng: np.random.Generator) -> float:
    """A price rounded to cents: mostly 0.10 to 500 (log-uniform), sometimes up to 100,000."""
    low, high = (0.1, 500.0) if rng.random() < 0.85 else (500.0, 100000.0)
    return round(float(np.exp(rng.uniform(np.log(low), np.log(high)))), 2)


def english(value: float) -> str:
    """1,234.56"""
    return f"{value:,.2f}"


def continental(value: float) -> str:
    """1.234,56"""
    return f"{value:,.2f}".replace(",", "_").replace(".", ",").replace("_", ".")


# Each layout turns rng into one amount string; plain prices are listed three times as they dominate receipts.
LAYOUTS = (
    lambda rng: f"{amount(rng):.2f}",
    lambda rng: f"${amount(rng):.2f}",
    lambda rng: f"{amount(rng):.2f}",
    lambda rng: f"{pick(rng, CURRENCY_PREFIXES)}{english(amount(rng))}",
    lambda rng: f"-{english(amount(rng))}",
    lambda rng: f"{english(amount(rng))}-",
    lambda rng: f"€{continental(amount(rng))}",
    lambda rng: continental(amount(rng)),
    lambda rng: f"{rng.integers(1, 100) / (10 if rng.random() < 0.5 else 1):g}%",
    lambda rng: f"x{rng.integers(1, 25)}",
    lambda rng: f"{rng.integers(1, 25)} x",
    lambda rng: f"@ {english(amount(rng))}",
    lambda rng: f"{rng.integers(1, 13)} @ {english(amount(rng))}",
    lambda rng: f"{rng.integers(1, 5000) / 100:.2f} {pick(rng, WEIGHT_UNITS)}",
    lambda rng: f"({english(amount(rng))})",
    lambda rng: f"{english(amount(rng))} {pick(rng, TAX_FLAGS)}",
)


class Prices:
    """Amounts: $1,234.56, 12.99, -3.00, RM4.50, €9,99, 1.234,56, 7.5%, x2, @ 3.99, 2.50 kg ..."""

    def __init__(self, config: PricesConfig | None = None) -> None:
        self.config = config

    def sample(self, rng: np.random.Generator) -> str:
        """One amount in one of the layouts."""
        return pick(rng, LAYOUTS)(rng)
