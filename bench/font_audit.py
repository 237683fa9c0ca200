"""Times the font audit over every installed face: cold (no cache) and warm (cached), and prints counts."""

from __future__ import annotations

import os
import tempfile
import time

from synthgen.charset import Charset
from synthgen.config import FontConfig
from synthgen.fonts.audit import AuditCache, audit_faces, summarize
from synthgen.fonts.files import discover_faces, font_folders
from synthgen.paths import PROJECT_ROOT


def main() -> None:
    """Discover, audit cold into a fresh cache, audit again warm, print the figures."""
    charset = Charset.from_file(PROJECT_ROOT / "corpora" / "charset.txt")
    started = time.perf_counter()
    faces = discover_faces(font_folders(FontConfig()))
    discovery = time.perf_counter() - started
    with tempfile.TemporaryDirectory() as folder:
        cache = AuditCache(folder)
        started = time.perf_counter()
        reports = audit_faces(faces, charset, cache)
        cold = time.perf_counter() - started
        started = time.perf_counter()
        audit_faces(faces, charset, cache, progress=False)
        warm = time.perf_counter() - started
    counts = summarize(reports)
    print(f"faces found:        {len(faces)} (discovery and hashing {discovery:.1f} s)")
    print(f"cold audit:         {cold:.1f} s on {os.cpu_count()} cores ({len(faces) / cold:.1f} faces/s)")
    print(f"warm audit (cache): {warm:.2f} s")
    print(f"by status:          {counts['status']}")
    print(f"by problem:         {counts['problems']}")


if __name__ == "__main__":
    main()
