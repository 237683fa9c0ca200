"""Word-image datasets on disk: LMDB as PARSeq and deep-text-recognition-benchmark read it, or a folder with labels.tsv.

Each format has a sink that appends committed chunks (nothing half-written is ever visible to readers) and
a reader. Sample positions are 0-based here; LMDB keys start at 1 as those projects expect. Each entry may
carry a category (the corpus source of a synthetic sample): `category-%09d` in LMDB, `categories.tsv` beside
`labels.tsv`, line for line, in a folder; readers of other projects ignore both.
"""

from __future__ import annotations

import errno
import json
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import cv2
import lmdb
import numpy as np

from synthgen.files import write_bytes_atomically, write_json_atomically

LMDB_MAP_SIZE = 2**40  # address space only: the file grows with the data
STATE_KEY = b"synthgen-state"  # running counts committed with each chunk, for --resume
FILES_PER_FOLDER = 10000
LABELS_FILE = "labels.tsv"
CATEGORIES_FILE = "categories.tsv"
PROGRESS_FILE = ".progress.json"
ESCAPES = {"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"}
UNESCAPES = {"\\": "\\", "t": "\t", "n": "\n", "r": "\r"}


class DatasetError(RuntimeError):
    """A dataset cannot be read or written; the message names the path and the cause."""


def escape_label(label: str) -> str:
    """A label safe for one TSV field: backslash, tab, newline and carriage return escaped."""
    return "".join(ESCAPES.get(character, character) for character in label)


def unescape_label(field: str) -> str:
    """The label written by escape_label."""
    out, characters = [], iter(field)
    for character in characters:
        if character == "\\":
            following = next(characters, "")
            if following not in UNESCAPES:
                raise DatasetError(f"bad escape \\{following} in label field {field!r}")
            out.append(UNESCAPES[following])
        else:
            out.append(character)
    return "".join(out)


# Run-length deflate: word crops are runs of paper and ink, so it is both faster and smaller than the default
# strategy (90 vs 116 us and 2,629 vs 2,752 bytes per default-config crop); the Paeth filter alone instead of
# trying all five per row saves another 16 us for 1% more bytes (where this OpenCV build offers the choice). Lossless either way.
PNG_OPTIONS = [cv2.IMWRITE_PNG_COMPRESSION, 3, cv2.IMWRITE_PNG_STRATEGY, cv2.IMWRITE_PNG_STRATEGY_RLE]
if hasattr(cv2, "IMWRITE_PNG_FILTER"):
    PNG_OPTIONS += [cv2.IMWRITE_PNG_FILTER, cv2.IMWRITE_PNG_FILTER_PAETH]


def encode_image(image: np.ndarray, image_format: str, jpeg_quality: int) -> bytes:
    """PNG (lossless) or JPEG bytes of a grey (H, W) or RGB (H, W, 3) image."""
    pixels = cv2.cvtColor(image, cv2.COLOR_RGB2BGR) if image.ndim == 3 else image
    if image_format == "png":
        ok, encoded = cv2.imencode(".png", pixels, PNG_OPTIONS)
    else:
        ok, encoded = cv2.imencode(".jpg", pixels, [cv2.IMWRITE_JPEG_QUALITY, jpeg_quality])
    if not ok:
        raise DatasetError(f"could not encode a {image.shape} image as {image_format}")
    return encoded.tobytes()


def decode_image(data: bytes) -> np.ndarray:
    """A stored image as uint8: (H, W) grey or (H, W, 3) RGB."""
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    if image is None:
        raise DatasetError("stored image bytes cannot be decoded")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB) if image.ndim == 3 else image


@contextmanager
def write_errors(path: Path) -> Iterator[None]:
    """Turn a failed write (full disk, lost permission, LMDB error) into a DatasetError naming the cause."""
    try:
        yield
    except (OSError, lmdb.Error) as error:
        full = isinstance(error, lmdb.MapFullError) or getattr(error, "errno", None) == errno.ENOSPC or "No space" in str(error)
        cause = "the disk is full" if full else f"{type(error).__name__}: {error}"
        raise DatasetError(f"writing {path} failed: {cause}. Every chunk committed before stays intact; "
                           "free space and rerun with --resume to continue.") from None


class LmdbSink:
    """Appends chunks to an LMDB environment, one transaction per chunk (samples, num-samples and counts together)."""

    def __init__(self, path: Path, extension: str) -> None:
        self.path = path
        try:
            self.env = lmdb.open(str(path), map_size=LMDB_MAP_SIZE, subdir=True, readahead=False, meminit=False)
        except lmdb.Error as error:
            raise DatasetError(f"cannot open LMDB at {path}: {error}") from None
        with self.env.begin() as transaction:
            self.count = int(transaction.get(b"num-samples", b"0"))
            state = transaction.get(STATE_KEY)
        self.state: dict[str, Any] = json.loads(state) if state else {}

    def write(self, entries: Sequence[Entry], state: dict[str, Any]) -> None:
        """Commit (image, label, category) entries after those already stored, with the running state, atomically."""
        with self.env.begin(write=True) as transaction:
            for offset, (image, label, category) in enumerate(entries, start=self.count + 1):
                transaction.put(b"image-%09d" % offset, image)
                transaction.put(b"label-%09d" % offset, label.encode("utf-8"))
                transaction.put(b"category-%09d" % offset, category.encode("utf-8"))
            transaction.put(b"num-samples", str(self.count + len(entries)).encode())
            transaction.put(STATE_KEY, json.dumps(state).encode())
        self.count += len(entries)
        self.state = state

    def close(self) -> None:
        """Flush and close the environment."""
        self.env.close()


class FolderSink:
    """Appends chunks to images/NNNNN/NNNNNNNNN.ext plus labels.tsv; a progress file records what is committed.

    Order per chunk: images (temp file, then rename), then the label lines in one fsynced append, then the
    progress file (temp, rename). On reopening, label lines past the recorded count (a chunk cut short) are cut.
    """

    def __init__(self, path: Path, extension: str) -> None:
        self.path = path
        self.extension = extension
        progress = path / PROGRESS_FILE
        self.state: dict[str, Any] = json.loads(progress.read_text(encoding="utf-8")) if progress.exists() else {}
        self.count = int(self.state.get("count", 0))
        with write_errors(path):
            path.mkdir(parents=True, exist_ok=True)
            for name in (LABELS_FILE, CATEGORIES_FILE):
                keep_lines(path / name, self.count)
            self.labels = open(path / LABELS_FILE, "a", encoding="utf-8", newline="\n")
            self.categories = open(path / CATEGORIES_FILE, "a", encoding="utf-8", newline="\n")

    def relative_path(self, position: int) -> str:
        """Where sample `position` (0-based) lives, relative to the dataset folder."""
        return f"images/{position // FILES_PER_FOLDER:05d}/{position:09d}.{self.extension}"

    def write(self, entries: Sequence[Entry], state: dict[str, Any]) -> None:
        """Write the images, then their category and label lines, then the progress record."""
        lines = []
        for position, (image, label, _) in enumerate(entries, start=self.count):
            relative = self.relative_path(position)
            write_bytes_atomically(self.path / relative, image)
            lines.append(f"{relative}\t{escape_label(label)}\n")
        for handle, text in ((self.categories, "".join(f"{escape_label(entry[2])}\n" for entry in entries)),
                             (self.labels, "".join(lines))):
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        self.count += len(entries)
        write_json_atomically(self.path / PROGRESS_FILE, {**state, "count": self.count})
        self.state = state

    def close(self) -> None:
        """Close the labels and categories files."""
        self.labels.close()
        self.categories.close()


SINKS = {"lmdb": LmdbSink, "folder": FolderSink}
Entry = tuple[bytes, str, str]  # encoded image, label, category


def keep_lines(path: Path, count: int) -> None:
    """Cut a text file after its first `count` complete lines (it may not exist yet when count is 0)."""
    if not path.exists():
        if count:
            raise DatasetError(f"{path} is missing but the progress record says {count} samples were written")
        return
    with open(path, "rb+") as handle:
        kept = 0
        for _ in range(count):
            line = handle.readline()
            if not line.endswith(b"\n"):
                raise DatasetError(f"{path} holds fewer complete lines than the {count} recorded as written")
            kept += len(line)
        handle.truncate(kept)


class LmdbReader:
    """Reads an LMDB dataset; the environment opens lazily, so each DataLoader worker gets its own handle."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if not (self.path / "data.mdb").exists():
            raise DatasetError(f"{self.path} is not an LMDB dataset (no data.mdb)")
        self.env: lmdb.Environment | None = None
        with self.open().begin() as transaction:
            self.count = int(transaction.get(b"num-samples", b"0"))
        self.close()

    def open(self) -> lmdb.Environment:
        """The environment, opened read-only on first use in this process."""
        if self.env is None:
            self.env = lmdb.open(str(self.path), readonly=True, lock=False, readahead=False, meminit=False)
        return self.env

    def close(self) -> None:
        """Close the handle (before handing the reader to other processes)."""
        if self.env is not None:
            self.env.close()
            self.env = None

    def __getstate__(self) -> dict:
        return {**self.__dict__, "env": None}

    def __len__(self) -> int:
        return self.count

    def raw(self, position: int) -> Entry:
        """Encoded image bytes, label and category ('' when none) of sample `position` (0-based)."""
        if not 0 <= position < self.count:
            raise IndexError(f"sample {position} of a {self.count}-sample dataset")
        with self.open().begin() as transaction:
            image = transaction.get(b"image-%09d" % (position + 1))
            label = transaction.get(b"label-%09d" % (position + 1))
            category = transaction.get(b"category-%09d" % (position + 1), b"")
        return bytes(image), label.decode("utf-8"), bytes(category).decode("utf-8")

    def __getitem__(self, position: int) -> tuple[np.ndarray, str]:
        image, label, _ = self.raw(position)
        return decode_image(image), label

    def labels(self) -> list[str]:
        """Every label, without reading the images."""
        with self.open().begin() as transaction:
            return [bytes(transaction.get(b"label-%09d" % key)).decode("utf-8") for key in range(1, self.count + 1)]

    def images(self) -> Iterator[bytes]:
        """Every sample's encoded image, in order, read in one transaction."""
        with self.open().begin() as transaction:
            for key in range(1, self.count + 1):
                yield bytes(transaction.get(b"image-%09d" % key))


class FolderReader:
    """Reads a folder dataset through its labels.tsv (a final line without newline is a write in progress).

    Our datasets (with manifest.json or a progress record) escape labels; other folders (`name<TAB>label`,
    images beside the file or in `images/`) are read as they are.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.escaped = (self.path / "manifest.json").exists() or (self.path / PROGRESS_FILE).exists()
        lines = complete_lines(self.path / LABELS_FILE)
        if lines is None:
            raise DatasetError(f"{self.path} is not a folder dataset (no {LABELS_FILE})")
        self.entries = [self.parse(number, line) for number, line in enumerate(lines, start=1)]
        categories = complete_lines(self.path / CATEGORIES_FILE) or []
        self.categories = [unescape_label(line) for line in categories[: len(self.entries)]]
        self.categories += [""] * (len(self.entries) - len(self.categories))

    def parse(self, number: int, line: str) -> tuple[Path, str]:
        """(image path, label) of one labels.tsv line."""
        relative, tab, field = line.partition("\t")
        if not tab:
            raise DatasetError(f"{self.path / LABELS_FILE}:{number}: no tab between path and label")
        image = self.path / relative
        if not self.escaped and not image.exists() and (self.path / "images" / relative).exists():
            image = self.path / "images" / relative
        return image, unescape_label(field) if self.escaped else field

    def __len__(self) -> int:
        return len(self.entries)

    def raw(self, position: int) -> Entry:
        """Encoded image bytes, label and category ('' when none) of sample `position` (0-based)."""
        image, label = self.entries[position]
        return image.read_bytes(), label, self.categories[position]

    def __getitem__(self, position: int) -> tuple[np.ndarray, str]:
        image, label, _ = self.raw(position)
        return decode_image(image), label

    def labels(self) -> list[str]:
        """Every label, without reading the images."""
        return [label for _, label in self.entries]


def open_dataset(path: str | Path) -> LmdbReader | FolderReader:
    """A reader for an LMDB or folder dataset, whichever is at path."""
    path = Path(path)
    if (path / "data.mdb").exists():
        return LmdbReader(path)
    if (path / LABELS_FILE).exists():
        return FolderReader(path)
    raise DatasetError(f"{path} holds no dataset (neither data.mdb nor {LABELS_FILE})")


def complete_lines(path: Path) -> list[str] | None:
    """The newline-terminated lines of a UTF-8 file (a trailing partial line is a write in progress), or None."""
    if not path.exists():
        return None
    return path.read_bytes().decode("utf-8").split("\n")[:-1]
