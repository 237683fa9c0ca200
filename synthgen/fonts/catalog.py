"""The font catalog: popularity weights and tags for typeface families, matched to installed faces."""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from synthgen.config import ConfigError, build_dataclass, read_yaml_mapping


@dataclass(frozen=True)
class CatalogEntry:
    """A real-world typeface (or group) with its popularity weight, tags and lookalike family patterns."""

    name: str
    tags: tuple[str, ...]
    match: tuple[str, ...]
    weight: float | None = None  # None: the entry only adds tags; its families get the floor weight

    def __post_init__(self) -> None:
        if self.weight is not None and self.weight < 0:
            raise ConfigError(f"catalog entry '{self.name}': weight must be >= 0, got {self.weight!r}")
        if not self.match:
            raise ConfigError(f"catalog entry '{self.name}': match must list at least one family pattern")

    def matches(self, family: str) -> bool:
        """Whether a face's family name matches one of this entry's case-insensitive patterns."""
        lowered = family.lower()
        return any(fnmatch.fnmatchcase(lowered, pattern.lower()) for pattern in self.match)


@dataclass(frozen=True)
class FontCatalog:
    """Every catalog entry, in priority order (a family takes the first entry that matches it)."""

    floor_weight: float = 1.0
    families: tuple[CatalogEntry, ...] = ()

    def __post_init__(self) -> None:
        if self.floor_weight <= 0:
            raise ConfigError(f"catalog floor_weight must be > 0 so the long tail is kept, got {self.floor_weight!r}")

    @classmethod
    def from_file(cls, path: str | Path) -> "FontCatalog":
        """Load and validate a catalog YAML file."""
        try:
            return build_dataclass(cls, read_yaml_mapping(Path(path)), section="catalog")
        except ConfigError as error:
            raise ConfigError(f"{path}: {error}") from error

    def entry_for(self, family: str) -> CatalogEntry | None:
        """The first entry whose patterns match this family, or None for the unlisted long tail."""
        return entry_for_family(self, family)


@lru_cache(maxsize=4096)
def entry_for_family(catalog: FontCatalog, family: str) -> CatalogEntry | None:
    """First matching entry, cached because thousands of faces share a few hundred families."""
    return next((entry for entry in catalog.families if entry.matches(family)), None)
