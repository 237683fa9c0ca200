"""Small random choices over an explicit numpy Generator, shared by the corpus sources."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TypeVar

import numpy as np

from synthgen.files import read_utf8_text
from synthgen.paths import PROJECT_ROOT

Item = TypeVar("Item")
CORPORA = PROJECT_ROOT / "corpora"


class CorpusInputError(ValueError):
    """A corpus file or folder is missing, empty or unreadable; the message names it."""


def pick(rng: np.random.Generator, items: Sequence[Item]) -> Item:
    """One item, uniformly."""
    return items[int(rng.integers(len(items)))]


def pick_weighted(rng: np.random.Generator, items: Sequence[Item], cumulative: np.ndarray) -> Item:
    """One item with probability proportional to its weight, given the cumulative weights."""
    position = int(cumulative.searchsorted(rng.random() * cumulative[-1], side="right"))
    return items[min(position, len(items) - 1)]


def chance(rng: np.random.Generator, probability: float) -> bool:
    """True with the given probability."""
    return bool(rng.random() < probability)


def digits(rng: np.random.Generator, count: int) -> str:
    """A string of random decimal digits."""
    return "".join(str(digit) for digit in rng.integers(0, 10, size=count))


def letters(rng: np.random.Generator, count: int) -> str:
    """A string of random capital letters."""
    return "".join(chr(65 + int(code)) for code in rng.integers(0, 26, size=count))


def read_word_list(path: Path) -> list[str]:
    """Non-empty, non-comment lines of a UTF-8 vocabulary file."""
    text = read_utf8_text(path, "vocabulary file", CorpusInputError)
    words = [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")]
    if not words:
        raise CorpusInputError(f"vocabulary file {path} holds no entries")
    return words
