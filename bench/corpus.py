"""Strings per second of the corpus mixer on one core, for each preset, with and without balancing."""

from __future__ import annotations

import os
import time
from dataclasses import replace

import numpy as np

from synthgen.charset import Charset
from synthgen.config import load_config
from synthgen.corpus.mixer import CorpusMixer
from synthgen.paths import PROJECT_ROOT, resolve_path

PRESETS = ("configs/default.yaml", "configs/receipt.yaml")
COUNT = 20000


def measure(preset: str, balanced: bool) -> tuple[float, float]:
    """(set-up seconds, strings per second) for one preset."""
    config = load_config(PROJECT_ROOT / preset)
    corpus = replace(config.corpus, balance=replace(config.corpus.balance, enabled=balanced))
    started = time.perf_counter()
    mixer = CorpusMixer(corpus, Charset.from_file(resolve_path(config.charset.path)))
    ready = time.perf_counter()
    for index in range(COUNT):
        mixer.sample(np.random.default_rng([config.seed, index]))
    return ready - started, COUNT / (time.perf_counter() - ready)


def main() -> None:
    """Print one line per preset and balancing setting."""
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[-1]})  # one core, as the figures claim
    print(f"{'preset':24} {'balance':8} {'set-up s':>9} {'strings/s':>10}")
    for preset in PRESETS:
        for balanced in (False, True):
            setup, speed = measure(preset, balanced)
            print(f"{preset:24} {str(balanced):8} {setup:9.2f} {speed:10,.0f}")


if __name__ == "__main__":
    main()
