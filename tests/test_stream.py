"""The online stream: CTC-ready padded batches, identical for any worker count, fresh samples every epoch."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from synthgen.stream import GroupRange, SyntheticWords, batches, images_from_batch, stream_loader


@pytest.fixture(scope="module")
def config(small_config):
    return small_config("render.negative_rate=0.2")


def collect(dataset, groups, workers, first_group=0):
    return list(batches(stream_loader(dataset, workers=workers, first_group=first_group, groups=groups)))


def test_batches_are_identical_for_zero_and_two_workers(config):
    dataset = SyntheticWords(config, batch_size=4, bucket_batches=2)
    serial = collect(dataset, groups=3, workers=0)
    parallel = collect(dataset, groups=3, workers=2)
    assert len(serial) == len(parallel) == 6
    for one, other in zip(serial, parallel):
        assert one.indices == other.indices and one.texts == other.texts
        assert torch.equal(one.images, other.images) and torch.equal(one.targets, other.targets)


def test_the_stream_never_repeats_a_sample_and_the_next_epoch_takes_the_next_groups(config):
    dataset = SyntheticWords(config, batch_size=4, bucket_batches=2)
    endless = batches(stream_loader(dataset))
    first = [next(endless) for _ in range(4)]
    second = collect(dataset, groups=2, workers=0, first_group=2)
    first_indices = sorted(i for batch in first for i in batch.indices)
    second_indices = sorted(i for batch in second for i in batch.indices)
    assert first_indices == list(range(16)) and second_indices == list(range(16, 32))


def test_a_batch_is_ctc_ready_and_unpads_to_the_generated_images(config):
    dataset = SyntheticWords(config, batch_size=6, bucket_batches=3)
    group = dataset[0]
    generator = dataset.word_generator()
    for batch in group:
        count, channels, height, width = batch.images.shape
        assert (count, channels, height) == (6, 1, 32) and width == int(batch.widths.max())
        assert batch.images.min() >= -1 and batch.images.max() <= 1
        assert batch.target_lengths.tolist() == [len(text) for text in batch.texts]
        assert int(batch.target_lengths.sum()) == batch.targets.numel() and (batch.targets > 0).all()
        for index, text, image in zip(batch.indices, batch.texts, images_from_batch(batch)):
            sample = generator(index)
            assert text == sample.text and np.array_equal(image, sample.image)
    widths = [int(w) for batch in group for w in batch.widths]
    assert widths == sorted(widths)  # bucketed: the group is cut into batches of similar width


def test_empty_labels_travel_with_zero_length_targets(config):
    group = SyntheticWords(config, batch_size=20, bucket_batches=1)[0]
    empty = [length for text, length in zip(group[0].texts, group[0].target_lengths) if text == ""]
    assert empty and all(length == 0 for length in empty)


def test_ranks_draw_disjoint_groups():
    ranks = [list(GroupRange(0, 5, rank=rank, world=3)) for rank in range(3)]
    flat = [group for groups in ranks for group in groups]
    assert len(set(flat)) == 15 and sorted(flat) == list(range(15))
