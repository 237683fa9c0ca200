"""ONNX export with dynamic batch and width."""

from __future__ import annotations

import warnings
from pathlib import Path

import torch


def export_onnx(model: torch.nn.Module, path: str | Path, opset: int = 17) -> Path:
    """Write the model as ONNX: input `images` (N, C, H, W), output `logits` (N, T, C); N and W are dynamic."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    config = model.config
    example = torch.zeros(2, config.channels, config.height, 128)
    model.eval()
    with warnings.catch_warnings():  # the TorchScript exporter's warnings (LSTM batch size, tracing) do not apply:
        warnings.simplefilter("ignore")  # parity with PyTorch across batch sizes and widths is tested
        torch.onnx.export(
            model, (example,), str(path), input_names=["images"], output_names=["logits"], opset_version=opset,
            dynamic_axes={"images": {0: "batch", 3: "width"}, "logits": {0: "batch", 1: "steps"}}, dynamo=False,
        )
    return path
