"""The effect interface, parameter ranges, and the stack that applies effects with independent generators."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import Any, Protocol

import numpy as np

from synthgen.errors import ConfigError
from synthgen.seeding import new_stream, reseed


class Effect(Protocol):
    """Draws its parameters from rng and applies a pure pixel function; never mutates its input."""

    p: float

    def __call__(self, image: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, dict[str, Any]]: ...


def uniform(rng: np.random.Generator, bounds: tuple[float, float]) -> float:
    """A value drawn uniformly from a (low, high) range."""
    low, high = bounds
    return low + (high - low) * rng.random()  # what Generator.uniform computes, without its argument checks


def check_ranges(effect: Any) -> None:
    """Every (low, high) field must have low <= high, and p must be a probability."""
    name = type(effect).__name__
    if not 0.0 <= effect.p <= 1.0:
        raise ConfigError(f"effect {name}: p must be in [0, 1], got {effect.p!r}")
    for item in fields(effect):
        value = getattr(effect, item.name)
        if isinstance(value, tuple) and len(value) == 2 and value[0] > value[1]:
            raise ConfigError(f"effect {name}: {item.name} must be (low, high) with low <= high, got {value!r}")
        if isinstance(value, tuple) and len(value) != 2 and item.name.endswith("_range"):
            raise ConfigError(f"effect {name}: {item.name} must hold two numbers, got {value!r}")


class RangedEffect:
    """Base of every effect dataclass: validates p and every (low, high) range when built."""

    def __post_init__(self) -> None:
        check_ranges(self)


@dataclass(frozen=True)
class AppliedEffect:
    """What one effect did to one sample."""

    name: str
    params: dict[str, Any]


class EffectStack:
    """Effects in a fixed order; effect k decides and draws from its own stream, so disabling one shifts no other.

    One draw of a fixed-length vector decides which effects apply; effect k then draws its parameters from
    a generator seeded by (a key drawn once per sample, k), seeded only when the effect applies.
    """

    def __init__(self, named_effects: Sequence[tuple[str, Effect]], keeps=None) -> None:
        self.named_effects = list(named_effects)
        self.probabilities = np.array([effect.p for _, effect in self.named_effects])
        self.keeps = keeps  # (before, after) -> bool: False undoes the effect (it would hide the text)
        self.stream = new_stream()  # re-seeded for each effect applied

    def __call__(self, image: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, list[AppliedEffect]]:
        key = int(rng.integers(2**63))
        chosen = rng.random(len(self.named_effects)) < self.probabilities
        applied: list[AppliedEffect] = []
        for position in chosen.nonzero()[0].tolist():
            name, effect = self.named_effects[position]
            result, params = effect(image, reseed(self.stream, key, position))
            if self.keeps is not None and not self.keeps(image, result):
                applied.append(AppliedEffect(name, {**params, "undone": True}))
                continue
            image = result
            applied.append(AppliedEffect(name, params))
        return image, applied
