"""Training and evaluation data: the synthetic stream, datasets on disk, and a weighted mix, all resumable by position."""

from __future__ import annotations

import io
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image
from torch.utils.data import DataLoader, Dataset, Sampler

from synthgen.codec import Codec
from synthgen.config import Config
from synthgen.datasets import decode_image, open_dataset
from synthgen.seeding import new_stream, reseed
from synthgen.stream import WORKER_START, SyntheticWords, WordBatch, batches, collate, pad_value, stream_loader


def prepare_image(image: np.ndarray, height: int, channels: int, max_width: int) -> np.ndarray:
    """A stored or real crop as the model reads it: grey or RGB, dark on light, `height` pixels high, aspect kept,
    width capped. The one way into the model for datasets on disk, eval, predict and the service."""
    if channels == 1 and image.ndim == 3:
        image = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    elif channels == 3 and image.ndim == 2:
        image = cv2.cvtColor(image, cv2.COLOR_GRAY2RGB)
    if light_on_dark(image):
        image = 255 - image
    old_height, old_width = image.shape[:2]
    width = min(max_width, max(1, round(old_width * height / old_height)))
    if (old_height, old_width) == (height, width):
        return image
    interpolation = cv2.INTER_AREA if old_height > height else cv2.INTER_LINEAR
    return cv2.resize(image, (width, height), interpolation=interpolation)


READING = 2  # how crops are read for scoring, kept with the lab's scores. 1 (until stop 22): eval padded each batch to
# its labels' length and added no margin, so it read crops differently from predict; 2: as predict and the service read


def read_crop(image: np.ndarray, height: int, channels: int, max_width: int) -> np.ndarray:
    """A crop as every reader (eval, calibrate, the lab, predict, the service) hands it to the model: prepared, then
    the reading margin after it."""
    return with_reading_margin(prepare_image(image, height, channels, max_width))


def reading_margin(height: int) -> int:
    """Columns of paper `with_reading_margin` adds after a crop of this height: half the height."""
    return height // 2


def with_reading_margin(image: np.ndarray) -> np.ndarray:
    """A prepared crop with paper (its right edge's colour) added on the right, `reading_margin` wide. Real crops end
    at the last character; without paper after it, the columns there read differently alone than in a padded batch
    (about 6% of real receipt words changed their text), with it a crop reads the same in any batch."""
    height = image.shape[0]
    margin = np.full((height, reading_margin(height), *image.shape[2:]), pad_value(image), dtype=image.dtype)
    return np.concatenate([image, margin], axis=1)


def light_on_dark(image: np.ndarray) -> bool:
    """Whether a crop holds light text on a dark ground: most of it lies on the dark side of Otsu's threshold."""
    grey = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    threshold, _ = cv2.threshold(grey, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    return float(grey.max()) - float(grey.min()) > 32 and float((grey > threshold).mean()) < 0.4


class DiskWords(Dataset):
    """An LMDB or folder dataset as (position, image, label, category) items ready for `collate`.

    Item `index` is the sample at position `index % len(self)`: training indices count on across passes
    (pass * len + position), so an augmentation can draw anew on every pass and stay a function of the index.
    """

    def __init__(self, path: str | Path, height: int, channels: int, max_width: int, augment=None) -> None:
        self.reader = open_dataset(path)
        self.height, self.channels, self.max_width = height, channels, max_width
        self.augment = augment  # (image, index) -> image, e.g. recognizer.augment.Augmentation

    def __len__(self) -> int:
        return len(self.reader)

    def __getitem__(self, index: int) -> tuple[int, np.ndarray, str, str]:
        position = index % len(self.reader)
        data, label, category = self.reader.raw(position)
        image = prepare_image(decode_image(data), self.height, self.channels, self.max_width)
        if self.augment is not None:
            image = self.augment(image, index)
        return position, image, label, category

    def labels(self) -> list[str]:
        """Every label, for checking them against the codec before training or evaluation."""
        return self.reader.labels()


class BatchPositions(Sampler):
    """Batches of dataset indices, a fresh permutation each epoch (seeded by (seed, epoch)), from batch `first`.

    Batch b of the run is a pure function of (seed, b): a resumed run continues with exactly the next batch.
    With `world` > 1, rank r takes batches r, r + world, ...
    """

    def __init__(self, size: int, batch_size: int, seed: int, first: int = 0, rank: int = 0, world: int = 1) -> None:
        self.size, self.batch_size, self.seed = size, min(batch_size, size), seed
        self.first, self.rank, self.world = first, rank, world
        self.per_epoch = max(1, size // self.batch_size)

    def batch(self, number: int) -> list[int]:
        """Indices of batch `number` of the whole run: pass * size + position (DiskWords reads position)."""
        epoch, offset = divmod(number, self.per_epoch)
        order = reseed(new_stream(), self.seed, epoch).permutation(self.size)
        return (order[offset * self.batch_size : (offset + 1) * self.batch_size] + epoch * self.size).tolist()

    def __iter__(self) -> Iterator[list[int]]:
        number = self.first
        while True:
            yield self.batch(number * self.world + self.rank)
            number += 1


class CollateWith:
    """Disk items to a WordBatch with their categories: a picklable collate bound to a codec (workers receive it).
    With `reading`, each prepared crop gets the reading margin first, so a batch holds crops as `read_crop` gives them."""

    def __init__(self, codec: Codec, reading: bool = False) -> None:
        self.codec, self.reading = codec, reading

    def __call__(self, items: list[tuple[int, np.ndarray, str, str]]) -> WordBatch:
        margin = with_reading_margin if self.reading else (lambda image: image)
        batch = collate([(position, margin(image), label) for position, image, label, _ in items], self.codec)
        batch.categories = [category for *_, category in items]
        return batch


def disk_batches(dataset: DiskWords, codec: Codec, batch_size: int, seed: int, first: int = 0, workers: int = 0,
                 rank: int = 0, world: int = 1) -> Iterator[WordBatch]:
    """Endless training batches from a dataset on disk, starting at run batch `first` of this rank."""
    sampler = BatchPositions(len(dataset), batch_size, seed, first, rank, world)
    loader = DataLoader(dataset, batch_sampler=sampler, num_workers=workers, collate_fn=CollateWith(codec),
                        persistent_workers=workers > 0, multiprocessing_context=WORKER_START if workers else None)
    return iter(loader)


def evaluation_batches(dataset: DiskWords, codec: Codec, batch_size: int, workers: int = 0) -> Iterator[WordBatch]:
    """Every sample of a dataset once, read as `read_crop` reads a crop (the margin added), in order of width (less
    padding), in batches."""
    chunks = batches_by_width([prepare_width(dataset, position) for position in range(len(dataset))], batch_size)
    loader = DataLoader(dataset, batch_sampler=chunks, num_workers=workers, collate_fn=CollateWith(codec, reading=True))
    return iter(loader)


def batches_by_width(widths: Sequence[int], batch_size: int) -> list[list[int]]:
    """Positions in order of width, cut into batches: less padding, and the same batches whatever the input order."""
    order = sorted(range(len(widths)), key=widths.__getitem__)
    return [order[start : start + batch_size] for start in range(0, len(order), batch_size)]


def prepare_width(dataset: DiskWords, position: int) -> int:
    """Width of a sample after prepare_image, from the image file's header (nothing decoded)."""
    with Image.open(io.BytesIO(dataset.reader.raw(position)[0])) as image:
        width, height = image.size
    return min(dataset.max_width, max(1, round(width * dataset.height / height)))


@dataclass
class Source:
    """One training source: a name, a mixing weight and a way to start its batches at a position."""

    name: str
    weight: float
    start: object  # (first_batch) -> Iterator[WordBatch]


class MixedBatches:
    """Batches drawn from weighted sources; the source of step s is a pure function of (seed, s).

    `consumed` counts the batches taken from each source, so a resumed run restarts every source exactly
    where it stopped.
    """

    def __init__(self, sources: list[Source], seed: int, consumed: dict[str, int] | None = None) -> None:
        self.sources = sources
        self.seed = seed
        self.consumed = {source.name: 0 for source in sources} | dict(consumed or {})
        weights = np.array([source.weight for source in sources], dtype=np.float64)
        self.cumulative = np.cumsum(weights / weights.sum())
        self.iterators: dict[str, Iterator[WordBatch]] = {}
        self.stream = new_stream()

    def close(self) -> None:
        """Let go of every source's iterator, so their worker processes shut down now rather than at exit."""
        for iterator in self.iterators.values():
            getattr(iterator, "close", lambda: None)()
        self.iterators.clear()

    def next(self, step: int) -> WordBatch:
        """The batch for this training step."""
        position = int(np.searchsorted(self.cumulative, reseed(self.stream, self.seed, step).random(), side="right"))
        source = self.sources[min(position, len(self.sources) - 1)]
        if source.name not in self.iterators:
            self.iterators[source.name] = source.start(self.consumed[source.name])
        self.consumed[source.name] += 1
        return next(self.iterators[source.name])


def synthetic_source(config: Config, codec: Codec, batch_size: int, bucket: int, workers: int, rank: int,
                     world: int, weight: float) -> Source:
    """The online stream as a training source."""
    dataset = SyntheticWords(config, batch_size=batch_size, bucket_batches=bucket, codec=codec)

    def start(first_batch: int) -> Iterator[WordBatch]:
        group, skip = divmod(first_batch, bucket)
        stream = batches(stream_loader(dataset, workers=workers, first_group=group, rank=rank, world=world))
        for _ in range(skip):
            next(stream)
        return stream

    return Source("synthetic", weight, start)
