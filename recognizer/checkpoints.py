"""Checkpoints: tensors and plain data only, written atomically, read with `weights_only=True` and named errors."""

from __future__ import annotations

import os
import pickle
import zipfile
from pathlib import Path
from typing import Any

import torch

from recognizer.decoding import Calibration
from recognizer.errors import CheckpointError
from synthgen.charset import Charset
from synthgen.codec import Codec

CHECKPOINT_VERSION = 1
REQUIRED = ("model", "model_config", "charset", "state")


def read_checkpoint(path: str | Path, device: torch.device | str = "cpu") -> dict[str, Any]:
    """A checkpoint's contents, unpickled with `weights_only=True`: nothing in the file can run code when opened."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist")
    if path.stat().st_size == 0:
        raise CheckpointError(f"checkpoint {path} is empty")
    try:
        payload = torch.load(path, map_location=device, weights_only=True)
    except pickle.UnpicklingError as error:
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise CheckpointError(f"refused {path}: it holds objects other than tensors and plain data, which could run code "
                              f"when opened ({first[:160]})") from None
    except (RuntimeError, EOFError, OSError, ValueError, zipfile.BadZipFile, KeyError) as error:
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise CheckpointError(f"{path} is not a readable checkpoint (truncated, corrupt or another format: {reason[:160]})") from None
    if not isinstance(payload, dict) or any(key not in payload for key in REQUIRED):
        found = sorted(payload)[:8] if isinstance(payload, dict) else type(payload).__name__
        raise CheckpointError(f"{path} is not a checkpoint of this project (expected {', '.join(REQUIRED)}; found {found})")
    return payload


def save_checkpoint(path: Path, payload: dict[str, Any]) -> None:
    """Write a checkpoint to a temporary file and rename it: readers never see half a file."""
    temporary = path.with_name(path.name + ".tmp")
    torch.save({"version": CHECKPOINT_VERSION, **payload}, temporary)
    os.replace(temporary, path)


def build_from(payload: dict[str, Any], classes: int | None = None) -> torch.nn.Module:
    """The CRNN a checkpoint describes (with another class count when given), untrained."""
    from recognizer.model import CRNN, ModelConfig

    settings = payload["model_config"]
    config = ModelConfig(**{**settings, "widths": tuple(settings["widths"])})
    if classes is not None:
        config = ModelConfig(**{**config.as_dict(), "widths": config.widths, "classes": classes})
    return CRNN(config)


def load_checkpoint(path: str | Path, device: torch.device | str = "cpu") -> tuple[torch.nn.Module, Codec, dict]:
    """A trained model in eval mode, its codec (from the charset it carries) and the checkpoint's other contents."""
    payload = read_checkpoint(path, device)
    model = build_from(payload)
    try:
        model.load_state_dict(payload["model"])
    except RuntimeError as error:
        raise CheckpointError(f"{path}: the weights do not fit the model it describes ({str(error).splitlines()[0][:160]})") from None
    model.to(device).eval()
    return model, Codec(Charset(payload["charset"])), payload


def checkpoint_calibration(payload: dict) -> Calibration:
    """The confidence calibration a checkpoint carries (the raw best-path probability when it has none)."""
    slope, intercept = payload["state"].get("calibration", [None, 0.0])
    return Calibration(slope, intercept)


def checkpoint_max_width(payload: dict) -> int:
    """The widest input the checkpoint was trained with: evaluation and prediction squeeze wider crops to it."""
    return int(payload.get("train_config", {}).get("data", {}).get("max_width", 400))
