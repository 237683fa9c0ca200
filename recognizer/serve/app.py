"""The HTTP app: routes only. Reading crops goes through the served model, limits and keys through the guard."""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import logging
import os
import time
import uuid
from pathlib import Path
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.applications import Starlette
from starlette.formparsers import MultiPartException, MultiPartParser
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from recognizer.decoding import allowed_classes
from recognizer.errors import CheckpointError
from recognizer.predict import Lexicon
from recognizer.serve.batcher import Batcher, Job
from recognizer.serve.config import ServeConfig
from recognizer.serve.errors import RequestError
from recognizer.serve.guard import Guard, RequestLog, ServiceMetrics
from recognizer.serve.images import decode_upload
from recognizer.serve.model import ModelHolder, Options

STATIC = Path(__file__).parent / "static"
OPTION_KEYS = ("beam", "top_k", "lexicon", "allowed")
logger = logging.getLogger("recognizer.serve")


class Service:
    """The state the routes share: config, model holder, lexicons, guard, metrics, log and the batching threads."""

    def __init__(self, config: ServeConfig, model_path: Path) -> None:
        self.config = config
        self.metrics = ServiceMetrics()
        self.guard = Guard(config, self.metrics)
        self.log = RequestLog(Path(config.log)) if config.log else None
        threads = max(1, (os.cpu_count() or 1) // config.workers)  # per inference thread: together they use every core
        self.holder = ModelHolder(config.max_batch, threads=threads, precision=config.precision)
        self.batcher = Batcher(config.workers, config.max_batch, torch_threads=threads)
        self.lexicons = {name: Lexicon.from_file(path, high=config.bands.high, low=config.bands.low,
                                                 max_distance=config.bands.max_distance)
                         for name, path in config.lexicons.items()}
        self.model_path = model_path
        self.ready = False

    def start(self) -> None:
        """Load and check the model; ready only once that passed."""
        model = self.holder.load(self.model_path)
        self.metrics.model(model.sha256, model.kind)
        self.ready = True


def options_from(raw: Any, service: Service) -> Options:
    """Per-request options from a JSON object; unknown keys and bad values are 400s naming them."""
    if raw is None:
        return Options()
    if not isinstance(raw, dict):
        raise RequestError(400, "bad_options", "options must be a JSON object")
    unknown = sorted(set(raw) - set(OPTION_KEYS))
    if unknown:
        raise RequestError(400, "unknown_option", f"unknown option {unknown[0]!r}; options: {', '.join(OPTION_KEYS)}")
    limits = service.config.limits
    beam, top_k = raw.get("beam", 0), raw.get("top_k", 0)
    for name, value, high in (("beam", beam, limits.beam), ("top_k", top_k, limits.top_k)):
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= high:
            raise RequestError(400, "bad_option", f"{name} must be an integer from 0 to {high}, got {value!r}")
    if top_k and beam < 2:
        beam = max(top_k, 4)  # alternatives come from the beam
    lexicon = raw.get("lexicon")
    if lexicon is not None and lexicon not in service.lexicons:
        raise RequestError(400, "unknown_lexicon", f"no lexicon {lexicon!r}; loaded: {', '.join(service.lexicons) or 'none'}")
    allowed = raw.get("allowed")
    if allowed is not None and (not isinstance(allowed, str) or not allowed):
        raise RequestError(400, "bad_option", "allowed must be a non-empty string of characters")
    return Options(beam=beam, top_k=top_k, lexicon=lexicon, allowed=allowed)


async def read_body(request: Request, limit: int) -> bytes:
    """The whole body, refused (413) as soon as it passes the limit, whatever Content-Length claims."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise RequestError(413, "body_too_large", f"the body is {declared} bytes; the limit is {limit}")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise RequestError(413, "body_too_large", f"the body passes the limit of {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


async def uploads(request: Request, service: Service) -> tuple[list[tuple[str, bytes]], Options]:
    """(name, bytes) of every image in a multipart or JSON (base64) request, and its options."""
    limits = service.config.limits
    body = await read_body(request, limits.body_bytes)
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind == "application/json":
        try:
            payload = json.loads(body)
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise RequestError(400, "bad_json", "the body is not valid JSON") from None
        if not isinstance(payload, dict) or not isinstance(payload.get("images"), list):
            raise RequestError(400, "bad_json", 'expected {"images": [{"data": BASE64, "name": ...}], "options": {...}}')
        unknown = sorted(set(payload) - {"images", "options"})
        if unknown:
            raise RequestError(400, "unknown_field", f"unknown field {unknown[0]!r}; fields: images, options")
        images = [decoded_item(item, number) for number, item in enumerate(payload["images"][: limits.images + 1])]
        options = payload.get("options")
    elif kind == "multipart/form-data":
        images, options = await multipart(request, body, limits.images)
    else:
        raise RequestError(415, "unsupported_media_type", "send multipart/form-data (files) or application/json (base64)")
    if not images:
        raise RequestError(400, "no_images", "the request holds no image")
    if len(images) > limits.images:
        raise RequestError(413, "too_many_images", f"at most {limits.images} images per request")
    return images, options_from(options, service)


def decoded_item(item: Any, number: int) -> tuple[str, bytes]:
    """One JSON image entry's name and decoded bytes."""
    if not isinstance(item, dict) or not isinstance(item.get("data"), str):
        raise RequestError(400, "bad_json", f"images[{number}] must be an object with a base64 'data' string")
    try:
        return str(item.get("name", f"images[{number}]")), base64.b64decode(item["data"], validate=True)
    except (binascii.Error, ValueError):
        raise RequestError(400, "bad_base64", f"images[{number}].data is not valid base64") from None


async def multipart(request: Request, body: bytes, most: int) -> tuple[list[tuple[str, bytes]], Any]:
    """Files and the optional `options` field (JSON) of a multipart body already read within its limit."""

    async def stream():
        yield body

    try:
        form = await MultiPartParser(request.headers, stream(), max_files=most + 1, max_fields=8).parse()
    except MultiPartException as error:
        raise RequestError(400, "bad_multipart", str(error)) from None
    images = []
    for key, value in form.multi_items():
        if hasattr(value, "read"):
            images.append((value.filename or key, await value.read()))
        elif key != "options":
            raise RequestError(400, "unknown_field", f"unknown form field {key!r}; fields: files, options")
    raw = form.get("options")
    try:
        options = json.loads(raw) if isinstance(raw, str) and raw.strip() else None
    except json.JSONDecodeError:
        raise RequestError(400, "bad_options", "the options field is not valid JSON") from None
    return images, options


async def recognize(request: Request) -> Response:
    """POST /v1/recognize: every image read in one padded batch, in order."""
    service: Service = request.app.state.service
    started, request_id = time.monotonic(), uuid.uuid4().hex
    key_id = service.guard.admit(request)
    images, options = await uploads(request, service)
    pixels = [decode_upload(data, service.config.limits, name) for name, data in images]
    model = service.holder.current
    if options.allowed:
        try:
            allowed_classes(model.codec, options.allowed)
        except ValueError as error:  # allowed characters outside the charset
            raise RequestError(400, "bad_option", str(error)) from None
    lexicon = service.lexicons.get(options.lexicon) if options.lexicon else None
    async with service.guard.queue():
        work = asyncio.wrap_future(service.batcher.submit(Job(model, pixels, options, lexicon)))
        try:
            answers = await asyncio.wait_for(work, service.config.limits.timeout_seconds)
        except TimeoutError:
            raise RequestError(504, "timeout", f"not answered within {service.config.limits.timeout_seconds} s") from None
    for answer, (name, _) in zip(answers, images):
        answer["name"] = name
    service.metrics.images.inc(len(images))
    if service.log is not None:
        service.log.write(request_id, request, key_id, images, pixels, answers, model.sha256, time.monotonic() - started)
    return JSONResponse({"id": request_id, "model": model.sha256[:16], "results": answers})


async def reload_model(request: Request) -> Response:
    """POST /v1/model/reload (admin key): check a new model, then swap it in; on failure the old one keeps serving."""
    service: Service = request.app.state.service
    service.guard.admit_admin(request)
    body = await read_body(request, 64 * 1024)
    try:
        path = json.loads(body or b"{}").get("path")
    except (json.JSONDecodeError, AttributeError, UnicodeDecodeError):
        path = None
    if not isinstance(path, str) or not path:
        raise RequestError(400, "bad_json", 'expected {"path": "/path/to/model.pt or .onnx"}')
    loop = asyncio.get_running_loop()
    try:
        model = await loop.run_in_executor(None, service.holder.load, Path(path))
    except CheckpointError as error:
        raise RequestError(422, "model_refused", f"{error}; still serving {service.holder.current.path}") from None
    service.metrics.model(model.sha256, model.kind)
    return JSONResponse({"reloaded": True, "model": model.describe()})


async def describe_model(request: Request) -> Response:
    """GET /v1/model: what is served, and the lexicons and limits a client may use."""
    service: Service = request.app.state.service
    if service.holder.current is None:
        raise RequestError(503, "not_ready", "no model is loaded yet")
    config = service.config
    return JSONResponse({**service.holder.current.describe(), "lexicons": sorted(service.lexicons),
                         "bands": {"high": config.bands.high, "low": config.bands.low},
                         "limits": {"images": config.limits.images, "body_bytes": config.limits.body_bytes,
                                    "pixels": config.limits.pixels, "beam": config.limits.beam, "top_k": config.limits.top_k}})


async def live(request: Request) -> Response:
    return JSONResponse({"live": True})


async def ready(request: Request) -> Response:
    service: Service = request.app.state.service
    return JSONResponse({"ready": service.ready}, status_code=200 if service.ready else 503)


async def metrics(request: Request) -> Response:
    service: Service = request.app.state.service
    return Response(generate_latest(service.metrics.registry), media_type=CONTENT_TYPE_LATEST)


async def page(request: Request) -> Response:
    return FileResponse(STATIC / "index.html")


async def refused(request: Request, error: RequestError) -> Response:
    """Every refusal as JSON with its status; counted by code."""
    request.app.state.service.metrics.errors.labels(error.code).inc()
    return JSONResponse(error.body(), status_code=error.status, headers=error.headers)


async def failed(request: Request, error: Exception) -> Response:
    """An unexpected failure: logged with its trace here, a plain 500 to the client (never a stack trace)."""
    logger.exception("request failed")
    request.app.state.service.metrics.errors.labels("internal").inc()
    return JSONResponse({"error": {"code": "internal", "message": "the service failed on this request"}}, status_code=500)


async def not_found(request: Request, error: Exception) -> Response:
    status = getattr(error, "status_code", 404)
    code = {404: "not_found", 405: "method_not_allowed"}.get(status, "http_error")
    return JSONResponse({"error": {"code": code, "message": f"{request.method} {request.url.path}: {code.replace('_', ' ')}"}},
                        status_code=status)


def build_app(service: Service) -> Starlette:
    """The Starlette app over a service (the model is loaded by the lifespan, so /health/live answers at once)."""
    from contextlib import asynccontextmanager

    @asynccontextmanager
    async def lifespan(app):
        await asyncio.get_running_loop().run_in_executor(None, service.start)
        yield
        service.batcher.close()

    routes = [
        Route("/", page), Route("/v1/recognize", recognize, methods=["POST"]),
        Route("/v1/model", describe_model), Route("/v1/model/reload", reload_model, methods=["POST"]),
        Route("/health/live", live), Route("/health/ready", ready), Route("/metrics", metrics),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]
    app = Starlette(routes=routes, lifespan=lifespan, exception_handlers={
        RequestError: refused, Exception: failed, 404: not_found, 405: not_found})
    app.state.service = service
    app.add_middleware(service.guard.middleware_class(), service=service)
    return app
