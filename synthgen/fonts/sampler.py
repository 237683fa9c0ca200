"""Frequency-weighted font choice, only among faces the audit says can draw the whole string."""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from synthgen.charset import Charset
from synthgen.config import FontConfig
from synthgen.fonts.audit import AuditCache, FontReport, audit_faces
from synthgen.fonts.catalog import CatalogEntry, FontCatalog
from synthgen.fonts.files import discover_faces, font_folders
from synthgen.paths import resolve_path


class FontCoverageError(ValueError):
    """No usable face can draw every character of a string."""

    def __init__(self, text: str, characters: str, reason: str) -> None:
        super().__init__(f"no font can draw {text!r}: {reason} {characters!r}")
        self.text = text
        self.characters = characters


@dataclass(frozen=True)
class FontChoice:
    """A face and a size in pixels per em."""

    face: FontReport
    size: int


@dataclass(frozen=True)
class WeightedFace:
    """A usable face with its catalog entry, tags and unnormalized sampling weight."""

    report: FontReport
    entry_name: str
    tags: tuple[str, ...]
    weight: float


class FontSampler:
    """Draws faces with catalog popularity weights, restricted per string to faces covering every character."""

    def __init__(self, reports: Sequence[FontReport], catalog: FontCatalog, config: FontConfig, charset: Charset):
        self.config = config
        self.charset = charset
        trusted = config.audit == "enforce"
        chosen = [report for report in reports if (report.usable if trusted else readable(report)) and in_split(report.family, config)]
        self.faces = weigh_faces(chosen, catalog, config)
        self.weights = np.array([face.weight for face in self.faces], dtype=np.float64)
        self.columns = {character: column for column, character in enumerate(charset.characters)}
        self.coverage = np.zeros((len(self.faces), len(charset)), dtype=bool)  # (faces, characters)
        for row, face in enumerate(self.faces):
            covered = face.report.coverage if trusted else charset.characters
            self.coverage[row, [self.columns[c] for c in covered if c in self.columns]] = True
        self.faces_drawing = np.ascontiguousarray(self.coverage.T)  # (characters, faces): one row per character

    @property
    def fingerprint(self) -> str:
        """A short hash of every usable face's bytes, audit verdict, coverage and weight: what the sampler draws from."""
        digest = hashlib.sha256()
        for face in self.faces:
            report = face.report
            digest.update(f"{report.sha256}:{report.face}:{report.status}:{report.coverage}:{face.weight:.9g}\n".encode())
        return digest.hexdigest()[:16]

    def probabilities(self, text: str = "") -> np.ndarray:
        """Probability of each face for this text (zero where a face lacks one of its characters)."""
        weights = self.weights * self.covering(text)
        total = weights.sum()
        if total <= 0:
            raise self.coverage_error(text)
        return weights / total

    def sample(self, text: str, rng: np.random.Generator) -> FontChoice:
        """Draw a face able to draw every character of text, and a size; raises FontCoverageError."""
        cumulative = np.cumsum(self.weights * self.covering(text))
        if cumulative[-1] <= 0:
            raise self.coverage_error(text)
        row = min(int(cumulative.searchsorted(rng.random() * cumulative[-1], side="right")), len(self.faces) - 1)
        steps = (self.config.size_max - self.config.size_min) // self.config.size_step
        size = self.config.size_min + self.config.size_step * int(rng.integers(0, steps + 1))
        return FontChoice(self.faces[row].report, size)

    def covering(self, text: str) -> np.ndarray:
        """Boolean mask of the faces that can draw every character of text."""
        distinct = set(text)
        outside = "".join(sorted(character for character in distinct if character not in self.columns))
        if outside:
            raise FontCoverageError(text, outside, "characters outside the charset")
        return np.logical_and.reduce(self.faces_drawing[[self.columns[character] for character in distinct]], axis=0)

    def coverage_error(self, text: str) -> FontCoverageError:
        """Name the characters no face draws, or say that no single face draws them all."""
        distinct = sorted(set(text))
        columns = [self.columns[character] for character in distinct]
        drawn_by_some = self.coverage[self.weights > 0][:, columns].any(axis=0)
        orphans = "".join(character for character, drawn in zip(distinct, drawn_by_some) if not drawn)
        if orphans:
            return FontCoverageError(text, orphans, "no usable face draws")
        return FontCoverageError(text, "".join(distinct), "no single usable face draws all of")


def readable(report: FontReport) -> bool:
    """Whether a face could be opened and drawn at all (what remains when the audit's verdict is ignored)."""
    return "unreadable" not in report.problem_codes()


def in_split(family: str, config: FontConfig) -> bool:
    """Whether a family belongs to the configured split: a stable hash of its name puts it in train or heldout."""
    if config.split == "all":
        return True
    position = int(hashlib.sha256(family.encode("utf-8")).hexdigest()[:8], 16) / 16**8
    heldout = position < config.heldout_share
    return heldout if config.split == "heldout" else not heldout


def weigh_faces(reports: Sequence[FontReport], catalog: FontCatalog, config: FontConfig) -> list[WeightedFace]:
    """Give each face its share: entry weight split over its families, then over styles, then over faces."""
    entries = {report.family: catalog.entry_for(report.family) for report in reports}
    families_per_entry: dict[str, set[str]] = defaultdict(set)
    faces_per_family: dict[str, list[FontReport]] = defaultdict(list)
    for report in reports:
        entry = entries[report.family]
        if entry is not None and entry.weight is not None:
            families_per_entry[entry.name].add(report.family)
        faces_per_family[report.family].append(report)
    weighted: list[WeightedFace] = []
    for family, faces in faces_per_family.items():
        entry = entries[family]
        family_weight = family_share(entry, catalog, families_per_entry, config) * tag_multiplier(entry, config)
        style_shares = style_probabilities(faces, config)
        for report in faces:
            weight = family_weight * style_shares[style_of(report)]
            name = entry.name if entry else "(long tail)"
            weighted.append(WeightedFace(report, name, entry.tags if entry else (), weight))
    return weighted


def family_share(entry: CatalogEntry | None, catalog: FontCatalog, families_per_entry: dict[str, set[str]],
                 config: FontConfig) -> float:
    """A family's weight: its entry's weight split over the entry's families, or the floor weight (1 when uniform)."""
    if entry is not None and entry.weight == 0:
        return 0.0  # excluded by hand, whatever the weighting
    if config.weighting == "uniform":
        return 1.0
    if entry is None or entry.weight is None:
        return catalog.floor_weight
    return entry.weight / len(families_per_entry[entry.name])


def tag_multiplier(entry: CatalogEntry | None, config: FontConfig) -> float:
    """The product of the config's tag weights over the entry's tags (1 for untagged faces)."""
    multiplier = 1.0
    for tag in entry.tags if entry else ():
        multiplier *= config.tag_weights.get(tag, 1.0)
    return multiplier


def style_of(report: FontReport) -> tuple[bool, bool]:
    """(bold, italic) of a face."""
    return report.bold, report.italic


def style_probabilities(faces: Sequence[FontReport], config: FontConfig) -> dict[tuple[bool, bool], float]:
    """Per-face probability within a family: style rates renormalized over the styles it has, split over faces."""
    counts: dict[tuple[bool, bool], int] = defaultdict(int)
    for report in faces:
        counts[style_of(report)] += 1
    rates = {style: style_rate(style, config) for style in counts}
    total = sum(rates.values())
    if total <= 0:  # e.g. bold_rate 1 in a family without bold faces: fall back to an even split
        return {style: 1.0 / (len(counts) * counts[style]) for style in counts}
    return {style: rates[style] / total / counts[style] for style in counts}


def style_rate(style: tuple[bool, bool], config: FontConfig) -> float:
    """How often this (bold, italic) style is wanted."""
    bold, italic = style
    bold_part = config.bold_rate if bold else 1.0 - config.bold_rate
    italic_part = config.italic_rate if italic else 1.0 - config.italic_rate
    return bold_part * italic_part


def load_font_reports(config: FontConfig, charset: Charset, progress: bool = True) -> list[FontReport]:
    """Audit reports of every discovered face; faces never audited are audited now and cached."""
    faces = discover_faces(font_folders(config))
    return audit_faces(faces, charset, AuditCache(resolve_path(config.audit_cache)), progress=progress)


def build_font_sampler(config: FontConfig, charset: Charset, progress: bool = True) -> FontSampler:
    """A sampler over every discovered face, using the audit and the catalog named in the config."""
    reports = load_font_reports(config, charset, progress)
    return FontSampler(reports, FontCatalog.from_file(resolve_path(config.catalog)), config, charset)
