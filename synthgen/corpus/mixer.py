"""The corpus mixer: draws a source by weight, normalizes its text, and keeps only what the charset allows."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, fields

import numpy as np

from synthgen.charset import Charset
from synthgen.config import CorpusConfig
from synthgen.corpus.amounts import Prices
from synthgen.corpus.balancer import CharacterBalancer
from synthgen.corpus.books import WordFrequencyBooks, build_books, english_words
from synthgen.corpus.choices import pick, pick_weighted
from synthgen.corpus.codes import Codes
from synthgen.corpus.dates import DateStrings
from synthgen.corpus.entities import Entities
from synthgen.corpus.fields import FieldLabels
from synthgen.corpus.receipt_lines import UpcLines
from synthgen.corpus.web_addresses import WebAddresses
from synthgen.text_normalization import normalize_text

# The one name-to-class table: a source is built from its own config section (and max_words for books).
SOURCE_CLASSES = {
    "books": build_books,
    "upc": UpcLines,
    "dates": DateStrings,
    "prices": Prices,
    "urls": WebAddresses,
    "codes": Codes,
    "entities": Entities,
    "fields": FieldLabels,
}
SHAPES = ("phrase", "word", "line")
LINE_SOURCE = "lines"
BALANCE_SOURCE = "balance"
BALANCE_VOCABULARY = 20000  # words the balancer picks letters from when books is off or reads a folder


class CorpusExhaustedError(RuntimeError):
    """Every attempt at drawing a usable string was rejected; carries the counts of the reasons."""

    def __init__(self, attempts: int, reasons: Counter) -> None:
        super().__init__(f"no usable string after {attempts} attempts; rejections: {dict(reasons)}")
        self.reasons = reasons


@dataclass(frozen=True)
class TextSample:
    """A label and the source it came from."""

    text: str
    source: str


@dataclass
class Rejections:
    """Counts of rejected strings: by source and reason, and by character outside the charset."""

    by_source: dict[str, Counter]
    by_character: Counter

    @classmethod
    def empty(cls) -> "Rejections":
        return cls(defaultdict(Counter), Counter())

    def total(self) -> int:
        """All rejections counted so far."""
        return sum(sum(counter.values()) for counter in self.by_source.values())


class CorpusMixer:
    """Draws labels from weighted sources; out-of-charset, empty or too long strings are rejected and counted."""

    def __init__(self, config: CorpusConfig, charset: Charset) -> None:
        self.config = config
        self.charset = charset
        self.allowed = frozenset(charset.characters)
        self.sources = {}
        weights = []
        for item in fields(config.sources):
            section = getattr(config.sources, item.name)
            if section.weight > 0:
                self.sources[item.name] = build_source(item.name, section, config.max_words)
                weights.append(section.weight)
        if not self.sources:
            raise ValueError("every corpus source has weight 0: give at least one a positive weight")
        self.names = tuple(self.sources)
        self.cumulative = np.cumsum(weights, dtype=np.float64)
        self.shapes = np.cumsum([getattr(config.shape, shape) for shape in SHAPES], dtype=np.float64)
        self.rejections = Rejections.empty()
        self.balancer = self.build_balancer() if config.balance.enabled else None

    def build_balancer(self) -> CharacterBalancer | None:
        """A balancer calibrated on this mix, or None when nothing falls under the minimum share."""
        books = self.sources.get("books")
        words = books.words if isinstance(books, WordFrequencyBooks) else english_words(BALANCE_VOCABULARY)[0]
        balancer = CharacterBalancer(self.charset, words, self.config.balance.min_share, self.config.max_chars)
        balancer.calibrate(lambda rng: self.draw_base(rng).text, self.config.balance.calibration_samples)
        self.rejections = Rejections.empty()  # calibration draws are not part of anyone's sample
        return balancer if balancer.rate > 0 else None

    def sample(self, rng: np.random.Generator) -> TextSample:
        """One label shaped as a crop holds it (phrase, one token, or a line), maybe printed in capitals."""
        shape = pick_weighted(rng, SHAPES, self.shapes)
        if shape == "line":
            drawn = self.line(rng)
        else:
            drawn = self.draw_phrase(rng)
            if shape == "word":
                drawn = TextSample(pick(rng, drawn.text.split(" ")), drawn.source)
        if rng.random() < self.config.upper_rate:
            drawn = self.capitals(drawn)
        return drawn

    def draw_phrase(self, rng: np.random.Generator) -> TextSample:
        """A balancing string at the calibrated rate, else a string from a weighted source."""
        if self.balancer is not None and rng.random() < self.balancer.rate:
            return self.accept_or_retry(BALANCE_SOURCE, self.balancer.sample, rng)
        return self.draw_base(rng)

    def line(self, rng: np.random.Generator) -> TextSample:
        """Phrases joined by spaces up to a drawn length, as text lines run (never longer than line_chars allows)."""
        low, high = self.config.shape.line_chars
        target = int(rng.integers(low, high + 1))
        text = self.draw_phrase(rng).text
        while len(text) < target:
            extra = self.draw_phrase(rng).text
            if len(text) + 1 + len(extra) > high:
                break
            text = f"{text} {extra}"
        return TextSample(text[:high].rstrip(), LINE_SOURCE)

    def capitals(self, drawn: TextSample) -> TextSample:
        """The label in capitals when every capital is in the charset (else as drawn: labels are never altered)."""
        upper = drawn.text.upper()
        return TextSample(upper, drawn.source) if set(upper) <= self.allowed and len(upper) == len(drawn.text) else drawn

    def draw_base(self, rng: np.random.Generator) -> TextSample:
        """A string from a source drawn by weight."""
        name = pick_weighted(rng, self.names, self.cumulative)
        return self.accept_or_retry(name, self.sources[name].sample, rng)

    def accept_or_retry(self, name: str, draw, rng: np.random.Generator) -> TextSample:
        """Draw from one source until a string passes, at most max_attempts times."""
        reasons: Counter = Counter()
        for _ in range(self.config.max_attempts):
            text = normalize_text(draw(rng))
            reason = self.rejection_reason(name, text)
            if reason is None:
                return TextSample(text, name)
            reasons[reason] += 1
        raise CorpusExhaustedError(self.config.max_attempts, reasons)

    def rejection_reason(self, name: str, text: str) -> str | None:
        """Why a normalized string cannot be a label (counted), or None when it can."""
        outside = set(text) - self.allowed
        if outside:
            self.rejections.by_character.update(outside)
            reason = "outside_charset"
        elif not text:
            reason = "empty"
        elif len(text) > self.config.max_chars:
            reason = "too_long"
        else:
            return None
        self.rejections.by_source[name][reason] += 1
        return reason


def build_source(name: str, section, max_words: int):
    """Build one source from its config section."""
    if name == "books":
        return SOURCE_CLASSES[name](section, max_words)
    return SOURCE_CLASSES[name](section)
