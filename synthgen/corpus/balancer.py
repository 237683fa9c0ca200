"""Lifting rare charset characters to a minimum share with short strings built around them."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence

import numpy as np

from synthgen.charset import Charset, character_class
from synthgen.corpus.choices import digits, pick, pick_weighted

CALIBRATION_ROUNDS = 6
CALIBRATION_GAIN = 2.0  # how hard each round corrects a remaining shortfall
CALIBRATION_SEED = 20240305  # calibration is the same in every process, so samples stay pure functions of the seed
MAX_BALANCE_RATE = 0.5  # never more than half the strings are balancing strings
SHORT_WORD = 5  # longest word used around a symbol
TARGETS_PER_STRING = 3  # rare characters per balancing string: fewer artificial strings for the same lift
BRACKETS = {"(": ")", "[": "]", "{": "}", "<": ">"}


def character_shares(texts: Sequence[str], characters: str) -> dict[str, float]:
    """Share of each character among all non-space characters of the texts."""
    counts = Counter(character for text in texts for character in text if character != " ")
    total = max(sum(counts.values()), 1)
    return {character: counts[character] / total for character in characters}


class CharacterBalancer:
    """Emits, at a calibrated rate, short strings containing characters that fall under the minimum share.

    Letters come inside real words that contain them, digits inside numbers, punctuation and symbols
    attached to or between words and numbers (`50%`, `A&B`, `w/o`, `#12`, `(note)`), as SynthTIGER's
    char-augmentable corpus weights strings by their rare characters.
    """

    def __init__(self, charset: Charset, words: Sequence[str], min_share: float, max_chars: int) -> None:
        self.characters = charset.visible
        # Short words keep rare characters dense in balancing strings (fewer strings for the same lift).
        self.words = [word for word in words if word.isalpha() and len(word) <= SHORT_WORD] or ["word"]
        self.words_with = {c: [w for w in words if c in w and w.isalpha()] for c in self.characters if c.isalpha()}
        self.words_with = {c: sorted(found, key=len)[: max(20, len(found) // 4)] for c, found in self.words_with.items()}
        self.min_share = min_share
        self.max_chars = max_chars
        self.rate = 0.0
        self.targets: tuple[str, ...] = ()
        self.cumulative = np.zeros(0)

    def calibrate(self, base_sample: Callable[[np.random.Generator], str], samples: int) -> None:
        """Measure the base mix, then set the rate and target weights so every character reaches the minimum."""
        rng = np.random.default_rng(CALIBRATION_SEED)
        base = [base_sample(rng) for _ in range(samples)]
        base_length = sum(len(text.replace(" ", "")) for text in base) / max(len(base), 1)
        deficits = {c: max(0.0, self.min_share - share) for c, share in character_shares(base, self.characters).items()}
        for _ in range(CALIBRATION_ROUNDS):
            self.set_targets(deficits, base_length)
            mixed = [self.sample(rng) if rng.random() < self.rate else base_sample(rng) for _ in range(samples)]
            shares = character_shares(mixed, self.characters)
            for character, share in shares.items():
                deficits[character] += CALIBRATION_GAIN * max(0.0, self.min_share - share)

    def set_targets(self, deficits: dict[str, float], base_length: float) -> None:
        """Target weights proportional to deficits; rate so the added occurrences cover them."""
        targets = [character for character, deficit in deficits.items() if deficit > 0]
        if not targets:
            self.rate, self.targets, self.cumulative = 0.0, (), np.zeros(0)
            return
        needed_per_string = sum(deficits[character] for character in targets) * base_length / TARGETS_PER_STRING
        self.rate = min(MAX_BALANCE_RATE, needed_per_string / (1.0 + needed_per_string))
        self.targets = tuple(targets)
        self.cumulative = np.cumsum([deficits[character] for character in targets])

    def sample(self, rng: np.random.Generator) -> str:
        """Up to TARGETS_PER_STRING short pieces, each around one target character, within max_chars."""
        text = self.string_with(pick_weighted(rng, self.targets, self.cumulative), rng)[: self.max_chars]
        for _ in range(TARGETS_PER_STRING - 1):
            piece = self.string_with(pick_weighted(rng, self.targets, self.cumulative), rng)
            if len(text) + 1 + len(piece) <= self.max_chars:
                text = f"{text} {piece}"
        return text

    def string_with(self, character: str, rng: np.random.Generator) -> str:
        """A plausible short string that contains the character."""
        kind = character_class(character)
        if kind in ("upper", "lower"):
            candidates = self.words_with.get(character.lower()) or self.words_with.get(character)
            word = pick(rng, candidates) if candidates else pick(rng, self.words) + character.lower()
            return word.upper() if kind == "upper" else word
        if kind == "digits":
            number = digits(rng, int(rng.integers(0, 3)))
            position = int(rng.integers(len(number) + 1))
            return number[:position] + character + number[position:]
        return self.with_symbol(character, rng)

    def with_symbol(self, character: str, rng: np.random.Generator) -> str:
        """A symbol before, after or between a word and a number."""
        word = pick(rng, self.words)
        number = str(rng.integers(1, 100))
        first, second = (word, number) if rng.random() < 0.5 else (number, word)
        closing = {**BRACKETS, **{close: opening for opening, close in BRACKETS.items()}}.get(character)
        if closing is not None:  # brackets come in pairs, in the right order
            opening, close = (character, closing) if character in BRACKETS else (closing, character)
            return f"{opening}{first}{close}"
        layout = int(rng.integers(4))
        if layout == 0:
            return f"{first}{character}"
        if layout == 1:
            return f"{character}{first}"
        if layout == 2:
            return f"{first}{character}{second}"
        return f"{first} {character} {second}"
