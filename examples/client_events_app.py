"""Receive the refresh failures that only the browser saw, from the banner's session keeper.

The keeper posts them to POST /v1/sessions/client-events once the network is back; each
accepted event counts as refresh_failed(reason="network", source="client"). Run it from the
repository root with:

    SESSIONWATCH_REDIS_URL=redis://localhost:6379/0 .venv/bin/uvicorn examples.client_events_app:app
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, HTTPException, Request
from sessionwatch.api_hooks import AsyncSessionMetrics, ClientIPResolver, RecorderConfig
from sessionwatch.api_hooks.client_events import ClientIdentity, client_events_router

metrics = AsyncSessionMetrics.from_url(
    os.environ.get("SESSIONWATCH_REDIS_URL", "redis://localhost:6379/0"),
    config=RecorderConfig.from_env(),
)
resolver = ClientIPResolver(trusted_proxies=["10.0.0.0/8"])  # your load balancers

# Filled by your login handler: access token -> the session it belongs to.
SESSIONS: dict[str, ClientIdentity] = {}


async def current_session(request: Request) -> ClientIdentity:
    """Return the session of the request's bearer token; use your app's own check instead."""
    token = request.headers.get("authorization", "").removeprefix("Bearer ")
    if token not in SESSIONS:
        raise HTTPException(401, "invalid or missing bearer token")
    return SESSIONS[token]


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    yield
    await metrics.aclose()  # writes what is still buffered


app = FastAPI(lifespan=lifespan)
app.include_router(
    client_events_router(metrics, authenticate=current_session, client_ip=resolver.from_request)
)
