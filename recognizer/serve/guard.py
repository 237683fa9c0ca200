"""What stands between clients and the model: keys and rate limits, the bounded queue, metrics and the request log."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from contextlib import asynccontextmanager
from pathlib import Path

import numpy as np
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, ProcessCollector
from starlette.requests import Request

from recognizer.serve.config import ServeConfig
from recognizer.serve.errors import RequestError


class ServiceMetrics:
    """Prometheus metrics in the service's own registry (requests, images, errors, latency, queue, model, memory)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter("recognizer_requests", "HTTP requests", ["route", "status"], registry=self.registry)
        self.images = Counter("recognizer_images", "crops read", registry=self.registry)
        self.errors = Counter("recognizer_errors", "refused or failed requests by error code", ["code"], registry=self.registry)
        self.latency = Histogram("recognizer_request_seconds", "request latency", ["route"], registry=self.registry,
                                 buckets=(0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10))
        self.queue_depth = Gauge("recognizer_queue_depth", "requests waiting for or running on the model", registry=self.registry)
        self.model_info = Gauge("recognizer_model_info", "the served model (value 1)", ["sha256", "kind"], registry=self.registry)
        ProcessCollector(registry=self.registry)  # process_resident_memory_bytes and friends

    def model(self, sha256: str, kind: str) -> None:
        """Mark the served model."""
        self.model_info.clear()
        self.model_info.labels(sha256[:16], kind).set(1)


class TokenBucket:
    """`rate` requests per minute per key, with bursts up to the same count."""

    def __init__(self, rate_per_minute: int) -> None:
        self.capacity, self.per_second = float(rate_per_minute), rate_per_minute / 60.0
        self.buckets: dict[str, tuple[float, float]] = {}
        self.lock = threading.Lock()

    def take(self, key: str) -> float:
        """0 when a request may go now, else the seconds until one may."""
        with self.lock:
            now = time.monotonic()
            tokens, then = self.buckets.get(key, (self.capacity, now))
            tokens = min(self.capacity, tokens + (now - then) * self.per_second)
            if tokens >= 1:
                self.buckets[key] = (tokens - 1, now)
                return 0.0
            self.buckets[key] = (tokens, now)
            return (1 - tokens) / self.per_second


def presented_key(request: Request) -> str | None:
    """The key a client sent: `Authorization: Bearer KEY` or `X-API-Key: KEY`."""
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip()
    return request.headers.get("x-api-key")


def matches(key: str, digest: str) -> bool:
    """Whether a key hashes to a configured SHA-256 digest (compared in constant time)."""
    return hmac.compare_digest(hashlib.sha256(key.encode("utf-8")).hexdigest(), digest)


class Guard:
    """API keys, per-key rate limits and the bound on requests waiting for (or running on) the model."""

    def __init__(self, config: ServeConfig, metrics: ServiceMetrics) -> None:
        self.config, self.metrics = config, metrics
        self.bucket = TokenBucket(config.keys.rate_per_minute)
        self.waiting = 0

    def admit(self, request: Request) -> str:
        """The key id of an allowed request (`anonymous` when no keys are configured); 401, 403 or 429 otherwise."""
        keys = self.config.keys.api
        key_id = "anonymous"
        if keys:
            key = presented_key(request)
            if not key:
                raise RequestError(401, "missing_key", "send an API key: Authorization: Bearer KEY or X-API-Key: KEY",
                                   {"WWW-Authenticate": "Bearer"})
            key_id = next((name for name, digest in keys.items() if matches(key, digest)), "")
            if not key_id:
                raise RequestError(403, "wrong_key", "this API key is not known")
        wait = self.bucket.take(key_id) if keys else 0.0  # the rate limit is per key: without keys there is none
        if wait:
            raise RequestError(429, "rate_limited", f"over {self.config.keys.rate_per_minute} requests a minute",
                               {"Retry-After": str(max(1, round(wait)))})
        return key_id

    def admit_admin(self, request: Request) -> None:
        """Only the admin key may reload models (and only when one is configured)."""
        digest = self.config.keys.admin
        if digest is None:
            raise RequestError(403, "reload_disabled", "no admin key is configured: model reloads are off")
        key = presented_key(request)
        if not key:
            raise RequestError(401, "missing_key", "send the admin key", {"WWW-Authenticate": "Bearer"})
        if not matches(key, digest):
            raise RequestError(403, "wrong_key", "this is not the admin key")

    @asynccontextmanager
    async def queue(self):
        """A place among the requests waiting for the model: 503 with Retry-After when the queue is full."""
        if self.waiting >= self.config.limits.queue:
            raise RequestError(503, "queue_full", f"{self.waiting} requests are waiting; try again shortly", {"Retry-After": "1"})
        self.waiting += 1
        self.metrics.queue_depth.set(self.waiting)
        try:
            yield
        finally:
            self.waiting -= 1
            self.metrics.queue_depth.set(self.waiting)

    def middleware_class(self) -> type:
        """Plain ASGI middleware that times and counts every request by route and status."""

        class Timing:
            def __init__(self, app, service) -> None:
                self.app, self.service = app, service

            async def __call__(self, scope, receive, send) -> None:
                if scope["type"] != "http":
                    await self.app(scope, receive, send)
                    return
                started, status = time.monotonic(), 500  # unless a response starts

                async def sending(message) -> None:
                    nonlocal status
                    if message["type"] == "http.response.start":
                        status = message["status"]
                    await send(message)

                try:
                    await self.app(scope, receive, sending)
                finally:
                    path = scope["path"]
                    route = path if path.startswith(("/v1", "/health", "/metrics")) else "other"
                    metrics = self.service.metrics
                    metrics.requests.labels(route, str(status)).inc()
                    metrics.latency.labels(route).observe(time.monotonic() - started)

        return Timing


class RequestLog:
    """One JSON line per recognize request: ids, client, key id, per image sha256 and size, answers' lengths and
    confidences, model and latency. Never image bytes."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.handle = open(path, "a", encoding="utf-8")  # noqa: SIM115  (kept open for the service's life)
        self.lock = threading.Lock()

    def write(self, request_id: str, request: Request, key_id: str, images: list[tuple[str, bytes]],
              pixels: list[np.ndarray], answers: list[dict], model_sha256: str, seconds: float) -> None:
        record = {
            "id": request_id, "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "client": request.client.host if request.client else None, "key": key_id, "model": model_sha256[:16],
            "latency_ms": round(seconds * 1000, 2),
            "images": [{"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data), "width": int(image.shape[1]),
                        "height": int(image.shape[0]), "text_length": len(answer["text"]), "confidence": answer["confidence"]}
                       for (_, data), image, answer in zip(images, pixels, answers)],
        }
        with self.lock:
            self.handle.write(json.dumps(record) + "\n")
            self.handle.flush()
