"""From logits to text: greedy best path and CTC prefix beam search, each with a confidence."""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass

import torch

from synthgen.codec import BLANK, Codec


@dataclass(frozen=True)
class Prediction:
    """Decoded text and a confidence in [0, 1] (calibrated: see `confidence`)."""

    text: str
    confidence: float


def confidence_from(log_probabilities: torch.Tensor) -> torch.Tensor:
    """Best-path probability: the product over time steps of the most likely class's probability.

    (N, T, C) log-probabilities -> (N,). It is the probability the model gives its own transcription's
    most likely alignment; with the temperature fitted on validation data (see `fit_temperature`) it tracks
    the chance the word is right (reliability plot in every run).
    """
    return log_probabilities.max(dim=2).values.sum(dim=1).exp()


def greedy_decode(logits: torch.Tensor, codec: Codec, temperature: float = 1.0) -> list[Prediction]:
    """Best-path decoding of (N, T, C) logits."""
    log_probabilities = torch.log_softmax(logits.float() / temperature, dim=2)
    paths = log_probabilities.argmax(dim=2).tolist()
    confidences = confidence_from(log_probabilities).tolist()
    return [Prediction(codec.decode_path(path), confidence) for path, confidence in zip(paths, confidences)]


def beam_decode(logits: torch.Tensor, codec: Codec, beam_width: int = 8, temperature: float = 1.0) -> list[Prediction]:
    """CTC prefix beam search over (N, T, C) logits; confidence is the winning text's probability (all its alignments)."""
    log_probabilities = torch.log_softmax(logits.float() / temperature, dim=2)
    return [prefix_beam_search(sequence, codec, beam_width) for sequence in log_probabilities]


def log_add(a: float, b: float) -> float:
    """log(exp(a) + exp(b)) without overflow."""
    if a == -math.inf:
        return b
    if b == -math.inf:
        return a
    high, low = (a, b) if a > b else (b, a)
    return high + math.log1p(math.exp(low - high))


def prefix_beam_search(log_probabilities: torch.Tensor, codec: Codec, beam_width: int) -> Prediction:
    """One sequence (T, C): keep the `beam_width` likeliest prefixes, each with P(ends in blank), P(ends in its last)."""
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
    best = max(scores, key=scores.get)
    return Prediction(codec.decode(list(best)), math.exp(scores[best]))
