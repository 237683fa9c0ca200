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
import torch.nn.functional as F

from recognizer.checkpoints import checkpoint_calibration, checkpoint_max_width, load_checkpoint
from recognizer.data import batches_by_width, prepare_image, read_crop, reading_margin
from recognizer.decoding import Calibration, allowed_classes, path_scores, prefix_beams
from recognizer.errors import CheckpointError
from recognizer.evaluation import readable
from recognizer.export import onnx_graph
from recognizer.model import STRIDE, folded_for_inference
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
    precision: str = "fp32"  # what the forward pass computes in: fp32 (ONNX Runtime), or bf16 autocast (PyTorch)
    loaded: float = field(default_factory=time.time)

    @property
    def runtime(self) -> str:
        """Where the forward pass runs: bf16 in PyTorch, fp32 in ONNX Runtime."""
        return "torch" if self.precision == "bf16" else "onnxruntime"

    def describe(self) -> dict[str, Any]:
        """What is served, for GET /v1/model."""
        return {"path": str(self.path), "sha256": self.sha256, "kind": self.kind, "charset_size": len(self.codec.characters),
                "preset": self.preset, "height": self.height, "channels": self.channels, "max_width": self.max_width,
                "training_run": self.run, "precision": self.precision, "runtime": self.runtime, "calibrated": self.calibration.slope is not None,
                "loaded": time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(self.loaded))}

    def read(self, images: list[np.ndarray], options: Options, lexicon: Lexicon | None, max_batch: int) -> list[dict]:
        """Text, calibrated and raw confidence (and alternatives, lexicon outcome) for each RGB crop, in order."""
        return self.read_many([(images, options, lexicon)], max_batch)[0]

    def read_many(self, requests: list[tuple[list[np.ndarray], Options, Lexicon | None]], max_batch: int) -> list[list[dict]]:
        """The answers of several requests whose crops run through the model together, in padded batches by width."""
        masks = [allowed_classes(self.codec, options.allowed) if options.allowed else None for _, options, _ in requests]
        owners = [(number, position) for number, (images, _, _) in enumerate(requests) for position in range(len(images))]
        prepared = [read_crop(requests[number][0][position], self.height, self.channels, self.max_width)
                    for number, position in owners]
        answers: list[list[dict]] = [[{}] * len(images) for images, _, _ in requests]
        for chunk in batches_by_width([crop.shape[1] for crop in prepared], max_batch):
            batch = collate([(crop, prepared[crop], "") for crop in chunk], self.codec)
            with torch.no_grad():
                logits = self.logits(rows_in_powers_of_two(width_in_buckets(batch.images)))  # the margin covers CTC's minimum
            logits = logits[: len(chunk)]
            if any(masks[owners[crop][0]] is not None for crop in chunk):
                everything = torch.ones(self.codec.classes, dtype=torch.bool)
                allowed = torch.stack([masks[owners[crop][0]] if masks[owners[crop][0]] is not None else everything
                                       for crop in chunk])
                logits = logits.masked_fill(~allowed[:, None, :], -math.inf)
            log_probabilities = torch.log_softmax(logits, dim=2)  # the whole chunk at once: small ops cost per call
            paths, scores = log_probabilities.argmax(dim=2).tolist(), path_scores(log_probabilities).tolist()
            for row, crop in enumerate(chunk):
                number, position = owners[crop]
                _, options, lexicon = requests[number]
                answers[number][position] = self.decode(log_probabilities[row], paths[row], scores[row], options, lexicon)
        return answers

    def warm_up(self, max_batch: int, threads: int) -> None:
        """Run every batch shape the service can form once (rows in powers of two, widths in buckets), so the runtime
        compiles its kernels before the first request: no slow first answers, and memory flat from then on."""
        torch.set_num_threads(threads)
        widest = self.max_width + reading_margin(self.height)
        widths = sorted({bucket_width(width) for width in range(reading_margin(self.height) + 1, widest + 1)})
        for power in range((max_batch - 1).bit_length() + 1):
            for width in widths:
                self.logits(torch.zeros(1 << power, self.channels, self.height, width))

    def decode(self, sequence: torch.Tensor, path: list[int], score: float, options: Options,
               lexicon: Lexicon | None) -> dict[str, Any]:
        """One (T, C) sequence of log-probabilities, with its best path and that path's score, to the answer's fields."""
        if options.beam > 1:
            beams = prefix_beams(sequence, self.codec, options.beam)
            text, score = beams[0]
        else:
            text, beams = self.codec.decode_path(path), []
        confidence = self.calibration.of(score)
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


def bucket_width(width: int) -> int:
    """The width a batch is padded to: a multiple of 16 pixels up to 128, of 32 up to 256, of 64 beyond (at most
    about an eighth more columns), so the service meets a few dozen shapes instead of one per pixel."""
    step = 16 if width <= 128 else 32 if width <= 256 else 64
    return -(-width // step) * step


def width_in_buckets(images: torch.Tensor) -> torch.Tensor:
    """A batch padded on the right (edge repeated: the reading margin's paper) to its bucket's width: the runtime then
    keeps a few dozen compiled kernels, instead of compiling (and holding) one per width."""
    missing = bucket_width(images.shape[-1]) - images.shape[-1]
    return F.pad(images, (0, missing, 0, 0), mode="replicate") if missing else images


def rows_in_powers_of_two(images: torch.Tensor) -> torch.Tensor:
    """A batch filled up to a power-of-two count of rows with copies of its last one (their answers are dropped), for
    the same reason as `width_in_buckets`: compiling kernels for a new shape costs more than reading a few extra rows."""
    rows = images.shape[0]
    missing = (1 << (rows - 1).bit_length()) - rows
    return torch.cat([images, images[-1:].expand(missing, *images.shape[1:])]) if missing else images


def load_served_model(path: Path, threads: int = 1, precision: str = "fp32") -> ServedModel:
    """A checkpoint (.pt) or an ONNX file exported by `recognizer export` (which carries the charset and calibration).

    A checkpoint's batch norms are folded; in bf16 (where `precision` asks for it) it runs in PyTorch, in fp32 it is
    exported in memory and runs in ONNX Runtime, like an ONNX file: ONNX Runtime reads a single crop in about half
    PyTorch's time and batches faster too, with the same answers.
    """
    if not path.is_file():
        raise CheckpointError(f"model {path} does not exist")
    if path.suffix.lower() == ".onnx":
        return load_onnx(path, threads)
    model, codec, payload = load_checkpoint(path)
    config = model.config
    dtype = inference_dtype(precision)
    folded = folded_for_inference(model)
    logits = bf16_logits(folded) if dtype else session_logits(onnx_session(onnx_graph(folded), threads))
    return ServedModel(path, file_sha256(path), "checkpoint", codec, checkpoint_calibration(payload), config.height,
                       config.channels, checkpoint_max_width(payload), config.preset,
                       str(payload.get("train_config", {}).get("name", "")), logits,
                       "bf16" if dtype else "fp32")


def inference_dtype(precision: str) -> torch.dtype | None:
    """bf16 when asked, or under `auto` on a CPU with native bf16 (AVX512-BF16 or AMX: about 2x faster); else None."""
    if precision == "auto":
        native = [getattr(torch.cpu, name, lambda: False) for name in ("_is_avx512_bf16_supported", "_is_amx_tile_supported")]
        return torch.bfloat16 if any(check() for check in native) else None
    return torch.bfloat16 if precision == "bf16" else None


def bf16_logits(folded: torch.nn.Module) -> Callable[[torch.Tensor], torch.Tensor]:
    """A folded checkpoint's forward pass in PyTorch, bf16 autocast on channels-last tensors (oneDNN's fast layout
    for bf16 convolution and pooling: 10-50% faster there)."""
    folded = folded.to(memory_format=torch.channels_last)

    def logits(images: torch.Tensor) -> torch.Tensor:
        with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16):
            return folded(images.contiguous(memory_format=torch.channels_last)).float()

    return logits


def onnx_session(model: str | bytes, threads: int):
    """An ONNX Runtime CPU session of a file or serialized graph, `threads` threads per run."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    return onnxruntime.InferenceSession(model, options, providers=["CPUExecutionProvider"])


def session_logits(session) -> Callable[[torch.Tensor], torch.Tensor]:
    """The forward pass of an ONNX Runtime session on (N, C, H, W) tensors."""

    def logits(images: torch.Tensor) -> torch.Tensor:
        return torch.from_numpy(session.run(None, {"images": images.numpy()})[0])

    return logits


def load_onnx(path: Path, threads: int) -> ServedModel:
    """An ONNX model through ONNX Runtime on the CPU, its charset and calibration from the file's metadata."""
    try:
        session = onnx_session(str(path), threads)
    except Exception as error:  # noqa: BLE001  (ONNX Runtime raises its own exception types for broken files)
        raise CheckpointError(f"{path} is not a readable ONNX model ({str(error).splitlines()[0][:160]})") from None
    metadata = session.get_modelmeta().custom_metadata_map
    if "synthgen.charset" not in metadata:
        raise CheckpointError(f"{path} carries no charset: export it with `recognizer export` from a checkpoint")
    settings = json.loads(metadata["synthgen.model_config"])
    slope, intercept = json.loads(metadata["synthgen.calibration"])
    return ServedModel(path, file_sha256(path), "onnx", Codec(Charset(metadata["synthgen.charset"])),
                       Calibration(slope, intercept), settings["height"], settings["channels"],
                       int(metadata["synthgen.max_width"]), settings["preset"], metadata.get("synthgen.run", ""),
                       session_logits(session))


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
    """Warm-up and parity on the built-in crops: right shapes, finite logits, the same answer alone and batched,
    and the charset of the model being served (clients rely on it). Raises CheckpointError naming what failed."""
    crops = built_in_crops()
    if served is not None and candidate.codec.characters != served.codec.characters:
        raise CheckpointError(f"{candidate.path} reads another charset ({len(candidate.codec.characters)} characters, "
                              f"the served model {len(served.codec.characters)}): refused")
    prepared = prepare_image(crops[0], candidate.height, candidate.channels, candidate.max_width)
    batch = collate([(0, prepared, "")], candidate.codec)
    try:
        logits = candidate.logits(readable(batch.images))
    except Exception as error:  # noqa: BLE001  (whatever the runtime raises, the candidate is refused)
        raise CheckpointError(f"{candidate.path} fails on a built-in crop: {str(error).splitlines()[0][:160]}") from None
    expected = (1, batch.images.shape[-1] // STRIDE, candidate.codec.classes)
    if tuple(logits.shape) != expected or not torch.isfinite(logits).all():
        raise CheckpointError(f"{candidate.path} gives logits of shape {tuple(logits.shape)} (expected {expected}) "
                              "or non-finite values on a built-in crop")
    alone = [candidate.read([crop], Options(), None, max_batch)[0]["text"] for crop in crops]  # every width once
    # Copies of one crop (and its inverted twin, which reads as the same pixels) fill a batch without padding, so any
    # difference from reading it alone is the runtime's, not the model's: a broken batch axis in an export, say.
    together = [answer["text"] for answer in candidate.read([crops[0], crops[-1], crops[0]], Options(), None, max_batch)]
    if together != [alone[0]] * 3:
        raise CheckpointError(f"{candidate.path} reads a built-in crop as {alone[0]!r} alone but {together} in a batch of copies")


class ModelHolder:
    """The model being served; a reload loads and checks a candidate first and swaps only when it passed."""

    def __init__(self, max_batch: int, threads: int, precision: str = "fp32") -> None:
        self.current: ServedModel | None = None
        self.max_batch, self.threads, self.precision = max_batch, threads, precision
        self.lock = threading.Lock()  # one reload at a time; requests read self.current without waiting

    def load(self, path: Path) -> ServedModel:
        """Load, check, then swap in (in-flight requests finish on the model they started with)."""
        with self.lock:
            candidate = load_served_model(path, self.threads, self.precision)
            check_model(candidate, self.current, self.max_batch)
            candidate.warm_up(self.max_batch, self.threads)
            self.current = candidate
            return candidate
