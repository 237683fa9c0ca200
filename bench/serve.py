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


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) a process has used, from /proc: robust to other load on a shared machine."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def multipart(crops: list[bytes]) -> tuple[bytes, str]:
    """A multipart/form-data body with the crops as `files`, and its content type."""
    boundary = "bench-serve-boundary"
    parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="{number}.png"\r\n'
             f"Content-Type: image/png\r\n\r\n".encode() + crop + b"\r\n" for number, crop in enumerate(crops)]
    return b"".join(parts) + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


class Connection:
    """A minimal HTTP/1.1 keep-alive client on one socket. The load generator shares the machine's cores with the
    service, so it must cost little: httpx spends 2.5 ms of CPU a request at concurrency 8 and 9 ms at 32, which the
    service's figures would otherwise pay for (this costs about a tenth of that)."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def post(self, path: str, body: bytes, kind: str) -> int:
        """POST a body, read the whole answer; its status."""
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        head = (f"POST {path} HTTP/1.1\r\nHost: {self.host}\r\nContent-Type: {kind}\r\n"
                f"Content-Length: {len(body)}\r\n\r\n").encode()
        self.writer.write(head + body)
        await self.writer.drain()
        header = await self.reader.readuntil(b"\r\n\r\n")
        lines = header.decode("latin-1").split("\r\n")
        length = next(int(line.split(":", 1)[1]) for line in lines if line.lower().startswith("content-length:"))
        await self.reader.readexactly(length)
        return int(lines[0].split()[1])

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


async def drive(url: str, images: list[bytes], requests: int, concurrency: int, per_request: int, limit_s: float) -> dict:
    """`requests` POSTs of `per_request` crops each from `concurrency` keep-alive clients; latencies, errors, crops/s."""
    from urllib.parse import urlsplit

    address = urlsplit(url)
    latencies, errors, sent = [], 0, 0
    deadline = time.monotonic() + limit_s

    async def client() -> None:
        nonlocal errors, sent
        connection = Connection(address.hostname, address.port)
        while sent < requests and time.monotonic() < deadline:
            number = sent
            sent += 1
            body, kind = multipart([images[(number * per_request + i) % len(images)] for i in range(per_request)])
            started = time.monotonic()
            try:
                if await asyncio.wait_for(connection.post(address.path, body, kind), 30) != 200:
                    errors += 1
            except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError, StopIteration, ValueError):
                errors += 1
                connection.close()
            latencies.append(time.monotonic() - started)
        connection.close()

    started = time.monotonic()
    await asyncio.gather(*(client() for _ in range(concurrency)))
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
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="a service setting, e.g. --set precision=fp32 (repeatable)")
    arguments = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="bench-serve-"))
    model = Path(arguments.model) if arguments.model else default_model(folder)
    images = crops()
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "recognizer", "serve", str(model), "--port", str(port), "--workers",
                               str(arguments.workers), "--set", "limits.queue=512", "--set", "limits.images=64",
                               *[item for override in arguments.overrides for item in ("--set", override)]],
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
        print(f"{'load':34} {'requests':>8} {'errors':>6} {'crops/s':>8} {'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7} "
              f"{'server CPU ms/crop':>18}")
        total = 0
        for name, count, concurrency, per_request in runs:
            cpu = cpu_seconds(server.pid)
            figures = asyncio.run(drive(recognize, images, count, concurrency, per_request, arguments.limit))
            cpu_per_crop = (cpu_seconds(server.pid) - cpu) * 1000 / max(1, figures["requests"] * per_request)
            total += figures["requests"]
            print(f"{name:34} {figures['requests']:8} {figures['errors']:6} {figures['crops_per_second']:8.0f} "
                  f"{figures['p50']:7.1f} {figures['p95']:7.1f} {figures['p99']:7.1f} {cpu_per_crop:18.2f}")
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
