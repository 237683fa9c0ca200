"""The training configuration: strict YAML into frozen dataclasses, as for the generator."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from synthgen.config import bounded, load_dataclass
from synthgen.errors import ConfigError


@dataclass(frozen=True)
class ModelSection:
    """Which CRNN to build."""

    preset: str = "tiny"  # tiny | small | base
    height: int = bounded(32, 16, 256)
    channels: int = bounded(1, 1, 3)
    init: str | None = None  # start from this checkpoint's weights (fine-tuning): fresh optimizer, schedule and run


@dataclass(frozen=True)
class SyntheticSource:
    """The online stream of a synthgen config."""

    config: str | None = None  # synthgen YAML (default: built-in defaults)
    overrides: tuple[str, ...] = ()  # synthgen --set overrides, e.g. "render.negative_rate=0.05"
    weight: float = bounded(1.0, 0.0, None)


@dataclass(frozen=True)
class AugmentSection:
    """The image effects of a synthgen config applied to a share of a dataset's crops as they are read."""

    config: str | None = None  # synthgen YAML whose effects.image stack is used (default: built-in defaults)
    overrides: tuple[str, ...] = ()  # synthgen --set overrides, e.g. "effects.image.jpeg.p=0.5"
    rate: float = bounded(0.5, 0.0, 1.0)  # share of crops augmented; the others are read as they are


@dataclass(frozen=True)
class DatasetSource:
    """A dataset on disk (LMDB or folder): synthetic sets written earlier, or real crops for fine-tuning."""

    path: str = ""
    weight: float = bounded(1.0, 0.0, None)
    augment: AugmentSection | None = None  # few real crops go further with effects on each pass (fine-tuning)


@dataclass(frozen=True)
class DataSection:
    """What the trainer reads, mixed by weight per batch."""

    synthetic: SyntheticSource | None = field(default_factory=SyntheticSource)
    datasets: tuple[DatasetSource, ...] = ()
    batch_size: int = bounded(64, 1, 4096)
    bucket_batches: int = bounded(8, 1, 256)  # synthetic batches sorted by width together
    workers: int = bounded(1, 0, 64)  # DataLoader processes per source
    max_width: int = bounded(800, 16, 4096)  # wider images from disk are squeezed to this (eval and predict too)


@dataclass(frozen=True)
class OptimSection:
    """AdamW with warm-up and a cosine or one-cycle schedule, gradient clipping."""

    lr: float = bounded(2e-3, 0.0, 1.0)
    weight_decay: float = bounded(0.01, 0.0, 1.0)
    warmup_steps: int = bounded(200, 0, None)
    schedule: str = "cosine"  # cosine | onecycle
    final_lr_share: float = bounded(0.02, 0.0, 1.0)  # the last step's learning rate, as a share of lr
    clip: float = bounded(5.0, 0.0, None)  # gradient norm limit; 0 disables
    freeze_features_steps: int = bounded(0, 0, None)  # convolution stages (and their batch norm) frozen for these first steps


@dataclass(frozen=True)
class ValidationStream:
    """A synthgen config whose held-out fonts make the synthetic validation set (instead of the training stream's)."""

    config: str | None = None  # synthgen YAML (default: built-in defaults)
    overrides: tuple[str, ...] = ()


@dataclass(frozen=True)
class ValidationSection:
    """What is measured every `every` steps and at the end."""

    every: int = bounded(500, 1, None)
    synthetic_samples: int = bounded(1024, 0, 1000000)  # drawn with fonts held out of training
    synthetic: ValidationStream | None = None  # default: the training stream's config (data.synthetic)
    snapshots: bool = False  # keep the weights of every validation as checkpoints/step-NNNNNNN.pt
    seed: int = 1000003  # validation samples are indices of this seed, never the training seed
    datasets: tuple[str, ...] = ()  # labelled real sets (LMDB or folder), e.g. ../shared/data/sroie-dev/words
    best_metric: str = "accuracy_case_insensitive"  # on the synthetic set, or the first dataset when there is none


@dataclass(frozen=True)
class TrainConfig:
    """A training run."""

    name: str = "crnn"
    runs_dir: str = "runs"
    seed: int = 0
    steps: int = bounded(3000, 1, None)
    charset: str = "corpora/charset.txt"
    precision: str = "auto"  # auto (bf16 on a GPU that supports it, else fp32) | fp32 | bf16 | fp16
    device: str = "auto"  # auto | cpu | cuda
    threads: int = bounded(0, 0, 256)  # torch threads on CPU; 0 leaves the default
    log_every: int = bounded(25, 1, None)
    model: ModelSection = field(default_factory=ModelSection)
    data: DataSection = field(default_factory=DataSection)
    optim: OptimSection = field(default_factory=OptimSection)
    validation: ValidationSection = field(default_factory=ValidationSection)

    def __post_init__(self) -> None:
        if self.precision not in ("auto", "fp32", "bf16", "fp16"):
            raise ConfigError(f"precision must be auto, fp32, bf16 or fp16, got {self.precision!r}")
        if self.device not in ("auto", "cpu", "cuda"):
            raise ConfigError(f"device must be auto, cpu or cuda, got {self.device!r}")
        if self.optim.schedule not in ("cosine", "onecycle"):
            raise ConfigError(f"optim.schedule must be cosine or onecycle, got {self.optim.schedule!r}")
        if self.data.synthetic is None and not self.data.datasets:
            raise ConfigError("data needs a synthetic source or at least one dataset")
        if any(not source.path for source in self.data.datasets):
            raise ConfigError("every data.datasets entry needs a path")


def load_train_config(path: str | Path | None, overrides: Sequence[str] = ()) -> TrainConfig:
    """A training config from YAML (or the defaults) and `section.key=value` overrides."""
    return load_dataclass(TrainConfig, path, overrides)
