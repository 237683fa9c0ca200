"""bench/trdg_dataset.py resumes an interrupted render into the dataset an uninterrupted one writes (trdg itself not needed)."""

from __future__ import annotations

import importlib.util
import json

import lmdb
import pytest

from synthgen.paths import PROJECT_ROOT

IDENTITY = {"strings_sha256": "abc", "setting": "careful", "seed": 0, "count": 23, "chunk": 10}


def trdg_dataset():
    """bench/trdg_dataset.py as a module (bench/ is not a package)."""
    spec = importlib.util.spec_from_file_location("bench_trdg_dataset", PROJECT_ROOT / "bench" / "trdg_dataset.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def fake_render(task):
    """What a chunk renders to, decided by its number alone; every seventh string is dropped."""
    number, strings, _, _ = task
    return [(None, text, "none") if (number * 10 + position) % 7 == 0 else (f"{number}:{text}".encode(), text, "")
            for position, text in enumerate(strings)]


def crashing_render(task):
    """Renders chunks 0 and 1, then dies as a killed render would."""
    if task[0] >= 2:
        raise RuntimeError("killed")
    return fake_render(task)


def tasks():
    return [(number, [f"w{number}-{i}" for i in range(10)], "careful", 0) for number in range(5)]


def contents(path):
    with lmdb.open(str(path), readonly=True, lock=False) as environment, environment.begin() as transaction:
        stored = dict(transaction.cursor())
    progress = json.loads(stored.pop(b"trdg-progress"))
    progress.pop("seconds")
    return stored, progress


def test_an_interrupted_render_resumes_into_what_an_uninterrupted_one_writes(tmp_path):
    module = trdg_dataset()
    module.write_dataset(str(tmp_path / "whole"), tasks(), fake_render, 23, IDENTITY, workers=2)
    with pytest.raises(RuntimeError, match="killed"):
        module.write_dataset(str(tmp_path / "cut"), tasks(), crashing_render, 23, IDENTITY, workers=2)
    _, cut_short = contents(tmp_path / "cut")
    assert cut_short["chunks"] == 2 and cut_short["written"] < 23
    module.write_dataset(str(tmp_path / "cut"), tasks(), fake_render, 23, IDENTITY, workers=2)
    whole, cut = contents(tmp_path / "whole"), contents(tmp_path / "cut")
    assert cut == whole
    assert whole[0][b"num-samples"] == b"23" and whole[1]["dropped"] == {"none": 4}
    assert whole[0][b"label-000000023"] == b"w2-6"


def test_a_folder_holding_another_render_is_refused(tmp_path):
    module = trdg_dataset()
    module.write_dataset(str(tmp_path / "set"), tasks(), fake_render, 23, IDENTITY, workers=1)
    with pytest.raises(SystemExit, match="another render"):
        module.write_dataset(str(tmp_path / "set"), tasks(), fake_render, 23, dict(IDENTITY, setting="typical"), workers=1)
