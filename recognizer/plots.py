"""PNG plots of a run: loss, accuracy and CER against steps; precision/recall, confidence and reliability."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def save(figure, path: Path) -> Path:
    """Write and close a figure."""
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path


def plot_training(records: list[dict], folder: Path) -> list[Path]:
    """loss.png and validation.png from metrics.jsonl records."""
    train = [r for r in records if r.get("kind") == "train"]
    validation = [r for r in records if r.get("kind") == "validation"]
    written = []
    if train:
        figure, axis = plt.subplots(figsize=(7, 4))
        axis.plot([r["step"] for r in train], [r["loss"] for r in train], lw=1)
        axis.set(xlabel="step", ylabel="CTC loss", yscale="log", title="training loss")
        axis.grid(alpha=0.3)
        written.append(save(figure, folder / "loss.png"))
    if validation:
        figure, (accuracy, cer) = plt.subplots(1, 2, figsize=(11, 4))
        names = sorted({name for r in validation for name in r["sets"]})
        for name in names:
            points = [(r["step"], r["sets"][name]) for r in validation if name in r["sets"]]
            steps = [step for step, _ in points]
            accuracy.plot(steps, [values["accuracy_case_insensitive"] or 0 for _, values in points], marker="o", label=name)
            cer.plot(steps, [values["cer"] or 0 for _, values in points], marker="o", label=name)
        accuracy.set(xlabel="step", ylabel="word accuracy (case-insensitive)", ylim=(0, 1), title="validation accuracy")
        cer.set(xlabel="step", ylabel="character error rate", title="validation CER")
        for axis in (accuracy, cer):
            axis.grid(alpha=0.3)
            axis.legend(fontsize=8)
        written.append(save(figure, folder / "validation.png"))
    return written


def plot_confidence(summary: dict, records: list[tuple[str, str, float, object]], reliability: list[dict], folder: Path,
                    prefix: str, bands: tuple[float, float] | None = None) -> list[Path]:
    """Precision/recall against threshold (with the drop / check / keep bands shaded), confidence histogram (right vs
    wrong), reliability diagram."""
    rows = summary["precision_recall"]
    figure, axis = plt.subplots(figsize=(6, 4))
    if bands is not None:
        low, high = bands
        axis.axvspan(0, low, color="tab:red", alpha=0.08, label=f"drop < {low:g}")
        axis.axvspan(low, high, color="tab:orange", alpha=0.08, label="check (lexicon)")
        axis.axvspan(high, 1, color="tab:green", alpha=0.08, label=f"keep >= {high:g}")
    thresholds = [row["threshold"] for row in rows]
    axis.plot(thresholds, [row["precision"] if row["precision"] is not None else float("nan") for row in rows], label="precision")
    axis.plot(thresholds, [row["recall"] or 0 for row in rows], label="recall")
    axis.plot(thresholds, [row["kept"] for row in rows], ls="--", label="answers kept")
    axis.set(xlabel="confidence threshold", ylim=(0, 1.02), title=f"{prefix}: precision / recall against confidence")
    axis.grid(alpha=0.3)
    axis.legend()
    written = [save(figure, folder / f"{prefix}-precision-recall.png")]
    figure, axis = plt.subplots(figsize=(6, 4))
    right = [c for t, p, c, _ in records if t == p and t]
    wrong = [c for t, p, c, _ in records if t != p and t]
    axis.hist([right, wrong], bins=20, range=(0, 1), label=["right", "wrong"], color=["tab:green", "tab:red"], stacked=True)
    axis.set(xlabel="confidence", ylabel="words", title=f"{prefix}: confidence of right and wrong answers")
    axis.legend()
    written.append(save(figure, folder / f"{prefix}-confidence.png"))
    figure, axis = plt.subplots(figsize=(5, 5))
    axis.plot([0, 1], [0, 1], color="grey", ls=":", label="perfect calibration")
    axis.plot([row["confidence"] for row in reliability], [row["accuracy"] for row in reliability], marker="o", label="model")
    for row in reliability:
        axis.annotate(str(row["count"]), (row["confidence"], row["accuracy"]), fontsize=7, xytext=(3, -8), textcoords="offset points")
    axis.set(xlabel="mean confidence in bin", ylabel="accuracy in bin", xlim=(0, 1), ylim=(0, 1), title=f"{prefix}: reliability")
    axis.grid(alpha=0.3)
    axis.legend(loc="upper left")
    written.append(save(figure, folder / f"{prefix}-reliability.png"))
    return written
