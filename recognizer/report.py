"""Evaluating a checkpoint on a dataset on disk: the report JSON, confidence plots and the galleries of the worst errors."""

from __future__ import annotations

import json
from pathlib import Path

from recognizer.checkpoints import checkpoint_calibration, checkpoint_max_width, load_checkpoint
from recognizer.data import READING, DiskWords, evaluation_batches
from recognizer.decoding import Prediction
from recognizer.evaluation import Evaluation, evaluate, write_gallery, write_gallery_png
from recognizer.plots import plot_confidence
from recognizer.predict import Lexicon

COVERAGES = (0.9, 0.95)


def evaluate_checkpoint(checkpoint: Path, data: Path, report: Path, gallery: Path, beam: int = 0, worst: int = 60,
                        casefold: bool = False, high: float = 0.9, low: float = 0.3, lexicon: Lexicon | None = None) -> dict:
    """Check the labels against the checkpoint's charset, evaluate, write the report, plots and HTML + PNG gallery."""
    model, codec, payload = load_checkpoint(checkpoint)
    dataset = DiskWords(data, model.config.height, model.config.channels, checkpoint_max_width(payload))
    codec.check(dataset.labels())
    calibration = checkpoint_calibration(payload)
    evaluation = evaluate(model, evaluation_batches(dataset, codec, 64), codec, next(model.parameters()).device,
                          calibration, beam, keep_worst=worst, casefold=casefold)
    summary = evaluation.metrics.summary()
    summary.update(ece=evaluation.metrics.expected_calibration_error(), ece_noise=evaluation.metrics.calibration_noise(),
                   reliability=evaluation.metrics.reliability(),
                   checkpoint=str(checkpoint), data=str(data), reading=READING, calibration=calibration.as_list(),
                   calibration_source=payload.get("calibration_source"), decoding=f"beam {beam}" if beam > 1 else "greedy",
                   compared="case-insensitive" if casefold else "exact",
                   bands=confidence_bands(evaluation, high, low, lexicon), thresholds={"high": high, "low": low},
                   accuracy_at_coverage={str(share): evaluation.metrics.accuracy_at_coverage(share) for share in COVERAGES})
    report.parent.mkdir(parents=True, exist_ok=True)
    report.write_text(json.dumps(summary, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    plot_confidence(summary, evaluation.metrics.records, summary["reliability"], report.parent, report.stem, bands=(low, high))
    write_gallery(evaluation, gallery, f"{Path(data).resolve().name} with {Path(checkpoint).name}")
    write_gallery_png(evaluation, gallery.with_suffix(".png"))
    return summary


def confidence_bands(evaluation: Evaluation, high: float, low: float, lexicon: Lexicon | None) -> list[dict]:
    """Share and accuracy of the keep / check / drop bands; with a lexicon, the check band's accuracy after snapping."""
    rows = evaluation.metrics.bands(high, low)
    if lexicon is not None:
        checked = [(truth, lexicon.apply(Prediction(text, confidence))[0].text)
                   for truth, text, confidence, _ in evaluation.metrics.records if truth and low <= confidence < high]
        right = evaluation.metrics.right
        rows[1]["accuracy_after_lexicon"] = sum(right(t, p) for t, p in checked) / len(checked) if checked else None
    return rows
