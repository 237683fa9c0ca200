"""Rules the design guide sets for all library code."""

from __future__ import annotations

import re

from synthgen.paths import PROJECT_ROOT

GLOBAL_RANDOM = re.compile(
    r"np\.random\.(seed|rand|randn|randint|choice|uniform|normal|shuffle|permutation|random)\("
    r"|^\s*import random\b|^\s*from random import|cv2\.setRNGSeed|torch\.manual_seed"
)


def test_library_code_uses_no_global_random_state():
    offenders = [
        f"{path.relative_to(PROJECT_ROOT)}:{number}: {line.strip()}"
        for folder in ("synthgen", "recognizer")
        for path in sorted((PROJECT_ROOT / folder).rglob("*.py"))
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
        if GLOBAL_RANDOM.search(line)
    ]
    assert offenders == []


def test_the_grep_itself_catches_global_random_state():
    assert GLOBAL_RANDOM.search("x = np.random.choice(5)")
    assert GLOBAL_RANDOM.search("import random")
    assert not GLOBAL_RANDOM.search("rng = np.random.default_rng(seed)")
