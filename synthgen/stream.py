"""The online stream: word images straight from the generator into a PyTorch DataLoader, batched for CTC."""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import cv2
import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler, get_worker_info

from synthgen.codec import Codec
from synthgen.config import Config
from synthgen.generator import WordGenerator

WORKER_START = "spawn"  # forked workers can inherit locks held by the parent's OpenCV/OpenMP threads and hang
STREAM_GROUPS = 2**40  # the stream has no end; the sampler says which groups to draw


@dataclass
class WordBatch:
    """A padded batch: images (N, C, H, W) float in [-1, 1], CTC targets and the raw labels."""

    images: torch.Tensor  # (N, C, H, W) float32
    widths: torch.Tensor  # (N,) int64: each image's width before padding
    targets: torch.Tensor  # (sum of target_lengths,) int64 class indices, concatenated
    target_lengths: torch.Tensor  # (N,) int64; 0 for empty labels (negatives)
    texts: list[str]
    indices: list[int]  # sample indices, to match the offline dataset
    categories: list[str] | None = None  # per sample, where the data carries them (e.g. the corpus source)

    def __len__(self) -> int:
        return len(self.texts)


def pad_value(image: np.ndarray) -> np.ndarray:
    """The grey (or colour) of the image's right edge, to pad with: padding looks like more background."""
    return np.median(image[:, -1:].reshape(image.shape[0], -1 if image.ndim == 2 else image.shape[2]), axis=0)


def collate(items: Sequence[tuple[int, np.ndarray, str]], codec: Codec) -> WordBatch:
    """(index, image, label) items to a batch: aspect ratio kept, padded on the right to the widest, scaled to [-1, 1]."""
    images = [image for _, image, _ in items]
    height, width = images[0].shape[0], max(image.shape[1] for image in images)
    channels = 1 if images[0].ndim == 2 else images[0].shape[2]
    batch = np.empty((len(images), height, width, channels), np.uint8)
    for row, image in enumerate(images):
        pixels = image.reshape(height, image.shape[1], channels)
        batch[row, :, : image.shape[1]] = pixels
        batch[row, :, image.shape[1] :] = pad_value(pixels).astype(np.uint8)
    tensor = torch.from_numpy(batch).permute(0, 3, 1, 2).float().div_(127.5).sub_(1.0)
    encoded = [codec.encode(text) for _, _, text in items]
    return WordBatch(
        images=tensor.contiguous(),
        widths=torch.tensor([image.shape[1] for image in images], dtype=torch.int64),
        targets=torch.tensor([index for label in encoded for index in label], dtype=torch.int64),
        target_lengths=torch.tensor([len(label) for label in encoded], dtype=torch.int64),
        texts=[text for _, _, text in items],
        indices=[index for index, _, _ in items],
    )


def images_from_batch(batch: WordBatch) -> list[np.ndarray]:
    """The uint8 images of a batch, padding removed: (H, W) for grey, (H, W, 3) for colour."""
    pixels = ((batch.images + 1.0) * 127.5).round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).numpy()
    images = [pixels[row, :, : int(width)] for row, width in enumerate(batch.widths)]
    return [image[..., 0] if image.shape[2] == 1 else image for image in images]


class SyntheticWords(Dataset):
    """Item g is a group of batches made from samples g*B*K ... (g+1)*B*K - 1, sorted by width into K batches.

    Sorting a group by width before cutting it into batches limits padding; a group is a pure function of
    its number, so batches are the same for any number of DataLoader workers. The generator is built
    lazily in each process that uses the dataset.
    """

    def __init__(self, config: Config, batch_size: int, bucket_batches: int = 8, seed: int | None = None,
                 codec: Codec | None = None) -> None:
        if batch_size < 1 or bucket_batches < 1:
            raise ValueError(f"batch_size and bucket_batches must be positive, got {batch_size} and {bucket_batches}")
        self.config = config
        self.batch_size = batch_size
        self.bucket_batches = bucket_batches
        self.seed = config.seed if seed is None else seed
        self.codec = codec
        self.generator: WordGenerator | None = None

    @property
    def group_size(self) -> int:
        """Samples per group."""
        return self.batch_size * self.bucket_batches

    def __len__(self) -> int:
        return STREAM_GROUPS

    def __getstate__(self) -> dict:
        return {**self.__dict__, "generator": None}  # workers build their own

    def word_generator(self) -> WordGenerator:
        """This process's generator, built on first use (single-threaded OpenCV inside DataLoader workers)."""
        if self.generator is None:
            if get_worker_info() is not None:
                cv2.setNumThreads(1)  # workers are the parallelism; OpenCV threads would only contend
            self.generator = WordGenerator(self.config, seed=self.seed)
            if self.codec is None:
                self.codec = Codec(self.generator.charset)
        return self.generator

    def __getitem__(self, group: int) -> list[WordBatch]:
        generator = self.word_generator()
        first = group * self.group_size
        samples = {index: generator(index) for index in range(first, first + self.group_size)}
        items = sorted(((index, sample.image, sample.text) for index, sample in samples.items()),
                       key=lambda item: (item[1].shape[1], item[0]))
        groups = [collate(items[start : start + self.batch_size], self.codec) for start in range(0, len(items), self.batch_size)]
        for batch in groups:
            batch.categories = [samples[index].meta["source"] for index in batch.indices]
        return groups


class GroupRange(Sampler):
    """Group numbers first, first + 1, ... (`count` of them, or without end), this rank's share of them.

    The stream never repeats a sample: the next epoch is simply the next groups. With `world` > 1 (distributed
    training) rank r takes every world-th group, so ranks draw disjoint samples.
    """

    def __init__(self, first: int = 0, count: int | None = None, rank: int = 0, world: int = 1) -> None:
        if not 0 <= rank < world:
            raise ValueError(f"rank must be in [0, {world}), got {rank}")
        if first < 0 or (count is not None and count < 0):
            raise ValueError(f"first and count must be non-negative, got {first} and {count}")
        self.first, self.count, self.rank, self.world = first, count, rank, world

    def __len__(self) -> int:
        if self.count is None:
            raise TypeError("an endless stream has no length")
        return self.count

    def __iter__(self) -> Iterator[int]:
        offsets = itertools.count() if self.count is None else range(self.count)
        return ((self.first + offset) * self.world + self.rank for offset in offsets)


def keep_items(items):
    """The DataLoader's collate for pre-batched items: nothing to do."""
    return items


def stream_loader(dataset: SyntheticWords, workers: int = 0, first_group: int = 0, groups: int | None = None,
                  rank: int = 0, world: int = 1, prefetch_factor: int = 2) -> DataLoader:
    """A DataLoader over groups of batches (iterate it through `batches`), endless unless `groups` is given."""
    options = {"prefetch_factor": prefetch_factor, "multiprocessing_context": WORKER_START} if workers > 0 else {}
    return DataLoader(dataset, batch_size=None, sampler=GroupRange(first_group, groups, rank, world),
                      num_workers=workers, collate_fn=keep_items, **options)


def batches(loader: DataLoader) -> Iterator[WordBatch]:
    """The batches of every group the loader yields, in order."""
    for group in loader:
        yield from group
