"""The standing lab: our presets against trdg on real receipts and forms, and ablations of ours, at fixed budgets.

Run: .venv/bin/python bench/lab.py [--labs headline ablations] [--arm NAME] [--device cuda --workers 6] [--report-only]
1. Makes the trdg control datasets once (bench/.lab-data/): the strings our receipt preset's training stream
   draws (seed 0, in order; its empty-label negatives have no trdg equivalent and are counted), rendered by
   trdg 1.8 in its own environment (bench/.venv-trdg-pillow13) until there are as many images as our arm sees;
   only the settings of the trdg arms chosen, and an interrupted render resumes where it stopped.
2. Runs `recognizer compare` on bench/labs/headline.yaml (ours receipt and default, trdg typical and careful,
   240,000 samples, 2 seeds) and bench/labs/ablations.yaml (one ingredient off at a time, 120,000 samples, 1 seed).
   Finished arms are cached, unfinished ones resume: stop it any time and run it again. Each finished run's
   scores are kept in bench/results/LAB/records/ (commit them): on a new machine those runs are not retrained.
3. Copies each lab's results.md, results.json and curves.png to bench/results/LAB/ and prints the tables.
On a GPU machine: --device cuda --workers 12 --threads 4, and several --arm processes side by side.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
LABS = ROOT / "bench" / "labs"
DATA = ROOT / "bench" / ".lab-data"
RESULTS = ROOT / "bench" / "results"
TRDG_VENV = ROOT / "bench" / ".venv-trdg-pillow13"


def ensure_trdg() -> Path:
    """trdg's interpreter, installing trdg with a current Pillow and lmdb into its own environment the first time."""
    python = TRDG_VENV / "bin" / "python"
    if not python.exists():
        print("creating bench/.venv-trdg-pillow13 with trdg, pillow and lmdb (once)...", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(TRDG_VENV)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", "trdg==1.8.0", "pillow", "lmdb"], check=True)
    return python


def receipt_strings(count: int, path: Path) -> dict:
    """The first labels of the receipt arm's training stream (seed 0) with text, as JSON lines; negatives counted."""
    from synthgen.config import load_config
    from synthgen.generator import WordGenerator

    if path.exists():
        return json.loads(path.with_suffix(".json").read_text())
    generator = WordGenerator(load_config("configs/receipt.yaml", ["fonts.split=train", "seed=0"]))
    strings, negatives, index = [], 0, 0
    while len(strings) < count:
        label = generator.label(index)
        index += 1
        if label:
            strings.append(label)
        else:
            negatives += 1
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(text, ensure_ascii=False) + "\n" for text in strings), encoding="utf-8")
    counts = {"strings": len(strings), "indices": index, "negatives_skipped": negatives}
    path.with_suffix(".json").write_text(json.dumps(counts) + "\n")
    return counts


def ensure_trdg_data(budget: int, settings: list[str]) -> None:
    """The named trdg datasets, each with `budget` images of the receipt arm's strings (made once, resumed if cut)."""
    missing = [setting for setting in settings if not (DATA / f"trdg-{setting}" / "trdg.json").exists()]
    if not missing:
        return
    strings = DATA / "receipt-strings-seed0.jsonl"
    counts = receipt_strings(budget + budget // 20, strings)  # 5% more than needed: trdg drops some images
    print(f"receipt stream, seed 0: {counts['strings']:,} strings from the first {counts['indices']:,} samples "
          f"({counts['negatives_skipped']:,} empty-label negatives have no trdg equivalent)", flush=True)
    python = ensure_trdg()
    for setting in missing:
        out = DATA / f"trdg-{setting}"
        print(f"rendering trdg {setting}: {budget:,} images into {out}", flush=True)
        subprocess.run([str(python), str(ROOT / "bench" / "trdg_dataset.py"), "--strings", str(strings), "--setting", setting,
                        "--count", str(budget), "--out", str(out)], check=True)


def main() -> None:
    """Data, labs, results."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--labs", nargs="+", default=["headline", "ablations"], help="lab files under bench/labs")
    parser.add_argument("--arm", action="append", default=[], help="run only this arm (repeatable)")
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"))
    parser.add_argument("--workers", type=int)
    parser.add_argument("--threads", type=int)
    parser.add_argument("--report-only", action="store_true")
    arguments = parser.parse_args()
    from recognizer.lab import load_lab

    for name in arguments.labs:
        lab_file = LABS / f"{name}.yaml"
        lab = load_lab(lab_file)
        chosen = [arm for arm in lab.arms if not arguments.arm or arm.name in arguments.arm]
        settings = [Path(arm.dataset).name.removeprefix("trdg-") for arm in chosen if arm.dataset and "trdg" in arm.dataset]
        if settings and not arguments.report_only:
            ensure_trdg_data(lab.budget, settings)  # hours of CPU: only for trdg arms to run (others report from records)
        command = [sys.executable, "-m", "recognizer", "compare", str(lab_file.relative_to(ROOT))]
        command += [item for arm in arguments.arm for item in ("--arm", arm)]
        for option in ("device", "workers", "threads"):
            if getattr(arguments, option) is not None:
                command += [f"--{option}", str(getattr(arguments, option))]
        command += ["--report-only"] if arguments.report_only else []
        print(f"\n== lab {name}: {' '.join(command[1:])}", flush=True)
        subprocess.run(command, cwd=ROOT, check=True)
        published = RESULTS / name
        published.mkdir(parents=True, exist_ok=True)
        for file in ("results.md", "results.json", "curves.png"):
            if (ROOT / lab.out / file).exists():
                shutil.copyfile(ROOT / lab.out / file, published / file)
        print((published / "results.md").read_text())


if __name__ == "__main__":
    main()
