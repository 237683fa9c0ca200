"""Finding font files on disk: project, system, fontconfig and matplotlib folders."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from synthgen.config import FontConfig
from synthgen.paths import resolve_path

FONT_SUFFIXES = (".ttf", ".otf", ".ttc", ".otc")
COLLECTION_SUFFIXES = (".ttc", ".otc")
MAX_COLLECTION_FACES = 1024  # a larger count means a corrupt header; the audit then reports the file unreadable
SYSTEM_FONT_FOLDERS = ("/usr/share/fonts", "/usr/local/share/fonts", "~/.local/share/fonts", "~/.fonts")


@dataclass(frozen=True)
class FontFace:
    """One face of a font file (a collection holds several), identified by the file's content hash."""

    path: str
    index: int
    sha256: str

    @property
    def key(self) -> str:
        """A stable identity for this face that does not depend on where the file lies."""
        return f"{self.sha256[:24]}-{self.index}"

    @property
    def name(self) -> str:
        """The file name, with the face number for collections."""
        suffix = f"#{self.index}" if self.path.lower().endswith(COLLECTION_SUFFIXES) else ""
        return Path(self.path).name + suffix


def font_folders(config: FontConfig) -> list[Path]:
    """Every folder to search for fonts under this config, project folders first."""
    folders = [resolve_path(folder) for folder in config.font_dirs]
    if config.system_fonts:
        folders += [Path(folder).expanduser() for folder in SYSTEM_FONT_FOLDERS]
        folders += fontconfig_folders()
    if config.matplotlib_fonts:
        folders.append(matplotlib_font_folder())
    return folders


def matplotlib_font_folder() -> Path:
    """The DejaVu, STIX and Computer Modern faces matplotlib ships, present on every platform."""
    import matplotlib

    return Path(matplotlib.get_data_path()) / "fonts" / "ttf"


def fontconfig_folders() -> list[Path]:
    """Folders holding the fonts fontconfig knows about, if fontconfig is installed."""
    if shutil.which("fc-list") is None:
        return []
    try:
        listing = subprocess.run(
            ["fc-list", "--format", "%{file}\n"], capture_output=True, text=True, timeout=60, check=False
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    return sorted({Path(line).parent for line in listing.splitlines() if line.strip()})


def find_font_files(paths: Iterable[str | Path]) -> list[Path]:
    """Font files among the given paths; folders are searched recursively, missing paths skipped."""
    found: list[Path] = []
    seen: set[Path] = set()
    for path in map(Path, paths):
        if path.is_dir():
            candidates = sorted(item for item in path.rglob("*") if item.suffix.lower() in FONT_SUFFIXES)
        elif path.is_file():
            candidates = [path]
        else:
            continue
        for candidate in candidates:
            resolved = candidate.resolve()
            if resolved not in seen and resolved.is_file():
                seen.add(resolved)
                found.append(candidate)
    return found


def discover_faces(paths: Iterable[str | Path]) -> list[FontFace]:
    """Every face of every font file under the paths, files with identical bytes counted once."""
    faces: list[FontFace] = []
    seen_hashes: set[str] = set()
    for path in find_font_files(paths):
        data = path.read_bytes()
        digest = hashlib.sha256(data).hexdigest()
        if digest in seen_hashes:
            continue
        seen_hashes.add(digest)
        faces.extend(FontFace(str(path), index, digest) for index in range(count_faces(data)))
    return faces


def count_faces(data: bytes) -> int:
    """How many faces a font file holds: the collection header's count, else one."""
    if data[:4] == b"ttcf" and len(data) >= 12:
        count = int.from_bytes(data[8:12], "big")
        return count if 1 <= count <= MAX_COLLECTION_FACES else 1
    return 1
