"""Small file helpers shared by the generator, the datasets, the runs notebook and the service: atomic JSON, UTF-8
reading, file digests."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from pathlib import Path
from typing import Any


def write_json_atomically(path: Path, data: dict[str, Any]) -> None:
    """Write indented JSON atomically and durably (flushed to disk before the rename): manifests and run records."""
    text = json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    write_bytes_atomically(path, text.encode("utf-8"), durable=True)


def write_bytes_atomically(path: Path, data: bytes, durable: bool = False) -> None:
    """Write bytes to a temporary file beside `path`, then rename it over `path` (never half a file, even when
    several processes write the same path); `durable` flushes the bytes to disk first, so a power cut keeps either
    the old file or the new one. OSError when the folder cannot be made or written."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f"{path.name}.tmp{os.getpid()}")
    try:
        with open(temporary, "wb") as handle:
            handle.write(data)
            if durable:
                handle.flush()
                os.fsync(handle.fileno())
        os.replace(temporary, path)
    except OSError:
        with contextlib.suppress(OSError):
            temporary.unlink(missing_ok=True)
        raise


def read_utf8_text(path: str | Path, what: str, error: type[ValueError]) -> str:
    """A whole UTF-8 file; a missing or undecodable file raises `error` naming it."""
    try:
        return Path(path).read_text(encoding="utf-8")
    except FileNotFoundError as missing:
        raise error(f"{what} not found: {path}") from missing
    except UnicodeDecodeError as undecodable:
        raise error(f"{what} {path} is not UTF-8 (byte {undecodable.start}): convert it or remove it") from undecodable


def file_sha256(path: str | Path) -> str:
    """The hex SHA-256 of a file's bytes, read in blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
