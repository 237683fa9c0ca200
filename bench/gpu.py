"""The GPU path in one run: `small` and `base` trained in bf16 from the online stream, fed by enough data workers.

Run on a GPU machine: .venv/bin/python bench/gpu.py [--steps 1500] [--batch 256] [--workers auto] [--presets small base]
For each preset it trains for a fixed number of steps on the receipt config's online stream (`recognizer train`,
device cuda, precision bf16), then prints samples/s, the share of step time spent waiting for data, the peak GPU
memory, and the accuracy on ../shared/data/sroie-dev/words of the checkpoint chosen on synthetic validation
(that set is skipped with a message where it is absent). `--device cpu --precision fp32 --steps 2` runs it end to
end on a CPU, which is how the tests keep it ready for the sessions that have a GPU.
A GPU machine without font packages or network gets what this needs from bench/gpu_bundle.py. The stream's glyph
atlases are drawn first on every core (`synthgen fonts atlas`), so the data workers start warm.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from training_runs import chosen_checkpoint, run_folder  # bench/, the script's own folder

ROOT = Path(__file__).resolve().parent.parent
SROIE_WORDS = ROOT.parent / "shared" / "data" / "sroie-dev" / "words"
HEADER = f"{'preset':7} {'samples/s':>10} {'data wait':>10} {'GPU GiB':>8} {'loss':>7}  accuracy (CER)"


def arguments() -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presets", nargs="+", default=["small", "base"], choices=["tiny", "small", "base"])
    parser.add_argument("--steps", type=int, default=1500, help="training steps per preset (default 1500)")
    parser.add_argument("--batch", type=int, default=256, help="batch size (default 256)")
    parser.add_argument("--workers", type=int, default=None, help="data workers (default: the CPU cores less two)")
    parser.add_argument("--device", default="cuda", choices=["cuda", "cpu", "auto"])
    parser.add_argument("--precision", default="bf16", choices=["bf16", "fp32", "fp16", "auto"])
    parser.add_argument("--config", default="configs/receipt.yaml", help="synthgen config of the stream")
    parser.add_argument("--real", default=str(SROIE_WORDS), help="labelled real crops scored at the end")
    parser.add_argument("--runs", default="runs/gpu", help="runs folder (default runs/gpu)")
    parser.add_argument("--synthgen-set", action="append", default=[], metavar="KEY=VALUE",
                        help="a synthgen override for the stream (repeatable)")
    return parser.parse_args()


def draw_atlases(options: argparse.Namespace) -> str:
    """The stream's glyph atlases drawn on every core where missing, before the data workers start (each would draw its own)."""
    settings = [part for setting in options.synthgen_set for part in ("--set", setting)]
    command = [sys.executable, "-m", "synthgen", "fonts", "atlas", options.config, *settings]
    return subprocess.run(command, cwd=ROOT, check=True, stdout=subprocess.PIPE, text=True).stdout.strip().splitlines()[-1]


def train(preset: str, options: argparse.Namespace, workers: int) -> Path:
    """One `recognizer train` run of the preset; its run folder."""
    overrides = [
        f"name=gpu-{preset}", f"runs_dir={options.runs}", f"steps={options.steps}", f"device={options.device}",
        f"precision={options.precision}", f"model.preset={preset}", f"data.batch_size={options.batch}",
        f"data.synthetic.config={options.config}", f"data.workers={workers}", f"log_every={max(1, min(25, options.steps))}",
        f"validation.every={options.steps}", f"validation.synthetic_samples={min(1024, 4 * options.batch)}",
        f"optim.warmup_steps={min(300, options.steps // 10)}",
    ]
    if options.synthgen_set:
        overrides.append(f"data.synthetic.overrides=[{', '.join(repr(o) for o in options.synthgen_set)}]")
    command = [sys.executable, "-m", "recognizer", "train", *[item for o in overrides for item in ("--set", o)]]
    output = subprocess.run(command, cwd=ROOT, check=True, stdout=subprocess.PIPE, text=True).stdout
    return run_folder(output)


def throughput(run: Path) -> dict:
    """Samples/s and data-wait share over the logged windows after the first (warm-up), and the peak GPU memory."""
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    train = [r for r in records if r["kind"] == "train"]
    steady = train[1:] or train
    return {"samples_per_second": sum(r["samples_per_second"] for r in steady) / len(steady),
            "data_wait_share": sum(r["data_wait_share"] for r in steady) / len(steady),
            "gpu_memory_gib": max((r.get("gpu_memory_gib", 0.0) for r in train), default=0.0),
            "loss": train[-1]["loss"]}


def real_accuracy(run: Path, real: Path) -> dict | None:
    """Case-insensitive accuracy and CER of the run's chosen checkpoint on the real crops, or None without them."""
    if not (real / "labels.tsv").exists() and not (real / "data.mdb").exists():
        return None
    checkpoint = chosen_checkpoint(run)
    report = run / f"eval-{real.name}.json"
    command = [sys.executable, "-m", "recognizer", "eval", str(checkpoint), str(real), "--json", str(report)]
    subprocess.run(command, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    summary = json.loads(report.read_text())
    return {"accuracy": summary["accuracy_case_insensitive"], "cer": summary["cer_case_insensitive"], "crops": summary["words"]}


def row_line(row: dict, real: Path) -> str:
    """One preset's figures as a table row."""
    score = (f"{row['real']['accuracy']:.3f} ({row['real']['cer']:.3f}) on {row['real']['crops']} crops"
             if row["real"] else f"not scored: no labelled crops at {real}")
    return (f"{row['preset']:7} {row['samples_per_second']:10.0f} {row['data_wait_share']:10.1%} "
            f"{row['gpu_memory_gib']:8.2f} {row['loss']:7.3f}  {score}")


def main() -> None:
    """Train each preset, printing and saving its figures as soon as it is done (a cut-short run keeps them), then the table."""
    options = arguments()
    workers = options.workers if options.workers is not None else max(1, (os.cpu_count() or 2) - 2)
    real = Path(options.real)
    summary = (ROOT / options.runs) / "gpu-summary.json"  # an absolute --runs stays absolute
    summary.parent.mkdir(parents=True, exist_ok=True)
    print(f"{len(options.presets)} preset(s), {options.steps} steps of {options.batch}, device {options.device}, "
          f"precision {options.precision}, {workers} data workers, stream {options.config}, real set {real}", flush=True)
    print(draw_atlases(options), flush=True)
    rows = []
    for preset in options.presets:
        started = time.monotonic()
        run = train(preset, options, workers)
        figures = throughput(run)
        figures.update(preset=preset, run=str(run), minutes=(time.monotonic() - started) / 60,
                       real=real_accuracy(run, real))
        rows.append(figures)
        summary.write_text(json.dumps(rows, indent=2) + "\n")
        print(f"  {preset}: done in {figures['minutes']:.1f} min, run {run}\n  {row_line(figures, real)}", flush=True)
    print(f"\n{HEADER}")
    for row in rows:
        print(row_line(row, real))
    print(f"\nfigures: {summary}")


if __name__ == "__main__":
    main()
