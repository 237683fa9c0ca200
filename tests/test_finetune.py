"""Starting from a trained model: the same loss at step 0, a grown output layer, refusals, frozen convolutions;
real crops augmented as they are read."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from conftest import tiny_overrides
from recognizer.augment import augmentation
from recognizer.checkpoints import read_checkpoint
from recognizer.config import AugmentSection, load_train_config
from recognizer.data import DiskWords, MixedBatches
from recognizer.evaluation import ctc_ready
from recognizer.trainer import initial_model, train, training_sources
from synthgen.charset import Charset
from synthgen.codec import Codec
from synthgen.errors import ConfigError
from synthgen.paths import PROJECT_ROOT

ONE_PROCESS = type("Place", (), {"rank": 0, "world": 1})()  # training_sources' place: rank 0 of a world of 1


@pytest.fixture(scope="module")
def trained(tmp_path_factory, generator_overrides):
    """A checkpoint of a few training steps."""
    folder = tmp_path_factory.mktemp("trained")
    run = train(load_train_config(None, tiny_overrides(folder, generator_overrides, steps=3, every=3)), progress=False)
    return run / "checkpoints" / "last.pt"


def grown_charset(tmp_path, extra: str) -> str:
    """The project's charset with more characters, as a file."""
    path = tmp_path / "charset.txt"
    base = (PROJECT_ROOT / "corpora" / "charset.txt").read_text(encoding="utf-8")
    path.write_text(base.rstrip("\n") + extra + "\n", encoding="utf-8")
    Charset.from_file(path)  # valid
    return str(path)


def test_the_first_step_of_a_fine_tuning_run_has_the_checkpoint_s_loss(tmp_path, trained, generator_overrides):
    overrides = [*tiny_overrides(tmp_path, generator_overrides, steps=1, every=1), f"model.init={trained}", "seed=5"]
    config = load_train_config(None, overrides)
    codec = Codec(Charset.from_file(PROJECT_ROOT / config.charset))
    data = MixedBatches(training_sources(config, codec, place=ONE_PROCESS), config.seed)
    batch = data.next(0)
    data.close()
    model, _ = initial_model(config, codec)
    checkpoint = read_checkpoint(trained)
    assert all(torch.equal(model.state_dict()[name], tensor) for name, tensor in checkpoint["model"].items())
    model.train()
    logits = model(ctc_ready(batch.images, batch.target_lengths))
    expected = F.ctc_loss(logits.log_softmax(2).transpose(0, 1), batch.targets, torch.full((len(batch),), logits.shape[1]),
                          batch.target_lengths, zero_infinity=True)
    run = train(config, progress=False)
    first = next(json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines() if '"train"' in line)
    assert first["loss"] == pytest.approx(float(expected.detach()), rel=1e-4)  # before any update
    info = json.loads((run / "run.json").read_text())["init"]
    assert info["checkpoint"] == str(trained) and info["step"] == 3 and info["characters_added"] == ""


def test_a_larger_charset_grows_the_output_layer_and_keeps_the_old_rows(tmp_path, trained, generator_overrides):
    charset = grown_charset(tmp_path, "ÄÖ")
    config = load_train_config(None, [*tiny_overrides(tmp_path, generator_overrides, 1, 1), f"model.init={trained}",
                                      f"charset={charset}"])
    codec = Codec(Charset.from_file(charset))
    model, started = initial_model(config, codec)
    old = read_checkpoint(trained)["model"]
    assert started["characters_added"] == "ÄÖ"
    classes = model.classifier.weight.shape[0]
    assert classes == old["classifier.weight"].shape[0] + 2 == codec.classes
    assert torch.equal(model.classifier.weight[: classes - 2], old["classifier.weight"])  # bit-identical old rows
    assert torch.equal(model.classifier.bias[: classes - 2], old["classifier.bias"])
    assert model.classifier.weight[classes - 2 :].abs().sum() > 0  # new rows initialised, not zero


def test_a_charset_that_drops_characters_is_refused_with_the_list(tmp_path, trained, generator_overrides):
    base = (PROJECT_ROOT / "corpora" / "charset.txt").read_text(encoding="utf-8")
    smaller = tmp_path / "smaller.txt"
    smaller.write_text(base.replace("§", "").replace("×", ""), encoding="utf-8")
    config = load_train_config(None, [*tiny_overrides(tmp_path, generator_overrides, 1, 1), f"model.init={trained}",
                                      f"charset={smaller}"])
    with pytest.raises(ConfigError, match="lacks 2 character") as raised:
        initial_model(config, Codec(Charset.from_file(smaller)))
    assert "§" in str(raised.value) and "×" in str(raised.value)


def test_a_conflicting_preset_names_both(tmp_path, trained, generator_overrides):
    config = load_train_config(None, [*tiny_overrides(tmp_path, generator_overrides, 1, 1), f"model.init={trained}",
                                      "model.preset=small"])
    with pytest.raises(ConfigError, match="model.preset is 'small' but the checkpoint .* has 'tiny'"):
        initial_model(config, Codec(Charset.from_file(PROJECT_ROOT / config.charset)))


def test_frozen_convolutions_stay_put_while_the_sequence_layers_learn(tmp_path, trained, generator_overrides):
    overrides = [*tiny_overrides(tmp_path, generator_overrides, steps=3, every=3), f"model.init={trained}",
                 "optim.freeze_features_steps=3"]
    run = train(load_train_config(None, overrides), progress=False)
    before, after = read_checkpoint(trained)["model"], read_checkpoint(run / "checkpoints" / "last.pt")["model"]
    for name, tensor in before.items():
        if name.startswith(("features.", "collapse.")):
            assert torch.equal(tensor, after[name]), name  # weights and batch-norm statistics alike
    assert not torch.equal(before["sequence.weight_hh_l0"], after["sequence.weight_hh_l0"])


@pytest.fixture
def crops(tmp_path):
    """A folder of six labelled dark-on-light crops."""
    folder = tmp_path / "crops"
    folder.mkdir()
    lines = []
    for number in range(6):
        image = np.full((32, 70), 230, np.uint8)
        cv2.putText(image, f"A{number}", (4, 24), cv2.FONT_HERSHEY_SIMPLEX, 0.8, 20, 2)
        cv2.imwrite(str(folder / f"c{number}.png"), image)
        lines.append(f"c{number}.png\tA{number}\n")
    (folder / "labels.tsv").write_text("".join(lines), encoding="utf-8")
    return folder


def test_augmented_crops_keep_their_labels_draw_anew_each_pass_and_repeat_exactly(crops):
    plain = DiskWords(crops, 32, 1, 800)
    noisy = DiskWords(crops, 32, 1, 800, augmentation(AugmentSection(rate=1.0, overrides=("effects.image.noise.p=1",)), seed=3))
    untouched = DiskWords(crops, 32, 1, 800, augmentation(AugmentSection(rate=0.0), seed=3))
    size = len(plain)
    for position in range(size):
        _, original, label, _ = plain[position]
        first, again, next_pass = noisy[position], noisy[position], noisy[size + position]
        assert first[0] == next_pass[0] == position and first[2] == next_pass[2] == label
        assert first[1].shape == original.shape and not np.array_equal(first[1], original)
        assert np.array_equal(first[1], again[1])  # a function of the index
        assert not np.array_equal(first[1], next_pass[1])  # drawn anew on the next pass
        assert np.array_equal(untouched[position][1], original)


def test_a_fine_tuning_run_reads_augmented_crops_and_a_bad_augment_key_is_named(tmp_path, crops, generator_overrides):
    overrides = [*tiny_overrides(tmp_path, generator_overrides, steps=2, every=2), "data.synthetic.weight=0",
                 f"data.datasets=[{{path: '{crops}', augment: {{rate: 1.0}}}}]"]
    config = load_train_config(None, overrides)
    codec = Codec(Charset.from_file(PROJECT_ROOT / config.charset))
    data = MixedBatches(training_sources(config, codec, place=ONE_PROCESS), config.seed)
    first_pass, second_pass = data.next(0), data.next(1)  # a batch is the whole set: one pass each
    data.close()
    assert sorted(first_pass.texts) == sorted(second_pass.texts) == [f"A{number}" for number in range(6)]
    by_label = [{text: image for text, image in zip(batch.texts, batch.images)} for batch in (first_pass, second_pass)]
    assert all(not torch.equal(by_label[0][text], by_label[1][text]) for text in first_pass.texts)
    assert (train(config, progress=False) / "checkpoints" / "last.pt").exists()
    with pytest.raises(ConfigError, match="rat"):
        load_train_config(None, [*overrides[:-1], f"data.datasets=[{{path: '{crops}', augment: {{rat: 1.0}}}}]"])
    with pytest.raises(ConfigError, match="augment"):
        bad = load_train_config(None, [*overrides[:-1], f"data.datasets=[{{path: '{crops}', augment: {{overrides: [effects.image.nois.p=1]}}}}]"])
        training_sources(bad, codec, place=ONE_PROCESS)
