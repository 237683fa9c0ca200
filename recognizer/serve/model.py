"""The served model (a checkpoint or an ONNX file), read through the same path as `predict`, and its atomic swap."""

from __future__ import annotations

import json
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from recognizer.checkpoints import checkpoint_calibration, checkpoint_max_width, load_checkpoint
from recognizer.data import prepare_image
from recognizer.decoding import Calibration, allowed_classes, path_scores, prefix_beams
from recognizer.errors import CheckpointError
from recognizer.evaluation import ctc_ready
from recognizer.model import STRIDE
from recognizer.predict import Lexicon
from synthgen.charset import Charset
from synthgen.codec import Codec
from synthgen.files import file_sha256
from synthgen.stream import collate

CHECK_WORDS = ("TOTAL", "12.99", "Receipt", "Qty: 2")  # built-in crops every candidate model reads before it serves


@dataclass(frozen=True)
class Options:
    """Per-request decoding options."""

    beam: int = 0  # beam width; 0 or 1: greedy best path
    top_k: int = 0  # alternatives from the beam, 0 for none
    lexicon: str | None = None  # the name of a word list loaded at start
    allowed: str | None = None  # the characters the decoder may emit (constrained, not filtered afterwards)


@dataclass
class ServedModel:
    """A loaded model and everything needed to read crops with it exactly as `predict` does."""

    path: Path
    sha256: str
    kind: str  # checkpoint | onnx
    codec: Codec
    calibration: Calibration
    height: int
    channels: int
    max_width: int
    preset: str
    run: str
    logits: Callable[[torch.Tensor], torch.Tensor]  # (N, C, H, W) in [-1, 1] -> (N, T, classes)
    loaded: float = field(default_factory=time.time)

    def describe(self) -> dict[str, Any]:
        """What is served, for GET /v1/model."""
        return {"path": str(self.path), "sha256": self.sha256, "kind": self.kind, "charset_size": len(self.codec.characters),
                "preset": self.preset, "height": self.height, "channels": self.channels, "max_width": self.max_width,
                "training_run": self.run, "calibrated": self.calibration.slope is not None,
                "loaded": time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(self.loaded))}

    def read(self, images: list[np.ndarray], options: Options, lexicon: Lexicon | None, max_batch: int) -> list[dict]:
        """Text, calibrated and raw confidence (and alternatives, lexicon outcome) for each RGB crop, in order."""
        prepared = [prepare_image(image, self.height, self.channels, self.max_width) for image in images]
        mask = allowed_classes(self.codec, options.allowed) if options.allowed else None
        results: list[dict] = [{}] * len(prepared)
        order = sorted(range(len(prepared)), key=lambda position: prepared[position].shape[1])  # less padding
        for start in range(0, len(order), max_batch):
            chunk = order[start : start + max_batch]
            batch = collate([(position, prepared[position], "") for position in chunk], self.codec)
            with torch.no_grad():
                logits = self.logits(ctc_ready(batch.images, torch.tensor([0]))).float()
            if mask is not None:
                logits = logits.masked_fill(~mask, -math.inf)
            for position, sequence in zip(chunk, torch.log_softmax(logits, dim=2)):
                results[position] = self.decode(sequence, options, lexicon)
        return results

    def decode(self, sequence: torch.Tensor, options: Options, lexicon: Lexicon | None) -> dict[str, Any]:
        """One (T, C) sequence of log-probabilities to the answer's fields."""
        if options.beam > 1:
            beams = prefix_beams(sequence, self.codec, options.beam)
            text, score = beams[0]
        else:
            text = self.codec.decode_path(sequence.argmax(dim=1).tolist())
            score, beams = float(path_scores(sequence[None])[0]), []
        confidence = float(self.calibration(torch.tensor([score]))[0])
        answer: dict[str, Any] = {"text": text, "confidence": round(confidence, 4), "raw_confidence": round(math.exp(score), 4)}
        if options.top_k:
            scores = torch.tensor([value for _, value in beams[: options.top_k]])
            answer["alternatives"] = [{"text": alternative, "confidence": round(float(c), 4)}
                                      for (alternative, _), c in zip(beams, self.calibration(scores).tolist())]
        if lexicon is not None:
            from recognizer.decoding import Prediction

            snapped, outcome = lexicon.apply(Prediction(text, confidence))
            answer.update(text=snapped.text, lexicon=outcome, read=text)
        return answer


def load_served_model(path: Path, threads: int = 1) -> ServedModel:
    """A checkpoint (.pt) or an ONNX file exported by `recognizer export` (which carries the charset and calibration)."""
    if not path.is_file():
        raise CheckpointError(f"model {path} does not exist")
    if path.suffix.lower() == ".onnx":
        return load_onnx(path, threads)
    model, codec, payload = load_checkpoint(path)
    config = model.config
    return ServedModel(path, file_sha256(path), "checkpoint", codec, checkpoint_calibration(payload), config.height,
                       config.channels, checkpoint_max_width(payload), config.preset,
                       str(payload.get("train_config", {}).get("name", "")), model)


def load_onnx(path: Path, threads: int) -> ServedModel:
    """An ONNX model through ONNX Runtime on the CPU, its charset and calibration from the file's metadata."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    try:
        session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as error:  # noqa: BLE001  (ONNX Runtime raises its own exception types for broken files)
        raise CheckpointError(f"{path} is not a readable ONNX model ({str(error).splitlines()[0][:160]})") from None
    metadata = session.get_modelmeta().custom_metadata_map
    if "synthgen.charset" not in metadata:
        raise CheckpointError(f"{path} carries no charset: export it with `recognizer export` from a checkpoint")
    settings = json.loads(metadata["synthgen.model_config"])
    slope, intercept = json.loads(metadata["synthgen.calibration"])

    def logits(images: torch.Tensor) -> torch.Tensor:
        return torch.from_numpy(session.run(None, {"images": images.numpy()})[0])

    return ServedModel(path, file_sha256(path), "onnx", Codec(Charset(metadata["synthgen.charset"])),
                       Calibration(slope, intercept), settings["height"], settings["channels"],
                       int(metadata["synthgen.max_width"]), settings["preset"], metadata.get("synthgen.run", ""), logits)


def built_in_crops(height: int = 48) -> list[np.ndarray]:
    """Dark words on white paper drawn with DejaVu Sans (always installed with matplotlib), and one inverted."""
    from PIL import Image, ImageDraw, ImageFont

    from synthgen.fonts.files import matplotlib_font_folder

    font = ImageFont.truetype(str(matplotlib_font_folder() / "DejaVuSans.ttf"), int(height * 0.6))
    crops = []
    for word in CHECK_WORDS:
        width = int(font.getlength(word)) + height // 2
        canvas = Image.new("RGB", (width, height), "white")
        ImageDraw.Draw(canvas).text((height // 4, height // 6), word, font=font, fill=(20, 20, 20))
        crops.append(np.asarray(canvas))
    crops.append(255 - crops[0])
    return crops


def check_model(candidate: ServedModel, served: ServedModel | None, max_batch: int) -> None:
    """Warm-up and parity on the built-in crops: right shapes, finite logits, the same answers alone and batched,
    and the charset of the model being served (clients rely on it). Raises CheckpointError naming what failed."""
    crops = built_in_crops()
    if served is not None and candidate.codec.characters != served.codec.characters:
        raise CheckpointError(f"{candidate.path} reads another charset ({len(candidate.codec.characters)} characters, "
                              f"the served model {len(served.codec.characters)}): refused")
    prepared = prepare_image(crops[0], candidate.height, candidate.channels, candidate.max_width)
    batch = collate([(0, prepared, "")], candidate.codec)
    try:
        logits = candidate.logits(ctc_ready(batch.images, torch.tensor([0])))
    except Exception as error:  # noqa: BLE001  (whatever the runtime raises, the candidate is refused)
        raise CheckpointError(f"{candidate.path} fails on a built-in crop: {str(error).splitlines()[0][:160]}") from None
    expected = (1, batch.images.shape[-1] // STRIDE, candidate.codec.classes)
    if tuple(logits.shape) != expected or not torch.isfinite(logits).all():
        raise CheckpointError(f"{candidate.path} gives logits of shape {tuple(logits.shape)} (expected {expected}) "
                              "or non-finite values on a built-in crop")
    together = [answer["text"] for answer in candidate.read(crops, Options(), None, max_batch)]
    alone = [candidate.read([crop], Options(), None, max_batch)[0]["text"] for crop in crops]
    if together != alone:
        raise CheckpointError(f"{candidate.path} reads the built-in crops differently alone and batched: {alone} vs {together}")


class ModelHolder:
    """The model being served; a reload loads and checks a candidate first and swaps only when it passed."""

    def __init__(self, max_batch: int, threads: int) -> None:
        self.current: ServedModel | None = None
        self.max_batch, self.threads = max_batch, threads
        self.lock = threading.Lock()  # one reload at a time; requests read self.current without waiting

    def load(self, path: Path) -> ServedModel:
        """Load, check, then swap in (in-flight requests finish on the model they started with)."""
        with self.lock:
            candidate = load_served_model(path, self.threads)
            check_model(candidate, self.current, self.max_batch)
            self.current = candidate
            return candidate
