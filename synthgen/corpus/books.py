"""Words and short phrases of prose: English word frequencies, or a folder of the user's own books."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from synthgen.config import BooksConfig
from synthgen.corpus.choices import CorpusInputError, chance, pick_weighted
from synthgen.files import read_utf8_text
from synthgen.paths import resolve_path

WORD = re.compile(r"[a-z]+(?:'[a-z]+)?")
GUTENBERG_START = re.compile(r"^\*{3}\s*START OF (?:THE|THIS) PROJECT GUTENBERG.*$", re.IGNORECASE | re.MULTILINE)
GUTENBERG_END = re.compile(r"^\*{3}\s*END OF (?:THE|THIS) PROJECT GUTENBERG.*$", re.IGNORECASE | re.MULTILINE)
# (prefix, suffix, weight): punctuation attached to a word at prose-like relative rates.
PUNCTUATION = (
    ("", ",", 30), ("", ".", 28), ("", ":", 4), ("", ";", 3), ("", "?", 4), ("", "!", 3),
    ('"', '"', 6), ('"', "", 3), ("", '"', 3), ("(", ")", 5), ("(", "", 2), ("", ")", 2),
    ("", "'s", 5), ("'", "'", 1), ("", "...", 1),
)
PUNCTUATION_CUMULATIVE = np.cumsum([weight for _, _, weight in PUNCTUATION], dtype=np.float64)


def phrase_length(rng: np.random.Generator, max_words: int) -> int:
    """1 to max_words words, each extra word half as likely as the one before."""
    length = 1
    while length < max_words and chance(rng, 0.5):
        length += 1
    return length


class WordFrequencyBooks:
    """Phrases of English words drawn by frequency (flattened by a temperature), cased and punctuated."""

    def __init__(self, config: BooksConfig, max_words: int) -> None:
        self.words, frequencies = english_words(config.vocabulary_size)
        self.cumulative = np.cumsum(frequencies ** (1.0 / config.temperature))
        self.config = config
        self.max_words = max_words

    def sample(self, rng: np.random.Generator) -> str:
        """One phrase of 1 to max_words words."""
        words = [self.word(rng) for _ in range(phrase_length(rng, self.max_words))]
        return apply_casing(" ".join(words), self.config, rng)

    def word(self, rng: np.random.Generator) -> str:
        """One word, sometimes hyphenated with another, sometimes with attached punctuation."""
        word = capitalize_pronoun(pick_weighted(rng, self.words, self.cumulative))
        if chance(rng, self.config.hyphenation_rate):
            word = f"{word}-{capitalize_pronoun(pick_weighted(rng, self.words, self.cumulative))}"
        if chance(rng, self.config.punctuation_rate):
            prefix, suffix, _ = pick_weighted(rng, PUNCTUATION, PUNCTUATION_CUMULATIVE)
            word = f"{prefix}{word}{suffix}"
        return word


def english_words(count: int) -> tuple[list[str], np.ndarray]:
    """The most frequent English words (letters and one apostrophe only) and their frequencies, from wordfreq."""
    import wordfreq

    words = [word for word in wordfreq.top_n_list("en", count) if WORD.fullmatch(word)]
    return words, np.array([wordfreq.word_frequency(word, "en") for word in words], dtype=np.float64)


def capitalize_pronoun(word: str) -> str:
    """`i` and its contractions are written with a capital in prose."""
    return "I" + word[1:] if word == "i" or word.startswith("i'") else word


def apply_casing(text: str, config: BooksConfig, rng: np.random.Generator) -> str:
    """UPPER, Capitalized or as drawn, at the configured rates."""
    draw = rng.random()
    if draw < config.upper_rate:
        return text.upper()
    if draw < config.upper_rate + config.capitalized_rate:
        return text[:1].upper() + text[1:]
    return text


class TextFolderBooks:
    """Runs of 1 to max_words consecutive words from the .txt files of a folder (Gutenberg headers stripped)."""

    def __init__(self, config: BooksConfig, max_words: int) -> None:
        folder = resolve_path(config.text_dir or "")
        self.tokens = read_text_folder(folder)
        self.max_words = max_words

    def sample(self, rng: np.random.Generator) -> str:
        """Consecutive words from a random position."""
        length = phrase_length(rng, self.max_words)
        start = int(rng.integers(0, max(1, len(self.tokens) - length + 1)))
        return " ".join(self.tokens[start : start + length])


def read_text_folder(folder: Path) -> list[str]:
    """Every whitespace-separated token of every .txt file under the folder, in order."""
    if not folder.is_dir():
        raise CorpusInputError(f"books text folder not found: {folder}")
    files = sorted(folder.rglob("*.txt"))
    if not files:
        raise CorpusInputError(f"books text folder {folder} holds no .txt files")
    tokens: list[str] = []
    for path in files:
        tokens.extend(strip_gutenberg(read_utf8_text(path, "book", CorpusInputError)).split())
    if not tokens:
        raise CorpusInputError(f"the .txt files in {folder} hold no words")
    return tokens


def strip_gutenberg(text: str) -> str:
    """The body of a Project Gutenberg book: the text between its START and END marker lines, if present."""
    start = GUTENBERG_START.search(text)
    if start:
        text = text[start.end() :]
    end = GUTENBERG_END.search(text)
    if end:
        text = text[: end.start()]
    return text


def build_books(config: BooksConfig, max_words: int):
    """The user's folder when one is configured, else English word frequencies."""
    return TextFolderBooks(config, max_words) if config.text_dir else WordFrequencyBooks(config, max_words)

