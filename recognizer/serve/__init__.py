"""The recognizer service: an HTTP API and a web page over one model, with limits, keys, metrics and reloads."""

from __future__ import annotations

from pathlib import Path

from recognizer.serve.config import ServeConfig, load_serve_config


def run_server(model: Path, config: ServeConfig) -> None:
    """Serve until SIGTERM or Ctrl-C; in-flight requests finish first (uvicorn's graceful shutdown)."""
    import uvicorn

    from recognizer.serve.app import Service, build_app

    app = build_app(Service(config, model))
    uvicorn.run(app, host=config.host, port=config.port, log_level="info", access_log=False,
                timeout_graceful_shutdown=int(config.limits.timeout_seconds) + 5)


__all__ = ["ServeConfig", "load_serve_config", "run_server"]
