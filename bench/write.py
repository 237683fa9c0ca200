"""Offline writer throughput: 100,000 default-config samples into LMDB on both cores, beside trdg's own writer.

Run: .venv/bin/python bench/write.py [--count 100000] [--workers 2] [--format lmdb] [--out DIR] [--trdg-count 1000]
Prints images/s, the projected time for 1,000,000 samples, peak memory per worker (and its trace over the run,
to show it stays flat), bytes per sample, and trdg's rate writing JPEGs with its CLI on the same cores.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))


def rss_megabytes(pid: int) -> float:
    """Resident memory of a process in MB (0 when it is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def children(pid: int) -> list[int]:
    """Direct child processes (Linux /proc)."""
    try:
        return [int(child) for task in Path(f"/proc/{pid}/task").iterdir()
                for child in (task / "children").read_text().split()]
    except OSError:
        return []


class MemoryTrace(threading.Thread):
    """Samples the resident memory of every worker process every few seconds."""

    def __init__(self, every: float = 5.0) -> None:
        super().__init__(daemon=True)
        self.every, self.samples, self.stopped = every, [], threading.Event()

    def run(self) -> None:
        started = time.monotonic()
        while not self.stopped.wait(self.every):
            workers = [rss_megabytes(child) for child in children(os.getpid())]
            if workers:
                self.samples.append((time.monotonic() - started, max(workers)))


def run_trdg(count: int, workers: int, folder: Path) -> float:
    """trdg's CLI writing `count` images with `workers` threads; images per second."""
    from effects import ensure_trdg  # the trdg environment the effects benchmark creates

    python = ensure_trdg()
    trdg = python.parent / "trdg"
    started = time.monotonic()
    subprocess.run([str(trdg), "-c", str(count), "-t", str(workers), "-f", "32", "--output_dir", str(folder)],
                   check=True, capture_output=True, cwd=folder.parent)
    return count / (time.monotonic() - started)


def main() -> None:
    """Write the dataset, then print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=100000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--format", choices=("lmdb", "folder"), default="lmdb")
    parser.add_argument("--out", help="dataset folder (default: a temporary folder, removed afterwards)")
    parser.add_argument("--trdg-count", type=int, default=1000, help="images for the trdg comparison (0 skips it)")
    arguments = parser.parse_args()

    from synthgen.config import load_config
    from synthgen.writer import WriteRequest, write_dataset

    temporary = Path(tempfile.mkdtemp(prefix="synthgen-bench-write-"))
    out = Path(arguments.out) if arguments.out else temporary / "dataset"
    config = load_config()
    trace = MemoryTrace()
    trace.start()
    manifest = write_dataset(WriteRequest(config=config, out=out, count=arguments.count, seed=config.seed,
                                          format=arguments.format, workers=arguments.workers))
    trace.stopped.set()
    rate = manifest["images_per_second"]
    worker_peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    main_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\nsynthgen write, default config, {arguments.count} samples, {arguments.workers} workers, {arguments.format}:")
    print(f"  {manifest['seconds']:.1f} s, {rate:.0f} images/s")
    print(f"  projected for 1,000,000: {1e6 / rate / 60:.1f} min")
    print(f"  peak memory: {worker_peak:.0f} MB per worker, {main_peak:.0f} MB in the writing process")
    trace_text = ", ".join(f"{seconds:.0f}s {megabytes:.0f}" for seconds, megabytes in trace.samples[:: max(1, len(trace.samples) // 12)])
    print(f"  worker memory over the run (MB): {trace_text}")
    from synthgen.datasets import open_dataset

    stored = open_dataset(out)
    image_bytes = sum(len(stored.raw(position)[0]) for position in range(0, len(stored), max(1, len(stored) // 2000)))
    image_bytes /= len(range(0, len(stored), max(1, len(stored) // 2000)))
    print(f"  bytes per sample on disk: {manifest['bytes_per_sample']:.0f} (encoded image alone: {image_bytes:.0f})")
    if arguments.trdg_count:
        trdg_rate = run_trdg(arguments.trdg_count, arguments.workers, temporary / "trdg")
        print(f"\ntrdg 1.8 CLI (default dictionary and options, {arguments.workers} threads, JPEG): {trdg_rate:.1f} images/s")
        print(f"ratio: {rate / trdg_rate:.0f}x")
    if not arguments.out:
        shutil.rmtree(temporary)


if __name__ == "__main__":
    main()
