"""The exporter's web app: /metrics for Prometheus, the admin JSON API and the /admin page."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from importlib import resources
from pathlib import Path
from typing import Any

from fastapi import Depends, FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from prometheus_client import CollectorRegistry, ProcessCollector
from prometheus_client.exposition import choose_encoder
from sessionwatch.api_hooks.connection import describe_url, redis_from_url
from sessionwatch.api_hooks.keys import KeySchema

from sessionwatch import __version__

from .auth import bearer_token_guard
from .collector import SessionCollector
from .models import error_responses
from .reader import SessionStatsReader
from .router import sessions_admin_router
from .settings import ExporterSettings

_log = logging.getLogger(__name__)
SHOWN_INPUT_CHARACTERS = 20
STATIC_DIR = Path(str(resources.files(__package__).joinpath("static")))


def validation_detail(errors: Sequence[Any]) -> str:
    """Describe FastAPI's validation errors in one sentence, like the router's own 422s, and
    show at most `SHOWN_INPUT_CHARACTERS` of each invalid value instead of echoing it whole."""
    problems = []
    for error in errors[:3]:
        name = str(error["loc"][-1]) if error.get("loc") else "request"
        value_text = str(error.get("input", ""))
        if len(value_text) > SHOWN_INPUT_CHARACTERS:
            value_text = value_text[:SHOWN_INPUT_CHARACTERS] + "…"
        problems.append(f"invalid {name} {value_text!r}: {error['msg']}")
    return "; ".join(problems) or "invalid request"


def create_app(settings: ExporterSettings, reader: SessionStatsReader | None = None) -> FastAPI:
    """Build the exporter app; each call has its own registry, so two apps never collide."""
    if reader is None:
        client = redis_from_url(settings.redis_url, settings.redis_timeout)
        reader = SessionStatsReader(client, KeySchema(settings.prefix, settings.active_shards))
    registry = CollectorRegistry()
    registry.register(SessionCollector(reader, settings.max_sites))
    ProcessCollector(registry=registry)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        _log.info(
            "sessionwatch exporter %s reading %s prefix=%r admin API %s",
            __version__, describe_url(settings.redis_url), settings.prefix,
            "enabled" if settings.admin_token else "disabled (no token configured)",
        )
        yield
        reader.client.close()
        _log.info("sessionwatch exporter stopped")

    app = FastAPI(title="sessionwatch exporter", version=__version__, lifespan=lifespan)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(settings.cors_origins),
            allow_methods=["GET"],
            allow_headers=["Authorization"],
        )
    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse({"detail": validation_detail(exc.errors())}, status_code=422)

    guard = Depends(bearer_token_guard(settings.admin_token))
    app.include_router(
        sessions_admin_router(reader, dependencies=[guard],
                              alert_threshold=settings.alert_threshold),
        responses=error_responses(401),
    )

    @app.get("/metrics", include_in_schema=False)
    def metrics(request: Request) -> Response:
        encoder, content_type = choose_encoder(request.headers.get("accept", ""))
        return Response(encoder(registry), media_type=content_type)

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> Response:
        return JSONResponse({"status": "ok", "version": __version__})

    admin_page = STATIC_DIR / "admin.html"
    if STATIC_DIR.is_dir():
        app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    @app.get("/admin", include_in_schema=False)
    def admin() -> Response:
        if not admin_page.is_file():
            return JSONResponse({"detail": "admin page not installed"}, status_code=404)
        return FileResponse(admin_page, media_type="text/html")

    app.state.registry = registry
    app.state.reader = reader
    return app
