"""A small FastAPI auth service that records its session events with sessionwatch.

It has the host app's two session settings: a token stays valid TOKEN_EXPIRATION_MINUTES
without a refresh, and a refresh is refused once the user has made no request for
ACTIVITY_THRESHOLD_MINUTES. Tokens are random strings kept in memory; keep your own token
handling and add the `metrics` calls. Run it from the repository root with:

    SESSIONWATCH_REDIS_URL=redis://localhost:6379/0 .venv/bin/uvicorn examples.fastapi_app:app
"""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from fastapi import FastAPI, HTTPException, Request
from sessionwatch.api_hooks import AsyncSessionMetrics, ClientIPResolver, RecorderConfig

TOKEN_EXPIRATION_MINUTES = 480
ACTIVITY_THRESHOLD_MINUTES = 15
REDIS_URL = os.environ.get("SESSIONWATCH_REDIS_URL", "redis://localhost:6379/0")

client_ip = ClientIPResolver(trusted_proxies=["10.0.0.0/8"])  # your load balancers


@dataclass
class Session:
    session_id: str
    user_id: str
    site: str
    expires_at: float
    last_activity: float


sessions: dict[str, Session] = {}  # access token -> session


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    # Buffered by default. from_env() reads SESSIONWATCH_PREFIX, SESSIONWATCH_IP_MODE, ...
    app.state.metrics = AsyncSessionMetrics.from_url(REDIS_URL, config=RecorderConfig.from_env())
    yield
    await app.state.metrics.aclose()  # writes what is still buffered


app = FastAPI(lifespan=lifespan)


def session_of(request: Request) -> tuple[str, Session | None]:
    token = request.headers.get("authorization", "").removeprefix("Bearer ")
    return token, sessions.get(token)


def issue_token(session: Session, now: float) -> dict[str, object]:
    token = secrets.token_urlsafe(24)
    sessions[token] = session
    session.expires_at = now + TOKEN_EXPIRATION_MINUTES * 60
    return {"access_token": token, "expires_in": session.expires_at - now}


@app.post("/auth/login")
async def login(user: str, site: str, request: Request) -> dict[str, object]:
    now = time.time()
    session = Session(secrets.token_urlsafe(12), user, site, now, now)
    answer = issue_token(session, now)
    await request.app.state.metrics.session_started(
        session.session_id, user_id=user, site=site, ip=client_ip.from_request(request),
        expires_at=session.expires_at,
    )
    return answer


@app.get("/api/ping")
async def ping(request: Request) -> dict[str, bool]:
    """Record the user's activity, as any request of your app does; a refresh does not."""
    _, session = session_of(request)
    if session is None or session.expires_at <= time.time():
        raise HTTPException(401, {"reason": "expired"})
    session.last_activity = time.time()
    return {"ok": True}


@app.post("/auth/refresh")
async def refresh(request: Request) -> dict[str, object]:
    metrics, ip, now = request.app.state.metrics, client_ip.from_request(request), time.time()
    token, session = session_of(request)
    if session is None:
        await metrics.refresh_failed("invalid", ip=ip)
        raise HTTPException(401, {"reason": "invalid"})
    del sessions[token]  # each refresh rotates the token
    event_fields = {"user_id": session.user_id, "site": session.site, "ip": ip}
    if now - session.last_activity > ACTIVITY_THRESHOLD_MINUTES * 60:
        await metrics.refresh_failed("inactive", session_id=session.session_id, **event_fields)
        await metrics.session_ended(session.session_id, forced=True, reason="inactive",
                                    **event_fields)
        raise HTTPException(401, {"reason": "inactive"})
    answer = issue_token(session, now)
    await metrics.refresh_succeeded(session.session_id, expires_at=session.expires_at,
                                    **event_fields)
    return answer


@app.post("/auth/logout", status_code=204)
async def logout(request: Request) -> None:
    token, session = session_of(request)
    if session is not None:
        del sessions[token]
        await request.app.state.metrics.session_ended(
            session.session_id, user_id=session.user_id, site=session.site,
            ip=client_ip.from_request(request),
        )
