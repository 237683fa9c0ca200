"""The set of characters labels may contain, shared by the generator and the recognizer."""

from __future__ import annotations

import hashlib
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from synthgen.files import read_utf8_text

CLASS_NAMES = ("upper", "lower", "digits", "punctuation", "symbols", "space")


class CharsetError(ValueError):
    """A charset file is missing or malformed."""


@dataclass(frozen=True)
class Charset:
    """An ordered set of characters, each in one class (upper, lower, digits, punctuation, symbols, space)."""

    characters: str

    @classmethod
    def from_file(cls, path: str | Path) -> "Charset":
        """Read a charset file: every character of every non-comment line; the line `<space>` adds a space."""
        text = read_utf8_text(path, "charset file", CharsetError)
        characters: list[str] = []
        for line in text.splitlines():
            if line.startswith("#") or not line.strip():
                continue
            line_characters = " " if line.strip() == "<space>" else line.strip()
            characters.extend(character for character in line_characters if character not in characters)
        if not characters:
            raise CharsetError(f"charset file {path} defines no characters")
        return cls(unicodedata.normalize("NFC", "".join(characters)))

    @property
    def fingerprint(self) -> str:
        """A short hash identifying this exact charset."""
        return hashlib.sha256(self.characters.encode("utf-8")).hexdigest()[:16]

    @property
    def visible(self) -> str:
        """Characters that must leave ink when drawn (everything but whitespace)."""
        return "".join(character for character in self.characters if not character.isspace())

    def by_class(self, characters: str | None = None) -> dict[str, str]:
        """Group characters (default: the whole charset) by class, omitting empty classes."""
        groups: dict[str, str] = {}
        for character in self.characters if characters is None else characters:
            name = character_class(character)
            groups[name] = groups.get(name, "") + character
        return {name: groups[name] for name in CLASS_NAMES if name in groups}

    def __contains__(self, character: object) -> bool:
        return isinstance(character, str) and character in self.characters

    def __len__(self) -> int:
        return len(self.characters)


def character_class(character: str) -> str:
    """The class of one character: upper, lower, digits, punctuation, symbols or space."""
    if character.isspace():
        return "space"
    if character.isdigit():
        return "digits"
    if character.isupper():
        return "upper"
    if character.islower():
        return "lower"
    if unicodedata.category(character).startswith("P"):
        return "punctuation"
    return "symbols"
