"""The offline writer: samples start..stop-1 of (config, seed) into an LMDB or folder dataset, resumable, in parallel."""

from __future__ import annotations

import json
import multiprocessing
import subprocess
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tqdm import tqdm

from synthgen import __version__
from synthgen.config import Config, config_as_dict
from synthgen.datasets import (
    SINKS,
    DatasetError,
    Entry,
    encode_image,
    open_dataset,
    write_errors,
)
from synthgen.files import write_json_atomically
from synthgen.fonts.audit import AUDIT_VERSION
from synthgen.generator import Sample, WordGenerator
from synthgen.paths import PROJECT_ROOT

CHUNK = 512  # samples per committed chunk by default: what a crash can cost, and the unit of work of a worker
MANIFEST = "manifest.json"
IDENTITY = ("format", "image_format", "jpeg_quality", "seed", "count", "shard", "config", "charset", "font_audit")


@dataclass(frozen=True)
class WriteRequest:
    """What to write: `count` samples of (config, seed), or the `shard`-th (1-based) of `shards` index ranges of them."""

    config: Config
    out: Path
    count: int
    seed: int
    format: str = "lmdb"
    image_format: str = "png"
    jpeg_quality: int = 95
    shard: int = 1
    shards: int = 1
    workers: int = 1
    resume: bool = False
    chunk: int = CHUNK

    def __post_init__(self) -> None:
        if self.count < 1:
            raise DatasetError(f"--count must be at least 1, got {self.count}")
        if self.format not in SINKS:
            raise DatasetError(f"--format must be one of {', '.join(SINKS)}, got {self.format!r}")
        if self.image_format not in ("png", "jpg"):
            raise DatasetError(f"--image-format must be png or jpg, got {self.image_format!r}")
        if not 1 <= self.jpeg_quality <= 100:
            raise DatasetError(f"--jpeg-quality must be in 1..100, got {self.jpeg_quality}")
        if not 1 <= self.shard <= self.shards:
            raise DatasetError(f"--shard must be K/N with 1 <= K <= N, got {self.shard}/{self.shards}")
        if self.chunk < 1:
            raise DatasetError(f"--chunk must be at least 1, got {self.chunk}")
        if self.workers < 0:
            raise DatasetError(f"--workers must be 0 or more, got {self.workers}")

    @property
    def indices(self) -> range:
        """The sample indices this dataset holds: the shard's share of 0..count-1."""
        return range(self.count * (self.shard - 1) // self.shards, self.count * self.shard // self.shards)


def git_commit() -> str:
    """The project's git commit, with '+dirty' for uncommitted changes, or 'unknown' outside a checkout."""
    try:
        run = lambda *args: subprocess.run(["git", *args], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=10)  # noqa: E731
        commit = run("rev-parse", "HEAD")
        if commit.returncode != 0:
            return "unknown"
        dirty = run("status", "--porcelain", "--untracked-files=no").stdout.strip()
        return commit.stdout.strip() + ("+dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def identity(request: WriteRequest, generator: WordGenerator) -> dict[str, Any]:
    """The manifest fields that decide every byte of the dataset: a resumed run must match them all."""
    indices = request.indices
    return json.loads(json.dumps({
        "format": request.format,
        "image_format": request.image_format,
        "jpeg_quality": request.jpeg_quality if request.image_format == "jpg" else None,
        "seed": request.seed,
        "count": request.count,
        "shard": {"index": request.shard, "of": request.shards, "start": indices.start, "stop": indices.stop},
        "config": config_as_dict(request.config),
        "charset": {"characters": generator.charset.characters, "fingerprint": generator.charset.fingerprint},
        "font_audit": {"fingerprint": generator.fonts.fingerprint, "audit_version": AUDIT_VERSION,
                       "faces": len(generator.fonts.faces)},
    }))


def tally(samples: Sequence[Sample]) -> dict[str, Counter]:
    """Counts per source, font family and applied effect over some samples."""
    counts = {"sources": Counter(), "font_families": Counter(), "effects": Counter()}
    for sample in samples:
        counts["sources"][sample.meta.get("source", "negative")] += 1
        if "font_family" in sample.meta:
            counts["font_families"][sample.meta["font_family"]] += 1
        for applied in (*sample.meta.get("text_effects", ()), *sample.meta.get("image_effects", ())):
            if not applied["params"].get("undone"):
                counts["effects"][applied["name"]] += 1
    return counts


def merge_counts(total: dict[str, Any], part: dict[str, Counter]) -> dict[str, dict[str, int]]:
    """Running counts plus a chunk's counts, as plain sorted dicts."""
    merged = {}
    for key in ("sources", "font_families", "effects"):
        counter = Counter(total.get(key, {}))
        counter.update(part.get(key, {}))
        merged[key] = dict(sorted(counter.items(), key=lambda item: (-item[1], item[0])))
    return merged


WORKER: dict[str, Any] = {}  # the generator of a worker process, built once by start_worker


def start_worker(config: Config, seed: int) -> None:
    """Pool initializer: build this process's generator (single-threaded OpenCV: the workers are the parallelism)."""
    import signal

    import cv2

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle: it stops the pool cleanly
    cv2.setNumThreads(1)
    WORKER["generator"] = WordGenerator(config, seed=seed)


def make_chunk(task: tuple[int, int, str, int]) -> tuple[list[Entry], dict[str, Counter]]:
    """Generate and encode samples start..stop-1: (image bytes, label, source) entries and their counts."""
    start, stop, image_format, quality = task
    generator: WordGenerator = WORKER["generator"]
    samples = [generator(index) for index in range(start, stop)]
    entries = [(encode_image(sample.image, image_format, quality), sample.text, sample.meta.get("source", ""))
               for sample in samples]
    return entries, tally(samples)


def chunk_tasks(request: WriteRequest, done: int) -> list[tuple[int, int, str, int]]:
    """The chunks still to write after `done` samples."""
    indices = request.indices
    first = indices.start + done
    return [(start, min(start + request.chunk, indices.stop), request.image_format, request.jpeg_quality)
            for start in range(first, indices.stop, request.chunk)]


def chunk_results(request: WriteRequest, tasks: list, generator: WordGenerator) -> Iterator[tuple[list, dict]]:
    """Chunks in order, made here (workers <= 1) or by a pool of worker processes."""
    if request.workers <= 1:
        WORKER["generator"] = generator
        yield from map(make_chunk, tasks)
        return
    context = multiprocessing.get_context("spawn")  # no fork: the parent may hold threads (tqdm, OpenCV)
    with context.Pool(request.workers, initializer=start_worker, initargs=(request.config, request.seed)) as pool:
        yield from pool.imap(make_chunk, tasks)
        pool.close()  # a clean exit; leaving the block early (Ctrl-C, an error) terminates the workers instead
        pool.join()


def prepare_folder(request: WriteRequest, expected: dict[str, Any]) -> dict[str, Any]:
    """Check the output folder (empty, or a matching unfinished dataset with --resume); the manifest to start from."""
    out, manifest_path = request.out, request.out / MANIFEST
    if out.exists() and not out.is_dir():
        raise DatasetError(f"{out} exists and is not a folder")
    if out.exists() and any(out.iterdir()):
        if not request.resume:
            raise DatasetError(f"{out} is not empty; pass --resume to continue the dataset there, or choose another folder")
        if not manifest_path.exists():
            raise DatasetError(f"{out} holds no {MANIFEST}: it is not a synthgen dataset, so it cannot be resumed")
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        different = [key for key in IDENTITY if manifest.get(key) != expected[key]]
        if different:
            raise DatasetError(f"cannot resume {out}: it was written with other {', '.join(different)}")
        return manifest
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise DatasetError(f"cannot create {out}: {error.strerror or error}") from None
    return {**expected, "complete": False, "seconds": 0.0}


def write_dataset(request: WriteRequest, generator: WordGenerator | None = None, progress: bool = True) -> dict[str, Any]:
    """Write (or finish) the dataset; returns its manifest. Stopped at any point, a rerun with resume=True finishes it."""
    generator = generator or WordGenerator(request.config, seed=request.seed)
    manifest = prepare_folder(request, identity(request, generator))
    manifest.update(version=__version__, git_commit=git_commit())
    write_json_atomically(request.out / MANIFEST, manifest)
    extension = "png" if request.image_format == "png" else "jpg"
    sink = SINKS[request.format](request.out, extension)
    total = len(request.indices)
    started = time.monotonic()
    bar = tqdm(total=total, initial=sink.count, unit="img", desc=f"writing {request.out.name}", disable=not progress,
               dynamic_ncols=True, smoothing=0.05)
    try:
        for entries, counts in chunk_results(request, chunk_tasks(request, sink.count), generator):
            with write_errors(request.out):
                sink.write(entries, merge_counts(sink.state, counts))
            bar.update(len(entries))
    finally:
        bar.close()
        sink.close()
        manifest["seconds"] = round(manifest.get("seconds", 0.0) + time.monotonic() - started, 2)
        manifest["written"] = sink.count
        write_json_atomically(request.out / MANIFEST, manifest)
    manifest.update(complete=True, counts=sink.state, negatives=sink.state.get("sources", {}).get("negative", 0))
    manifest["images_per_second"] = round(total / manifest["seconds"], 1) if manifest["seconds"] else None
    manifest["bytes_per_sample"] = round(dataset_bytes(request.out) / max(total, 1), 1)
    write_json_atomically(request.out / MANIFEST, manifest)
    return manifest


def dataset_bytes(folder: Path) -> int:
    """Bytes on disk of everything in the dataset folder."""
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file())


def merge_datasets(inputs: Sequence[Path], out: Path, progress: bool = True) -> dict[str, Any]:
    """Concatenate complete shard datasets of one run, in index order, into a new dataset at out."""
    manifests = [read_manifest(path) for path in inputs]
    order = sorted(range(len(inputs)), key=lambda position: manifests[position]["shard"]["start"])
    base = manifests[order[0]]
    for position in order:
        different = [key for key in IDENTITY if key != "shard" and manifests[position].get(key) != base.get(key)]
        if different:
            raise DatasetError(f"cannot merge {inputs[position]}: its {', '.join(different)} differ from {inputs[order[0]]}")
    ranges = [(manifests[p]["shard"]["start"], manifests[p]["shard"]["stop"]) for p in order]
    overlapping = [f"{a}-{b}" for (a, b), (c, _) in zip(ranges, ranges[1:]) if c < b]
    if overlapping:
        raise DatasetError(f"cannot merge: shards overlap (ranges ending {', '.join(overlapping)})")
    if out.exists() and any(out.iterdir()):
        raise DatasetError(f"{out} is not empty; merge into a new folder")
    out.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    sink = SINKS[base["format"]](out, "png" if base["image_format"] == "png" else "jpg")
    counts: dict[str, Any] = {}
    total = sum(stop - start for start, stop in ranges)
    with write_errors(out), tqdm(total=total, unit="img", desc=f"merging into {out.name}", disable=not progress,
                                dynamic_ncols=True) as bar:
        for position in order:
            reader = open_dataset(inputs[position])
            counts = merge_counts(counts, manifests[position].get("counts", {}))
            for start in range(0, len(reader), CHUNK):
                entries = [reader.raw(index) for index in range(start, min(start + CHUNK, len(reader)))]
                sink.write(entries, counts)
                bar.update(len(entries))
    sink.close()
    gaps = ranges[0][0] != 0 or ranges[-1][1] != base["count"] or any(c != b for (_, b), (c, _) in zip(ranges, ranges[1:]))
    manifest = {**base, "shard": {"index": 1, "of": 1, "start": ranges[0][0], "stop": ranges[-1][1]},
                "merged_from": [{"path": str(inputs[p]), **manifests[p]["shard"]} for p in order], "complete": True,
                "has_gaps": gaps, "written": sink.count, "counts": counts, "negatives": counts.get("sources", {}).get("negative", 0),
                "seconds": round(sum(m.get("seconds", 0.0) for m in manifests), 2),
                "merge_seconds": round(time.monotonic() - started, 2), "bytes_per_sample": round(dataset_bytes(out) / max(total, 1), 1)}
    write_json_atomically(out / MANIFEST, manifest)
    return manifest


def read_manifest(path: Path) -> dict[str, Any]:
    """A complete dataset's manifest; an error for missing or unfinished ones."""
    manifest_path = Path(path) / MANIFEST
    if not manifest_path.exists():
        raise DatasetError(f"{path} holds no {MANIFEST}: not a synthgen dataset")
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    if not manifest.get("complete"):
        raise DatasetError(f"{path} is unfinished ({manifest.get('written', 0)} written): finish it with --resume first")
    return manifest
