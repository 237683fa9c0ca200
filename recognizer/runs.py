"""The experiment notebook: runs/NNNN-name/ with config, environment, metrics.jsonl, checkpoints and plots."""

from __future__ import annotations

import dataclasses
import json
import os
import platform
import re
import sys
import time
from pathlib import Path
from typing import Any

import torch
import yaml

from synthgen.files import write_json_atomically
from synthgen.writer import git_commit

RUN_NAME = re.compile(r"^(\d{4})-(.+)$")


def environment() -> dict[str, Any]:
    """Where the run ran: versions, machine and devices."""
    return {
        "python": sys.version.split()[0],
        "torch": torch.__version__,
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "git_commit": git_commit(),
        "command": sys.argv,
    }


def new_run(runs_dir: Path, name: str, config: Any, folder: Path | None = None, extra: dict | None = None) -> Path:
    """Create the next numbered run folder (or exactly `folder`) with the resolved config, the environment and `extra`."""
    if folder is not None:
        folder.mkdir(parents=True)  # an existing folder is never written over
    run = folder if folder is not None else numbered_folder(runs_dir, name)
    (run / "checkpoints").mkdir()
    (run / "plots").mkdir()
    (run / "config.yaml").write_text(yaml.safe_dump(plain(config), sort_keys=False, allow_unicode=True), encoding="utf-8")
    write_json_atomically(run / "run.json", {"started": time.strftime("%Y-%m-%d %H:%M:%S"), **environment(), **(extra or {})})
    return run


def numbered_folder(runs_dir: Path, name: str) -> Path:
    """A new, empty runs_dir/NNNN-name folder with the next free number."""
    runs_dir.mkdir(parents=True, exist_ok=True)
    numbers = [int(match.group(1)) for path in runs_dir.iterdir() if (match := RUN_NAME.match(path.name))]
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-") or "run"
    while True:
        run = runs_dir / f"{max(numbers, default=0) + 1:04d}-{slug}"
        try:
            run.mkdir()
            return run
        except FileExistsError:  # another process took the number
            numbers.append(max(numbers, default=0) + 1)


def plain(config: Any) -> Any:
    """A dataclass as YAML-friendly plain data (tuples to lists)."""
    return json.loads(json.dumps(dataclasses.asdict(config)))


def append_metrics(run: Path, record: dict[str, Any]) -> None:
    """One line of metrics.jsonl, flushed to disk."""
    with open(run / "metrics.jsonl", "a", encoding="utf-8") as handle:
        handle.write(json.dumps(record) + "\n")
        handle.flush()
        os.fsync(handle.fileno())


def read_metrics(run: Path) -> list[dict[str, Any]]:
    """Every complete record of a run's metrics.jsonl."""
    path = run / "metrics.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").split("\n")[:-1] if line.strip()]


def truncate_metrics(run: Path, step: int) -> None:
    """Drop records after `step` (a resumed run repeats the steps after its last checkpoint)."""
    kept = [record for record in read_metrics(run) if record["step"] <= step]
    text = "".join(json.dumps(record) + "\n" for record in kept)
    temporary = run / "metrics.jsonl.tmp"
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, run / "metrics.jsonl")


def list_runs(runs_dir: Path) -> list[dict[str, Any]]:
    """Every run, newest first, with its key metrics."""
    rows = []
    for run in sorted((path for path in runs_dir.glob("*") if RUN_NAME.match(path.name)), reverse=True):
        records = read_metrics(run)
        train = [r for r in records if r.get("kind") == "train"]
        validation = [r for r in records if r.get("kind") == "validation"]
        info = json.loads((run / "run.json").read_text(encoding="utf-8")) if (run / "run.json").exists() else {}
        last = validation[-1] if validation else {}
        rows.append({
            "run": run.name,
            "started": info.get("started", "?"),
            "step": train[-1]["step"] if train else 0,
            "loss": train[-1]["loss"] if train else None,
            "sets": {name: {"accuracy_ci": values.get("accuracy_case_insensitive"), "cer": values.get("cer")}
                     for name, values in last.get("sets", {}).items()},
            "finished": (run / "checkpoints" / "last.pt").exists() and bool(last.get("final")),
        })
    return rows
