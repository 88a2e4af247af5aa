"""The refresh endpoint that the end-to-end benchmark loads, served by uvicorn in its own process.

Like the demo's `/auth/refresh`: decode and verify the Bearer JWT (HS256), sign a renewed
one, record the refresh. `BENCH_HOOKS` picks the recorder: `off`, `buffered` or `direct`
(`AsyncSessionMetrics` either way); `BENCH_REDIS_URL`, `BENCH_PREFIX` and `BENCH_JWT_SECRET`
(hex) configure it. Serve with ``uvicorn --factory bench.refresh_app:app_from_env``.
"""

from __future__ import annotations

import os
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import jwt
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sessionwatch.api_hooks import AsyncSessionMetrics, RecorderConfig

HOOK_MODES = ("off", "buffered", "direct")
TOKEN_LIFETIME = 480 * 60


def create_app(hooks: str, redis_url: str, prefix: str, secret: bytes) -> FastAPI:
    if hooks not in HOOK_MODES:
        raise ValueError(f"invalid BENCH_HOOKS {hooks!r}: use one of {', '.join(HOOK_MODES)}")
    metrics: AsyncSessionMetrics | None = None
    if hooks != "off":
        metrics = AsyncSessionMetrics.from_url(
            redis_url, config=RecorderConfig(prefix=prefix, socket_timeout=1, connect_timeout=1),
            buffered=hooks == "buffered")

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        if metrics is not None:
            await metrics.aclose()


    app = FastAPI(lifespan=lifespan)

    @app.post("/auth/refresh", response_model=None)
    async def refresh(request: Request) -> dict[str, Any] | JSONResponse:
        _, _, token = request.headers.get("authorization", "").partition(" ")
        try:
            claims = jwt.decode(token, secret, algorithms=["HS256"],
                                options={"require": ["exp", "sid"]})
        except jwt.PyJWTError:
            return JSONResponse({"detail": {"reason": "invalid"}}, status_code=401)
        now = time.time()
        expires_at = now + TOKEN_LIFETIME
        renewed = jwt.encode({**claims, "iat": int(now), "exp": int(expires_at)}, secret,
                             algorithm="HS256")
        if metrics is not None:
            await metrics.refresh_succeeded(claims["sid"], user_id=claims.get("sub"),
                                            site=claims.get("site"),
                                            ip=request.client.host if request.client else None,
                                            expires_at=expires_at)
        return {"access_token": renewed, "token_type": "Bearer", "expires_at": expires_at}

    return app


def app_from_env() -> FastAPI:
    return create_app(os.environ.get("BENCH_HOOKS", "off"),
                      os.environ["BENCH_REDIS_URL"],
                      os.environ.get("BENCH_PREFIX", "bench-e2e"),
                      bytes.fromhex(os.environ["BENCH_JWT_SECRET"]))
