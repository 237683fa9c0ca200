"""Lines drawn with the text: underline, strike-through, table rules and box borders."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from synthgen.effects.base import RangedEffect, uniform


def ink_rows(mask: np.ndarray) -> tuple[int, int]:
    """First and last row holding ink (the whole height when blank)."""
    rows = np.flatnonzero(mask.max(axis=1) > 64)
    return (int(rows[0]), int(rows[-1])) if rows.size else (0, mask.shape[0] - 1)


def horizontal_line(mask: np.ndarray, row: int, thickness: int) -> np.ndarray:
    """The mask with a full-width line of ink centred on `row`, the canvas grown if the line falls outside."""
    below = max(0, row + thickness - mask.shape[0] + 1)
    out = cv2.copyMakeBorder(mask, 0, below, 0, 0, cv2.BORDER_CONSTANT, value=0) if below else mask.copy()
    top = max(0, row - thickness // 2)
    out[top : top + thickness, :] = 255
    return out


def box(mask: np.ndarray, margin: int, thickness: int, sides: str) -> np.ndarray:
    """Rules on the given sides (any of 'tblr') `margin` pixels away from the text, canvas grown."""
    out = cv2.copyMakeBorder(mask, *(margin + thickness,) * 4, cv2.BORDER_CONSTANT, value=0)
    height, width = out.shape
    if "t" in sides:
        out[:thickness, :] = 255
    if "b" in sides:
        out[height - thickness :, :] = 255
    if "l" in sides:
        out[:, :thickness] = 255
    if "r" in sides:
        out[:, width - thickness :] = 255
    return out


def line_thickness(mask: np.ndarray, fraction: float) -> int:
    """A line thickness in pixels as a fraction of the height, at least one pixel."""
    return max(1, round(mask.shape[0] * fraction))


@dataclass(frozen=True)
class Underline(RangedEffect):
    """A line under the word, below its descenders."""

    p: float = 0.05
    thickness_range: tuple[float, float] = (0.03, 0.07)  # fraction of the height
    gap_range: tuple[float, float] = (0.02, 0.1)

    def __call__(self, mask, rng):
        thickness, gap = uniform(rng, self.thickness_range), uniform(rng, self.gap_range)
        pixels = line_thickness(mask, thickness)
        row = ink_rows(mask)[1] + line_thickness(mask, gap) + pixels
        return horizontal_line(mask, row, pixels), {"thickness": round(thickness, 4), "gap": round(gap, 4)}


@dataclass(frozen=True)
class StrikeThrough(RangedEffect):
    """A thin line through the middle of the word (the word stays legible)."""

    p: float = 0.02
    thickness_range: tuple[float, float] = (0.02, 0.05)

    def __call__(self, mask, rng):
        top, bottom = ink_rows(mask)
        height_share, thickness = float(rng.uniform(0.45, 0.6)), uniform(rng, self.thickness_range)
        row = int(top + (bottom - top) * height_share)
        params = {"thickness": round(thickness, 4), "height": round(height_share, 3)}
        return horizontal_line(mask, row, line_thickness(mask, thickness)), params


@dataclass(frozen=True)
class TableRules(RangedEffect):
    """Table rules or a box border near the text, as in forms and invoices."""

    p: float = 0.08
    thickness_range: tuple[float, float] = (0.02, 0.06)
    margin_range: tuple[float, float] = (0.15, 0.4)  # gap between the ink and the rules

    def __call__(self, mask, rng):
        thickness, margin = uniform(rng, self.thickness_range), uniform(rng, self.margin_range)
        # No lone vertical rules: beside a word, one reads as a | or l however far it stands; joined to
        # horizontal rules in a closed box it reads as a border.
        sides = ("tb", "tblr", "b", "t")[int(rng.integers(4))]
        params = {"sides": sides, "thickness": round(thickness, 4), "margin": round(margin, 4)}
        return box(mask, line_thickness(mask, margin), line_thickness(mask, thickness), sides), params
