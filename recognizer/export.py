"""ONNX export with dynamic batch and width."""

from __future__ import annotations

import io
import json
import warnings
from pathlib import Path

import torch


def export_onnx(model: torch.nn.Module, path: str | Path, opset: int = 17, metadata: dict[str, str] | None = None) -> Path:
    """Write the model as ONNX: input `images` (N, C, H, W), output `logits` (N, T, C); N and W are dynamic.

    `metadata` (charset, calibration, model config, input width) is stored in the file's metadata_props, so an
    ONNX file is served and read the same way as the checkpoint it came from.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    graph = onnx_graph(model, opset)
    if metadata:
        import onnx

        stored = onnx.load_from_string(graph)
        for key, value in metadata.items():
            stored.metadata_props.add(key=key, value=value)
        graph = stored.SerializeToString()
    path.write_bytes(graph)
    return path


def onnx_graph(model: torch.nn.Module, opset: int = 17) -> bytes:
    """The model as a serialized ONNX graph with dynamic batch and width (TorchScript exporter)."""
    config = model.config
    example = torch.zeros(2, config.channels, config.height, 128)
    model.eval()
    buffer = io.BytesIO()
    with warnings.catch_warnings():  # the TorchScript exporter's warnings (LSTM batch size, tracing) do not apply:
        warnings.simplefilter("ignore")  # parity with PyTorch across batch sizes and widths is tested
        torch.onnx.export(
            model, (example,), buffer, input_names=["images"], output_names=["logits"], opset_version=opset,
            dynamic_axes={"images": {0: "batch", 3: "width"}, "logits": {0: "batch", 1: "steps"}}, dynamo=False,
        )
    return buffer.getvalue()


def checkpoint_metadata(payload: dict) -> dict[str, str]:
    """What a checkpoint tells its readers besides weights, as ONNX metadata strings (JSON where structured)."""
    from recognizer.checkpoints import checkpoint_max_width

    return {
        "synthgen.charset": payload["charset"],
        "synthgen.calibration": json.dumps(payload["state"].get("calibration", [None, 0.0])),
        "synthgen.model_config": json.dumps(payload["model_config"]),
        "synthgen.max_width": str(checkpoint_max_width(payload)),
        "synthgen.run": str(payload.get("train_config", {}).get("name", "")),
    }
