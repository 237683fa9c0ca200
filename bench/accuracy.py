"""Accuracy on real receipts of a tiny CRNN trained only on our synthetic stream, on CPU, for a fixed sample budget.

Run: .venv/bin/python bench/accuracy.py [--samples 240000] [--config configs/receipt.yaml] [--precision fp32|bf16]
       [--skip-throughput]
1. Training throughput (samples/s) of every preset on CPU, on ready-made batches (no data loading), in fp32 and in
   bf16 autocast (fast where the CPU has AVX512-BF16 or AMX, slow where it emulates bf16).
2. Trains `tiny` on the online stream of the receipt-heavy config (both cores: one data worker, two torch threads),
   validating on held-out fonts, then evaluates the checkpoint chosen on that synthetic validation set on
   ../shared/data/sroie-dev/words and lines when they exist (else only on the synthetic set), and prints
   case-insensitive word accuracy and CER beside Tesseract's and EasyOCR's on the same crops.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

from training_runs import chosen_checkpoint, run_folder  # bench/, the script's own folder

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
SROIE = ROOT.parent / "shared" / "data" / "sroie-dev"
REFERENCES = {"words": {"Tesseract 5.3": (0.708, 0.104), "EasyOCR 1.7.2": (0.656, 0.124)},
              "lines": {"Tesseract 5.3": (0.568, 0.073), "EasyOCR 1.7.2": (0.468, 0.102)}}


def preset_throughput(steps: int = 12) -> None:
    """Samples per second of a training step (forward, CTC, backward, AdamW) for each preset, batch 64, fp32 and bf16."""
    import torch
    import torch.nn.functional as F

    from recognizer.evaluation import ctc_ready
    from recognizer.model import PRESETS, build_model, model_config
    from synthgen.config import load_config
    from synthgen.stream import SyntheticWords

    torch.set_num_threads(2)
    batches = SyntheticWords(load_config(), batch_size=64, bucket_batches=4)[0]
    print(f"{'preset':8} {'parameters':>10} {'fp32/s':>8} {'bf16/s':>8}  (CPU, 2 threads, batch 64, synthetic widths)")
    for preset in PRESETS:
        speeds = []
        for dtype in (None, torch.bfloat16):
            model = build_model(model_config(preset, 108)).to(memory_format=torch.channels_last)
            optimizer = torch.optim.AdamW(model.parameters())
            count, started = 0, 0.0
            for step in range(steps + 2):
                if step == 2:
                    count, started = 0, time.monotonic()
                batch = batches[step % len(batches)]
                images = ctc_ready(batch.images, batch.target_lengths).contiguous(memory_format=torch.channels_last)
                with torch.autocast("cpu", dtype=dtype or torch.float32, enabled=dtype is not None):
                    logits = model(images)
                loss = F.ctc_loss(logits.float().log_softmax(2).transpose(0, 1), batch.targets,
                                  torch.full((len(batch),), logits.shape[1]), batch.target_lengths, zero_infinity=True)
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                count += len(batch)
            speeds.append(count / (time.monotonic() - started))
        parameters = sum(p.numel() for p in model.parameters())
        print(f"{preset:8} {parameters:10,d} {speeds[0]:8.1f} {speeds[1]:8.1f}")


def main() -> None:
    """Train, evaluate, print."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=240000, help="training budget in samples (default 240,000)")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--config", default="configs/receipt.yaml", help="synthgen config of the stream")
    parser.add_argument("--runs", default="runs", help="runs folder (default runs)")
    parser.add_argument("--precision", default="fp32", choices=["fp32", "bf16"], help="training precision (default fp32)")
    parser.add_argument("--skip-throughput", action="store_true")
    arguments = parser.parse_args()
    if not arguments.skip_throughput:
        preset_throughput()

    steps = max(1, arguments.samples // arguments.batch)
    real = [str(SROIE / name) for name in ("words", "lines") if (SROIE / name / "labels.tsv").exists()]
    overrides = [
        f"name=accuracy-tiny-{arguments.samples}-{arguments.precision}", f"precision={arguments.precision}", f"runs_dir={arguments.runs}", f"steps={steps}",
        f"data.batch_size={arguments.batch}", f"data.synthetic.config={arguments.config}", "data.workers=1", "threads=2",
        f"validation.every={max(1, steps // 6)}", "validation.synthetic_samples=1024", f"optim.warmup_steps={min(300, steps // 10)}",
        f"validation.datasets=[{', '.join(real)}]",
    ]
    command = [sys.executable, "-m", "recognizer", "train", *[item for o in overrides for item in ("--set", o)]]
    print(f"\ntraining tiny on {arguments.samples:,} samples ({steps} steps of {arguments.batch}) from {arguments.config}")
    started = time.monotonic()
    output = subprocess.run(command, cwd=ROOT, check=True, capture_output=True, text=True).stdout
    minutes = (time.monotonic() - started) / 60
    run = run_folder(output)
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    train = [r for r in records if r["kind"] == "train"]
    wait = sum(r["data_wait_share"] for r in train) / len(train)
    speed = sum(r["samples_per_second"] for r in train) / len(train)
    print(f"run {run}: {minutes:.1f} min, {speed:.0f} samples/s, data-waiting share of step time {wait:.1%}, "
          f"final loss {train[-1]['loss']:.3f}, skipped steps {train[-1]['skipped']}")
    validation = [r for r in records if r["kind"] == "validation"][-1]["sets"]
    synthetic = validation.get("synthetic-heldout-fonts", {})
    if synthetic:
        print(f"synthetic, held-out fonts: accuracy {synthetic['accuracy']:.3f} exact, "
              f"{synthetic['accuracy_case_insensitive']:.3f} case-insensitive, CER {synthetic['cer']:.3f}")
    checkpoint = chosen_checkpoint(run)
    for path in real:
        name = Path(path).name
        report = run / f"eval-{name}.json"
        subprocess.run([sys.executable, "-m", "recognizer", "eval", str(checkpoint), path, "--json", str(report)],
                       cwd=ROOT, check=True, capture_output=True)
        summary = json.loads(report.read_text())
        spaces = f", ignoring spaces {summary['accuracy_ignore_spaces']:.3f}" if name == "lines" else ""
        print(f"\nsroie-dev {name} ({summary['words']} crops), checkpoint {checkpoint.name} (chosen on synthetic data):")
        print(f"  ours (tiny, synthetic only): accuracy {summary['accuracy_case_insensitive']:.3f} case-insensitive "
              f"({summary['accuracy']:.3f} exact{spaces}), CER {summary['cer_case_insensitive']:.3f} case-insensitive")
        for engine, (accuracy, cer) in REFERENCES[name].items():
            print(f"  {engine:27} accuracy {accuracy:.3f} case-insensitive, CER {cer:.3f}")
        print(f"  gallery of the worst errors: {report.with_suffix('.html')}")


if __name__ == "__main__":
    main()
