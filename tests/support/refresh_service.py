"""The demo auth service as a uvicorn process of its own, for fault tests under steady load.

Serve with ``python -m uvicorn --factory tests.support.refresh_service:app_from_env``. The
recorder is an `AsyncSessionMetrics` configured by the SESSIONWATCH_* variables
(`RecorderConfig.from_env`: prefix, timeouts) plus:

- ``SWTEST_REDIS_URL``: the Redis to record into;
- ``SWTEST_BUFFERED``: ``1`` for buffered mode (the default), ``0`` for direct mode;
- ``SWTEST_BREAKER_MAX_COOLDOWN``: the breaker's longest wait in seconds (default 30);
- ``SWTEST_MAX_PENDING_UPDATES``: `BufferConfig.max_pending_updates` (default 500,000).

Besides the demo's routes, ``GET /test/recorder`` returns the recorder's health: pending
events, breaker state and this process's `sessionwatch_*` counters for the prefix. Logs go to
stderr, one line each, per-event records silenced so that only lifecycle lines remain.
"""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from prometheus_client import REGISTRY
from sessionwatch.api_hooks import AsyncSessionMetrics, RecorderConfig
from sessionwatch.api_hooks.buffered import BufferConfig
from sessionwatch.api_hooks.health import DROP_CAUSES
from sessionwatch.api_hooks.logs import EVENTS_LOGGER_NAME
from sessionwatch.demo.auth_service import DemoSettings, create_app

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def recorder_health(metrics: AsyncSessionMetrics) -> dict[str, Any]:
    """Return the pending events, breaker state and health counters of `metrics`."""
    prefix = metrics.config.prefix
    errors = REGISTRY.get_sample_value("sessionwatch_recorder_errors_total", {"prefix": prefix})
    dropped = {
        cause: REGISTRY.get_sample_value("sessionwatch_events_dropped_total",
                                         {"prefix": prefix, "cause": cause}) or 0.0
        for cause in DROP_CAUSES
    }
    return {"pending": metrics.pending_events, "breaker_open": metrics.breaker.is_open,
            "errors": errors or 0.0, "dropped": dropped}


def app_from_env() -> FastAPI:
    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT)
    logging.getLogger(EVENTS_LOGGER_NAME).setLevel(logging.WARNING)
    redis_url = os.environ["SWTEST_REDIS_URL"]
    config = RecorderConfig.from_env(
        breaker_max_cooldown=float(os.environ.get("SWTEST_BREAKER_MAX_COOLDOWN", "30")),
    )
    buffer_config = BufferConfig(
        max_pending_updates=int(os.environ.get("SWTEST_MAX_PENDING_UPDATES", "500000")),
    )
    metrics = AsyncSessionMetrics.from_url(
        redis_url, config=config, buffered=os.environ.get("SWTEST_BUFFERED", "1") == "1",
        buffer_config=buffer_config,
    )
    app = create_app(DemoSettings(redis_url=redis_url, prefix=config.prefix), metrics=metrics)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        await metrics.aclose()

    app.router.lifespan_context = lifespan

    @app.get("/test/recorder")
    async def health() -> dict[str, Any]:
        return recorder_health(metrics)

    return app
