"""Where the project's own files live, and how relative paths in configs are resolved."""

from __future__ import annotations

from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def resolve_path(path: str | Path) -> Path:
    """Resolve a config path: absolute as given, else against the current folder, else the project root."""
    candidate = Path(path).expanduser()
    if candidate.is_absolute() or candidate.exists():
        return candidate
    return PROJECT_ROOT / candidate


def read_utf8_text(path: str | Path, what: str, error: type[ValueError]) -> str:
    """A whole UTF-8 file; a missing or undecodable file raises `error` naming it."""
    try:
        return Path(path).read_text(encoding="utf-8")
    except FileNotFoundError as missing:
        raise error(f"{what} not found: {path}") from missing
    except UnicodeDecodeError as undecodable:
        raise error(f"{what} {path} is not UTF-8 (byte {undecodable.start}): convert it or remove it") from undecodable
