"""Splitting a labelled dataset into train and validation sets so that no document has crops on both sides."""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from synthgen.datasets import (
    DatasetError,
    FolderReader,
    LmdbReader,
    escape_label,
    open_dataset,
)
from synthgen.files import write_json_atomically
from synthgen.seeding import new_stream, reseed

META_FILE = "meta.tsv"


@dataclass
class SplitPlan:
    """Which samples go where, and what was counted on the way."""

    sides: dict[str, list[int]]  # side: dataset positions
    groups: dict[str, list[str]]  # side: group (document) names
    dropped: Counter = field(default_factory=Counter)  # character outside the charset: occurrences in dropped labels
    dropped_samples: int = 0


def sample_names(reader: LmdbReader | FolderReader) -> list[str]:
    """Each sample's name: its image file name (folders) or its LMDB key."""
    if isinstance(reader, FolderReader):
        return [image.name for image, _ in reader.entries]
    return [f"image-{position + 1:09d}" for position in range(len(reader))]


def read_meta(folder: Path, count: int) -> list[dict[str, str]] | None:
    """The rows of a dataset's meta.tsv (a header line, one row per sample in order), or None when absent."""
    path = folder / META_FILE
    if not path.exists():
        return None
    lines = path.read_text(encoding="utf-8").splitlines()
    header = lines[0].split("\t")
    rows = [dict(zip(header, line.split("\t"))) for line in lines[1:] if line]
    if len(rows) != count:
        raise DatasetError(f"{path} has {len(rows)} rows for {count} samples: it must have one row per sample, in order")
    return rows


def group_names(folder: Path, reader, by: str) -> list[str]:
    """The document of every sample: a meta.tsv column named `by`, else the first group (or whole match) of the regex
    `by` in the sample's name. A sample the regex does not match is an error naming it (never put in a side silently)."""
    meta = read_meta(folder, len(reader))
    if meta is not None and by in meta[0]:
        return [row[by] for row in meta]
    try:
        pattern = re.compile(by)
    except re.error as error:
        columns = f"; meta.tsv columns: {', '.join(meta[0])}" if meta else ""
        raise DatasetError(f"--by {by!r} is neither a meta.tsv column nor a valid regular expression ({error}){columns}") from None
    groups = []
    for name in sample_names(reader):
        found = pattern.search(name)
        if found is None:
            raise DatasetError(f"--by {by!r} does not match the sample name {name!r}: every sample needs a document")
        groups.append(found.group(1) if pattern.groups else found.group(0))
    return groups


def plan_split(labels: list[str], groups: list[str], ratio: float, seed: int, allowed: frozenset[str] | None,
               drop_outside: bool) -> SplitPlan:
    """Shuffle the documents by seed, give the first `ratio` of them to train, the rest to validation."""
    if not 0.0 < ratio < 1.0:
        raise DatasetError(f"--ratio must be between 0 and 1 (the train share of documents), got {ratio}")
    outside: Counter = Counter()
    bad = set()
    if allowed is not None:
        for position, label in enumerate(labels):
            characters = [c for c in label if c not in allowed]
            if characters:
                outside.update(characters)
                bad.add(position)
    if bad and not drop_outside:
        listed = ", ".join(f"{c!r} x{n}" for c, n in outside.most_common(12))
        raise DatasetError(f"{len(bad)} label(s) hold characters outside the charset ({listed}). Either extend the "
                           "charset (a larger charset file; `recognizer train --init` grows a trained model's output "
                           "layer to it) or drop them here with --drop-outside-charset, which counts what it drops")
    names = sorted(set(groups))
    order = [names[i] for i in reseed(new_stream(), seed).permutation(len(names))]
    cut = min(max(1, round(ratio * len(order))), len(order) - 1) if len(order) > 1 else len(order)
    side_of = {name: ("train" if rank < cut else "validation") for rank, name in enumerate(order)}
    sides: dict[str, list[int]] = defaultdict(list)
    for position, group in enumerate(groups):
        if position not in bad:
            sides[side_of[group]].append(position)
    chosen = {side: sorted(name for name in names if side_of[name] == side) for side in ("train", "validation")}
    return SplitPlan({side: sides.get(side, []) for side in ("train", "validation")}, chosen, outside, len(bad))


def write_side(reader, positions: list[int], out: Path, meta: list[dict[str, str]] | None,
               info: dict[str, Any]) -> None:
    """One side as a folder dataset: the image bytes as they were, escaped labels.tsv, meta.tsv rows, manifest.json."""
    images = out / "images"
    images.mkdir(parents=True)
    lines, names = [], sample_names(reader)
    for number, position in enumerate(positions):
        data, label, _ = reader.raw(position)
        suffix = Path(names[position]).suffix or (".jpg" if data[:3] == b"\xff\xd8\xff" else ".png")
        relative = f"images/{number:07d}{suffix}"
        (out / relative).write_bytes(data)
        lines.append(f"{relative}\t{escape_label(label)}\n")
    (out / "labels.tsv").write_text("".join(lines), encoding="utf-8")
    if meta is not None:
        header = list(meta[0])
        rows = ["\t".join(header)] + ["\t".join(meta[p].get(column, "") for column in header) for p in positions]
        (out / META_FILE).write_text("\n".join(rows) + "\n", encoding="utf-8")
    write_json_atomically(out / "manifest.json", {**info, "written": len(positions)})


def split_dataset(source: Path, by: str, ratio: float, seed: int, out: Path, allowed: frozenset[str] | None = None,
                  drop_outside: bool = False) -> SplitPlan:
    """Write out/train and out/validation from a dataset, document-disjoint; returns the plan with its counts."""
    reader = open_dataset(source)
    if out.exists() and any(out.iterdir()):
        raise DatasetError(f"{out} is not empty: choose a new folder for the split")
    labels = reader.labels()
    groups = group_names(source, reader, by)
    plan = plan_split(labels, groups, ratio, seed, allowed, drop_outside)
    meta = read_meta(source, len(reader))
    for side, positions in plan.sides.items():
        info = {"kind": "split", "source": str(source), "by": by, "ratio": ratio, "seed": seed, "side": side,
                "documents": len(plan.groups[side]), "dropped_outside_charset": plan.dropped_samples}
        write_side(reader, positions, out / side, meta, info)
    return plan


__all__ = ["SplitPlan", "plan_split", "split_dataset"]
