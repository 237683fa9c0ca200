"""Reading words from image files with a trained model, with an optional lexicon for mid-confidence answers."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch

from recognizer.data import batches_by_width, read_crop
from recognizer.decoding import Calibration, Prediction, beam_decode, greedy_decode
from recognizer.evaluation import readable
from recognizer.metrics import edit_counts
from synthgen.codec import Codec
from synthgen.datasets import DatasetError
from synthgen.stream import collate


def read_image(path: str | Path) -> np.ndarray:
    """An image file as RGB uint8 (grey files as (H, W))."""
    image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if image is None:
        raise DatasetError(f"cannot read image {path}")
    if image.ndim == 3 and image.shape[2] == 4:
        image = cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB) if image.ndim == 3 else image


@torch.no_grad()
def predict_images(model: torch.nn.Module, codec: Codec, images: list[np.ndarray], calibration: Calibration = Calibration(),
                   beam: int = 0, max_width: int = 400, batch_size: int = 32) -> list[Prediction]:
    """Text and calibrated confidence for each image (any size; resized to the model's height).

    Batched in order of width, as eval batches: less padding, and an image's answer does not depend on the order
    of the images given with it.
    """
    config = model.config
    prepared = [read_crop(image, config.height, config.channels, max_width) for image in images]
    device = next(model.parameters()).device
    predictions: list[Prediction | None] = [None] * len(prepared)
    for positions in batches_by_width([image.shape[1] for image in prepared], batch_size):
        batch = collate([(position, prepared[position], "") for position in positions], codec)
        logits = model(readable(batch.images).to(device)).float().cpu()
        decoded = beam_decode(logits, codec, beam, calibration) if beam > 1 else greedy_decode(logits, codec, calibration)
        for position, prediction in zip(positions, decoded):
            predictions[position] = prediction
    return predictions


@dataclass(frozen=True)
class Lexicon:
    """Known words: high-confidence answers stay, low ones become no text, the middle band snaps to a near word."""

    words: tuple[str, ...]
    high: float = 0.9
    low: float = 0.3
    max_distance: int = 2

    @classmethod
    def from_file(cls, path: str | Path, **thresholds) -> "Lexicon":
        """One word per line (blank lines ignored)."""
        lines = Path(path).read_text(encoding="utf-8").splitlines()
        return cls(tuple(dict.fromkeys(line.strip() for line in lines if line.strip())), **thresholds)

    def apply(self, prediction: Prediction) -> tuple[Prediction, str]:
        """The prediction after the lexicon, and what happened: kept, rejected, corrected or unmatched."""
        if prediction.confidence >= self.high:
            return prediction, "kept"
        if prediction.confidence < self.low:
            return Prediction("", prediction.confidence), "rejected"
        best, distance = None, self.max_distance + 1
        for word in self.words:
            if abs(len(word) - len(prediction.text)) <= self.max_distance:
                candidate = edit_counts(prediction.text, word).distance
                if candidate < distance:
                    best, distance = word, candidate
        if best is None or best == prediction.text:
            return prediction, "unmatched" if best is None else "kept"
        return Prediction(best, prediction.confidence), "corrected"
