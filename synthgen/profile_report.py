"""`synthgen profile`: real crops against a config's samples, as a ranked list, a JSON and one PNG of histograms."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from synthgen.config import Config
from synthgen.datasets import DatasetError, decode_image, open_dataset
from synthgen.files import write_json_atomically
from synthgen.profile import STATISTICS, Crop, compare, measure

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")
MAX_IMAGE_BYTES = 20 * 1024 * 1024  # a word or line crop is kilobytes; anything this large is not one


def evenly(count: int, limit: int) -> list[int]:
    """Up to `limit` positions spread evenly over 0..count-1."""
    if count <= limit:
        return list(range(count))
    return [round(i * (count - 1) / (limit - 1)) for i in range(limit)] if limit > 1 else [0]


def read_crops(path: Path, limit: int) -> list[Crop]:
    """Crops of an LMDB or folder dataset (labelled), or of a plain folder of images (unlabelled)."""
    if (path / "data.mdb").exists() or (path / "labels.tsv").exists():
        reader = open_dataset(path)
        crops = []
        for position in evenly(len(reader), limit):
            data, label, _ = reader.raw(position)
            crops.append(Crop(decode_image(data), label))
        return crops
    if not path.is_dir():
        raise DatasetError(f"{path} is neither a dataset nor a folder of images")
    files = sorted(file for file in path.rglob("*") if file.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise DatasetError(f"{path} holds no dataset and no images ({', '.join(IMAGE_SUFFIXES)})")
    crops = []
    for position in evenly(len(files), limit):
        if files[position].stat().st_size > MAX_IMAGE_BYTES:
            raise DatasetError(f"{files[position]} is over {MAX_IMAGE_BYTES // 2**20} MB: not a crop")
        crops.append(Crop(decode_image(files[position].read_bytes())))
    return crops


def synthetic_crops(config: Config, count: int, seed: int) -> list[Crop]:
    """`count` samples of a config as crops (at the generator's output size, which is model height)."""
    from synthgen.generator import WordGenerator

    generator = WordGenerator(config, seed=seed)
    return [Crop(sample.image, sample.text) for sample in map(generator, range(count))]


def plot_profile(rows: list[dict], real: dict, synthetic: dict, path: Path, names: tuple[str, str]) -> Path:
    """One panel per statistic, largest difference first: the two histograms over the same bins."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    shown = [row for row in rows if row["real"] or row["synthetic"]]
    columns = 4
    figure, axes = plt.subplots(math.ceil(len(shown) / columns), columns, figsize=(4.2 * columns, 2.6 * math.ceil(len(shown) / columns)),
                                squeeze=False)
    for axis, row in zip(axes.flat, shown):
        name = row["statistic"]
        both = real.get(name, []) + synthetic.get(name, [])
        low, high = np.percentile(both, [0.5, 99.5]) if both else (0, 1)
        bins = np.linspace(low, high if high > low else low + 1, 31)
        for values, label, colour in ((real.get(name, []), names[0], "#1f77b4"), (synthetic.get(name, []), names[1], "#ff7f0e")):
            if values:
                axis.hist(np.clip(values, bins[0], bins[-1]), bins=bins, density=True, alpha=0.55, label=label, color=colour)
        distance = f"distance {row['distance']:.2f}" if row["distance"] is not None else "one side only"
        axis.set_title(f"{name} ({distance})", fontsize=9)
        axis.tick_params(labelsize=7)
    for axis in list(axes.flat)[len(shown):]:
        axis.axis("off")
    axes.flat[0].legend(fontsize=7)
    figure.tight_layout()
    figure.savefig(path, dpi=90)
    plt.close(figure)
    return path


def profile(real_path: Path, config: Config | None, count: int, limit: int, seed: int, out: Path) -> dict[str, Any]:
    """Measure the real crops (and the config's samples), write profile.json and profile.png, return the comparison."""
    real = measure(read_crops(real_path, limit))
    synthetic = measure(synthetic_crops(config, count, seed)) if config is not None else {}
    rows = compare(real, synthetic)
    out.mkdir(parents=True, exist_ok=True)
    result = {"real": str(real_path), "synthetic_samples": count if config is not None else 0, "statistics": rows}
    write_json_atomically(out / "profile.json", result)
    plot_profile(rows, real, synthetic, out / "profile.png", (real_path.name or "real", "synthetic"))
    return result


def ranking_lines(rows: list[dict]) -> list[str]:
    """The comparison as printed: largest normalised distance first, with both medians."""
    lines = []
    for rank, row in enumerate(rows, start=1):
        real, synthetic = row["real"], row["synthetic"]
        median = lambda side: f"{side['median']:.3g}" if side else "-"  # noqa: E731
        distance = f"{row['distance']:6.2f}" if row["distance"] is not None else "     -"
        lines.append(f"{rank:2}. {row['statistic']:18} {row['group']:10} distance {distance}   "
                     f"median real {median(real):>7}  synthetic {median(synthetic):>7}")
    return lines


__all__ = ["STATISTICS", "profile", "ranking_lines", "read_crops"]
