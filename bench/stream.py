"""Online stream throughput: word images per second a DataLoader delivers with 0, 1 and 2 workers (default config).

Run: .venv/bin/python bench/stream.py [--batch 64] [--bucket 8] [--warmup-groups 6] [--groups 20]
Each setting starts fresh worker processes (cold glyph caches), skips the first groups, then times the rest.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def delivered_rate(workers: int, batch: int, bucket: int, warmup: int, groups: int) -> tuple[float, float]:
    """(images per second after warm-up, padding share of the delivered pixels)."""
    import torch

    from synthgen.config import load_config
    from synthgen.stream import SyntheticWords, batches, stream_loader

    torch.set_num_threads(1)
    dataset = SyntheticWords(load_config(), batch_size=batch, bucket_batches=bucket)
    stream = batches(stream_loader(dataset, workers=workers, groups=warmup + groups))
    for _ in range(warmup * bucket):
        next(stream)
    images = padded = pixels = 0
    started = time.monotonic()
    for word_batch in stream:
        images += len(word_batch)
        pixels += word_batch.images.shape[0] * word_batch.images.shape[-1]
        padded += int((word_batch.images.shape[-1] - word_batch.widths).sum())
    return images / (time.monotonic() - started), padded / pixels


def main() -> None:
    """Print images per second for each worker count."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--bucket", type=int, default=8, help="batches per width-sorted group")
    parser.add_argument("--warmup-groups", type=int, default=6)
    parser.add_argument("--groups", type=int, default=20)
    arguments = parser.parse_args()
    print(f"{'workers':>7} {'images/s':>9} {'padding':>8}")
    for workers, bucket in ((0, arguments.bucket), (1, arguments.bucket), (2, arguments.bucket), (2, 1)):
        rate, padding = delivered_rate(workers, arguments.batch, bucket, arguments.warmup_groups * arguments.bucket // bucket,
                                       arguments.groups * arguments.bucket // bucket)
        note = "" if bucket > 1 else "  (no width bucketing)"
        print(f"{workers:7d} {rate:9.0f} {padding:8.1%}{note}")


if __name__ == "__main__":
    main()
