"""Recognition metrics over (truth, prediction, confidence) triples: update / summary / reset."""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass

import numpy as np

THRESHOLDS = np.round(np.linspace(0.0, 1.0, 21), 2)
NON_ALPHANUMERIC = re.compile(r"[^0-9A-Za-z]")


@dataclass(frozen=True)
class EditCounts:
    """Levenshtein distance split into substitutions, insertions and deletions (prediction against truth)."""

    substitutions: int
    insertions: int
    deletions: int

    @property
    def distance(self) -> int:
        return self.substitutions + self.insertions + self.deletions


def edit_counts(truth: str, prediction: str) -> EditCounts:
    """Minimal edits turning truth into prediction, with one optimal path's operation counts."""
    rows, columns = len(truth) + 1, len(prediction) + 1
    cost = [list(range(columns))] + [[i] + [0] * (columns - 1) for i in range(1, rows)]
    for i in range(1, rows):
        above, here = cost[i - 1], cost[i]
        for j in range(1, columns):
            here[j] = min(above[j - 1] + (truth[i - 1] != prediction[j - 1]), above[j] + 1, here[j - 1] + 1)
    substitutions = insertions = deletions = 0
    i, j = rows - 1, columns - 1
    while i > 0 or j > 0:
        if i > 0 and j > 0 and cost[i][j] == cost[i - 1][j - 1] + (truth[i - 1] != prediction[j - 1]):
            substitutions += truth[i - 1] != prediction[j - 1]
            i, j = i - 1, j - 1
        elif i > 0 and cost[i][j] == cost[i - 1][j] + 1:
            deletions += 1
            i -= 1
        else:
            insertions += 1
            j -= 1
    return EditCounts(substitutions, insertions, deletions)


def normalized(text: str, mode: str) -> str:
    """The text as compared by one word-accuracy variant."""
    if mode == "case_insensitive":
        return text.casefold()
    if mode == "ignore_spaces":
        return "".join(text.split()).casefold()
    if mode == "alphanumeric":
        return NON_ALPHANUMERIC.sub("", text).casefold()
    return text


def confidence_bins(confidence: np.ndarray, bins: int = 10) -> np.ndarray:
    """Each confidence's bin among `bins` equal slices of [0, 1] (1.0 falls in the last)."""
    return np.minimum((confidence * bins).astype(int), bins - 1)


def calibration_error(correct: np.ndarray, confidence: np.ndarray, bins: int = 10) -> float:
    """Expected calibration error: |accuracy - mean confidence| per bin, weighted by the bin's share."""
    if not correct.size:
        return 0.0
    gaps = np.bincount(confidence_bins(confidence, bins), weights=correct - confidence, minlength=bins)  # count x gap
    return float(np.abs(gaps).sum() / correct.size)


class RecognitionMetrics:
    """Accumulates predictions; `summary()` gives word accuracy variants, CER, NED, edit counts and more."""

    MODES = ("exact", "case_insensitive", "ignore_spaces", "alphanumeric")

    def __init__(self, match: str = "exact") -> None:
        if match not in self.MODES:
            raise ValueError(f"match must be one of {', '.join(self.MODES)}, got {match!r}")
        self.match = match  # what counts as right for confidence: precision/recall, bands, reliability, calibration
        self.reset()

    def right(self, truth: str, prediction: str) -> bool:
        """Whether a prediction counts as right for the confidence figures."""
        return normalized(truth, self.match) == normalized(prediction, self.match)

    def reset(self) -> None:
        """Forget everything seen."""
        self.records: list[tuple[str, str, float, str | None]] = []

    def update(self, truths: list[str], predictions: list[str], confidences: list[float],
               categories: list[str | None] | None = None) -> None:
        """Add a batch of (truth, prediction, confidence[, category])."""
        categories = categories or [None] * len(truths)
        self.records.extend(zip(truths, predictions, [float(c) for c in confidences], categories))

    def summary(self) -> dict:
        """Every metric over what was seen (negatives, with empty truths, are counted apart for words)."""
        records = self.records
        words = [r for r in records if r[0] != ""]
        negatives = [r for r in records if r[0] == ""]
        edits = [edit_counts(truth, prediction) for truth, prediction, _, _ in records]
        truth_characters = sum(len(truth) for truth, _, _, _ in records)
        result: dict = {"samples": len(records), "words": len(words), "negatives": len(negatives)}
        for mode in self.MODES:
            correct = sum(normalized(t, mode) == normalized(p, mode) for t, p, _, _ in words)
            result[f"accuracy_{mode}"] = correct / len(words) if words else None
        result["accuracy"] = result["accuracy_exact"]
        substitutions = sum(e.substitutions for e in edits)
        insertions = sum(e.insertions for e in edits)
        deletions = sum(e.deletions for e in edits)
        result.update(substitutions=substitutions, insertions=insertions, deletions=deletions)
        result["cer"] = (substitutions + insertions + deletions) / truth_characters if truth_characters else None
        result["cer_case_insensitive"] = self.case_insensitive_cer()
        result["character_accuracy"] = 1 - result["cer"] if result["cer"] is not None else None
        result["ned"] = float(np.mean([e.distance / max(len(t), len(p), 1) for e, (t, p, _, _) in zip(edits, records)])) if records else None
        result["negative_false_positive_rate"] = (
            sum(prediction != "" for _, prediction, _, _ in negatives) / len(negatives) if negatives else None
        )
        result["per_category"] = self.per_category()
        result["precision_recall"] = self.precision_recall()
        result["mean_confidence"] = float(np.mean([c for _, _, c, _ in records])) if records else None
        return result

    def case_insensitive_cer(self) -> float | None:
        """CER with both sides case-folded (as reference engines are scored on upper-case labels)."""
        characters = sum(len(t) for t, _, _, _ in self.records)
        if not characters:
            return None
        return sum(edit_counts(t.casefold(), p.casefold()).distance for t, p, _, _ in self.records) / characters

    def per_category(self) -> dict[str, dict]:
        """Exact and case-insensitive word accuracy per category, when the data carries categories."""
        grouped: dict[str, list] = defaultdict(list)
        for truth, prediction, _, category in self.records:
            if category and truth != "":
                grouped[category].append((truth, prediction))
        return {
            category: {
                "words": len(pairs),
                "accuracy": sum(t == p for t, p in pairs) / len(pairs),
                "accuracy_case_insensitive": sum(t.casefold() == p.casefold() for t, p in pairs) / len(pairs),
            }
            for category, pairs in sorted(grouped.items())
        }

    def precision_recall(self) -> list[dict]:
        """At each confidence threshold: answers kept (confidence >= t), precision among them, recall over all words."""
        rows = []
        words = [r for r in self.records if r[0] != ""]
        for threshold in THRESHOLDS:
            kept = [(t, p) for t, p, c, _ in words if c >= threshold]
            correct = sum(self.right(t, p) for t, p in kept)
            rows.append({
                "threshold": float(threshold),
                "kept": len(kept) / len(words) if words else 0.0,
                "precision": correct / len(kept) if kept else None,
                "recall": correct / len(words) if words else None,
            })
        return rows

    def bands(self, high: float, low: float) -> list[dict]:
        """The Dropbox-style confidence bands over words: keep (>= high), check (low..high), drop (< low); each band's
        share of the words and accuracy, the accuracy the model would have there."""
        words = [r for r in self.records if r[0] != ""]
        rows = []
        for name, inside in (("keep", lambda c: c >= high), ("check", lambda c: low <= c < high), ("drop", lambda c: c < low)):
            members = [(t, p) for t, p, c, _ in words if inside(c)]
            rows.append({"band": name, "share": len(members) / len(words) if words else 0.0,
                         "accuracy": sum(self.right(t, p) for t, p in members) / len(members) if members else None})
        return rows

    def accuracy_at_coverage(self, coverage: float) -> float | None:
        """Accuracy over the most confident `coverage` share of the words (what a threshold keeping that share gives)."""
        words = sorted((r for r in self.records if r[0] != ""), key=lambda r: -r[2])
        kept = words[: max(1, round(coverage * len(words)))] if words else []
        return sum(self.right(t, p) for t, p, _, _ in kept) / len(kept) if kept else None

    def outcomes(self) -> tuple[np.ndarray, np.ndarray]:
        """Right (1.0) or wrong (0.0), and the confidence, of every record."""
        correct = np.array([self.right(t, p) for t, p, _, _ in self.records], dtype=np.float64)
        return correct, np.array([c for _, _, c, _ in self.records], dtype=np.float64)

    def reliability(self, bins: int = 10) -> list[dict]:
        """Per confidence bin: mean confidence, accuracy and count (a calibrated model has them equal)."""
        correct, confidence = self.outcomes()
        positions = confidence_bins(confidence, bins)
        rows = []
        for position in np.unique(positions):
            members = positions == position
            rows.append({"low": float(position / bins), "high": float((position + 1) / bins), "count": int(members.sum()),
                         "confidence": float(confidence[members].mean()), "accuracy": float(correct[members].mean())})
        return rows

    def expected_calibration_error(self) -> float:
        """Mean |accuracy - confidence| over bins, weighted by their counts."""
        return calibration_error(*self.outcomes())

    def calibration_noise(self, draws: int = 1000, seed: int = 0) -> tuple[float, float]:
        """The ECE a perfectly calibrated model with these confidences would measure on this many crops: mean and
        95th percentile over draws of right/wrong at exactly the stated chances. Below that, ECE is noise."""
        _, confidence = self.outcomes()
        if not confidence.size:
            return 0.0, 0.0
        rng = np.random.default_rng(seed)
        errors = [calibration_error((rng.random(confidence.size) < confidence).astype(np.float64), confidence)
                  for _ in range(draws)]
        return float(np.mean(errors)), float(np.percentile(errors, 95))
