"""Document-disjoint splits of real crops, confidence bands, and calibration that fixes a miscalibrated model."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest

from recognizer.decoding import Calibration
from recognizer.evaluation import Evaluation, fit_calibration
from recognizer.metrics import RecognitionMetrics
from synthgen.cli import main as synthgen_main
from synthgen.datasets import DatasetError, open_dataset
from synthgen.split import split_dataset


@pytest.fixture
def receipts(tmp_path):
    """12 documents of 3 crops each, named like sroie_r012_b003_w00.png, with a meta.tsv naming the document."""
    folder = tmp_path / "real"
    folder.mkdir()
    lines, meta = [], ["filename\treceipt\ttext"]
    for document in range(12):
        for word in range(3):
            name = f"sroie_r{document:03d}_b00{word}_w00.png"
            cv2.imwrite(str(folder / name), np.full((20, 30 + word), 200 + document, np.uint8))
            label = f"T{document}-{word}"
            lines.append(f"{name}\t{label}\n")
            meta.append(f"{name}\t{document:03d}\t{label}")
    (folder / "labels.tsv").write_text("".join(lines), encoding="utf-8")
    (folder / "meta.tsv").write_text("\n".join(meta) + "\n", encoding="utf-8")
    return folder


def documents(side) -> set[str]:
    return {label.split("-")[0] for label in open_dataset(side).labels()}


@pytest.mark.parametrize("by", ["receipt", r"sroie_r(\d+)_"])
def test_no_document_sits_on_both_sides_and_the_split_is_deterministic(tmp_path, receipts, by):
    plan = split_dataset(receipts, by, 0.75, 3, tmp_path / "a")
    again = split_dataset(receipts, by, 0.75, 3, tmp_path / "b")
    train, validation = documents(tmp_path / "a" / "train"), documents(tmp_path / "a" / "validation")
    assert not train & validation and len(train | validation) == 12 and len(train) == 9
    assert len(open_dataset(tmp_path / "a" / "train")) + len(open_dataset(tmp_path / "a" / "validation")) == 36
    assert plan.groups == again.groups and documents(tmp_path / "b" / "train") == train
    other = split_dataset(receipts, by, 0.75, 4, tmp_path / "c")
    assert other.groups != plan.groups  # the seed decides which documents go where
    assert (tmp_path / "a" / "train" / "meta.tsv").read_text().count("\n") == 1 + 27


def test_labels_outside_the_charset_stop_the_split_unless_dropped_and_counted(tmp_path, receipts, capsys):
    text = (receipts / "labels.tsv").read_text(encoding="utf-8").replace("T3-1", "naïve")
    (receipts / "labels.tsv").write_text(text, encoding="utf-8")
    with pytest.raises(DatasetError, match="--drop-outside-charset"):
        split_dataset(receipts, "receipt", 0.8, 0, tmp_path / "a", frozenset("T0123456789-"))
    code = synthgen_main(["split", str(receipts), "--by", "receipt", "--out", str(tmp_path / "b"), "--drop-outside-charset"])
    printed = capsys.readouterr().out
    assert code == 0 and "dropped         1 crops" in printed and "'ï' x1" in printed
    assert len(open_dataset(tmp_path / "b" / "train")) + len(open_dataset(tmp_path / "b" / "validation")) == 35


def test_a_regex_that_misses_a_name_is_an_error_naming_it(tmp_path, receipts):
    with pytest.raises(DatasetError, match="does not match the sample name"):
        split_dataset(receipts, r"invoice_(\d+)", 0.8, 0, tmp_path / "a")


def miscalibrated(count: int = 4000, seed: int = 0) -> Evaluation:
    """Scores whose raw probability says 0.95 where the model is right half the time (overconfident, as on real crops)."""
    rng = np.random.default_rng(seed)
    scores = rng.normal(-0.2, 0.6, count)
    chance = 1 / (1 + np.exp(-(3.0 * scores + 0.5)))  # the truth: accuracy rises with the score, far below exp(score)
    evaluation = Evaluation(RecognitionMetrics())
    right = rng.random(count) < chance
    evaluation.metrics.update(["word"] * count, ["word" if ok else "ward" for ok in right],
                              np.minimum(np.exp(scores), 1.0).tolist())
    evaluation.scores = scores.tolist()
    return evaluation


def test_calibration_fixes_a_miscalibrated_model_out_of_sample():
    fitted = fit_calibration(miscalibrated(seed=0))
    held_out = miscalibrated(seed=1)
    before = held_out.metrics.expected_calibration_error()
    held_out.recalibrate(fitted)
    after = held_out.metrics.expected_calibration_error()
    assert before > 0.15 and after < 0.03
    assert fitted.slope == pytest.approx(3.0, rel=0.15) and fitted.intercept == pytest.approx(0.5, abs=0.15)


def test_ece_is_the_reliability_table_weighted_by_bin_counts():
    metrics = miscalibrated(count=500).metrics
    rows = metrics.reliability()
    weighted = sum(row["count"] * abs(row["accuracy"] - row["confidence"]) for row in rows) / 500
    assert metrics.expected_calibration_error() == pytest.approx(weighted) and weighted > 0.15


def test_the_noise_floor_is_what_a_calibrated_model_measures_and_shrinks_with_more_crops():
    def perfectly_calibrated(count: int) -> RecognitionMetrics:
        rng = np.random.default_rng(count)
        confidence = rng.uniform(0.3, 1.0, count)
        metrics = RecognitionMetrics()
        metrics.update(["word"] * count, ["word" if ok else "ward" for ok in rng.random(count) < confidence], confidence.tolist())
        return metrics

    small, large = perfectly_calibrated(300), perfectly_calibrated(30000)
    mean, high = small.calibration_noise()
    assert 0.02 < mean < high < 0.1  # 300 crops: a perfect model measures several points of ECE
    assert small.calibration_noise() == (mean, high)  # a fixed seed: the same figures every time
    assert large.calibration_noise(draws=50)[1] < mean / 4
    assert large.expected_calibration_error() < mean  # a large enough set shows the model as calibrated
    certain = RecognitionMetrics()
    certain.update(["a", "b"], ["a", "b"], [1.0, 1.0])
    assert certain.calibration_noise() == (0.0, 0.0) and RecognitionMetrics().calibration_noise() == (0.0, 0.0)


def test_bands_and_coverage_on_hand_made_predictions():
    metrics = RecognitionMetrics(match="case_insensitive")
    metrics.update(["TOTAL", "CASH", "RM", "1.00", "QTY"], ["Total", "CASH", "RN", "1.00", "OTY"], [0.95, 0.92, 0.6, 0.5, 0.1])
    keep, check, drop = metrics.bands(high=0.9, low=0.3)
    assert (keep["share"], keep["accuracy"]) == (0.4, 1.0)  # Total counts as right: the labels are upper case
    assert (check["share"], check["accuracy"]) == (0.4, 0.5) and (drop["share"], drop["accuracy"]) == (0.2, 0.0)
    assert metrics.accuracy_at_coverage(0.6) == pytest.approx(2 / 3) and metrics.accuracy_at_coverage(1.0) == 0.6
    assert math.isclose(RecognitionMetrics().bands(0.9, 0.3)[0]["share"], 0.0)


@pytest.mark.parametrize("calibration", [Calibration(), Calibration(0.3, 1.2), Calibration(5.0, -2.0)])
def test_the_confidence_of_one_score_is_the_batched_one_and_never_overflows(calibration):
    import torch

    scores = [-2000.0, -5.0, -0.1, 0.0]
    assert [calibration.of(score) for score in scores] == pytest.approx(calibration(torch.tensor(scores)).tolist(), abs=1e-6)
