"""The offline writer: exact round trips, online/offline equality, crash safety and resume, shards and merge."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import lmdb
import numpy as np
import pytest

from synthgen.datasets import (
    DatasetError,
    FolderSink,
    LmdbSink,
    decode_image,
    escape_label,
    open_dataset,
    unescape_label,
)
from synthgen.generator import WordGenerator
from synthgen.paths import PROJECT_ROOT
from synthgen.stream import SyntheticWords, images_from_batch
from synthgen.writer import WriteRequest, merge_datasets, write_dataset

AWKWARD_LABELS = ["", "plain", "two words", "tab\there", "line\nbreak", "back\\slash", 'quote "x" \'y\'', "£9.99 €5 ¥ ° • © ® ± × §",
                  "trailing space ", "\\t literal", "cr\rlf"]


@pytest.fixture(scope="module")
def config(small_config):
    return small_config("render.negative_rate=0.15")


@pytest.fixture(scope="module")
def generator(config):
    return WordGenerator(config)


def request(config, out, count=60, **options):
    return WriteRequest(config=config, out=out, count=count, seed=config.seed, chunk=16, **options)


def read_lmdb_independently(path):
    """What PARSeq's reader does: num-samples, then image-%09d / label-%09d from 1."""
    env = lmdb.open(str(path), readonly=True, lock=False)
    with env.begin() as transaction:
        count = int(transaction.get(b"num-samples"))
        items = [(bytes(transaction.get(b"image-%09d" % key)), transaction.get(b"label-%09d" % key).decode()) for key in range(1, count + 1)]
    env.close()
    return items


def read_folder_independently(path):
    """labels.tsv parsed by hand: path, tab, label with \\\\ \\t \\n \\r escapes."""
    items = []
    for line in (path / "labels.tsv").read_bytes().decode("utf-8").split("\n")[:-1]:
        relative, label = line.split("\t")
        label = label.replace("\\\\", "\0").replace("\\t", "\t").replace("\\n", "\n").replace("\\r", "\r").replace("\0", "\\")
        items.append(((path / relative).read_bytes(), label))
    return items


@pytest.mark.parametrize("label", AWKWARD_LABELS)
def test_label_escaping_round_trips(label):
    escaped = escape_label(label)
    assert "\t" not in escaped and "\n" not in escaped and "\r" not in escaped
    assert unescape_label(escaped) == label


@pytest.mark.parametrize("sink_class, reader", [(LmdbSink, read_lmdb_independently), (FolderSink, read_folder_independently)])
def test_awkward_labels_round_trip_through_both_formats(tmp_path, sink_class, reader):
    images = [np.full((32, 10 + i), i * 20, np.uint8) for i in range(len(AWKWARD_LABELS))]
    from synthgen.datasets import encode_image

    entries = [(encode_image(image, "png", 95), label, f"kind\t{i}") for i, (image, label) in enumerate(zip(images, AWKWARD_LABELS))]
    sink = sink_class(tmp_path / "set", "png")
    sink.write(entries[:4], {})
    sink.write(entries[4:], {})
    sink.close()
    stored = reader(tmp_path / "set")
    assert [label for _, label in stored] == AWKWARD_LABELS
    assert all(np.array_equal(decode_image(data), image) for (data, _), image in zip(stored, images))
    ours = open_dataset(tmp_path / "set")
    assert [ours[i][1] for i in range(len(ours))] == AWKWARD_LABELS
    assert [ours.raw(i)[2] for i in range(len(ours))] == [f"kind\t{i}" for i in range(len(ours))]


@pytest.mark.parametrize("format", ["lmdb", "folder"])
def test_the_dataset_equals_the_online_streams_first_samples(tmp_path, config, generator, format):
    manifest = write_dataset(request(config, tmp_path / "set", format=format), generator, progress=False)
    stored = open_dataset(tmp_path / "set")
    assert len(stored) == manifest["written"] == 60
    online = {}
    dataset = SyntheticWords(config, batch_size=10, bucket_batches=2)
    for group in range(3):
        for batch in dataset[group]:
            online.update({index: (image, text) for index, text, image in zip(batch.indices, batch.texts, images_from_batch(batch))})
    for position in range(60):
        image, label = stored[position]
        assert label == online[position][1] and np.array_equal(image, online[position][0])
    assert "" in {stored[i][1] for i in range(60)}  # negatives are stored with empty labels
    assert [stored.raw(i)[2] for i in range(60)] == [generator(i).meta["source"] for i in range(60)]


def test_the_manifest_says_what_was_written(tmp_path, config, generator):
    manifest = write_dataset(request(config, tmp_path / "set"), generator, progress=False)
    on_disk = json.loads((tmp_path / "set" / "manifest.json").read_text(encoding="utf-8"))
    assert on_disk == manifest and manifest["complete"] and manifest["count"] == 60
    assert sum(manifest["counts"]["sources"].values()) == 60
    assert manifest["counts"]["sources"].get("negative", 0) == sum(1 for i in range(60) if generator(i).text == "")
    assert manifest["charset"]["characters"] == generator.charset.characters
    assert manifest["font_audit"]["fingerprint"] == generator.fonts.fingerprint and manifest["git_commit"]
    assert sum(manifest["counts"]["font_families"].values()) + manifest["negatives"] == 60
    assert manifest["counts"]["effects"] and manifest["config"]["seed"] == config.seed


def test_a_non_empty_folder_is_refused_without_resume(tmp_path, config, generator):
    (tmp_path / "set").mkdir()
    (tmp_path / "set" / "notes.txt").write_text("mine")
    with pytest.raises(DatasetError, match="not empty"):
        write_dataset(request(config, tmp_path / "set"), generator, progress=False)
    with pytest.raises(DatasetError, match="not a synthgen dataset"):
        write_dataset(request(config, tmp_path / "set", resume=True), generator, progress=False)
    assert (tmp_path / "set" / "notes.txt").read_text() == "mine"


def test_resume_refuses_a_dataset_of_another_run(tmp_path, config, generator):
    write_dataset(request(config, tmp_path / "set", count=20), generator, progress=False)
    with pytest.raises(DatasetError, match="count"):
        write_dataset(request(config, tmp_path / "set", count=30, resume=True), generator, progress=False)


def test_an_unwritable_folder_is_a_clear_error(tmp_path, config, generator):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(DatasetError, match="not a folder|cannot create"):
        write_dataset(request(config, blocker / "set"), generator, progress=False)


@pytest.mark.parametrize("format", ["lmdb", "folder"])
def test_a_crash_mid_chunk_leaves_only_whole_chunks_and_resume_finishes_identically(tmp_path, config, generator, format, monkeypatch):
    write_dataset(request(config, tmp_path / "whole", format=format), generator, progress=False)
    sink_class = LmdbSink if format == "lmdb" else FolderSink
    original, calls = sink_class.write, []

    def failing_write(self, entries, state):
        calls.append(len(entries))
        if len(calls) == 3:
            if format == "folder":  # a torn append: half a label line, as a kill during write() leaves
                self.labels.write("images/00000/000000032.png\tpart")
                self.labels.flush()
            raise OSError(28, "No space left on device")
        return original(self, entries, state)

    monkeypatch.setattr(sink_class, "write", failing_write)
    with pytest.raises(DatasetError, match="disk is full.*--resume"):
        write_dataset(request(config, tmp_path / "cut", format=format), generator, progress=False)
    monkeypatch.setattr(sink_class, "write", original)
    assert len(open_dataset(tmp_path / "cut")) == 32  # two whole chunks, nothing of the third
    write_dataset(request(config, tmp_path / "cut", format=format, resume=True), generator, progress=False)
    whole, cut = open_dataset(tmp_path / "whole"), open_dataset(tmp_path / "cut")
    assert [whole.raw(i) for i in range(60)] == [cut.raw(i) for i in range(60)]


def test_a_writer_killed_with_sigkill_resumes_to_the_same_dataset(tmp_path, config, generator):
    count, out = 1500, tmp_path / "killed"
    overrides = ["fonts.system_fonts=false", "fonts.font_dirs=[]", f"fonts.audit_cache={config.fonts.audit_cache}",
                 "render.negative_rate=0.15"]
    command = [sys.executable, "-m", "synthgen", "write", "--count", str(count), "--out", str(out), "--workers", "1",
               "--chunk", "50", *[item for override in overrides for item in ("--set", override)]]
    process = subprocess.Popen(command, cwd=PROJECT_ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        if (out / "data.mdb").exists() and 100 <= len(open_dataset(out)) < count - 200:
            break
        time.sleep(0.05)
    assert process.poll() is None, "the writer finished before it could be killed"
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    written = len(open_dataset(out))
    assert 100 <= written < count and written % 50 == 0
    resumed = subprocess.run([*command, "--resume"], cwd=PROJECT_ROOT, capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    whole = write_dataset(request(config, tmp_path / "whole", count=count), generator, progress=False)
    assert whole["written"] == count
    assert read_lmdb_independently(out) == read_lmdb_independently(tmp_path / "whole")


@pytest.mark.parametrize("format", ["lmdb", "folder"])
def test_shards_merged_equal_a_single_run(tmp_path, config, generator, format):
    write_dataset(request(config, tmp_path / "single", count=50, format=format), generator, progress=False)
    shards = [tmp_path / f"shard{k}" for k in (1, 2, 3)]
    for k, path in zip((3, 1, 2), [shards[2], shards[0], shards[1]]):
        write_dataset(request(config, path, count=50, format=format, shard=k, shards=3), generator, progress=False)
    merged = merge_datasets([shards[1], shards[2], shards[0]], tmp_path / "merged", progress=False)
    assert not merged["has_gaps"] and merged["written"] == 50
    single, joined = open_dataset(tmp_path / "single"), open_dataset(tmp_path / "merged")
    assert [single.raw(i) for i in range(50)] == [joined.raw(i) for i in range(50)]
    single_manifest = json.loads((tmp_path / "single" / "manifest.json").read_text())
    assert merged["counts"] == single_manifest["counts"]


def test_merging_shards_of_different_runs_is_refused(tmp_path, config, generator):
    write_dataset(request(config, tmp_path / "a", count=20, shard=1, shards=2), generator, progress=False)
    write_dataset(WriteRequest(config=config, out=tmp_path / "b", count=20, seed=config.seed + 1, shard=2, shards=2),
                  WordGenerator(config, seed=config.seed + 1), progress=False)
    with pytest.raises(DatasetError, match="seed"):
        merge_datasets([tmp_path / "a", tmp_path / "b"], tmp_path / "merged", progress=False)


def test_a_foreign_folder_with_raw_labels_and_an_images_subfolder_is_read_as_is(tmp_path):
    import cv2

    (tmp_path / "real" / "images").mkdir(parents=True)
    cv2.imwrite(str(tmp_path / "real" / "images" / "a.png"), np.full((20, 40, 3), 200, np.uint8))
    (tmp_path / "real" / "labels.tsv").write_text("a.png\tU\\PRICE\n", encoding="utf-8")
    image, label = open_dataset(tmp_path / "real")[0]
    assert label == "U\\PRICE" and image.shape == (20, 40, 3)
