"""Render given strings with trdg 1.8 (TextRecognitionDataGenerator) into an LMDB dataset the lab reads as an arm.

Runs inside trdg's own environment (bench/.venv-trdg-pillow13, made by bench/lab.py), never in ours:
    python bench/trdg_dataset.py --strings S.jsonl --setting careful --count 240000 --out DIR [--workers 2]
Pillow 13 with the one-line `getsize` shim that trdg 1.8 needs (it was removed in Pillow 10); PEERS.md measured
the same trdg code 3-10x faster there than on its pinned Pillow 9.5. trdg's bundled Latin fonts, height 32.
Settings: `typical` is what trdg's README shows (skew, blur, random distortion, its four background types in
turn); `careful` is what a user who knows trdg picks (Gaussian-noise and plain backgrounds, skew and blur, no
distortion). Strings are rendered in order, one generator per background type over its own share (a generator
walks its list in order); images trdg returns as None or fails on are counted and skipped, and rendering goes
on until `count` images are written. LMDB layout: image-%09d (PNG), label-%09d, num-samples, keys from 1.
An interrupted render resumes: each chunk is written in one transaction with the progress so far (key
trdg-progress), and chunks are seeded by their number, so a resumed dataset is the one an uninterrupted run writes.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import io
import json
import os
import random
import sys
import time
from multiprocessing import Pool
from pathlib import Path
from typing import Callable

import cv2
import lmdb
import numpy as np

SETTINGS = {
    "typical": {"backgrounds": (0, 1, 2, 3), "options": dict(skewing_angle=5, random_skew=True, blur=1, random_blur=True,
                                                            distorsion_type=3)},
    "careful": {"backgrounds": (0, 1), "options": dict(skewing_angle=3, random_skew=True, blur=1, random_blur=True,
                                                      distorsion_type=0)},
}
CHUNK = 1000
PROGRESS = b"trdg-progress"
Rendered = list[tuple[bytes | None, str, str]]


def load_trdg() -> tuple[type, str]:
    """trdg's string generator and its images folder, with the one-line shim Pillow 10+ needs."""
    from PIL import ImageFont

    ImageFont.FreeTypeFont.getsize = lambda self, text, *a, **k: self.getbbox(text, *a, **k)[2:]  # removed in Pillow 10
    import trdg
    from trdg.generators import GeneratorFromStrings

    return GeneratorFromStrings, os.path.join(os.path.dirname(trdg.__file__), "images")  # its default path is wrong when installed


def render_chunk(task: tuple[int, list[str], str, int]) -> Rendered:
    """(PNG bytes or None, label, reason) for each string of one chunk, in order."""
    number, strings, setting, seed = task
    generator_class, images_dir = load_trdg()
    chunk_seed = (seed * 1_000_003 + number) % 2**31
    random.seed(chunk_seed)  # trdg draws from the global generators: each is seeded per chunk for repeatability,
    np.random.seed(chunk_seed)
    cv2.setRNGSeed(chunk_seed)  # OpenCV's too (its Gaussian-noise paper), else a worker's earlier chunks shape the next
    backgrounds = SETTINGS[setting]["backgrounds"]
    results: Rendered = [None] * len(strings)
    for offset, background in enumerate(backgrounds):
        positions = list(range(offset, len(strings), len(backgrounds)))
        if not positions:
            continue
        share = [strings[position] for position in positions]
        generator = generator_class(share, count=len(share), size=32, image_dir=images_dir,
                                    background_type=background, **SETTINGS[setting]["options"])
        for position, text in zip(positions, share):
            try:
                with contextlib.redirect_stdout(io.StringIO()):  # trdg prints a paragraph for every image it drops
                    image, _ = next(generator)
            except Exception as error:  # noqa: BLE001  (trdg's own failures are counted, not fatal)
                results[position] = (None, text, f"error: {type(error).__name__}")
                continue
            if image is None:
                results[position] = (None, text, "none")
                continue
            buffer = io.BytesIO()
            image.save(buffer, format="PNG")
            results[position] = (buffer.getvalue(), text, "")
    return results


def open_render(out: str, identity: dict) -> tuple[lmdb.Environment, dict]:
    """The dataset's LMDB and its progress so far; a folder holding a render of anything else is refused."""
    os.makedirs(out, exist_ok=True)
    environment = lmdb.open(out, map_size=1 << 36)
    with environment.begin() as transaction:
        stored, samples = transaction.get(PROGRESS), transaction.get(b"num-samples")
    if samples is not None and stored is None:
        environment.close()
        raise SystemExit(f"{out} holds a dataset with no render progress in it: remove it or choose another --out")
    progress = json.loads(stored) if stored else {"identity": identity, "chunks": 0, "written": 0, "used": 0,
                                                  "dropped": {}, "seconds": 0.0}
    if progress["identity"] != identity:
        environment.close()
        raise SystemExit(f"{out} holds another render ({progress['identity']}, not {identity}): "
                         "remove it or choose another --out")
    return environment, progress


def write_chunk(transaction: lmdb.Transaction, chunk: Rendered, progress: dict, count: int) -> None:
    """Put one chunk's images (up to `count` in all), counting the ones trdg dropped, and the progress with them."""
    for data, label, reason in chunk:
        if progress["written"] == count:
            break
        progress["used"] += 1
        if data is None:
            progress["dropped"][reason] = progress["dropped"].get(reason, 0) + 1
            continue
        progress["written"] += 1
        transaction.put(b"image-%09d" % progress["written"], data)
        transaction.put(b"label-%09d" % progress["written"], label.encode("utf-8"))
    progress["chunks"] += 1
    transaction.put(b"num-samples", str(progress["written"]).encode())
    transaction.put(PROGRESS, json.dumps(progress).encode())


def write_dataset(out: str, tasks: list, render: Callable[[tuple], Rendered], count: int, identity: dict,
                  workers: int) -> dict:
    """Render the tasks not yet written, in order, until `count` images; the progress (resumed if any) at the end."""
    environment, progress = open_render(out, identity)
    started, written_before, seconds_before = time.monotonic(), progress["written"], progress["seconds"]
    remaining = tasks[progress["chunks"]:] if progress["written"] < count else []
    try:
        with Pool(workers) as pool:  # leaving the block terminates the workers still rendering ahead
            for chunk in pool.imap(render, remaining):
                progress["seconds"] = round(seconds_before + time.monotonic() - started, 1)
                with environment.begin(write=True) as transaction:
                    write_chunk(transaction, chunk, progress, count)
                rate = (progress["written"] - written_before) / max(time.monotonic() - started, 1e-9)
                print(f"\r{progress['written']:,}/{count:,} images, {sum(progress['dropped'].values())} dropped, "
                      f"{rate:.0f} img/s", end="", file=sys.stderr, flush=True)
                if progress["written"] == count:
                    break
    finally:
        environment.close()
        print(file=sys.stderr)
    return progress


def main() -> None:
    """Render (resuming an interrupted render), write, report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--strings", required=True, help="JSON lines, one string each, in the order to render")
    parser.add_argument("--setting", choices=sorted(SETTINGS), required=True)
    parser.add_argument("--count", type=int, required=True, help="images to write")
    parser.add_argument("--out", required=True)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--seed", type=int, default=0)
    arguments = parser.parse_args()
    if os.path.exists(os.path.join(arguments.out, "trdg.json")):
        raise SystemExit(f"{arguments.out} is already rendered (trdg.json)")
    raw = Path(arguments.strings).read_bytes()
    strings = [json.loads(line) for line in raw.decode("utf-8").splitlines()]
    tasks = [(number, strings[start:start + CHUNK], arguments.setting, arguments.seed)
             for number, start in enumerate(range(0, len(strings), CHUNK))]
    identity = {"strings_sha256": hashlib.sha256(raw).hexdigest(), "setting": arguments.setting,
                "seed": arguments.seed, "count": arguments.count, "chunk": CHUNK}
    progress = write_dataset(arguments.out, tasks, render_chunk, arguments.count, identity, arguments.workers)
    if progress["written"] < arguments.count:
        raise SystemExit(f"only {progress['written']} images from {len(strings)} strings: give more strings")
    from PIL import Image

    report = {"tool": "trdg", "trdg_version": "1.8.0", "pillow": Image.__version__, "setting": arguments.setting,
              "options": SETTINGS[arguments.setting], "fonts": "trdg's bundled Latin fonts", "height": 32,
              "images": progress["written"], "strings_used": progress["used"], "dropped": progress["dropped"],
              "seconds": progress["seconds"]}
    with open(os.path.join(arguments.out, "trdg.json"), "w", encoding="utf-8") as handle:
        json.dump(report, handle, indent=2)
    print(json.dumps(report))


if __name__ == "__main__":
    main()
