"""The training loop: data mix, AdamW with warm-up and cosine/one-cycle decay, CTC, validation, checkpoints, resume."""

from __future__ import annotations

import math
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
import torch.nn.functional as F
from tqdm import tqdm

from recognizer.augment import augmentation
from recognizer.checkpoints import CheckpointError, read_checkpoint, save_checkpoint
from recognizer.decoding import Calibration
from recognizer.config import TrainConfig
from recognizer.data import (
    DiskWords,
    MixedBatches,
    Source,
    disk_batches,
    evaluation_batches,
    synthetic_source,
)
from recognizer.evaluation import ctc_ready, evaluate, fit_calibration
from recognizer.model import build_model, model_config, parameter_count
from recognizer.plots import plot_confidence, plot_training
from recognizer.runs import append_metrics, new_run, plain, read_metrics, truncate_metrics
from synthgen.charset import Charset
from synthgen.codec import Codec
from synthgen.config import load_config
from synthgen.errors import ConfigError
from synthgen.files import file_sha256
from synthgen.paths import resolve_path
from synthgen.stream import SyntheticWords, WordBatch


def learning_rate_factor(step: int, config: TrainConfig) -> float:
    """The schedule: linear warm-up, then cosine decay to final_lr_share (or one-cycle: warm-up, then linear cool-down)."""
    optim, total = config.optim, config.steps
    warmup = min(optim.warmup_steps, max(total - 1, 0))
    if step < warmup:
        return (step + 1) / warmup
    progress = (step - warmup) / max(1, total - warmup)
    if optim.schedule == "onecycle":
        return max(optim.final_lr_share, 1.0 - progress * (1.0 - optim.final_lr_share))
    return optim.final_lr_share + (1 - optim.final_lr_share) * 0.5 * (1 + math.cos(math.pi * min(progress, 1.0)))


@dataclass
class Distributed:
    """This process's place in a torchrun job (rank 0 of 1 when run alone)."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        return self.rank == 0


def join_distributed(device: str) -> Distributed:
    """Join the process group when started by torchrun (gloo on CPU, nccl on GPUs)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return Distributed()
    backend = "nccl" if device != "cpu" and torch.cuda.is_available() else "gloo"
    if not dist.is_initialized():
        dist.init_process_group(backend)
    return Distributed(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", "0")))


def pick_device(wanted: str, place: Distributed) -> torch.device:
    """cuda:LOCAL_RANK when asked for (or available under auto), else cpu."""
    if wanted == "cuda" and not torch.cuda.is_available():
        raise ConfigError("device: cuda was asked for but no GPU is available")
    if wanted == "cuda" or (wanted == "auto" and torch.cuda.is_available()):
        return torch.device("cuda", place.local_rank)
    return torch.device("cpu")


def autocast_dtype(precision: str, device: torch.device) -> torch.dtype | None:
    """The autocast dtype: bf16 where the device supports it under auto, None for full precision."""
    if precision == "fp32" or (precision == "auto" and device.type != "cuda"):
        return None
    if precision == "fp16":
        return torch.float16
    if device.type == "cuda" and not torch.cuda.is_bf16_supported():
        return None if precision == "auto" else torch.bfloat16
    return torch.bfloat16


@dataclass
class TrainingState:
    """What a checkpoint restores besides weights and optimizer: where the run is."""

    step: int = 0
    consumed: dict[str, int] = field(default_factory=dict)
    best: float | None = None
    skipped: int = 0  # steps whose loss was not finite (not applied)
    calibration: list = field(default_factory=lambda: [None, 0.0])  # confidence mapping fitted on validation (slope, intercept)


def checkpoint_payload(model: torch.nn.Module, optimizer, scheduler, state: TrainingState, config: TrainConfig,
                       codec: Codec) -> dict[str, Any]:
    """Everything needed to rebuild the model and continue (no optimizer when it is None: a weights snapshot)."""
    payload = {
        "model": unwrap(model).state_dict(),
        "model_config": unwrap(model).config.as_dict(),
        "state": dict(state.__dict__),
        "charset": codec.characters,
        "train_config": plain(config),
    }
    if optimizer is not None:
        payload.update(optimizer=optimizer.state_dict(), scheduler=scheduler.state_dict())
    return payload


def snapshot_path(run: Path, step: int) -> Path:
    """Where the weights of the validation at `step` are kept (validation.snapshots)."""
    return run / "checkpoints" / f"step-{step:07d}.pt"


def unwrap(model: torch.nn.Module) -> torch.nn.Module:
    """The model inside a DistributedDataParallel wrapper."""
    return model.module if hasattr(model, "module") else model


def training_sources(config: TrainConfig, codec: Codec, place: Distributed) -> list[Source]:
    """The synthetic stream (training fonts only) and the datasets on disk, as weighted sources."""
    data, sources = config.data, []
    if data.synthetic is not None and data.synthetic.weight > 0:
        generator_config = load_config(data.synthetic.config, [*data.synthetic.overrides, "fonts.split=train"])
        check_charset(generator_config, codec)
        sources.append(synthetic_source(generator_config, codec, data.batch_size, data.bucket_batches, data.workers,
                                        place.rank, place.world, data.synthetic.weight))
    for number, entry in enumerate(data.datasets):
        seed = config.seed + 7919 * (number + 1)
        augment = augmentation(entry.augment, seed) if entry.augment is not None else None
        dataset = DiskWords(resolve_path(entry.path), config.model.height, config.model.channels, data.max_width, augment)
        codec.check(dataset.labels())

        def start(first: int, dataset=dataset, seed=seed):
            return disk_batches(dataset, codec, data.batch_size, seed, first, data.workers, place.rank, place.world)

        sources.append(Source(f"dataset{number}:{Path(entry.path).name}", entry.weight, start))
    return sources


def check_charset(generator_config, codec: Codec) -> None:
    """The generator's charset must be the trainer's: labels are never silently changed."""
    generator_charset = Charset.from_file(resolve_path(generator_config.charset.path))
    if generator_charset.characters != codec.characters:
        raise ConfigError(f"the synthetic source's charset ({generator_config.charset.path}) differs from the trainer's")


def validation_sets(config: TrainConfig, codec: Codec) -> dict[str, list[WordBatch] | DiskWords]:
    """The font-disjoint synthetic set (built once, in memory) and the labelled real sets."""
    sets: dict[str, Any] = {}
    synthetic = config.validation.synthetic or config.data.synthetic
    if synthetic is not None and config.validation.synthetic_samples > 0:
        generator_config = load_config(synthetic.config, [*synthetic.overrides, "fonts.split=heldout"])
        check_charset(generator_config, codec)
        dataset = SyntheticWords(generator_config, batch_size=64, bucket_batches=4, seed=config.validation.seed, codec=codec)
        groups = math.ceil(config.validation.synthetic_samples / dataset.group_size)
        sets["synthetic-heldout-fonts"] = [batch for group in range(groups) for batch in dataset[group]]
    for path in config.validation.datasets:
        dataset = DiskWords(resolve_path(path), config.model.height, config.model.channels, config.data.max_width)
        codec.check(dataset.labels())
        sets[Path(path).name or str(path)] = dataset
    return sets


def validate(model, sets: dict, codec: Codec, device: torch.device, state: TrainingState, run: Path, step: int,
             final: bool) -> dict[str, dict]:
    """Measure every validation set, refit the confidence calibration on the first, plot, and log the results."""
    results = {}
    for position, (name, data) in enumerate(sets.items()):
        batches = data if isinstance(data, list) else evaluation_batches(data, codec, 64)
        evaluation = evaluate(model, batches, codec, device)
        if position == 0:
            state.calibration = fit_calibration(evaluation).as_list()
        evaluation.recalibrate(Calibration(*state.calibration))
        summary = evaluation.metrics.summary()
        results[name] = {key: value for key, value in summary.items() if key not in ("precision_recall",)}
        results[name]["ece"] = evaluation.metrics.expected_calibration_error()
        if final or position == 0:
            plot_confidence(summary, evaluation.metrics.records, evaluation.metrics.reliability(), run / "plots", name)
    append_metrics(run, {"kind": "validation", "step": step, "final": final, "calibration": state.calibration, "sets": results})
    plot_training(read_metrics(run), run / "plots")
    return results


def train(config: TrainConfig, resume: Path | None = None, progress: bool = True, stop_at: int | None = None,
          folder: Path | None = None) -> Path:
    """Train (or continue) a run; returns its folder.

    `folder` creates the run exactly there instead of the next numbered folder of runs_dir; `stop_at` ends
    after that step as a crash would (for tests).
    """
    place = join_distributed(config.device)
    device = pick_device(config.device, place)
    if config.threads:
        torch.set_num_threads(config.threads)
    codec = Codec(Charset.from_file(resolve_path(config.charset)))
    model, started_from = initial_model(config, codec)
    if config.optim.freeze_features_steps and place.world > 1:
        raise ConfigError("optim.freeze_features_steps is not supported under torchrun (DDP): train on one process")
    model = model.to(device, memory_format=torch.channels_last)  # about 20% faster convolutions on CPU
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.optim.lr, weight_decay=config.optim.weight_decay)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: learning_rate_factor(step, config))
    state = TrainingState()
    run = resume if resume is not None else None
    if resume is not None:
        state = restore(resume / "checkpoints" / "last.pt", model, optimizer, scheduler, codec, device)
        if place.main:
            truncate_metrics(resume, state.step)
    elif place.main:
        run = new_run(Path(config.runs_dir), config.name, config, folder, {"init": started_from} if started_from else {})
    if place.world > 1:
        shared = [str(run) if run else None]
        dist.broadcast_object_list(shared, src=0)
        run = Path(shared[0])
        model = torch.nn.parallel.DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)
    data = MixedBatches(training_sources(config, codec, place), config.seed, state.consumed)
    sets = validation_sets(config, codec) if place.main else {}
    dtype = autocast_dtype(config.precision, device)
    scaler = torch.amp.GradScaler(device.type, enabled=dtype == torch.float16)
    if place.main and resume is None:
        append_metrics(run, {"kind": "start", "step": 0, "parameters": parameter_count(unwrap(model)),
                             "device": str(device), "autocast": str(dtype), "world": place.world, "init": started_from})
    bar = tqdm(total=config.steps, initial=state.step, unit="step", disable=not (progress and place.main), dynamic_ncols=True)
    window = {"loss": 0.0, "count": 0, "samples": 0, "wait": 0.0, "started": time.monotonic()}
    model.train()
    while state.step < config.steps:
        waited = time.monotonic()
        batch = data.next(state.step)
        window["wait"] += time.monotonic() - waited
        freeze_features(unwrap(model), state.step < config.optim.freeze_features_steps)
        images = ctc_ready(batch.images, batch.target_lengths).to(device, memory_format=torch.channels_last)
        with torch.autocast(device.type, dtype=dtype or torch.float32, enabled=dtype is not None):
            logits = model(images)  # (N, T, C)
        log_probabilities = logits.float().log_softmax(2).transpose(0, 1)  # (T, N, C) for ctc_loss
        input_lengths = torch.full((logits.shape[0],), logits.shape[1], dtype=torch.int64)
        loss = F.ctc_loss(log_probabilities, batch.targets.to(device), input_lengths, batch.target_lengths,
                          blank=0, reduction="mean", zero_infinity=True)
        optimizer.zero_grad(set_to_none=True)
        if torch.isfinite(loss):
            scaler.scale(loss).backward()
            if config.optim.clip > 0:
                scaler.unscale_(optimizer)
                torch.nn.utils.clip_grad_norm_(model.parameters(), config.optim.clip)
            scaler.step(optimizer)
            scaler.update()
            window["loss"] += float(loss.detach())
            window["count"] += 1
        else:
            state.skipped += 1  # counted and reported, never applied to the weights
        scheduler.step()
        state.step += 1
        state.consumed = dict(data.consumed)
        window["samples"] += len(batch)
        bar.update(1)
        if place.main and (state.step % config.log_every == 0 or state.step == config.steps):
            log_window(run, state, window, scheduler, bar)
        if state.step % config.validation.every == 0 or state.step == config.steps:
            paused = time.monotonic()
            checkpoint(run, model, optimizer, scheduler, state, config, codec, sets, device, place)
            window["started"] += time.monotonic() - paused  # throughput figures leave validation out
        if stop_at is not None and state.step >= stop_at:
            break
    bar.close()
    data.close()
    if place.world > 1:
        dist.barrier()
    return run


def initial_model(config: TrainConfig, codec: Codec) -> tuple[torch.nn.Module, dict[str, Any] | None]:
    """A fresh CRNN, or (model.init) the checkpoint's weights with the output layer grown to the codec's charset."""
    shape = model_config(config.model.preset, codec.classes, height=config.model.height, channels=config.model.channels)
    if not config.model.init:
        return build_model(shape, seed=config.seed), None
    path = resolve_path(config.model.init)
    payload = read_checkpoint(path)
    settings = payload["model_config"]
    for key in ("preset", "height", "channels"):
        if settings[key] != getattr(config.model, key):
            raise ConfigError(f"model.{key} is {getattr(config.model, key)!r} but the checkpoint {path} has "
                              f"{settings[key]!r}: the model comes from the checkpoint, set model.{key}={settings[key]}")
    old, new = payload["charset"], codec.characters
    removed = [character for character in old if character not in new]
    if removed:
        raise ConfigError(f"the charset {config.charset} lacks {len(removed)} character(s) the checkpoint {path} reads: "
                          f"{''.join(removed)!r}; a fine-tuned model keeps every character it had (add them back)")
    fresh = build_model(model_config(settings["preset"], codec.classes, **{key: settings[key] for key in (
        "height", "channels")}, widths=tuple(settings["widths"]), hidden=settings["hidden"], layers=settings["layers"]),
        seed=config.seed)
    fresh.load_state_dict(grown_weights(payload["model"], fresh.state_dict(), old, new))
    added = "".join(character for character in new if character not in old)
    return fresh, {"checkpoint": str(path), "sha256": file_sha256(path), "step": payload["state"].get("step"),
                   "characters_added": added}


def grown_weights(old_weights: dict, fresh_weights: dict, old: str, new: str) -> dict:
    """The checkpoint's weights, with the classifier's rows moved to the new charset's order and new rows kept fresh."""
    weights = dict(old_weights)
    for name in ("classifier.weight", "classifier.bias"):
        rows = fresh_weights[name].clone()  # (classes, ...): blank at 0, then the charset in order
        rows[0] = old_weights[name][0]
        for position, character in enumerate(new, start=1):
            if character in old:
                rows[position] = old_weights[name][old.index(character) + 1]
        weights[name] = rows
    return weights


def freeze_features(model: torch.nn.Module, frozen: bool) -> None:
    """Freeze (or release) the convolution stages: no gradients, and batch norm keeps its running statistics."""
    for stage in (model.features, model.collapse):
        stage.train(model.training and not frozen)
        for parameter in stage.parameters():
            parameter.requires_grad_(not frozen)


def log_window(run: Path, state: TrainingState, window: dict, scheduler, bar) -> None:
    """Write the mean loss, learning rate, samples/s and data-wait share since the last log line."""
    elapsed = max(time.monotonic() - window["started"], 1e-9)
    record = {
        "kind": "train", "step": state.step, "loss": window["loss"] / max(window["count"], 1),
        "lr": scheduler.get_last_lr()[0], "samples_per_second": window["samples"] / elapsed,
        "data_wait_share": window["wait"] / elapsed, "skipped": state.skipped,
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        record["gpu_memory_gib"] = torch.cuda.max_memory_allocated() / 2**30  # peak since the run started
    append_metrics(run, record)
    bar.set_postfix(loss=f"{record['loss']:.3f}", img_s=f"{record['samples_per_second']:.0f}",
                    wait=f"{record['data_wait_share']:.0%}")
    window.update(loss=0.0, count=0, samples=0, wait=0.0, started=time.monotonic())


def checkpoint(run, model, optimizer, scheduler, state, config, codec, sets, device, place) -> None:
    """Validate, then write last.pt (and best.pt when the best metric improved), on the main process."""
    if place.main:
        final = state.step == config.steps
        results = validate(unwrap(model), sets, codec, device, state, run, state.step, final) if sets else {}
        score = next(iter(results.values()), {}).get(config.validation.best_metric) if results else None
        improved = score is not None and (state.best is None or score > state.best)
        if improved:
            state.best = score
        last = run / "checkpoints" / "last.pt"
        if config.validation.snapshots:
            save_checkpoint(snapshot_path(run, state.step), checkpoint_payload(model, None, None, state, config, codec))
        save_checkpoint(last, checkpoint_payload(model, optimizer, scheduler, state, config, codec))
        if improved:
            shutil.copyfile(last, last.with_name("best.pt.tmp"))
            os.replace(last.with_name("best.pt.tmp"), last.with_name("best.pt"))
    if place.world > 1:
        dist.barrier()


def restore(path: Path, model, optimizer, scheduler, codec: Codec, device: torch.device) -> TrainingState:
    """Load a checkpoint into the model, optimizer and scheduler; the run's position comes back."""
    if not path.exists():
        raise ConfigError(f"cannot resume: {path} does not exist")
    payload = read_checkpoint(path, device)
    if payload["charset"] != codec.characters:
        raise ConfigError(f"cannot resume {path}: it was trained with another charset")
    if "optimizer" not in payload:
        raise CheckpointError(f"cannot resume from {path}: it holds weights only (a snapshot), not the optimizer's state")
    model.load_state_dict(payload["model"])
    optimizer.load_state_dict(payload["optimizer"])
    scheduler.load_state_dict(payload["scheduler"])
    return TrainingState(**payload["state"])
