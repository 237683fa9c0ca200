"""Shared fixtures: the default charset and a folder of fonts with planted defects."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from font_factory import PLANTED, symbol_font  # noqa: E402

from synthgen.charset import Charset  # noqa: E402
from synthgen.paths import PROJECT_ROOT  # noqa: E402


@pytest.fixture(scope="session")
def charset() -> Charset:
    """The project's default charset."""
    return Charset.from_file(PROJECT_ROOT / "corpora" / "charset.txt")


@pytest.fixture(scope="session")
def planted_fonts(tmp_path_factory) -> dict[str, Path]:
    """Every planted-defect font, by the name of the function that built it."""
    folder = tmp_path_factory.mktemp("planted_fonts")
    return {maker.__name__: maker(folder) for maker in [*PLANTED, symbol_font]}


@pytest.fixture(scope="session")
def small_config(tmp_path_factory):
    """A config builder: matplotlib's faces only (always present), a private audit cache, plus overrides."""
    from synthgen.config import load_config

    cache = tmp_path_factory.getbasetemp() / "audit-cache"

    def build(*overrides: str):
        return load_config(None, ["fonts.system_fonts=false", "fonts.font_dirs=[]", f"fonts.audit_cache={cache}", *overrides])

    return build


def tiny_overrides(tmp_path, small_config_overrides, steps, every):
    """Training overrides for a few steps of `tiny` on small batches of the small generator config, on one thread."""
    return [f"runs_dir={tmp_path / 'runs'}", f"steps={steps}", "data.batch_size=8", "data.bucket_batches=2",
            "data.workers=0", f"validation.every={every}", "validation.synthetic_samples=16", "optim.warmup_steps=2",
            "log_every=1", "threads=1", f"data.synthetic.overrides=[{', '.join(repr(o) for o in small_config_overrides)}]"]


@pytest.fixture(scope="session")
def generator_overrides(small_config):
    """Generator overrides for training tests: matplotlib's faces, short labels, no web addresses."""
    cache = small_config().fonts.audit_cache
    return ["fonts.system_fonts=false", "fonts.font_dirs=[]", f"fonts.audit_cache={cache}", "corpus.max_chars=12",
            "corpus.sources.urls.weight=0", "corpus.shape.line=0"]
