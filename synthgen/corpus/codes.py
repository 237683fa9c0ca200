"""Identifiers printed on documents: phones, invoice and receipt numbers, SKUs, tax IDs, card tails, postcodes."""

from __future__ import annotations

import numpy as np

from synthgen.config import CodesConfig
from synthgen.corpus.choices import chance, digits, letters, pick

UK_POSTCODE_AREAS = ("SW", "EC", "W", "N", "E", "SE", "NW", "M", "B", "L", "G", "EH", "CF", "BS", "LS")
CARD_NETWORKS = ("VISA", "MC", "AMEX", "DEBIT")

# Each kind of identifier is a table of layouts; a layout turns rng into one string.
PHONES = (
    lambda rng: f"({digits(rng, 3)}) {digits(rng, 3)}-{digits(rng, 4)}",
    lambda rng: f"{digits(rng, 3)}-{digits(rng, 3)}-{digits(rng, 4)}",
    lambda rng: f"+1 {digits(rng, 3)} {digits(rng, 3)} {digits(rng, 4)}",
    lambda rng: f"+44 20 {digits(rng, 4)} {digits(rng, 4)}",
    lambda rng: f"0{rng.integers(3, 10)}-{digits(rng, 4)} {digits(rng, 4)}",
    lambda rng: f"TEL: {digits(rng, 3)}-{digits(rng, 7)}",
)
DOCUMENT_NUMBERS = (
    lambda rng: f"{pick(rng, 'RTS')}{digits(rng, 9)}",
    lambda rng: f"INV-{rng.integers(2015, 2031)}-{digits(rng, 5)}",
    lambda rng: f"#{digits(rng, int(rng.integers(4, 8)))}",
    lambda rng: f"No. {digits(rng, 6)}",
    lambda rng: f"{letters(rng, 2)}{digits(rng, 8)}",
)
SKUS = (
    lambda rng: f"SKU {digits(rng, 5)}-{letters(rng, 2)}",
    lambda rng: f"{letters(rng, 3)}-{digits(rng, 4)}",
    lambda rng: digits(rng, int(rng.integers(6, 11))),
)
TAX_IDS = (
    lambda rng: f"GST ID: {digits(rng, 12)}",
    lambda rng: f"VAT GB{digits(rng, 9)}",
    lambda rng: f"TIN {digits(rng, 2)}-{digits(rng, 7)}",
    lambda rng: f"ABN {digits(rng, 2)} {digits(rng, 3)} {digits(rng, 3)} {digits(rng, 3)}",
)
CARD_TAILS = (
    lambda rng: f"****{digits(rng, 4)}",
    lambda rng: f"XXXX XXXX XXXX {digits(rng, 4)}",
    lambda rng: f"{pick(rng, CARD_NETWORKS)} ****{digits(rng, 4)}",
    lambda rng: f"************{digits(rng, 4)}",
)
POSTCODES = (
    lambda rng: digits(rng, 5),
    lambda rng: f"{digits(rng, 5)}-{digits(rng, 4)}",
    lambda rng: f"{pick(rng, UK_POSTCODE_AREAS)}{rng.integers(1, 20)} {rng.integers(1, 10)}{letters(rng, 2)}",
    lambda rng: f"{letters(rng, 1)}{digits(rng, 1)}{letters(rng, 1)} {digits(rng, 1)}{letters(rng, 1)}{digits(rng, 1)}",
    lambda rng: digits(rng, 4),
)


def barcode(rng: np.random.Generator) -> str:
    """EAN-13 with a valid check digit (the digits printed under a barcode), sometimes grouped 1-6-6."""
    body = digits(rng, 12)
    total = sum(int(digit) * (3 if position % 2 else 1) for position, digit in enumerate(body))
    code = body + str((10 - total % 10) % 10)
    return " ".join((code[0], code[1:7], code[7:])) if chance(rng, 0.3) else code


KINDS = (PHONES, DOCUMENT_NUMBERS, SKUS, TAX_IDS, CARD_TAILS, POSTCODES, (barcode,))


class Codes:
    """Identifiers in the layouts receipts and invoices use."""

    def __init__(self, config: CodesConfig | None = None) -> None:
        self.config = config

    def sample(self, rng: np.random.Generator) -> str:
        """One identifier: a kind, then one of its layouts."""
        return pick(rng, pick(rng, KINDS))(rng)
