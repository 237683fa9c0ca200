"""The service's configuration: strict YAML into frozen dataclasses, as every other command."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from synthgen.config import bounded, load_dataclass
from synthgen.errors import ConfigError


@dataclass(frozen=True)
class Limits:
    """What one request may ask of the service; anything over a limit is a 4xx, never a crash or a backlog."""

    body_bytes: int = bounded(20 * 1024 * 1024, 1024, 2**31)  # a whole request, uploads included
    image_bytes: int = bounded(8 * 1024 * 1024, 64, 2**31)  # one encoded image
    pixels: int = bounded(4_000_000, 16, 2**31)  # width x height of one image, checked from its header before decoding
    side: int = bounded(8192, 8, 65536)  # longest side of one image
    images: int = bounded(64, 1, 4096)  # images per request
    timeout_seconds: float = bounded(10.0, 0.01, 600.0)  # a request still waiting or running after this gets a 504
    queue: int = bounded(64, 1, 100000)  # requests waiting for the model at once; more get 503 with Retry-After
    beam: int = bounded(16, 1, 128)  # widest beam a request may ask for
    top_k: int = bounded(5, 1, 32)


@dataclass(frozen=True)
class Keys:
    """Optional API keys (SHA-256 hex of each key, by key id) with a per-key rate limit, and the admin key."""

    api: dict[str, str] = field(default_factory=dict)  # key id: sha256 of the key; empty: no key needed
    admin: str | None = None  # sha256 of the admin key; None: /v1/model/reload is off
    rate_per_minute: int = bounded(600, 1, 10_000_000)  # requests per key per minute (a token bucket), when keys are set


@dataclass(frozen=True)
class Bands:
    """Confidence bands for lexicon correction: keep at or above high, no text below low, snap in between."""

    high: float = bounded(0.9, 0.0, 1.0)
    low: float = bounded(0.3, 0.0, 1.0)
    max_distance: int = bounded(2, 0, 10)


@dataclass(frozen=True)
class ServeConfig:
    """`recognizer serve --config serve.yaml`: where it listens, its limits, keys, lexicons and log."""

    host: str = "127.0.0.1"  # loopback by default; 0.0.0.0 (all interfaces, e.g. in a container) only when asked
    port: int = bounded(8000, 0, 65535)
    workers: int = bounded(2, 1, 256)  # inference threads (one process: one model, one reload, one set of limits)
    max_batch: int = bounded(16, 1, 4096)  # crops run through the model at once (from one request or several); batches
    # of 8-16 crops sorted by width waste less on padding than larger ones and read about as fast per crop on a CPU
    precision: str = "auto"  # checkpoints: auto (bf16 on CPUs with native bf16, else fp32) | fp32 | bf16; ONNX: fp32
    limits: Limits = field(default_factory=Limits)
    keys: Keys = field(default_factory=Keys)
    bands: Bands = field(default_factory=Bands)
    lexicons: dict[str, str] = field(default_factory=dict)  # name: word list file (one word per line), loaded at start
    log: str | None = None  # JSON-lines request log (no image bytes in it)

    def __post_init__(self) -> None:
        if self.precision not in ("auto", "fp32", "bf16"):
            raise ConfigError(f"precision must be auto, fp32 or bf16, got {self.precision!r}")
        if self.bands.low > self.bands.high:
            raise ConfigError(f"bands.low ({self.bands.low}) is above bands.high ({self.bands.high})")
        for name, digest in [*self.keys.api.items(), *([("admin", self.keys.admin)] if self.keys.admin else [])]:
            if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
                raise ConfigError(f"keys: {name} must be the SHA-256 hex digest of the key (64 lower-case hex digits), "
                                  "never the key itself: python -c \"import hashlib; print(hashlib.sha256(b'KEY').hexdigest())\"")


def load_serve_config(path: str | Path | None, overrides: Sequence[str] = ()) -> ServeConfig:
    """A service config from YAML (or the defaults) and `key=value` overrides."""
    return load_dataclass(ServeConfig, path, overrides)
