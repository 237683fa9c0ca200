"""The effect interface, parameter ranges, and the stack that applies effects with independent generators."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import Any, Protocol

import numpy as np

from synthgen.errors import ConfigError


class Effect(Protocol):
    """Draws its parameters from rng and applies a pure pixel function; never mutates its input."""

    p: float

    def __call__(self, image: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, dict[str, Any]]: ...


def uniform(rng: np.random.Generator, bounds: tuple[float, float]) -> float:
    """A value drawn uniformly from a (low, high) range."""
    return float(rng.uniform(bounds[0], bounds[1]))


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


@dataclass(frozen=True)
class AppliedEffect:
    """What one effect did to one sample."""

    name: str
    params: dict[str, Any]


class EffectStack:
    """Effects in a fixed order; effect k always uses child generator k, so disabling one never shifts another."""

    def __init__(self, named_effects: Sequence[tuple[str, Effect]]) -> None:
        self.named_effects = list(named_effects)

    def __call__(self, image: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, list[AppliedEffect]]:
        applied: list[AppliedEffect] = []
        for (name, effect), child in zip(self.named_effects, rng.spawn(len(self.named_effects))):
            if effect.p > 0 and child.random() < effect.p:
                image, params = effect(image, child)
                applied.append(AppliedEffect(name, params))
        return image, applied
