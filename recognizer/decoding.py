"""From logits to text: greedy best path and CTC prefix beam search, each with a confidence."""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass

import torch

from synthgen.codec import BLANK, Codec


@dataclass(frozen=True)
class Prediction:
    """Decoded text and a confidence in [0, 1] (calibrated: see `Calibration`)."""

    text: str
    confidence: float


@dataclass(frozen=True)
class Calibration:
    """Maps a best-path log-probability to a confidence: sigmoid(slope * score + intercept), fitted on validation.

    Without a fit (slope None) the confidence is the raw best-path probability, which runs far below the real
    chance of being right (every one of ~50 time steps multiplies in its own doubt).
    """

    slope: float | None = None
    intercept: float = 0.0

    def __call__(self, scores: torch.Tensor) -> torch.Tensor:
        if self.slope is None:
            return scores.exp()
        return torch.sigmoid(self.slope * scores + self.intercept)

    def of(self, score: float) -> float:
        """The confidence of one score, without tensors."""
        if self.slope is None:
            return math.exp(score)
        z = self.slope * score + self.intercept
        return 1.0 / (1.0 + math.exp(-z)) if z >= 0 else math.exp(z) / (1.0 + math.exp(z))  # no overflow either way

    def as_list(self) -> list[float | None]:
        """Plain data for checkpoints."""
        return [self.slope, self.intercept]


def path_scores(log_probabilities: torch.Tensor) -> torch.Tensor:
    """Best-path log-probability: the sum over time steps of the most likely class's log-probability. (N, T, C) -> (N,)."""
    return log_probabilities.max(dim=2).values.sum(dim=1)


def greedy_decode(logits: torch.Tensor, codec: Codec, calibration: Calibration = Calibration()) -> list[Prediction]:
    """Best-path decoding of (N, T, C) logits, with calibrated confidences."""
    log_probabilities = torch.log_softmax(logits.float(), dim=2)
    paths = log_probabilities.argmax(dim=2).tolist()
    confidences = calibration(path_scores(log_probabilities)).tolist()
    return [Prediction(codec.decode_path(path), confidence) for path, confidence in zip(paths, confidences)]


def beam_decode(logits: torch.Tensor, codec: Codec, beam_width: int = 8, calibration: Calibration = Calibration()) -> list[Prediction]:
    """CTC prefix beam search over (N, T, C) logits; confidence maps the winning text's log-probability (all alignments)."""
    log_probabilities = torch.log_softmax(logits.float(), dim=2)
    found = [prefix_beam_search(sequence, codec, beam_width) for sequence in log_probabilities]
    confidences = calibration(torch.tensor([score for _, score in found])).tolist()
    return [Prediction(text, confidence) for (text, _), confidence in zip(found, confidences)]


def log_add(a: float, b: float) -> float:
    """log(exp(a) + exp(b)) without overflow."""
    if a == -math.inf:
        return b
    if b == -math.inf:
        return a
    high, low = (a, b) if a > b else (b, a)
    return high + math.log1p(math.exp(low - high))


def prefix_beam_search(log_probabilities: torch.Tensor, codec: Codec, beam_width: int) -> tuple[str, float]:
    """The likeliest text of one sequence (T, C) and its log-probability over all its alignments."""
    return prefix_beams(log_probabilities, codec, beam_width)[0]


def prefix_beams(log_probabilities: torch.Tensor, codec: Codec, beam_width: int) -> list[tuple[str, float]]:
    """Every surviving text of one sequence (T, C), likeliest first, with its log-probability over all alignments.

    Keeps the `beam_width` likeliest prefixes at each step, each with P(ends in blank) and P(ends in its last label).
    """
    beams: dict[tuple[int, ...], tuple[float, float]] = {(): (0.0, -math.inf)}
    candidates_per_step = min(beam_width, log_probabilities.shape[1])
    for step in log_probabilities:
        top = torch.topk(step, candidates_per_step)
        columns = list(zip(top.indices.tolist(), top.values.tolist()))
        blank = float(step[BLANK])
        following: dict[tuple[int, ...], list[float]] = defaultdict(lambda: [-math.inf, -math.inf])
        for prefix, (ends_blank, ends_label) in beams.items():
            total = log_add(ends_blank, ends_label)
            entry = following[prefix]
            entry[0] = log_add(entry[0], total + blank)
            for index, value in columns:
                if index == BLANK:
                    continue
                extended = prefix + (index,)
                if prefix and prefix[-1] == index:
                    entry[1] = log_add(entry[1], ends_label + value)  # a repeat without a blank merges
                    target = following[extended]
                    target[1] = log_add(target[1], ends_blank + value)
                else:
                    target = following[extended]
                    target[1] = log_add(target[1], total + value)
        ranked = sorted(following.items(), key=lambda item: log_add(*item[1]), reverse=True)[:beam_width]
        beams = {prefix: (values[0], values[1]) for prefix, values in ranked}
    scores = {prefix: log_add(*values) for prefix, values in beams.items()}
    return [(codec.decode(list(prefix)), score) for prefix, score in sorted(scores.items(), key=lambda item: -item[1])]


def allowed_classes(codec: Codec, allowed: str) -> torch.Tensor:
    """(C,) bool: the blank and the classes of the allowed characters; decoding is constrained to them."""
    unknown = sorted(set(allowed) - set(codec.characters))
    if unknown:
        raise ValueError(f"allowed characters outside the model's charset: {''.join(unknown)!r}")
    mask = torch.zeros(codec.classes, dtype=torch.bool)
    mask[BLANK] = True
    mask[[codec.index[character] for character in set(allowed)]] = True
    return mask
