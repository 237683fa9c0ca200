"""Running a model over labelled batches: predictions, metrics, temperature fitting and a gallery of the worst errors."""

from __future__ import annotations

import base64
import html
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from recognizer.decoding import Calibration, path_scores, prefix_beam_search
from recognizer.metrics import RecognitionMetrics, edit_counts, normalized
from recognizer.model import STRIDE
from synthgen.codec import Codec
from synthgen.stream import WordBatch, images_from_batch


def ctc_ready(images: torch.Tensor, target_lengths: torch.Tensor) -> torch.Tensor:
    """Images padded on the right (edge repeated) so CTC has time steps for the longest label with repeats."""
    longest = int(target_lengths.max()) if target_lengths.numel() else 0
    needed = STRIDE * (2 * longest + 1)
    if images.shape[-1] >= needed:
        return images
    return F.pad(images, (0, needed - images.shape[-1], 0, 0), mode="replicate")


def readable(images: torch.Tensor) -> torch.Tensor:
    """Images as the model reads them outside training: widened only to its one-step minimum, never to fit a label."""
    return ctc_ready(images, torch.zeros(1, dtype=torch.int64))


@dataclass
class Evaluation:
    """Predictions over a dataset: metrics, best-path scores (to fit the calibration), the worst errors."""

    metrics: RecognitionMetrics = field(default_factory=RecognitionMetrics)
    scores: list[float] = field(default_factory=list)  # best-path (or beam) log-probabilities
    worst: list[tuple[float, str, str, float, np.ndarray]] = field(default_factory=list)  # (badness, truth, prediction, confidence, image)
    positions: list[int] = field(default_factory=list)  # each record's sample index or dataset position

    def recalibrate(self, calibration: Calibration) -> None:
        """Recompute every recorded confidence with another calibration."""
        confidences = calibration(torch.tensor(self.scores)).tolist()
        self.metrics.records = [(t, p, c, category) for (t, p, _, category), c in zip(self.metrics.records, confidences)]


@torch.no_grad()
def evaluate(model: torch.nn.Module, batches: Iterable[WordBatch], codec: Codec, device: torch.device,
             calibration: Calibration = Calibration(), beam: int = 0, keep_worst: int = 0,
             casefold: bool = False) -> Evaluation:
    """Greedy (or beam) predictions for every batch, accumulated into an Evaluation.

    `casefold` judges confidence by case-folded matches (for real sets whose labels do not keep the printed case, like
    SROIE's): the calibration fit, its error, the bands and precision/recall then count `Total` for `TOTAL` as right.
    """
    was_training = model.training
    model.eval()
    result = Evaluation(RecognitionMetrics(match="case_insensitive" if casefold else "exact"))
    for batch in batches:
        logits = model(readable(batch.images).to(device)).float().cpu()  # the input must not depend on the answer
        log_probabilities = torch.log_softmax(logits, dim=2)
        if beam > 1:
            found = [prefix_beam_search(sequence, codec, beam) for sequence in log_probabilities]
            texts, scores = [text for text, _ in found], torch.tensor([score for _, score in found])
        else:
            texts = [codec.decode_path(path) for path in log_probabilities.argmax(dim=2).tolist()]
            scores = path_scores(log_probabilities)
        confidences = calibration(scores).tolist()
        result.metrics.update(batch.texts, texts, confidences, batch.categories)
        result.scores.extend(scores.tolist())
        result.positions.extend(batch.indices)
        if keep_worst:
            keep_errors(result, batch, texts, confidences, keep_worst)
    model.train(was_training)
    return result


def keep_errors(result: Evaluation, batch: WordBatch, texts: list[str], confidences: list[float], limit: int) -> None:
    """Keep the `limit` worst errors (judged as the metrics judge them): most edits relative to length, then most confident."""
    images = images_from_batch(batch)
    metrics = result.metrics
    for truth, text, confidence, image in zip(batch.texts, texts, confidences, images):
        if not metrics.right(truth, text):
            compared = normalized(truth, metrics.match), normalized(text, metrics.match)
            badness = edit_counts(*compared).distance / max(len(truth), 1) + confidence
            result.worst.append((badness, truth, text, confidence, image))
    result.worst.sort(key=lambda item: -item[0])
    del result.worst[limit:]


def fit_calibration(evaluation: Evaluation, iterations: int = 100) -> Calibration:
    """Platt scaling: the slope and intercept of a logistic fit of right/wrong on the best-path log-probability."""
    correct = np.array([evaluation.metrics.right(truth, text) for truth, text, _, _ in evaluation.metrics.records],
                       dtype=np.float64)
    if correct.size < 20 or correct.min() == correct.max():
        return Calibration()  # nothing to learn from: keep the raw probability
    scores = np.array(evaluation.scores, dtype=np.float64)
    center, spread = scores.mean(), max(scores.std(), 1e-6)
    features = np.stack([(scores - center) / spread, np.ones_like(scores)], axis=1)
    weights = np.zeros(2)
    for _ in range(iterations):  # Newton's method on the logistic loss, with a little ridge for stability
        predicted = 1 / (1 + np.exp(-features @ weights))
        gradient = features.T @ (predicted - correct) + 1e-3 * weights
        hessian = features.T @ (features * (predicted * (1 - predicted))[:, None]) + 1e-3 * np.eye(2)
        weights -= np.linalg.solve(hessian, gradient)
    slope = weights[0] / spread
    return Calibration(float(slope), float(weights[1] - slope * center))


def picture_data(image: np.ndarray) -> str:
    """A PNG data URI of an image, scaled up for viewing."""
    scaled = cv2.resize(image, None, fx=2, fy=2, interpolation=cv2.INTER_NEAREST)
    ok, encoded = cv2.imencode(".png", cv2.cvtColor(scaled, cv2.COLOR_RGB2BGR) if scaled.ndim == 3 else scaled)
    return "data:image/png;base64," + base64.b64encode(encoded.tobytes()).decode() if ok else ""


def write_gallery(evaluation: Evaluation, path: Path, title: str) -> Path:
    """An HTML page of the worst errors: image, truth, prediction, confidence."""
    rows = "\n".join(
        f"<tr><td><img src='{picture_data(image)}'></td><td><code>{html.escape(truth)}</code></td>"
        f"<td><code>{html.escape(text)}</code></td><td>{confidence:.2f}</td></tr>"
        for _, truth, text, confidence, image in evaluation.worst
    )
    path.write_text(
        f"<!doctype html><meta charset='utf-8'><title>{html.escape(title)}</title>"
        "<style>body{font-family:sans-serif}td{padding:4px 10px;border-bottom:1px solid #ddd}code{font-size:15px}</style>"
        f"<h2>{html.escape(title)}: worst errors</h2><table><tr><th>image</th><th>truth</th><th>prediction</th>"
        f"<th>confidence</th></tr>{rows}</table>",
        encoding="utf-8",
    )
    return path


def write_gallery_png(evaluation: Evaluation, path: Path, limit: int = 24) -> Path:
    """The worst errors as one PNG: each crop with truth and prediction under it."""
    from PIL import Image, ImageDraw

    from synthgen.fonts.sheet import label_font

    tiles = evaluation.worst[:limit]
    width, height = 420, 96
    sheet = Image.new("RGB", (width * 2, height * max(1, (len(tiles) + 1) // 2)), "white")
    draw = ImageDraw.Draw(sheet)
    for position, (_, truth, text, confidence, image) in enumerate(tiles):
        left, top = (position % 2) * width, (position // 2) * height
        picture = Image.fromarray(image).convert("RGB")
        picture = picture.resize((min(width - 8, picture.width * 2), 64))
        sheet.paste(picture, (left + 4, top + 2))
        draw.text((left + 4, top + 68), f"truth {truth!r}  got {text!r}  {confidence:.2f}"[:70], fill=(160, 0, 0),
                  font=label_font(12))
    sheet.save(path)
    return path
