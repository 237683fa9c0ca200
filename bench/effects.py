"""Cost of every effect (microseconds per word crop) and whole-stack throughput on one core, beside trdg.

Run: .venv/bin/python bench/effects.py [--rounds 3] [--seconds 8]
trdg (TextRecognitionDataGenerator) runs in its own virtual environment, bench/.venv-trdg, created here on
first use (`pip install trdg pillow==9.5.0`: trdg crashes on newer Pillow). Both sides get the same fonts
(the 20 most likely faces of our default sampler), the same height (32) and the same word list, and run
alternately, each pinned to one core with one thread; the figures are images per CPU-second, median of rounds.
Ours starts warm, as a long run is: the glyph atlases of every face are drawn first where missing (`synthgen
fonts atlas`, about 35 s on two cores the first time, then kept on disk) and each process draws 10,000 samples
before it is timed.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
TRDG_VENV = ROOT / "bench" / ".venv-trdg"
ONE_CORE = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}

OURS = """
import sys, time
from synthgen.config import load_config
from synthgen.generator import WordGenerator
generator = WordGenerator(load_config(sys.argv[1] if sys.argv[1] != "-" else None, sys.argv[3:]))
for index in range(10000):  # warm the glyph caches, as a long run of a million samples is warm
    generator(index)
budget, count, start = float(sys.argv[2]), 0, time.process_time()
while time.process_time() - start < budget:
    generator(100000 + count)
    count += 1
print(count / (time.process_time() - start))
"""

TRDG = """
import os, sys, time, random
import trdg
from trdg.generators import GeneratorFromStrings
words = open(sys.argv[1], encoding="utf-8").read().split("\\n")
fonts = open(sys.argv[2], encoding="utf-8").read().split("\\n")
typical = sys.argv[4] == "typical"
random.seed(0)
def generator(background):
    options = dict(skewing_angle=5, random_skew=True, blur=1, random_blur=True, distorsion_type=3,
                   background_type=background) if typical else {}
    images = os.path.join(os.path.dirname(trdg.__file__), "images")  # its default path is wrong when installed
    return iter(GeneratorFromStrings(words, count=10**9, fonts=fonts, size=32, image_dir=images, **options))
generators = [generator(background) for background in ((0, 1, 2, 3) if typical else (1,))]
for index in range(30):
    next(generators[index % len(generators)])
budget, count, start = float(sys.argv[3]), 0, time.process_time()
while time.process_time() - start < budget:
    next(generators[count % len(generators)])
    count += 1
print(count / (time.process_time() - start))
"""


def effect_costs(repeats: int = 300) -> list[tuple[str, str, float]]:
    """(stage, effect, microseconds per call) with the effect always applied."""
    from synthgen.effects import IMAGE_EFFECTS, TEXT_EFFECTS
    from synthgen.fonts.files import matplotlib_font_folder
    from synthgen.fonts.shapes import load_font
    from synthgen.renderer import render_mask

    mask = render_mask(load_font(matplotlib_font_folder() / "DejaVuSans.ttf", 0, 28), "Receipt 12.99")
    image = np.full((32, 150), 215, np.uint8)
    image[8:24, 10:140] = np.where(np.random.default_rng(0).random((16, 130)) < 0.4, 40, 215)
    rows = []
    for stage, table, target in (("text", TEXT_EFFECTS, mask), ("image", IMAGE_EFFECTS, image)):
        for name, effect_class in table.items():
            effect = effect_class(p=1.0)
            started = time.perf_counter()
            for index in range(repeats):
                effect(target, np.random.default_rng(index))
            rows.append((stage, name, (time.perf_counter() - started) / repeats * 1e6))
    return rows


def ensure_trdg() -> Path:
    """The trdg interpreter, installing trdg into its own environment the first time."""
    python = TRDG_VENV / "bin" / "python"
    if not python.exists():
        print("creating bench/.venv-trdg with trdg and pillow==9.5.0 (once)...", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(TRDG_VENV)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", "trdg", "pillow==9.5.0"], check=True)
    return python


def shared_inputs(folder: Path) -> tuple[Path, Path, Path]:
    """The word list, the font list, and a folder holding links to those fonts, from our default mix."""
    from synthgen.charset import Charset
    from synthgen.config import load_config
    from synthgen.corpus.mixer import CorpusMixer
    from synthgen.fonts.sampler import build_font_sampler
    from synthgen.paths import resolve_path

    config = load_config()
    charset = Charset.from_file(resolve_path(config.charset.path))
    mixer = CorpusMixer(config.corpus, charset)
    words = [mixer.sample(np.random.default_rng([0, index])).text for index in range(3000)]
    sampler = build_font_sampler(config.fonts, charset, progress=False)
    order = np.argsort(-sampler.probabilities(""))
    ok = [sampler.faces[row].report for row in order if sampler.faces[row].report.status == "ok"]
    paths = list(dict.fromkeys(report.path for report in ok if report.face == 0))[:20]
    (folder / "words.txt").write_text("\n".join(words), encoding="utf-8")
    (folder / "fonts.txt").write_text("\n".join(paths), encoding="utf-8")
    font_folder = folder / "fonts"
    font_folder.mkdir()
    for number, path in enumerate(paths):
        (font_folder / f"{number:02d}{Path(path).suffix}").symlink_to(path)
    book_folder = folder / "book"
    book_folder.mkdir()
    (book_folder / "words.txt").write_text("\n".join(words), encoding="utf-8")
    return folder / "words.txt", folder / "fonts.txt", folder


def prepare_glyph_atlases() -> str:
    """Draw the default faces' glyph atlases missing on disk, as a long run has them (`synthgen fonts atlas`)."""
    result = subprocess.run([sys.executable, "-m", "synthgen", "fonts", "atlas"], cwd=ROOT, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(result.stderr[-2000:])
    return result.stdout.strip().splitlines()[-1]


def run_pinned(command: list[str]) -> float:
    """Run a measuring script on one core with one thread; it prints images per CPU-second."""
    core = str(sorted(os.sched_getaffinity(0))[-1]) if hasattr(os, "sched_getaffinity") else "0"
    taskset = ["taskset", "-c", core] if shutil_which("taskset") else []
    result = subprocess.run(taskset + command, capture_output=True, text=True, env={**os.environ, **ONE_CORE}, cwd=ROOT)
    if result.returncode != 0:
        raise RuntimeError(result.stderr[-2000:])
    return float(result.stdout.strip().splitlines()[-1])


def shutil_which(name: str) -> str | None:
    """shutil.which, imported late."""
    import shutil

    return shutil.which(name)


def main() -> None:
    """Print the effect cost table, then the throughput comparison."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=8.0, help="CPU seconds per measurement")
    arguments = parser.parse_args()

    print(f"{'stage':6} {'effect':16} {'us/crop':>8}")
    for stage, name, micros in effect_costs():
        print(f"{stage:6} {name:16} {micros:8.1f}")

    trdg_python = ensure_trdg()
    print("\n" + prepare_glyph_atlases())
    with tempfile.TemporaryDirectory() as temporary:
        words, fonts, folder = shared_inputs(Path(temporary))
        same_inputs = [
            "fonts.system_fonts=false", "fonts.matplotlib_fonts=false", f"fonts.font_dirs=[{folder / 'fonts'}]",
            f"fonts.audit_cache={ROOT / 'fonts' / '.audit-cache'}", f"corpus.sources.books.text_dir={folder / 'book'}",
            "corpus.max_words=1", "corpus.balance.enabled=false", *[
                f"corpus.sources.{name}.weight=0" for name in ("upc", "dates", "prices", "urls", "codes", "entities")
            ],
        ]
        runs = {
            "synthgen, default config (all fonts, full mix)": [sys.executable, "-c", OURS, "-", str(arguments.seconds)],
            "synthgen, default stack, trdg's fonts and words": [
                sys.executable, "-c", OURS, "-", str(arguments.seconds), *same_inputs],
            "trdg 1.8, plain": [str(trdg_python), "-c", TRDG, str(words), str(fonts), str(arguments.seconds), "plain"],
            "trdg 1.8, typical (skew, blur, distortion, backgrounds)": [
                str(trdg_python), "-c", TRDG, str(words), str(fonts), str(arguments.seconds), "typical"],
        }
        measured: dict[str, list[float]] = {name: [] for name in runs}
        for _ in range(arguments.rounds):
            for name, command in runs.items():  # alternate, so machine noise hits every side alike
                measured[name].append(run_pinned(command))
    print(f"\n{'generator':58} {'img/s/core':>10}  (median of {arguments.rounds}, all rounds)")
    medians = {name: statistics.median(values) for name, values in measured.items()}
    for name, values in measured.items():
        print(f"{name:58} {medians[name]:10.1f}  {json.dumps([round(v, 1) for v in values])}")
    ours = medians["synthgen, default stack, trdg's fonts and words"]
    print(f"\nratio, same fonts and words: {ours / medians['trdg 1.8, typical (skew, blur, distortion, backgrounds)']:.1f}x "
          f"trdg typical, {ours / medians['trdg 1.8, plain']:.1f}x trdg plain")


if __name__ == "__main__":
    main()
