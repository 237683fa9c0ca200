"""A recognizer that reads a few crops (trained here in seconds) and a real server on an ephemeral port."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from recognizer.checkpoints import save_checkpoint
from recognizer.config import TrainConfig
from recognizer.data import reading_margin, with_reading_margin
from recognizer.decoding import greedy_decode
from recognizer.evaluation import ctc_ready
from recognizer.model import build_model, model_config
from recognizer.serve.model import bucket_width
from recognizer.trainer import TrainingState, checkpoint_payload
from synthgen.codec import Codec
from synthgen.generator import WordGenerator
from synthgen.stream import collate

NO_EFFECTS = [f"effects.{stage}.{name}.p=0" for stage, names in (
    ("text", ("underline", "strike_through", "table_rules", "thermal_print", "ink_bleed", "toner_speckle", "bitmap", "shear",
              "rotation", "perspective", "sine_warp", "arc_warp", "elastic_warp")),
    ("image", ("shadow", "crease", "illumination", "gaussian_blur", "motion_blur", "defocus_blur", "resample", "noise",
               "jpeg", "tone", "capture"))) for name in names]


def reading_model(small_config, folder: Path, count: int = 6) -> tuple[Path, list[tuple[np.ndarray, str]]]:
    """A tiny CRNN overfitted on `count` clean crops of one size (as the service reads them: with the reading margin)
    until it reads each alone and all batched; its checkpoint."""
    config = small_config("render.negative_rate=0", "corpus.shape.phrase=0", "corpus.shape.line=0", "corpus.upper_rate=1",
                          "corpus.sources.urls.weight=0", "corpus.balance.enabled=false",
                          "render.neighbor_rate=0", "render.line_fragment_rate=0", "render.inverted_rate=0", *NO_EFFECTS)
    generator = WordGenerator(config)
    crops = []
    index = 0
    while len(crops) < count:
        sample = generator(index)
        index += 1
        if 2 <= len(sample.text) <= 8 and sample.text not in {text for _, text in crops}:
            crops.append((sample.image, sample.text))
    crops = same_width(crops)
    codec = Codec(generator.charset)
    model = build_model(model_config("tiny", codec.classes), seed=0)
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    variants = [(with_reading_margin(variant), text) for image, text in crops for variant in (image, *rescanned(image))]
    batch = collate([(i, image, text) for i, (image, text) in enumerate(variants)], codec)
    alone = [collate([(0, image, text)], codec) for image, text in variants]
    for step in range(1, 3001):
        images = ctc_ready(batch.images, batch.target_lengths)
        logits = model(images)
        loss = F.ctc_loss(logits.log_softmax(2).transpose(0, 1), batch.targets, torch.full((len(batch),), logits.shape[1]),
                          batch.target_lengths, zero_infinity=True)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if step % 50 == 0 and reads_all(model, [batch, *alone], codec):
            break
    else:
        raise RuntimeError("the fixture model did not learn to read its crops")
    model.eval()
    path = folder / "reader.pt"
    save_checkpoint(path, checkpoint_payload(model, None, None, TrainingState(), TrainConfig(name="reader"), codec))
    return path, crops


def same_width(crops: list[tuple[np.ndarray, str]]) -> list[tuple[np.ndarray, str]]:
    """The crops padded on the right with their own edge to one width, which with the reading margin is a width the
    service pads batches to: batched or alone, the model sees no padding beyond the margin."""
    margin = reading_margin(crops[0][0].shape[0])
    width = bucket_width(max(image.shape[1] for image, _ in crops) + margin) - margin
    return [(cv2.copyMakeBorder(image, 0, 0, 0, width - image.shape[1], cv2.BORDER_REPLICATE), text) for image, text in crops]


def rescanned(image: np.ndarray) -> list[np.ndarray]:
    """The crop as it arrives after other hands: enlarged and shrunk back, and JPEG-compressed."""
    height, width = image.shape[:2]
    large = cv2.resize(image, (width * 2, height * 2), interpolation=cv2.INTER_CUBIC)
    back = cv2.resize(large, (width, height), interpolation=cv2.INTER_AREA)
    jpeg = cv2.imdecode(cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 90])[1], cv2.IMREAD_UNCHANGED)
    return [back, jpeg]


def reads_all(model, batches, codec) -> bool:
    """Whether every batch decodes to its labels (checked in eval mode)."""
    model.eval()
    with torch.no_grad():
        right = all([p.text for p in greedy_decode(model(ctc_ready(b.images, b.target_lengths)), codec)] == b.texts
                    for b in batches)
    model.train()
    return right


def png(image: np.ndarray) -> bytes:
    """PNG bytes of an image."""
    return cv2.imencode(".png", image)[1].tobytes()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def running_server(model: Path, config):
    """A real uvicorn server in a thread on an ephemeral port; yields its base URL and the service."""
    import uvicorn

    from recognizer.serve.app import Service, build_app

    port = free_port()
    service = Service(config, model)
    server = uvicorn.Server(uvicorn.Config(build_app(service), host="127.0.0.1", port=port, log_level="warning",
                                           access_log=False))
    thread = threading.Thread(target=lambda: asyncio.run(server.serve()), daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not (server.started and service.ready):
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the server did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}", service
    finally:
        server.should_exit = True
        thread.join(timeout=30)
