"""Labels to class indices and back, for CTC: blank at index 0, the charset's characters from 1."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence

from synthgen.charset import Charset

BLANK = 0


class LabelOutsideCharsetError(ValueError):
    """Labels hold characters the codec cannot encode; carries how often each one occurs."""

    def __init__(self, counts: Counter, labels: int) -> None:
        listed = ", ".join(f"{character!r} x{count}" for character, count in counts.most_common(20))
        super().__init__(f"{labels} label(s) hold {sum(counts.values())} character(s) outside the charset: {listed}")
        self.counts = counts
        self.labels = labels


class Codec:
    """Encodes labels as class indices (1..len(charset)) and decodes them, greedily collapsing CTC paths."""

    def __init__(self, charset: Charset) -> None:
        self.charset = charset
        self.characters = charset.characters
        self.index = {character: position + 1 for position, character in enumerate(self.characters)}

    @property
    def classes(self) -> int:
        """Output classes of a CTC model: the blank plus every character."""
        return len(self.characters) + 1

    def encode(self, text: str) -> list[int]:
        """Class indices of the characters of text; raises LabelOutsideCharsetError for unknown characters."""
        try:
            return [self.index[character] for character in text]
        except KeyError:
            raise LabelOutsideCharsetError(Counter(c for c in text if c not in self.index), 1) from None

    def decode(self, indices: Iterable[int]) -> str:
        """The text of a label's class indices (no blanks)."""
        return "".join(self.characters[index - 1] for index in indices)

    def collapse(self, path: Sequence[int]) -> list[int]:
        """A CTC best path with repeats merged and blanks removed: a repeated letter needs a blank between."""
        kept, previous = [], BLANK
        for index in path:
            if index != previous and index != BLANK:
                kept.append(int(index))
            previous = index
        return kept

    def decode_path(self, path: Sequence[int]) -> str:
        """The text of a CTC best path (one class per time step)."""
        return self.decode(self.collapse(path))

    def check(self, labels: Iterable[str]) -> None:
        """Raise LabelOutsideCharsetError counting every character outside the charset, if any label has one."""
        counts: Counter = Counter()
        bad_labels = 0
        for label in labels:
            outside = [character for character in label if character not in self.index]
            if outside:
                counts.update(outside)
                bad_labels += 1
        if counts:
            raise LabelOutsideCharsetError(counts, bad_labels)
