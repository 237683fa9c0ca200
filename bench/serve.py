"""The service under load on localhost: throughput, latency percentiles, errors and memory, beside Tesseract.

Run: .venv/bin/python bench/serve.py [--model CHECKPOINT_OR_ONNX] [--requests 20000] [--workers 2]
Starts `recognizer serve` on a free loopback port and drives it with concurrent clients (bounded in count and
time): single-crop requests at concurrency 1, 8 and 32, then batches of 32. Prints crops/s, p50/p95/p99 latency
and error counts for each, and the server's resident memory after warm-up and after all the requests. Beside it, in
the same run: Tesseract 5 (`--psm 7`, one process per core, list files) on the same crops, crops/s per core.
Crops: ../shared/data/sroie-dev/words when present, else words drawn by the generator. Without --model the newest
runs/*/checkpoints/best.pt is served, else a freshly initialised `tiny` (speed does not depend on the weights).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
WORDS = ROOT.parent / "shared" / "data" / "sroie-dev" / "words"


def crops(count: int = 500) -> list[bytes]:
    """PNG bytes of real receipt words, or of generated ones."""
    if (WORDS / "labels.tsv").exists():
        return [path.read_bytes() for path in sorted((WORDS / "images").glob("*.png"))[:count]]
    import cv2

    from synthgen.config import load_config
    from synthgen.generator import WordGenerator

    generator = WordGenerator(load_config("configs/receipt.yaml", ["render.negative_rate=0"]))
    return [cv2.imencode(".png", generator(index).image)[1].tobytes() for index in range(count)]


def default_model(folder: Path) -> Path:
    """The newest best.pt under runs/, or an untrained tiny checkpoint."""
    found = sorted(ROOT.glob("runs/*/checkpoints/best.pt"), key=lambda path: path.stat().st_mtime)
    if found:
        return found[-1]
    from recognizer.checkpoints import save_checkpoint
    from recognizer.config import TrainConfig
    from recognizer.model import build_model, model_config
    from recognizer.trainer import TrainingState, checkpoint_payload
    from synthgen.charset import Charset
    from synthgen.codec import Codec

    codec = Codec(Charset.from_file(ROOT / "corpora" / "charset.txt"))
    path = folder / "untrained-tiny.pt"
    model = build_model(model_config("tiny", codec.classes))
    save_checkpoint(path, checkpoint_payload(model, None, None, TrainingState(), TrainConfig(), codec))
    return path


def free_port() -> int:
    """A free loopback port."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def resident_mb(pid: int) -> float:
    """A process's resident memory in MB, from /proc."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def drive(url: str, images: list[bytes], requests: int, concurrency: int, per_request: int, limit_s: float) -> dict:
    """`requests` POSTs of `per_request` crops each from `concurrency` clients; latencies, errors, crops/s."""
    import httpx

    latencies, errors, sent = [], 0, 0
    deadline = time.monotonic() + limit_s

    async def client(session) -> None:
        nonlocal errors, sent
        while sent < requests and time.monotonic() < deadline:
            number = sent
            sent += 1
            files = [("files", (f"{i}.png", images[(number * per_request + i) % len(images)])) for i in range(per_request)]
            started = time.monotonic()
            try:
                response = await session.post(url, files=files)
                if response.status_code != 200:
                    errors += 1
            except httpx.HTTPError:
                errors += 1
            latencies.append(time.monotonic() - started)

    started = time.monotonic()
    async with httpx.AsyncClient(timeout=30, limits=httpx.Limits(max_connections=concurrency)) as session:
        await asyncio.gather(*(client(session) for _ in range(concurrency)))
    seconds = time.monotonic() - started
    ordered = sorted(latencies)
    percentile = lambda share: ordered[min(len(ordered) - 1, int(share * len(ordered)))] * 1000  # noqa: E731
    return {"requests": len(latencies), "errors": errors, "crops_per_second": len(latencies) * per_request / seconds,
            "p50": percentile(0.5), "p95": percentile(0.95), "p99": percentile(0.99),
            "mean": statistics.fmean(latencies) * 1000}


def tesseract_speed(images: list[bytes], folder: Path) -> float | None:
    """Crops per CPU-second of Tesseract (psm 7) over list files, one single-threaded process per core."""
    if shutil.which("tesseract") is None:
        return None
    cores = os.cpu_count() or 1
    paths = []
    for number, data in enumerate(images):
        path = folder / f"crop-{number}.png"
        path.write_bytes(data)
        paths.append(path)
    lists = []
    for core in range(cores):
        listing = folder / f"list-{core}.txt"
        listing.write_text("\n".join(str(path) for path in paths[core::cores]) + "\n")
        lists.append(listing)
    started = time.monotonic()
    processes = [subprocess.Popen(["tesseract", str(listing), str(folder / f"out-{n}"), "--psm", "7"],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env={**os.environ, "OMP_THREAD_LIMIT": "1"})
                 for n, listing in enumerate(lists)]
    for process in processes:
        process.wait()
    return len(images) / (time.monotonic() - started) / cores


def main() -> None:
    """Serve, load, measure, compare."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="checkpoint or ONNX file (default: newest runs/*/checkpoints/best.pt)")
    parser.add_argument("--requests", type=int, default=20000, help="single-crop requests at concurrency 8 (default 20000)")
    parser.add_argument("--workers", type=int, default=2, help="the service's inference threads (default 2)")
    parser.add_argument("--limit", type=float, default=300.0, help="seconds at most per load run (default 300)")
    arguments = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="bench-serve-"))
    model = Path(arguments.model) if arguments.model else default_model(folder)
    images = crops()
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "recognizer", "serve", str(model), "--port", str(port), "--workers",
                               str(arguments.workers), "--set", "limits.queue=512", "--set", "limits.images=64"],
                              cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        import httpx

        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{url}/health/ready").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        recognize = f"{url}/v1/recognize"
        runs = [("single crops, concurrency 1", 1000, 1, 1), ("single crops, concurrency 8", arguments.requests, 8, 1),
                ("single crops, concurrency 32", 3000, 32, 1), ("batches of 32, concurrency 2", 400, 2, 32)]
        for _, _, concurrency, per_request in runs:  # warm-up: every request shape once, so memory is at its working size
            asyncio.run(drive(recognize, images, 100, concurrency, per_request, arguments.limit))
        start_mb = resident_mb(server.pid)
        print(f"model {model} ({model.stat().st_size // 1024} kB), {arguments.workers} inference threads, "
              f"{os.cpu_count()} cores, {len(images)} distinct crops")
        print(f"{'load':34} {'requests':>8} {'errors':>6} {'crops/s':>8} {'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7}")
        total = 0
        for name, count, concurrency, per_request in runs:
            figures = asyncio.run(drive(recognize, images, count, concurrency, per_request, arguments.limit))
            total += figures["requests"]
            print(f"{name:34} {figures['requests']:8} {figures['errors']:6} {figures['crops_per_second']:8.0f} "
                  f"{figures['p50']:7.1f} {figures['p95']:7.1f} {figures['p99']:7.1f}")
        end_mb = resident_mb(server.pid)
        print(f"server resident memory: {start_mb:.0f} MB after warm-up, {end_mb:.0f} MB after {total:,} more requests "
              f"({(end_mb - start_mb) / start_mb:+.1%})")
    finally:
        server.terminate()
        server.wait(timeout=60)
    speed = tesseract_speed(images, folder)
    if speed is None:
        print("Tesseract: not installed (apt-get install tesseract-ocr) - no reference in this run")
    else:
        print(f"Tesseract 5 (psm 7, list files, one process per core): {speed:.1f} crops/s per core, "
              f"{speed * (os.cpu_count() or 1):.0f} crops/s on {os.cpu_count()} cores")
    shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
