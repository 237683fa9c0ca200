"""The data lab: arms (data sources) trained with one recipe, budget and seeds, cached by what defines them, scored on real sets."""

from __future__ import annotations

import glob
import hashlib
import json
import math
import os
import re
import shutil
import socket
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import torch

from recognizer.config import TrainConfig, ValidationStream
from recognizer.data import READING, DiskWords, evaluation_batches
from recognizer.evaluation import evaluate
from recognizer.model import ModelConfig, model_config
from recognizer.runs import plain, read_metrics
from recognizer.checkpoints import checkpoint_calibration, load_checkpoint
from recognizer.trainer import snapshot_path, train
from synthgen.charset import Charset
from synthgen.codec import Codec, LabelOutsideCharsetError
from synthgen.config import (
    Config,
    apply_override,
    bounded,
    build_dataclass,
    config_as_dict,
    load_config,
    load_dataclass,
    read_yaml_mapping,
)
from synthgen.datasets import DatasetError, FolderReader, LmdbReader, open_dataset
from synthgen.errors import ConfigError
from synthgen.files import write_bytes_atomically, write_json_atomically
from synthgen.fonts.sampler import build_font_sampler
from synthgen.generator import GENERATOR_VERSION
from synthgen.paths import resolve_path
from synthgen.writer import git_commit

ARM_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
# How a run is carried out, not what it learns: left out of an arm's cache key. The key covers the configs, the
# data and the generator's version, not the rest of the code: after changing the trainer, give the lab a new `out`.
HOW_NOT_WHAT = ("name", "runs_dir", "device", "threads", "log_every")


@dataclass(frozen=True)
class ArmSection:
    """One data source: a synthgen config's online stream (with overrides) or a dataset on disk."""

    name: str = ""
    synthetic: str | None = None  # synthgen YAML: the online stream (training fonts only)
    overrides: tuple[str, ...] = ()  # synthgen --set overrides of the stream, e.g. "render.negative_rate=0"
    dataset: str | None = None  # LMDB or folder + labels.tsv, ours or another tool's
    description: str = ""


@dataclass(frozen=True)
class LabConfig:
    """A comparison: every arm trained with the same recipe, budget, seeds and validation, scored on every real set."""

    name: str = "lab"
    out: str | None = None  # results and runs (default: labs/NAME)
    records: str | None = None  # folder of finished runs' scores (commit it): a lab outlives its run folders
    recipe: str | None = None  # training YAML (default: the built-in training defaults)
    recipe_overrides: tuple[str, ...] = ()  # training --set overrides, e.g. "model.preset=small"
    budget: int = bounded(240000, 1, None)  # training samples per arm and seed
    seeds: tuple[int, ...] = (0,)  # each seed sets the model's initialisation, the data order and the stream's seed
    curve_points: int = bounded(6, 1, 1000)  # validations per run: points of the real-accuracy curve
    validation: ValidationStream = field(default_factory=ValidationStream)  # held-out fonts of this config choose checkpoints
    validation_samples: int = bounded(1024, 1, 1000000)
    real: dict[str, str] = field(default_factory=dict)  # name: labelled real set (LMDB or folder), scored, never trained on
    gallery_limit: int = bounded(40, 0, 100000)  # crops per real set in the gallery of disagreements
    arms: tuple[ArmSection, ...] = ()

    def __post_init__(self) -> None:
        if not self.arms:
            raise ConfigError("a lab needs at least one arm")
        names = [arm.name for arm in self.arms]
        for number, arm in enumerate(self.arms):
            if not ARM_NAME.match(arm.name):
                raise ConfigError(f"arms[{number}].name must be letters, digits, '_', '.' or '-', got {arm.name!r}")
            if (arm.synthetic is None) == (arm.dataset is None):
                raise ConfigError(f"arm {arm.name}: give exactly one of 'synthetic' (a synthgen config) or 'dataset'")
            if arm.dataset is not None and arm.overrides:
                raise ConfigError(f"arm {arm.name}: overrides apply to a synthetic stream, not to a dataset")
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ConfigError(f"arm names must be unique: {', '.join(duplicates)}")
        if not self.seeds or len(set(self.seeds)) != len(self.seeds) or min(self.seeds) < 0:
            raise ConfigError(f"seeds must be distinct non-negative integers, got {list(self.seeds)}")
        for name in self.real:
            if not ARM_NAME.match(name):
                raise ConfigError(f"real set names must be letters, digits, '_', '.' or '-', got {name!r}")


def load_lab(path: str | Path, overrides: Sequence[str] = ()) -> LabConfig:
    """A lab from YAML and `key=value` overrides; its output folder defaults to labs/NAME."""
    lab = load_dataclass(LabConfig, path, overrides)
    return lab if lab.out else replace(lab, out=f"labs/{lab.name}")


@dataclass
class ArmRun:
    """One arm at one seed: its training config, cache key and folder."""

    arm: ArmSection
    seed: int
    config: TrainConfig
    key: str
    folder: Path
    record: Path | None = None  # where its scores are kept once finished, when the lab keeps records
    data_absent: bool = False  # a dataset arm whose dataset is not on this machine: reported from its record only

    @property
    def label(self) -> str:
        return f"{self.arm.name} (seed {self.seed})"

    def recorded(self) -> dict[str, Any] | None:
        """The kept scores of this exact run, if the lab keeps records and has one.

        The record's key is the full key, or (for records rebuilt from a published results.json, which names runs
        by it) the 10-character prefix that run folders carry.
        """
        if self.record is None or not self.record.exists():
            return None
        kept = json.loads(self.record.read_text(encoding="utf-8"))
        key = str(kept.get("key", ""))
        return kept if len(key) >= 10 and self.key.startswith(key) else None

    def status(self) -> str:
        """new, partial (resumable), done (trained here, or recorded by an earlier machine) or absent (its dataset
        is not on this machine and no record holds the run)."""
        if self.data_absent:
            return "done" if self.recorded() is not None else "absent"
        if not (self.folder / "checkpoints" / "last.pt").exists():
            return "done" if self.recorded() is not None else "new"
        validations = [r for r in read_metrics(self.folder) if r.get("kind") == "validation"]
        return "done" if validations and validations[-1].get("final") else "partial"


def plan_lab(lab: LabConfig, how: Sequence[str] = ()) -> list[ArmRun]:
    """Every (arm, seed) with its config and cache key; any bad arm, config or dataset fails here, before training."""
    recipe = training_recipe(lab, how)
    codec = Codec(Charset.from_file(resolve_path(recipe.charset)))
    for name, path in lab.real.items():
        check_dataset(path, codec, f"real set {name}")
    fingerprints = Fingerprints()
    validation = resolved_stream(lab.validation.config, lab.validation.overrides, "heldout", codec, fingerprints, "validation")
    identities = {}
    for arm in lab.arms:
        if arm.synthetic is not None:
            identities[arm.name] = resolved_stream(arm.synthetic, arm.overrides, "train", codec, fingerprints, f"arm {arm.name}")
        elif lab.records and not resolve_path(arm.dataset).exists():
            identities[arm.name] = None  # its key is a hash of the dataset's bytes: known only from a record
            print(f"arm {arm.name}: {arm.dataset} is not on this machine; its runs are reported from their records "
                  f"({lab.records}) where they exist and skipped otherwise", file=sys.stderr)
        else:
            identities[arm.name] = {"dataset": check_dataset(arm.dataset, codec, f"arm {arm.name}")}
    runs = []
    for seed in lab.seeds:  # seed-major: a whole first comparison exists before any second seed starts
        for arm in lab.arms:
            config = arm_config(lab, arm, seed, how)
            if identities[arm.name] is None:
                runs.append(recorded_run(lab, arm, seed, config))
                continue
            key = cache_key(config, codec, identities[arm.name], validation)
            folder = Path(lab.out) / "arms" / f"{arm.name}-{key[:10]}" / f"seed-{seed}"
            record = Path(lab.records) / f"{arm.name}-{key[:10]}-seed-{seed}.json" if lab.records else None
            runs.append(ArmRun(arm, seed, config, key, folder, record))
    return runs


def recorded_run(lab: LabConfig, arm: ArmSection, seed: int, config: TrainConfig) -> ArmRun:
    """A run of an arm whose dataset is absent: the one record of this arm and seed, taken at its word (its key
    cannot be checked without the data), or an absent run that is never trained here."""
    found = sorted(Path(lab.records).glob(f"{glob.escape(arm.name)}-??????????-seed-{seed}.json"))
    record = found[0] if len(found) == 1 else None
    key = json.loads(record.read_text(encoding="utf-8")).get("key", "") if record else ""
    folder = Path(lab.out) / "arms" / f"{arm.name}-{key[:10] or 'absent'}" / f"seed-{seed}"
    return ArmRun(arm, seed, config, key, folder, record, data_absent=True)


def training_recipe(lab: LabConfig, how: Sequence[str] = ()) -> TrainConfig:
    """The recipe with the lab's overrides (and the machine's), before any arm is applied."""
    try:
        return build_dataclass(TrainConfig, recipe_data(lab, how), section="")
    except ConfigError as error:
        raise ConfigError(f"lab recipe: {error}") from error


def recipe_data(lab: LabConfig, how: Sequence[str]) -> dict[str, Any]:
    """The recipe as raw config data with the lab's and the machine's overrides applied."""
    data = read_yaml_mapping(resolve_path(lab.recipe)) if lab.recipe else {}
    for override in (*lab.recipe_overrides, *how):
        apply_override(data, override)
    return data


def arm_config(lab: LabConfig, arm: ArmSection, seed: int, how: Sequence[str] = ()) -> TrainConfig:
    """The training config of one arm at one seed: the recipe, the arm's data, the lab's budget and validation."""
    data = recipe_data(lab, how)
    batch_size = build_dataclass(TrainConfig, data, section="").data.batch_size
    steps = math.ceil(lab.budget / batch_size)
    data_section = data.setdefault("data", {})
    if arm.synthetic is not None:
        data_section["synthetic"] = {"config": arm.synthetic, "overrides": [*arm.overrides, f"seed={seed}"], "weight": 1.0}
        data_section["datasets"] = []
    else:
        data_section["synthetic"] = None
        data_section["datasets"] = [{"path": arm.dataset, "weight": 1.0}]
    data.update(name=f"{lab.name}-{arm.name}-seed{seed}", seed=seed, steps=steps)
    data["validation"] = {
        **data.get("validation", {}), "every": max(1, steps // lab.curve_points), "snapshots": True,
        "synthetic_samples": lab.validation_samples, "datasets": [],
        "synthetic": {"config": lab.validation.config, "overrides": list(lab.validation.overrides)},
    }
    try:
        return build_dataclass(TrainConfig, data, section="")
    except ConfigError as error:
        raise ConfigError(f"arm {arm.name}: {error}") from error


class Fingerprints:
    """Font sampler fingerprints, computed once per distinct font setting (auditing is the slow part)."""

    def __init__(self) -> None:
        self.known: dict[str, str] = {}

    def fonts(self, config) -> str:
        setting = json.dumps([config_as_dict(config.fonts), config.charset.path], sort_keys=True)
        if setting not in self.known:
            charset = Charset.from_file(resolve_path(config.charset.path))
            self.known[setting] = build_font_sampler(config.fonts, charset, progress=False).fingerprint
        return self.known[setting]


def resolved_stream(path: str | None, overrides: Sequence[str], split: str, codec: Codec, fingerprints: Fingerprints,
                    what: str) -> dict[str, Any]:
    """What defines a synthetic stream: its resolved config and the faces it draws from; bad keys fail here."""
    try:
        config = load_config(path, [*overrides, f"fonts.split={split}"])
    except ConfigError as error:
        raise ConfigError(f"{what}: {error}") from error
    charset = Charset.from_file(resolve_path(config.charset.path))
    if charset.characters != codec.characters:
        raise ConfigError(f"{what}: the stream's charset ({config.charset.path}) differs from the recipe's")
    settings = changed_settings(config_as_dict(config), config_as_dict(Config()))
    for name in ("seed", "output_dir"):  # the lab sets the stream's seed per run; the output folder is unused
        settings.pop(name, None)
    return {"stream": settings, "fonts": fingerprints.fonts(config), "generator_version": GENERATOR_VERSION}


def changed_settings(values: dict[str, Any], defaults: dict[str, Any]) -> dict[str, Any]:
    """The entries of a config that differ from the defaults (so a new key with a neutral default keeps old keys)."""
    changed = {}
    for name, value in values.items():
        default = defaults.get(name)
        if isinstance(value, dict) and isinstance(default, dict) and name not in ("tag_weights", "texture_weights"):
            inner = changed_settings(value, default)
            if inner:
                changed[name] = inner
        elif value != default:
            changed[name] = value
    return changed


def check_dataset(path: str, codec: Codec, what: str) -> str:
    """Open a dataset, check its labels against the charset; returns a fingerprint of its contents."""
    location = resolve_path(path)
    try:
        reader = open_dataset(location)
    except DatasetError as error:
        raise DatasetError(f"{what}: {error}") from error
    labels = reader.labels()
    if not labels:
        raise DatasetError(f"{what}: {location} holds no samples")
    try:
        codec.check(labels)
    except LabelOutsideCharsetError as error:
        raise DatasetError(f"{what}: {error}") from error
    return dataset_fingerprint(reader, labels)


def dataset_fingerprint(reader: LmdbReader | FolderReader, labels: list[str]) -> str:
    """A hash of what training reads: the labels, and each sample's image bytes (LMDB) or image file size (folder).

    An LMDB's file is not hashed whole: its page layout depends on how it was written (one transaction or
    many, resumed or not), and a writer may keep keys of its own in it; the samples are what define the arm.
    """
    digest = hashlib.sha256("\n".join(labels).encode("utf-8"))
    if isinstance(reader, LmdbReader):
        for image in reader.images():
            digest.update(hashlib.sha256(image).digest())
        reader.close()
    else:
        for image, _ in reader.entries:
            digest.update(f"{image.name}:{image.stat().st_size}\n".encode())
    return digest.hexdigest()[:16]


def cache_key(config: TrainConfig, codec: Codec, identity: dict, validation: dict) -> str:
    """A hash of everything that decides what a run learns: recipe, model shape, data, validation, charset."""
    settings = changed_settings(plain(config), plain(TrainConfig()))
    for name in HOW_NOT_WHAT:
        settings.pop(name, None)
    settings.get("data", {}).pop("workers", None)
    if "datasets" in settings.get("data", {}):  # fields added later, left unset, keep the keys published before them
        settings["data"]["datasets"] = [{name: value for name, value in entry.items() if value is not None}
                                        for entry in settings["data"]["datasets"]]
    shape = model_config(config.model.preset, codec.classes, height=config.model.height, channels=config.model.channels)
    payload = {"train": settings, "model": changed_settings(shape.as_dict(), ModelConfig().as_dict()),
               "charset": codec.characters, "data": identity,
               "validation": validation}
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode("utf-8")).hexdigest()


@contextmanager
def claimed(run: ArmRun) -> Iterator[bool]:
    """Hold the run's lock file while training it (False when another live process holds it)."""
    run.folder.parent.mkdir(parents=True, exist_ok=True)
    lock = run.folder.parent / f"{run.folder.name}.lock"
    owner = f"{socket.gethostname()}:{os.getpid()}"
    try:
        descriptor = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except FileExistsError:
        if not stale(lock):
            yield False
            return
        lock.unlink(missing_ok=True)
        descriptor = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(owner)
    try:
        yield True
    finally:
        lock.unlink(missing_ok=True)


def stale(lock: Path) -> bool:
    """A lock left by a process of this machine that is gone (locks of other machines are trusted)."""
    host, _, pid = lock.read_text(encoding="utf-8").partition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def train_arm(run: ArmRun, progress: bool) -> str:
    """Train what is new, resume what is unfinished, skip what is done; returns what happened."""
    with claimed(run) as mine:
        if not mine:
            return "busy (another process holds its lock)"
        status = run.status()
        if status == "done":
            return "cached"
        if status == "new":
            shutil.rmtree(run.folder, ignore_errors=True)  # a start that crashed before its first checkpoint
            train(run.config, progress=progress, folder=run.folder)
        else:
            train(run.config, resume=run.folder, progress=progress)
        (run.folder / "lab.json").write_text(json.dumps({"key": run.key, "git_commit": git_commit()}) + "\n")
        return "trained" if status == "new" else "resumed"


def best_step(run: ArmRun) -> int | None:
    """The step of best.pt: the first validation with the highest score on the synthetic set."""
    best, chosen = None, None
    metric = run.config.validation.best_metric
    for record in read_metrics(run.folder):
        if record.get("kind") != "validation" or not record["sets"]:
            continue
        score = next(iter(record["sets"].values())).get(metric)
        if score is not None and (best is None or score > best):
            best, chosen = score, record["step"]
    return chosen


def snapshot_steps(run: ArmRun) -> list[int]:
    """Steps of every kept weight snapshot, in order."""
    return sorted(int(path.stem.split("-")[1]) for path in (run.folder / "checkpoints").glob("step-*.pt"))


def score_snapshot(run: ArmRun, step: int, name: str, path: str, device: str = "cpu") -> dict[str, Any]:
    """Metrics and predictions of one snapshot on one real set (cached beside the run)."""
    location = resolve_path(path)
    where = hashlib.sha256(str(location).encode()).hexdigest()[:8]
    cache = run.folder / "real" / f"{name}-{where}-reading-{READING}-step-{step:07d}.json"
    if cache.exists():
        return json.loads(cache.read_text(encoding="utf-8"))
    model, codec, payload = load_checkpoint(snapshot_path(run.folder, step), device)
    dataset = DiskWords(location, model.config.height, model.config.channels, run.config.data.max_width)
    evaluation = evaluate(model, evaluation_batches(dataset, codec, 64), codec, torch.device(device),
                          checkpoint_calibration(payload))
    summary = evaluation.metrics.summary()
    predictions = [""] * len(dataset)
    for position, (_, text, _, _) in zip(evaluation.positions, evaluation.metrics.records):
        predictions[position] = text
    result = {
        "step": step, "samples": step * run.config.data.batch_size, "words": summary["words"],
        **{key: summary[key] for key in ("accuracy", "accuracy_case_insensitive", "cer", "cer_case_insensitive")},
        "predictions": predictions,
    }
    write_bytes_atomically(cache, (json.dumps(result, ensure_ascii=False) + "\n").encode("utf-8"))
    return result


def scored_reading(figures: dict[str, Any]) -> int:
    """The reading a run's figures were scored by (records from before readings were kept name none: 1)."""
    return figures.get("reading", 1)


def score_run(run: ArmRun, real: dict[str, str], device: str = "cpu") -> dict[str, Any]:
    """A finished run's figures, from its record when that covers every real set, else from its checkpoints."""
    kept = run.recorded()
    covered = kept is not None and set(real) <= set(kept["sets"])
    if covered and scored_reading(kept) == READING:
        return kept
    if not (run.folder / "checkpoints" / "last.pt").exists():
        if covered:  # scored by an older reading on a machine that had its checkpoints: kept as it is
            return kept
        missing = ", ".join(sorted(set(real) - set(kept["sets"])))
        raise ConfigError(f"{run.label}: its record {run.record} has no scores for {missing} and its checkpoints "
                          f"are not on this machine; retrain it (delete the record) or drop those sets")
    result = {"key": run.key, **scored_checkpoints(run, real, device)}  # as its record will give it back
    if run.record is not None:
        run.record.parent.mkdir(parents=True, exist_ok=True)
        write_json_atomically(run.record, result)
    return result


def scored_checkpoints(run: ArmRun, real: dict[str, str], device: str) -> dict[str, Any]:
    """Training speed, the checkpoint chosen on synthetic data, and every real set's curve, from the run folder."""
    train_records = [r for r in read_metrics(run.folder) if r.get("kind") == "train"]
    chosen = best_step(run) or run.config.steps
    result: dict[str, Any] = {
        "folder": str(run.folder), "best_step": chosen, "reading": READING,
        "samples_per_second": sum(r["samples_per_second"] for r in train_records) / max(len(train_records), 1),
        "git_commit": json.loads((run.folder / "lab.json").read_text())["git_commit"] if (run.folder / "lab.json").exists() else None,
        "sets": {}, "curves": {},
    }
    steps = snapshot_steps(run)
    for name, path in real.items():
        curve = [score_snapshot(run, step, name, path, device) for step in steps]
        result["curves"][name] = [[point["samples"], point["accuracy_case_insensitive"]] for point in curve]
        result["sets"][name] = next(point for point in curve if point["step"] == chosen)
    return result


def run_lab(lab: LabConfig, only: Sequence[str] = (), how: Sequence[str] = (), train_missing: bool = True,
            progress: bool | None = None) -> dict[str, Any]:
    """Plan every arm, train what the cache lacks (only the named arms, when given), score, and write the report."""
    from recognizer.lab_report import write_report

    runs = plan_lab(lab, how)
    unknown = sorted(set(only) - {arm.name for arm in lab.arms})
    if unknown:
        raise ConfigError(f"no arm named {', '.join(unknown)}; arms: {', '.join(arm.name for arm in lab.arms)}")
    progress = sys.stderr.isatty() if progress is None else progress
    chosen = [run for run in runs if not only or run.arm.name in only]
    device = "cuda" if torch.cuda.is_available() else "cpu"
    scores: dict[tuple[str, int], dict[str, Any]] = {}
    for number, run in enumerate(chosen, start=1):
        if train_missing:
            status = run.status()
            if status == "absent":
                print(f"[{number}/{len(chosen)}] {run.label}: skipped, its dataset {run.arm.dataset} is not on this "
                      f"machine and no record holds the run", flush=True)
                continue
            print(f"[{number}/{len(chosen)}] {run.label}: {status}, {run.config.steps} steps of "
                  f"{run.config.data.batch_size} -> {run.folder}", flush=True)
            outcome = train_arm(run, progress)
            print(f"    {outcome}", flush=True)
            if run.status() == "done":  # scored (and recorded) now: a later crash loses no finished arm
                scores[(run.arm.name, run.seed)] = score_run(run, lab.real, device)
    for run in runs:
        if (run.arm.name, run.seed) not in scores and run.status() == "done":
            scores[(run.arm.name, run.seed)] = score_run(run, lab.real, device)
    return write_report(lab, runs, scores)
