"""Pack what bench/gpu.py needs on a GPU machine that has no font packages and no network, and unpack it there.

Here:  .venv/bin/python bench/gpu_bundle.py --out BUNDLE [--config configs/receipt.yaml] [--font-mib 108] [--real DIR ...]
There: python3 bench/gpu_bundle.py --unpack BUNDLE
then:  python3 bench/gpu.py --real BUNDLE/real/words
The bundle holds the faces the config draws most often, as many as fit in --font-mib (xz roughly thirds them), with
the share of the config's face probability they carry; the font audit's cache (so the audit there is a lookup); and
each --real folder of labelled crops. Unpacking puts the faces under fonts/carried (a folder every config searches),
the cache where configs look for it, and the crops under BUNDLE/real/NAME. Python packages are not bundled.
"""

from __future__ import annotations

import argparse
import json
import sys
import tarfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from synthgen.cli import charset_from  # noqa: E402
from synthgen.config import Config, load_config  # noqa: E402
from synthgen.fonts.sampler import build_font_sampler  # noqa: E402
from synthgen.paths import resolve_path  # noqa: E402

CARRIED_FONTS = "fonts/carried"


def arguments() -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", help="bundle folder to write")
    parser.add_argument("--unpack", metavar="BUNDLE", help="unpack this bundle into the project instead")
    parser.add_argument("--config", default="configs/receipt.yaml", help="synthgen config whose faces to carry")
    parser.add_argument("--font-mib", type=float, default=108.0, help="font files to carry, MiB before compression")
    parser.add_argument("--real", action="append", default=[], metavar="DIR", help="labelled crops to carry (repeatable)")
    parser.add_argument("--synthgen-set", action="append", default=[], metavar="KEY=VALUE", help="a config override")
    parser.add_argument("--root", default=str(ROOT), help="project to unpack into (default: this one)")
    options = parser.parse_args()
    if bool(options.out) == bool(options.unpack):
        parser.error("give either --out BUNDLE (pack) or --unpack BUNDLE")
    return options


def likely_fonts(config: Config, budget: int) -> tuple[list[Path], float, int]:
    """The most probable font files that fit in budget bytes, the share of face probability they carry, and faces in all."""
    sampler = build_font_sampler(config.fonts, charset_from(config), progress=False)
    probabilities = sampler.probabilities("")
    chosen: dict[Path, None] = {}
    size = 0
    for row in np.argsort(-probabilities, kind="stable"):
        path = Path(sampler.faces[row].report.path)
        if path in chosen:
            continue
        file_size = path.stat().st_size
        if size + file_size <= budget:
            chosen[path] = None
            size += file_size
    share = sum(p for face, p in zip(sampler.faces, probabilities) if Path(face.report.path) in chosen)
    return list(chosen), float(share), len(sampler.faces)


def pack(options: argparse.Namespace) -> None:
    """Write the bundle: fonts.tar.xz, audit-cache.tar.xz, real-NAME.tar and bundle.json."""
    out = Path(options.out)
    out.mkdir(parents=True, exist_ok=True)
    config = load_config(options.config, options.synthgen_set)
    fonts, share, faces = likely_fonts(config, int(options.font_mib * 2**20))
    with tarfile.open(out / "fonts.tar.xz", "w:xz") as archive:
        for number, path in enumerate(fonts):  # numbered: two packages may ship files of one name
            archive.add(path, arcname=f"{number:04d}-{path.name}")
    cache = resolve_path(config.fonts.audit_cache)
    with tarfile.open(out / "audit-cache.tar.xz", "w:xz") as archive:
        for entry in sorted(cache.glob("*.json")) if cache.is_dir() else []:
            archive.add(entry, arcname=entry.name)
    for folder in map(Path, options.real):
        with tarfile.open(out / f"real-{folder.name}.tar", "w") as archive:
            archive.add(folder, arcname=folder.name)
    summary = {"config": options.config, "font_files": len(fonts), "font_mib": sum(p.stat().st_size for p in fonts) / 2**20,
               "face_probability_carried": share, "faces_in_config": faces, "real": [Path(r).name for r in options.real]}
    (out / "bundle.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(f"{len(fonts)} font files ({summary['font_mib']:.1f} MiB) carry {share:.1%} of {options.config}'s face "
          f"probability ({faces} faces); bundle in {out}")


def unpack(bundle: Path, root: Path) -> None:
    """Faces under fonts/carried, the audit cache where the default config looks, crops under BUNDLE/real."""
    cache = root / load_config(None).fonts.audit_cache
    places = [(bundle / "fonts.tar.xz", root / CARRIED_FONTS), (bundle / "audit-cache.tar.xz", cache),
              *[(archive, bundle / "real") for archive in sorted(bundle.glob("real-*.tar"))]]
    for archive, target in places:
        target.mkdir(parents=True, exist_ok=True)
        with tarfile.open(archive) as opened:
            opened.extractall(target, filter="data")  # no absolute paths, links out or devices
        print(f"{archive.name} -> {target}")


def main() -> None:
    """Pack or unpack."""
    options = arguments()
    if options.unpack:
        unpack(Path(options.unpack), Path(options.root))
    else:
        pack(options)


if __name__ == "__main__":
    main()
