"""The main job on one config: audit and sheets, previews, a small dataset, a short training run, an evaluation."""

from __future__ import annotations

import os
import time
from pathlib import Path

from recognizer.config import load_train_config
from recognizer.report import evaluate_checkpoint
from recognizer.trainer import train
from synthgen.cli import main as synthgen_main
from synthgen.config import load_config
from synthgen.generator import WordGenerator
from synthgen.writer import WriteRequest, write_dataset


def run_main_job(config_path: str | None, overrides: list[str], out: Path, steps: int, eval_samples: int) -> Path:
    """Every stage in turn, all under `out`; returns the evaluation report's path."""
    out.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    generator_arguments = ["pipeline", *([config_path] if config_path else []), "--out", str(out)]
    for override in overrides:
        generator_arguments += ["--set", override]
    if synthgen_main(generator_arguments) != 0:
        raise RuntimeError("the generator's part of the main job failed")

    print(f"[6] a small dataset: {eval_samples} samples with fonts held out of training, seed 1 (folder + labels.tsv)")
    config = load_config(config_path, [*overrides, "fonts.split=heldout"])
    dataset = out / "eval-heldout-fonts"
    if dataset.exists() and (dataset / "manifest.json").exists():
        print(f"    {dataset} exists: kept")
    else:
        request = WriteRequest(config=config, out=dataset, count=eval_samples, seed=1, format="folder",
                               workers=os.cpu_count() or 1)
        manifest = write_dataset(request, WordGenerator(config, seed=1), progress=False)
        print(f"    {dataset}: {manifest['written']} samples, {manifest['images_per_second']} img/s")

    print(f"[7] a short training run: CRNN tiny, {steps} steps of 64 on the online stream (fonts.split=train)")
    train_overrides = [f"runs_dir={out / 'runs'}", "name=main-job", f"steps={steps}", "data.batch_size=64",
                       "data.workers=1", f"validation.every={steps}", "validation.synthetic_samples=512",
                       f"optim.warmup_steps={max(1, steps // 10)}",
                       f"data.synthetic.overrides=[{', '.join(repr(o) for o in overrides)}]"]
    if config_path:
        train_overrides.append(f"data.synthetic.config={config_path}")
    run = train(load_train_config(None, train_overrides))
    print(f"    run: {run}")

    print(f"[8] evaluation of {run.name} on {dataset.name}")
    report, gallery = out / "evaluation.json", out / "evaluation-errors.html"
    summary = evaluate_checkpoint(run / "checkpoints" / "last.pt", dataset, report, gallery, worst=48)
    print(f"    accuracy {summary['accuracy']:.3f} exact, {summary['accuracy_case_insensitive']:.3f} case-insensitive; "
          f"CER {summary['cer']:.3f}; negatives' false-positive rate {summary['negative_false_positive_rate'] or 0:.3f}")
    print(f"    report: {report}\n    worst errors: {gallery} (+ .png)\n    plots: {run / 'plots'}")
    checkpoint = run / "checkpoints" / "last.pt"
    print(f"[9] serve it: ./run recognizer serve {checkpoint}  (then open http://127.0.0.1:8000/ or POST crops to "
          f"/v1/recognize; ./run recognizer export {checkpoint} --onnx model.onnx for ONNX Runtime)")
    print(f"main job done in {(time.monotonic() - started) / 60:.1f} min; everything is under {out}")
    return report


__all__ = ["run_main_job"]
