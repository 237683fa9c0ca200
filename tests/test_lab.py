"""The data lab: a tiny lab of a synthetic arm and a disk arm end to end, its cache, and bad lab files."""

from __future__ import annotations

import json

import cv2
import lmdb
import pytest
import yaml

from recognizer.cli import main as recognizer_main
from recognizer.data import READING
from recognizer.lab import dataset_fingerprint, load_lab, plan_lab, run_lab
from synthgen.config import load_config
from synthgen.datasets import open_dataset
from synthgen.errors import ConfigError
from synthgen.generator import WordGenerator


def foreign_folder(folder, config, first, count):
    """A dataset as another tool writes it: PNG files and `name<TAB>label` lines, no manifest."""
    folder.mkdir()
    generator = WordGenerator(config)
    lines = []
    for index in range(first, first + count):
        sample = generator(index)
        cv2.imwrite(str(folder / f"{index:05d}.png"), sample.image)
        lines.append(f"{index:05d}.png\t{sample.text}\n")
    (folder / "labels.tsv").write_text("".join(lines), encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def lab_files(tmp_path_factory, small_config):
    folder = tmp_path_factory.mktemp("lab")
    settings = {"fonts": {"system_fonts": False, "font_dirs": [], "audit_cache": small_config().fonts.audit_cache},
                "corpus": {"max_chars": 10, "sources": {"urls": {"weight": 0}}}}
    stream = folder / "stream.yaml"
    stream.write_text(yaml.safe_dump(settings), encoding="utf-8")
    config = small_config("corpus.max_chars=10", "corpus.sources.urls.weight=0")
    disk = foreign_folder(folder / "disk", config, 5000, 24)
    real = foreign_folder(folder / "real", load_config(stream, ["fonts.split=heldout"]), 9000, 12)
    lab = {
        "name": "tiny", "out": str(folder / "out"), "budget": 24, "seeds": [0], "curve_points": 3,
        "recipe_overrides": ["data.batch_size=8", "data.bucket_batches=1", "data.workers=0", "threads=1",
                             "optim.warmup_steps=1", "log_every=1"],
        "validation": {"config": str(stream)}, "validation_samples": 8, "real": {"real-crops": str(real)},
        "arms": [{"name": "stream", "synthetic": str(stream)}, {"name": "disk", "dataset": str(disk)}],
    }
    path = folder / "lab.yaml"
    path.write_text(yaml.safe_dump(lab), encoding="utf-8")
    return path


def test_a_tiny_lab_trains_both_arms_scores_them_and_writes_its_report(lab_files):
    summary = run_lab(load_lab(lab_files), progress=False)
    out = lab_files.parent / "out"
    assert [arm["seeds_finished"] for arm in summary["arms"]] == [[0], [0]]
    for arm in summary["arms"]:
        figures = arm["sets"]["real-crops"]["accuracy_case_insensitive"]
        assert 0.0 <= figures["mean"] <= 1.0 and figures["values"] == [figures["mean"]]
        curve = arm["seeds"]["0"]["curves"]["real-crops"]
        assert [samples for samples, _ in curve] == [8, 16, 24]  # a real-set point at every validation
    assert summary["steps"] == 3 and json.loads((out / "results.json").read_text())["arms"][1]["name"] == "disk"
    table = (out / "results.md").read_text()
    assert "| stream |" in table and "| disk |" in table
    assert (out / "curves.png").stat().st_size > 0 and (out / "disagreements.html").exists()


def test_a_cached_arm_is_not_retrained_and_a_changed_arm_is(lab_files, capsys):
    lab = load_lab(lab_files)
    run_lab(lab, progress=False)  # both done (by the test above, or now)
    before = {run.arm.name: (run.folder / "checkpoints" / "last.pt").stat().st_mtime_ns for run in plan_lab(lab)}
    capsys.readouterr()
    run_lab(lab, progress=False)
    assert capsys.readouterr().out.count("cached") == 2
    changed = load_lab(lab_files, ["arms=[{name: stream, synthetic: " + lab.arms[0].synthetic + ", "
                                   "overrides: ['render.negative_rate=0.2']}, {name: disk, dataset: " + lab.arms[1].dataset + "}]"])
    runs = {run.arm.name: run for run in plan_lab(changed)}
    assert runs["stream"].status() == "new" and runs["disk"].status() == "done"
    run_lab(changed, progress=False)
    outcome = capsys.readouterr().out
    assert "trained" in outcome.split("stream (seed 0)")[1].split("\n")[1] and outcome.count("cached") == 1
    assert (runs["disk"].folder / "checkpoints" / "last.pt").stat().st_mtime_ns == before["disk"]


def test_records_let_a_lab_outlive_its_run_folders(lab_files, tmp_path, capsys):
    records = tmp_path / "records"
    here = run_lab(load_lab(lab_files, [f"records={records}"]), progress=False)
    assert sorted(path.name.split("-")[0] for path in records.glob("*.json")) == ["disk", "stream"]
    elsewhere = load_lab(lab_files, [f"records={records}", f"out={tmp_path / 'elsewhere'}"])  # a machine without the runs
    capsys.readouterr()
    there = run_lab(elsewhere, progress=False)
    assert capsys.readouterr().out.count("cached") == 2
    assert not list((tmp_path / "elsewhere").rglob("*.pt"))
    assert [arm["sets"] for arm in there["arms"]] == [arm["sets"] for arm in here["arms"]]
    assert [arm["seeds"] for arm in there["arms"]] == [arm["seeds"] for arm in here["arms"]]  # one report either way
    assert "| stream |" in (tmp_path / "elsewhere" / "results.md").read_text()


def test_a_dataset_arm_whose_data_is_not_here_is_reported_from_its_record_and_never_trained(lab_files, tmp_path, capsys):
    records = tmp_path / "records"
    here = run_lab(load_lab(lab_files, [f"records={records}"]), progress=False)
    stream = next(arm.synthetic for arm in load_lab(lab_files).arms if arm.name == "stream")
    arms = (f"arms=[{{name: stream, synthetic: '{stream}'}}, {{name: disk, dataset: '{tmp_path / 'gone'}'}}, "
            f"{{name: never-made, dataset: '{tmp_path / 'also-gone'}'}}]")
    capsys.readouterr()
    there = run_lab(load_lab(lab_files, [f"records={records}", f"out={tmp_path / 'elsewhere'}", arms]), progress=False)
    printed = capsys.readouterr()
    assert printed.out.count("cached") == 2 and "never-made (seed 0): skipped" in printed.out
    assert "is not on this machine" in printed.err
    assert not list((tmp_path / "elsewhere").rglob("*.pt"))
    figures = {arm["name"]: arm["sets"] for arm in there["arms"]}
    assert figures["disk"] == next(arm["sets"] for arm in here["arms"] if arm["name"] == "disk")
    assert figures["never-made"] == {"real-crops": None}


def test_a_record_rebuilt_from_a_published_table_counts_as_finished(lab_files, tmp_path, capsys):
    records = tmp_path / "records"
    published = run_lab(load_lab(lab_files, [f"records={records}"]), progress=False)
    for path in records.glob("*.json"):  # what results.json keeps: the folder's 10-character key, no predictions
        kept = json.loads(path.read_text())
        kept["key"] = kept["key"][:10]
        for figures in kept["sets"].values():
            del figures["predictions"]
        path.write_text(json.dumps(kept))
    capsys.readouterr()
    rebuilt = run_lab(load_lab(lab_files, [f"records={records}", f"out={tmp_path / 'rebuilt'}"]), progress=False)
    assert capsys.readouterr().out.count("cached") == 2
    assert [arm["sets"] for arm in rebuilt["arms"]] == [arm["sets"] for arm in published["arms"]]
    assert (tmp_path / "rebuilt" / "disagreements.html").exists()


def scored_by_an_older_reading(records):
    """The records as a machine before reading 2 wrote them: no reading named, other figures."""
    for path in records.glob("*.json"):
        kept = json.loads(path.read_text())
        del kept["reading"]
        kept["sets"]["real-crops"]["accuracy_case_insensitive"] = -1.0
        path.write_text(json.dumps(kept))


def test_a_run_scored_by_an_older_reading_is_rescored_where_its_checkpoints_are(lab_files, tmp_path):
    records = tmp_path / "records"
    run_lab(load_lab(lab_files, [f"records={records}"]), progress=False)
    scored_by_an_older_reading(records)
    again = run_lab(load_lab(lab_files, [f"records={records}"]), progress=False)
    assert [arm["name"] for arm in again["arms"]] == ["stream", "disk"]
    assert all(arm["sets"]["real-crops"]["accuracy_case_insensitive"]["mean"] >= 0 for arm in again["arms"])
    assert all(json.loads(path.read_text())["reading"] == READING for path in records.glob("*.json"))


def test_a_run_scored_by_an_older_reading_elsewhere_gets_its_own_row(lab_files, tmp_path):
    records = tmp_path / "records"
    run_lab(load_lab(lab_files, [f"records={records}"]), progress=False)
    scored_by_an_older_reading(records)
    there = run_lab(load_lab(lab_files, [f"records={records}", f"out={tmp_path / 'elsewhere'}"]), progress=False)
    rows = {arm["name"]: arm for arm in there["arms"]}
    assert list(rows) == ["stream", "stream (reading 1)", "disk", "disk (reading 1)"]
    assert rows["stream"]["sets"] == {"real-crops": None} and rows["stream"]["seeds_finished"] == []
    assert rows["stream (reading 1)"]["sets"]["real-crops"]["accuracy_case_insensitive"]["mean"] == -1.0
    table = (tmp_path / "elsewhere" / "results.md").read_text()
    assert "| stream (reading 1) |" in table and "not comparable" in table


@pytest.mark.parametrize("override, named", [
    ("budgett=5", "budgett"),
    ("arms=[{name: a, synthetic: configs/default.yaml, overides: []}]", "overides"),
    ("arms=[{name: a, synthetic: configs/default.yaml, overrides: ['render.negativ_rate=0']}]", "negativ_rate"),
    ("recipe_overrides=['optim.lrr=0.1']", "lrr"),
    ("arms=[{name: a, dataset: /no/such/folder}]", "/no/such/folder"),
])
def test_a_bad_lab_fails_before_any_training_and_names_the_bad_key(lab_files, override, named, capsys):
    code = recognizer_main(["compare", str(lab_files), "--set", "out=" + str(lab_files.parent / "bad"), "--set", override])
    error = capsys.readouterr().err
    assert code == 2 and named in error and len(error.strip().splitlines()) == 1
    assert not (lab_files.parent / "bad" / "arms").exists()


def test_an_arm_is_a_stream_or_a_dataset_never_both(lab_files):
    with pytest.raises(ConfigError, match="exactly one"):
        load_lab(lab_files, ["arms=[{name: a, synthetic: x.yaml, dataset: y}]"])


def lmdb_dataset(folder, samples, transactions, extra=None):
    """An LMDB dataset of (image bytes, label) samples, written in the given number of transactions."""
    with lmdb.open(str(folder), map_size=1 << 24) as environment:
        size = -(-len(samples) // transactions)
        for start in range(0, len(samples), size):
            with environment.begin(write=True) as transaction:
                for key, (image, label) in enumerate(samples[start:start + size], start=start + 1):
                    transaction.put(b"image-%09d" % key, image)
                    transaction.put(b"label-%09d" % key, label.encode())
                transaction.put(b"num-samples", str(start + len(samples[start:start + size])).encode())
                if extra:
                    transaction.put(b"writer-progress", extra.encode())
    return folder


def fingerprint(folder):
    reader = open_dataset(folder)
    return dataset_fingerprint(reader, reader.labels())


def test_a_dataset_arm_is_known_by_its_samples_not_by_how_its_file_was_written(tmp_path):
    samples = [(bytes([n]) * (50 + n), f"w{n}") for n in range(40)]
    at_once = fingerprint(lmdb_dataset(tmp_path / "once", samples, 1))
    resumed = fingerprint(lmdb_dataset(tmp_path / "resumed", samples, 7, extra="seconds 12.5"))
    changed = fingerprint(lmdb_dataset(tmp_path / "changed", samples[:-1] + [(b"\x00" * 89, "w39")], 1))
    assert at_once == resumed
    assert changed != at_once
