"""The CRNN: a convolutional feature extractor with batch norm, a bidirectional LSTM, and per-column class logits."""

from __future__ import annotations

import copy
from dataclasses import asdict, dataclass, replace

import torch
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

from synthgen.errors import ConfigError


@dataclass(frozen=True)
class ModelConfig:
    """The network's shape; `classes` (blank + charset) is filled in from the codec."""

    preset: str = "tiny"
    height: int = 32  # input height in pixels
    channels: int = 1  # 1 grayscale, 3 colour
    widths: tuple[int, ...] = (24, 48, 64, 96)  # channels of the four convolution stages
    hidden: int = 96  # LSTM units per direction
    layers: int = 1  # stacked bidirectional LSTM layers
    classes: int = 0

    def as_dict(self) -> dict:
        """Plain data for checkpoints."""
        return {**asdict(self), "widths": list(self.widths)}


PRESETS = {
    "tiny": ModelConfig(preset="tiny", widths=(24, 48, 64, 96), hidden=96, layers=1),  # 0.4 M parameters: CPU
    "small": ModelConfig(preset="small", widths=(64, 128, 192, 256), hidden=192, layers=2),  # 3.4 M
    "base": ModelConfig(preset="base", widths=(64, 128, 256, 384), hidden=256, layers=2),  # 6.4 M: GPUs
}
STRIDE = 4  # input columns per output time step: CTC sees width / 4 steps


def model_config(preset: str, classes: int, **overrides) -> ModelConfig:
    """A preset with the class count and any overrides applied."""
    if preset not in PRESETS:
        raise ConfigError(f"model.preset must be one of {', '.join(PRESETS)}, got {preset!r}")
    config = replace(PRESETS[preset], classes=classes, **overrides)
    if config.height % 16:
        raise ConfigError(f"model.height must be a multiple of 16, got {config.height}")
    return config


def convolution(inputs: int, outputs: int) -> list[nn.Module]:
    """3x3 convolution, batch norm, ReLU."""
    return [nn.Conv2d(inputs, outputs, 3, padding=1, bias=False), nn.BatchNorm2d(outputs), nn.ReLU(inplace=True)]


class CRNN(nn.Module):
    """Images (N, C, H, W) in [-1, 1] to logits (N, T, classes) with T = W // 4; the CTC loss lives in the trainer."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        a, b, c, d = config.widths
        self.features = nn.Sequential(
            *convolution(config.channels, a), nn.MaxPool2d(2, 2),  # H/2, W/2
            *convolution(a, b), nn.MaxPool2d(2, 2),  # H/4, W/4
            *convolution(b, c), *convolution(c, c), nn.MaxPool2d((2, 1), (2, 1)),  # H/8: keep width for time steps
            *convolution(c, d), *convolution(d, d), nn.MaxPool2d((2, 1), (2, 1)),  # H/16
        )
        remaining = config.height // 16
        self.collapse = nn.Sequential(nn.Conv2d(d, d, (remaining, 1), bias=False), nn.BatchNorm2d(d), nn.ReLU(inplace=True))
        self.sequence = nn.LSTM(d, config.hidden, num_layers=config.layers, bidirectional=True, batch_first=True)
        self.classifier = nn.Linear(2 * config.hidden, config.classes)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        features = self.collapse(self.features(images))  # (N, D, 1, T)
        columns = features.squeeze(2).transpose(1, 2)  # (N, T, D)
        sequence, _ = self.sequence(columns)  # (N, T, 2 * hidden)
        return self.classifier(sequence)  # (N, T, classes)


def initialize(model: nn.Module, seed: int) -> None:
    """Deterministic weights from a private generator (no global random state touched)."""
    generator = torch.Generator().manual_seed(seed)
    for module in model.modules():
        if isinstance(module, nn.Conv2d):
            nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu", generator=generator)
        elif isinstance(module, nn.BatchNorm2d):
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Linear):
            nn.init.xavier_uniform_(module.weight, generator=generator)
            nn.init.zeros_(module.bias)
        elif isinstance(module, nn.LSTM):
            for name, parameter in module.named_parameters():
                if "weight" in name:
                    nn.init.orthogonal_(parameter, generator=generator)
                else:
                    nn.init.zeros_(parameter)


def build_model(config: ModelConfig, seed: int = 0) -> CRNN:
    """A CRNN with deterministic initial weights."""
    model = CRNN(config)
    initialize(model, seed)
    return model


def folded_for_inference(model: CRNN) -> CRNN:
    """An eval-mode copy with every batch norm folded into the convolution before it: the same function, fewer passes."""
    folded = copy.deepcopy(model).eval()
    for name in ("features", "collapse"):
        layers, kept = list(getattr(folded, name)), []
        for layer in layers:
            if isinstance(layer, nn.BatchNorm2d) and kept and isinstance(kept[-1], nn.Conv2d):
                kept[-1] = fuse_conv_bn_eval(kept[-1], layer)
            else:
                kept.append(layer)
        setattr(folded, name, nn.Sequential(*kept))
    return folded


def parameter_count(model: nn.Module) -> int:
    """Trainable parameters."""
    return sum(parameter.numel() for parameter in model.parameters() if parameter.requires_grad)


__all__ = ["CRNN", "ModelConfig", "PRESETS", "STRIDE", "build_model", "folded_for_inference", "model_config", "parameter_count"]
