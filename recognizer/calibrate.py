"""Confidence calibrated on real crops: Platt scaling fitted on a labelled set, stored in a new checkpoint."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from recognizer.checkpoints import checkpoint_calibration, checkpoint_max_width, load_checkpoint, save_checkpoint
from recognizer.data import DiskWords, evaluation_batches
from recognizer.decoding import Calibration
from recognizer.evaluation import Evaluation, evaluate, fit_calibration
from synthgen.errors import ConfigError


def measured(model, codec, payload: dict, data: Path, casefold: bool) -> Evaluation:
    """The checkpoint's predictions and raw scores on a labelled set (labels checked against its charset)."""
    dataset = DiskWords(data, model.config.height, model.config.channels, checkpoint_max_width(payload))
    codec.check(dataset.labels())
    return evaluate(model, evaluation_batches(dataset, codec, 64), codec, next(model.parameters()).device,
                    checkpoint_calibration(payload), casefold=casefold)


def figures(evaluation: Evaluation, calibration: Calibration) -> dict[str, Any]:
    """ECE and mean confidence before (the checkpoint's mapping) and after (the new one) on one evaluation, and the
    ECE a perfectly calibrated model would measure on as many crops (mean, 95th percentile): the noise floor."""
    metrics = evaluation.metrics
    before = {"ece_before": metrics.expected_calibration_error(), "reliability_before": metrics.reliability(),
              "confidence_before": sum(c for _, _, c, _ in metrics.records) / max(len(metrics.records), 1)}
    evaluation.recalibrate(calibration)
    words = [r for r in metrics.records if r[0]]
    return {**before, "ece_after": metrics.expected_calibration_error(), "reliability_after": metrics.reliability(),
            "ece_noise": metrics.calibration_noise(),
            "confidence_after": sum(c for _, _, c, _ in metrics.records) / max(len(metrics.records), 1),
            "words": len(words), "accuracy": sum(metrics.right(t, p) for t, p, _, _ in words) / max(len(words), 1)}


def calibrate_checkpoint(checkpoint: Path, data: Path, out: Path, measure: Path | None = None,
                         casefold: bool = False) -> dict[str, Any]:
    """Fit on `data`, write `out` with the calibration and where it came from, plot reliability before and after."""
    if out.resolve() == checkpoint.resolve():
        raise ConfigError(f"--out {out} is the checkpoint itself: write the calibrated model to a new file")
    model, codec, payload = load_checkpoint(checkpoint)
    fitted_on = measured(model, codec, payload, data, casefold)
    calibration = fit_calibration(fitted_on)
    if calibration.slope is None:
        raise ConfigError(f"{data}: cannot fit a calibration (fewer than 20 crops, or all right or all wrong)")
    sets = {f"{data.name} (fitted on)": figures(fitted_on, calibration)}
    if measure is not None:
        sets[f"{measure.name} (held out)"] = figures(measured(model, codec, payload, measure, casefold), calibration)
    payload["state"] = {**payload["state"], "calibration": calibration.as_list()}
    payload["calibration_source"] = {
        "dataset": str(data), "crops": len(fitted_on.metrics.records), "matches": fitted_on.metrics.match,
        "fitted": time.strftime("%Y-%m-%d %H:%M:%S"), "from_checkpoint": str(checkpoint),
        "ece": {name: {"before": value["ece_before"], "after": value["ece_after"]} for name, value in sets.items()},
    }
    payload.pop("version", None)
    out.parent.mkdir(parents=True, exist_ok=True)
    save_checkpoint(out, payload)
    plot = plot_reliability(sets, out.with_suffix(".reliability.png"))
    return {"sets": sets, "calibration": calibration.as_list(), "plot": plot}


def plot_reliability(sets: dict[str, dict], path: Path) -> Path:
    """Reliability diagrams before and after, one panel per set."""
    from recognizer.plots import plt, save

    figure, axes = plt.subplots(1, len(sets), figsize=(5 * len(sets), 4.6), squeeze=False)
    for axis, (name, value) in zip(axes[0], sets.items()):
        axis.plot([0, 1], [0, 1], color="grey", ls=":", label="perfect calibration")
        for moment, colour in (("before", "tab:red"), ("after", "tab:green")):
            rows = value[f"reliability_{moment}"]
            axis.plot([r["confidence"] for r in rows], [r["accuracy"] for r in rows], marker="o", color=colour,
                      label=f"{moment}: ECE {value[f'ece_{moment}']:.3f}")
        axis.set(xlabel="mean confidence in bin", ylabel="accuracy in bin", xlim=(0, 1), ylim=(0, 1), title=name)
        axis.grid(alpha=0.3)
        axis.legend(loc="upper left", fontsize=8)
    return save(figure, path)


__all__ = ["calibrate_checkpoint"]
