"""The CRNN recognizer: shapes, CTC with empty labels, overfitting, resume, metrics, decoding, ONNX, DDP."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import cv2
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from recognizer.config import load_train_config
from recognizer.decoding import Calibration, beam_decode, greedy_decode
from recognizer.data import DiskWords, evaluation_batches, reading_margin
from recognizer.evaluation import Evaluation, ctc_ready, evaluate, keep_errors
from recognizer.metrics import RecognitionMetrics, edit_counts
from recognizer.model import PRESETS, STRIDE, build_model, model_config
from recognizer.predict import Lexicon, predict_images
from recognizer.checkpoints import load_checkpoint
from recognizer.trainer import learning_rate_factor, train
from conftest import tiny_overrides
from synthgen.codec import BLANK, Codec
from synthgen.paths import PROJECT_ROOT
from synthgen.stream import SyntheticWords, WordBatch


@pytest.fixture(scope="module")
def codec(charset):
    return Codec(charset)


@pytest.mark.parametrize("preset", list(PRESETS))
@pytest.mark.parametrize("width", [40, 203])
def test_every_preset_maps_images_to_one_column_of_logits_per_four_pixels(preset, width, codec):
    model = build_model(model_config(preset, codec.classes)).eval()
    logits = model(torch.zeros(3, 1, 32, width))
    assert logits.shape == (3, width // STRIDE, codec.classes)


def test_ctc_padding_leaves_room_for_the_longest_label_with_repeats(codec):
    images = torch.zeros(2, 1, 32, 30)
    padded = ctc_ready(images, torch.tensor([25, 3]))
    assert padded.shape[-1] // STRIDE >= 2 * 25 + 1


class Recording(torch.nn.Module):
    """A model that keeps every input it is given."""

    def __init__(self, model) -> None:
        super().__init__()
        self.model, self.config, self.inputs = model, model.config, []

    def forward(self, images):
        self.inputs.append(images.clone())
        return self.model(images)


def test_eval_gives_the_model_a_crop_as_predict_does_whatever_its_label(codec, tmp_path):
    model = build_model(model_config("tiny", codec.classes), seed=0)
    crop = np.full((20, 14), 230, np.uint8)
    crop[5:15, 3:11] = 30  # narrow: widening it to fit a long label would change what the model reads
    seen = []
    for label in ("A", "ABCDEFGHIJKLMNOP"):
        folder = tmp_path / label
        folder.mkdir()
        cv2.imwrite(str(folder / "crop.png"), crop)
        (folder / "labels.tsv").write_text(f"crop.png\t{label}\n", encoding="utf-8")
        recording = Recording(model)
        evaluate(recording, evaluation_batches(DiskWords(folder, 32, 1, 400), codec, 64), codec, torch.device("cpu"))
        seen += recording.inputs
    recording = Recording(model)
    predict_images(recording, codec, [crop])
    seen += recording.inputs
    assert len(seen) == 3 and all(torch.equal(images, seen[-1]) for images in seen)
    assert seen[-1].shape[-1] == round(14 * 32 / 20) + reading_margin(32)


def test_predict_answers_each_crop_whatever_the_order_of_the_crops_given_with_it(codec):
    model = build_model(model_config("tiny", codec.classes), seed=0).eval()
    crops = []
    for width in (90, 14, 60, 30, 120, 45):
        crop = np.full((20, width), 230, np.uint8)
        crop[5:15, 2 : width - 2 : 4] = 30
        crops.append(crop)
    gentle = Calibration(slope=0.01)  # keeps an untrained model's tiny path probabilities apart
    forward = predict_images(model, codec, crops, gentle, batch_size=2)
    rotated = predict_images(model, codec, crops[1:] + crops[:1], gentle, batch_size=2)
    rotated = rotated[-1:] + rotated[:-1]
    assert [(p.text, p.confidence) for p in forward] == [(p.text, p.confidence) for p in rotated]


def test_empty_labels_go_through_the_ctc_loss_and_the_metrics(codec):
    model = build_model(model_config("tiny", codec.classes))
    targets = torch.tensor(codec.encode("ab"), dtype=torch.int64)
    lengths = torch.tensor([0, 2, 0])
    logits = model(ctc_ready(torch.zeros(3, 1, 32, 48), lengths))
    loss = F.ctc_loss(logits.log_softmax(2).transpose(0, 1), targets, torch.full((3,), logits.shape[1]), lengths,
                      blank=BLANK, zero_infinity=True)
    assert torch.isfinite(loss)
    loss.backward()
    metrics = RecognitionMetrics()
    metrics.update(["", "", "ab"], ["", "x", "ab"], [0.9, 0.8, 0.7])
    summary = metrics.summary()
    assert summary["words"] == 1 and summary["negatives"] == 2 and summary["negative_false_positive_rate"] == 0.5
    assert summary["accuracy"] == 1.0


def test_metrics_on_hand_made_predictions():
    metrics = RecognitionMetrics()
    metrics.update(["Total", "12.99", "HELLO WORLD", "Café"], ["TOTAL", "12.90", "HELLOWORLD", "Cafe"], [0.95, 0.6, 0.4, 0.2],
                   ["upc", "prices", "books", "books"])
    summary = metrics.summary()
    assert summary["accuracy_exact"] == 0.0
    assert summary["accuracy_case_insensitive"] == 0.25  # Total
    assert summary["accuracy_ignore_spaces"] == 0.5  # + HELLO WORLD
    assert summary["accuracy_alphanumeric"] == 0.5  # 12.99 vs 12.90 still differs; é is dropped on one side only
    assert (summary["substitutions"], summary["insertions"], summary["deletions"]) == (4 + 1 + 1, 0, 1)
    assert summary["cer"] == pytest.approx(7 / 25)
    assert summary["per_category"]["books"]["words"] == 2
    at_half = next(row for row in summary["precision_recall"] if row["threshold"] == 0.5)
    assert at_half["kept"] == 0.5 and at_half["precision"] == 0.0


@pytest.mark.parametrize("casefold, kept", [(False, ["TOTAL", "DATE"]), (True, ["DATE"])])
def test_the_worst_errors_are_judged_as_the_metrics_judge_them(casefold, kept):
    batch = WordBatch(images=torch.zeros(2, 1, 8, 16), widths=torch.tensor([16, 16]), targets=torch.zeros(0, dtype=torch.int64),
                      target_lengths=torch.zeros(2, dtype=torch.int64), texts=["TOTAL", "DATE"], indices=[0, 1])
    result = Evaluation(RecognitionMetrics(match="case_insensitive" if casefold else "exact"))
    keep_errors(result, batch, ["Total", "DATA"], [0.9, 0.5], limit=10)
    assert [truth for _, truth, _, _, _ in result.worst] == kept


@pytest.mark.parametrize("truth, prediction, counts", [("kitten", "sitting", (2, 1, 0)), ("", "ab", (0, 2, 0)),
                                                      ("abc", "", (0, 0, 3)), ("same", "same", (0, 0, 0))])
def test_edit_counts(truth, prediction, counts):
    result = edit_counts(truth, prediction)
    assert (result.substitutions, result.insertions, result.deletions) == counts


def test_greedy_and_beam_decoding_agree_on_a_confident_path(codec):
    path = [BLANK, *codec.encode("a"), *codec.encode("a"), BLANK, *codec.encode("a"), *codec.encode("b"), BLANK]
    logits = torch.full((1, len(path), codec.classes), -10.0)
    logits[0, torch.arange(len(path)), torch.tensor(path)] = 10.0
    greedy, = greedy_decode(logits, codec)
    beam, = beam_decode(logits, codec, beam_width=4)
    assert greedy.text == beam.text == "aab"
    assert 0.99 < greedy.confidence <= 1.0 and 0.99 < beam.confidence <= 1.0001


def test_the_schedule_warms_up_then_decays(tmp_path):
    config = load_train_config(None, ["steps=100", "optim.warmup_steps=10"])
    factors = [learning_rate_factor(step, config) for step in range(100)]
    assert factors[0] == pytest.approx(0.1) and factors[9] == pytest.approx(1.0)
    assert all(a >= b for a, b in zip(factors[10:], factors[11:])) and factors[-1] < 0.05


def test_the_lexicon_only_touches_mid_confidence_answers():
    from recognizer.decoding import Prediction

    lexicon = Lexicon(("TOTAL", "CHANGE", "CASH"), high=0.9, low=0.3)
    assert lexicon.apply(Prediction("T0TAL", 0.95))[0].text == "T0TAL"
    assert lexicon.apply(Prediction("T0TAL", 0.6)) == (Prediction("TOTAL", 0.6), "corrected")
    assert lexicon.apply(Prediction("T0TAL", 0.1))[0].text == ""
    assert lexicon.apply(Prediction("XYZZYQ", 0.6))[1] == "unmatched"


def test_resume_after_a_crash_follows_the_same_trajectory(tmp_path, generator_overrides):
    overrides = tiny_overrides(tmp_path, generator_overrides, steps=6, every=3)
    whole = train(load_train_config(None, overrides), progress=False)
    cut = train(load_train_config(None, [*overrides, "name=cut"]), progress=False, stop_at=4)  # dies after step 4
    resumed = train(load_train_config(cut / "config.yaml"), resume=cut, progress=False)
    first, second = (torch.load(run / "checkpoints" / "last.pt", weights_only=False) for run in (whole, resumed))
    assert first["state"]["step"] == second["state"]["step"] == 6
    for name, tensor in first["model"].items():
        assert torch.equal(tensor, second["model"][name]), name
    losses = [[r["loss"] for r in map(json.loads, (run / "metrics.jsonl").read_text().splitlines()) if r["kind"] == "train"]
              for run in (whole, resumed)]
    assert losses[0] == losses[1]


def test_a_small_batch_is_overfitted_on_cpu(codec, small_config):
    torch.manual_seed(0)
    dataset = SyntheticWords(small_config("render.negative_rate=0", "corpus.max_chars=10", "corpus.sources.urls.weight=0"), batch_size=4, bucket_batches=1)
    batch = dataset[0][0]
    model = build_model(model_config("tiny", codec.classes))
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    images = ctc_ready(batch.images, batch.target_lengths)
    read = []
    for step in range(1, 601):
        logits = model(images)
        loss = F.ctc_loss(logits.log_softmax(2).transpose(0, 1), batch.targets, torch.full((4,), logits.shape[1]),
                          batch.target_lengths, zero_infinity=True)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if step % 50 == 0:
            model.eval()
            read = [p.text for p in greedy_decode(model(images), codec)]
            model.train()
            if read == batch.texts:
                break
    assert read == batch.texts


def test_checkpoints_carry_the_charset_and_onnx_matches_pytorch(tmp_path, generator_overrides):
    ort = pytest.importorskip("onnxruntime")
    from recognizer.export import export_onnx

    run = train(load_train_config(None, tiny_overrides(tmp_path, generator_overrides, steps=2, every=2)), progress=False)
    model, codec, payload = load_checkpoint(run / "checkpoints" / "last.pt")
    assert codec.characters == payload["charset"] and payload["train_config"]["steps"] == 2
    path = export_onnx(model, tmp_path / "model.onnx")
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    for batch, width in ((1, 64), (3, 232)):
        images = torch.from_numpy(np.random.default_rng(width).uniform(-1, 1, (batch, 1, 32, width)).astype(np.float32))
        expected = model(images).detach().numpy()
        got, = session.run(None, {"images": images.numpy()})
        assert got.shape == expected.shape and np.allclose(got, expected, atol=1e-4)


def test_two_process_ddp_training_on_cpu_with_gloo(tmp_path, generator_overrides):
    overrides = tiny_overrides(tmp_path, generator_overrides, steps=2, every=2)
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", "29517",
               "-m", "recognizer", "train", *[item for override in overrides for item in ("--set", override)]]
    result = subprocess.run(command, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=600,
                            env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert result.returncode == 0, result.stderr[-3000:]
    runs = list((tmp_path / "runs").iterdir())
    assert len(runs) == 1 and (runs[0] / "checkpoints" / "last.pt").exists()
    assert torch.load(runs[0] / "checkpoints" / "last.pt", weights_only=False)["state"]["step"] == 2
