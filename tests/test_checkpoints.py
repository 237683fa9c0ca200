"""Checkpoints are opened safely: a pickle that runs code is refused, broken files give one named line."""

from __future__ import annotations

import os
import pickle

import pytest

from conftest import tiny_overrides
from recognizer.checkpoints import CheckpointError, load_checkpoint, read_checkpoint
from recognizer.cli import main as recognizer_main
from recognizer.config import load_train_config
from recognizer.trainer import train


class PlantsAFile:
    """Unpickling this object creates a file: what a hostile checkpoint downloaded from anywhere could do."""

    def __init__(self, target: str) -> None:
        self.target = target

    def __reduce__(self):
        return (os.system, (f"touch {self.target}",))


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory, generator_overrides):
    folder = tmp_path_factory.mktemp("checkpoint")
    run = train(load_train_config(None, tiny_overrides(folder, generator_overrides, steps=2, every=2)), progress=False)
    return run / "checkpoints" / "last.pt"


def test_a_checkpoint_of_ours_opens_with_weights_only(checkpoint):
    model, codec, payload = load_checkpoint(checkpoint)
    assert payload["state"]["step"] == 2 and codec.classes == model.classifier.weight.shape[0]


def test_a_pickle_that_would_run_code_is_refused_and_runs_nothing(tmp_path):
    planted = tmp_path / "planted"
    hostile = tmp_path / "hostile.pt"
    import torch

    torch.save({"model": {}, "model_config": {}, "charset": "ab", "state": {}, "extra": PlantsAFile(str(planted))}, hostile)
    with pytest.raises(CheckpointError, match="refused"):
        read_checkpoint(hostile)
    raw = tmp_path / "raw.pkl"
    raw.write_bytes(pickle.dumps(PlantsAFile(str(planted))))
    with pytest.raises(CheckpointError):
        read_checkpoint(raw)
    assert not planted.exists()


@pytest.mark.parametrize("kind", ["truncated", "empty", "foreign", "missing"])
@pytest.mark.parametrize("command", ["eval", "predict", "export", "resume"])
def test_broken_files_give_one_named_line_in_every_command(tmp_path, checkpoint, kind, command, capsys):
    broken = tmp_path / "run" / "checkpoints" / "last.pt"
    broken.parent.mkdir(parents=True)
    if kind == "truncated":
        broken.write_bytes(checkpoint.read_bytes()[: checkpoint.stat().st_size // 2])
    elif kind == "empty":
        broken.write_bytes(b"")
    elif kind == "foreign":
        broken.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 200)
    (tmp_path / "run" / "config.yaml").write_text((checkpoint.parent.parent / "config.yaml").read_text())
    crop = tmp_path / "crop.png"
    crop.write_bytes(b"")
    arguments = {"eval": ["eval", str(broken), str(tmp_path)], "predict": ["predict", str(broken), str(crop)],
                 "export": ["export", str(broken), "--onnx", str(tmp_path / "m.onnx")],
                 "resume": ["train", "--resume", str(tmp_path / "run")]}[command]
    code = recognizer_main(arguments)
    error = capsys.readouterr().err.strip()
    assert code == 2 and len(error.splitlines()) == 1 and error.startswith("error:"), error
    assert "last.pt" in error
