"""Field labels and lone marks that documents print as words of their own: `TOTAL`, `Qty`, `Date:`, `:`, `@`, `1`."""

from __future__ import annotations

import numpy as np

from synthgen.config import FieldsConfig
from synthgen.corpus.choices import CorpusInputError, pick_weighted
from synthgen.files import read_utf8_text
from synthgen.paths import resolve_path


def read_weighted_tokens(path: str) -> tuple[list[str], np.ndarray]:
    """Tokens and their cumulative weights from `weight<TAB>token` lines (# starts a comment line)."""
    tokens, weights = [], []
    for number, line in enumerate(read_utf8_text(resolve_path(path), "vocabulary file", CorpusInputError).splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        weight, tab, token = line.partition("\t")
        try:
            value = float(weight)
        except ValueError:
            value = -1.0
        if not tab or not token or value < 0:
            raise CorpusInputError(f"{path}:{number}: expected weight<TAB>token with a weight >= 0, got {line!r}")
        tokens.append(token)
        weights.append(value)
    if not tokens or sum(weights) <= 0:
        raise CorpusInputError(f"vocabulary file {path} holds no token with a positive weight")
    return tokens, np.cumsum(weights, dtype=np.float64)


class FieldLabels:
    """One token of a weighted vocabulary of field labels, units and lone punctuation."""

    def __init__(self, config: FieldsConfig) -> None:
        if not config.vocabularies:
            raise CorpusInputError("corpus.sources.fields.vocabularies is empty: name at least one weight<TAB>token file")
        tokens, weights = [], []
        for path in config.vocabularies:
            more, cumulative = read_weighted_tokens(path)
            tokens += more
            weights += np.diff(cumulative, prepend=0.0).tolist()
        self.tokens, self.cumulative = tokens, np.cumsum(weights, dtype=np.float64)

    def sample(self, rng: np.random.Generator) -> str:
        """One token, by weight."""
        return pick_weighted(rng, self.tokens, self.cumulative)
