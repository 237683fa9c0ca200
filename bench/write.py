"""Offline writer throughput: 100,000 default-config samples into LMDB on both cores, beside trdg's own writer.

Run: .venv/bin/python bench/write.py [--count 100000] [--workers 2] [--format lmdb] [--out DIR] [--trdg-count 1000]
                                    [--plot memory.png]
Prints images/s, the projected time for 1,000,000 samples, peak memory per worker (and its private memory over the run,
to show it stays flat; --plot draws it), bytes per sample, and trdg's rate writing JPEGs with its CLI on the same cores.
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


def memory_megabytes(pid: int) -> tuple[float, float]:
    """(private, resident) memory of a process in MB: anonymous pages, and all resident pages including mapped files
    (the LMDB file's pages count in the writer's resident figure; the kernel can drop them, unlike private memory)."""
    try:
        fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)
        return int(fields["RssAnon"].split()[0]) / 1024, int(fields["VmRSS"].split()[0]) / 1024
    except (OSError, KeyError, ValueError):
        return 0.0, 0.0


def workers_of(pid: int) -> list[int]:
    """The pool's worker processes among the children of `pid` (not multiprocessing's resource tracker; Linux /proc)."""
    try:
        children = [int(child) for task in Path(f"/proc/{pid}/task").iterdir()
                    for child in (task / "children").read_text().split()]
        return [child for child in children if b"resource_tracker" not in Path(f"/proc/{child}/cmdline").read_bytes()]
    except OSError:
        return []


class MemoryTrace(threading.Thread):
    """Samples the memory of every worker process and of the writing process every few seconds."""

    def __init__(self, every: float = 5.0) -> None:
        super().__init__(daemon=True)
        self.every, self.samples, self.stopped = every, [], threading.Event()

    def run(self) -> None:
        started = time.monotonic()
        while not self.stopped.wait(self.every):
            workers = [memory_megabytes(worker) for worker in workers_of(os.getpid())]
            if workers:
                self.samples.append((time.monotonic() - started, workers, memory_megabytes(os.getpid())))


def plot_memory(samples: list, path: Path) -> None:
    """Private memory of each worker and of the writing process against time (and the writer's resident pages), as a PNG."""
    from recognizer.plots import plt, save

    figure, axis = plt.subplots(figsize=(7, 3.5))
    minutes = [seconds / 60 for seconds, _, _ in samples]
    for worker in range(max(len(workers) for _, workers, _ in samples)):
        points = [(seconds / 60, workers[worker][0]) for seconds, workers, _ in samples if worker < len(workers)]
        axis.plot(*zip(*points), lw=1, label=f"worker {worker + 1}, private")
    axis.plot(minutes, [main[0] for _, _, main in samples], lw=1, color="black", label="writing process, private")
    axis.plot(minutes, [main[1] for _, _, main in samples], lw=1, ls=":", color="black",
              label="writing process, resident (with LMDB file pages)")
    axis.set(xlabel="minutes", ylabel="memory (MB)", ylim=(0, None), title="synthgen write: memory over the run")
    axis.grid(alpha=0.3)
    axis.legend(fontsize=8)
    save(figure, path)


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
    parser.add_argument("--plot", help="PNG of each worker's and the writer's memory against time")
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
    every = trace.samples[:: max(1, len(trace.samples) // 12)]
    worker_text = ", ".join(f"{seconds:.0f}s {max(private for private, _ in workers):.0f}" for seconds, workers, _ in every)
    writer_text = ", ".join(f"{seconds:.0f}s {main[0]:.0f}/{main[1]:.0f}" for seconds, _, main in every)
    print(f"  largest worker's private memory over the run (MB): {worker_text}")
    print(f"  writing process, private/resident (MB): {writer_text}")
    if arguments.plot and trace.samples:
        plot_memory(trace.samples, Path(arguments.plot))
        print(f"  memory curve: {arguments.plot}")
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
