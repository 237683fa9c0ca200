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
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import random
import sys
import time
from multiprocessing import Pool

import lmdb
import numpy as np
from PIL import Image, ImageFont

ImageFont.FreeTypeFont.getsize = lambda self, text, *a, **k: self.getbbox(text, *a, **k)[2:]  # removed in Pillow 10

import trdg  # noqa: E402
from trdg.generators import GeneratorFromStrings  # noqa: E402

SETTINGS = {
    "typical": {"backgrounds": (0, 1, 2, 3), "options": dict(skewing_angle=5, random_skew=True, blur=1, random_blur=True,
                                                            distorsion_type=3)},
    "careful": {"backgrounds": (0, 1), "options": dict(skewing_angle=3, random_skew=True, blur=1, random_blur=True,
                                                      distorsion_type=0)},
}
CHUNK = 1000


def render_chunk(task: tuple[int, list[str], str, int]) -> list[tuple[bytes | None, str, str]]:
    """(PNG bytes or None, label, reason) for each string of one chunk, in order."""
    number, strings, setting, seed = task
    random.seed(seed * 1_000_003 + number)  # trdg draws from the global generators; seeded per chunk for repeatability
    np.random.seed((seed * 1_000_003 + number) % 2**32)
    backgrounds = SETTINGS[setting]["backgrounds"]
    images_dir = os.path.join(os.path.dirname(trdg.__file__), "images")  # its default path is wrong when installed
    results: list = [None] * len(strings)
    for offset, background in enumerate(backgrounds):
        positions = list(range(offset, len(strings), len(backgrounds)))
        if not positions:
            continue
        share = [strings[position] for position in positions]
        generator = GeneratorFromStrings(share, count=len(share), size=32, image_dir=images_dir,
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


def main() -> None:
    """Render, write, report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--strings", required=True, help="JSON lines, one string each, in the order to render")
    parser.add_argument("--setting", choices=sorted(SETTINGS), required=True)
    parser.add_argument("--count", type=int, required=True, help="images to write")
    parser.add_argument("--out", required=True)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--seed", type=int, default=0)
    arguments = parser.parse_args()
    strings = [json.loads(line) for line in open(arguments.strings, encoding="utf-8")]
    os.makedirs(arguments.out, exist_ok=False)
    environment = lmdb.open(arguments.out, map_size=1 << 36)
    tasks = [(number, strings[start:start + CHUNK], arguments.setting, arguments.seed)
             for number, start in enumerate(range(0, len(strings), CHUNK))]
    written, dropped, used, started = 0, {}, 0, time.monotonic()
    with Pool(arguments.workers) as pool:
        for chunk in pool.imap(render_chunk, tasks):
            with environment.begin(write=True) as transaction:
                for data, label, reason in chunk:
                    if written == arguments.count:
                        break
                    used += 1
                    if data is None:
                        dropped[reason] = dropped.get(reason, 0) + 1
                        continue
                    written += 1
                    transaction.put(b"image-%09d" % written, data)
                    transaction.put(b"label-%09d" % written, label.encode("utf-8"))
                transaction.put(b"num-samples", str(written).encode())
            print(f"\r{written:,}/{arguments.count:,} images, {sum(dropped.values())} dropped, "
                  f"{written / (time.monotonic() - started):.0f} img/s", end="", file=sys.stderr, flush=True)
            if written == arguments.count:
                pool.terminate()
                break
    environment.close()
    print(file=sys.stderr)
    if written < arguments.count:
        raise SystemExit(f"only {written} images from {len(strings)} strings: give more strings")
    report = {"tool": "trdg", "trdg_version": "1.8.0", "pillow": Image.__version__, "setting": arguments.setting,
              "options": SETTINGS[arguments.setting], "fonts": "trdg's bundled Latin fonts", "height": 32,
              "images": written, "strings_used": used, "dropped": dropped, "seconds": round(time.monotonic() - started, 1)}
    with open(os.path.join(arguments.out, "trdg.json"), "w", encoding="utf-8") as handle:
        json.dump(report, handle, indent=2)
    print(json.dumps(report))


if __name__ == "__main__":
    main()
