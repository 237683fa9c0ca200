"""Evaluating a checkpoint on a dataset on disk: the report JSON and the galleries of the worst errors."""

from __future__ import annotations

import json
from pathlib import Path

from recognizer.data import DiskWords, evaluation_batches
from recognizer.evaluation import evaluate, write_gallery, write_gallery_png
from recognizer.checkpoints import checkpoint_calibration, checkpoint_max_width, load_checkpoint


def evaluate_checkpoint(checkpoint: Path, data: Path, report: Path, gallery: Path, beam: int = 0,
                        worst: int = 60) -> dict:
    """Check the labels against the checkpoint's charset, evaluate, write the report and the HTML + PNG gallery."""
    model, codec, payload = load_checkpoint(checkpoint)
    dataset = DiskWords(data, model.config.height, model.config.channels, checkpoint_max_width(payload))
    codec.check(dataset.labels())
    calibration = checkpoint_calibration(payload)
    evaluation = evaluate(model, evaluation_batches(dataset, codec, 64), codec, next(model.parameters()).device,
                          calibration, beam, keep_worst=worst)
    summary = evaluation.metrics.summary()
    summary.update(ece=evaluation.metrics.expected_calibration_error(), reliability=evaluation.metrics.reliability(),
                   checkpoint=str(checkpoint), data=str(data), calibration=calibration.as_list(),
                   decoding=f"beam {beam}" if beam > 1 else "greedy")
    report.parent.mkdir(parents=True, exist_ok=True)
    report.write_text(json.dumps(summary, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    write_gallery(evaluation, gallery, f"{Path(data).resolve().name} with {Path(checkpoint).name}")
    write_gallery_png(evaluation, gallery.with_suffix(".png"))
    return summary
