"""Bearer-token guard of the exporter's admin API."""

from __future__ import annotations

import hmac
from collections.abc import Callable

from fastapi import HTTPException, Request, status

NO_TOKEN_DETAIL = (
    "admin API disabled: no admin token is configured; set SESSIONWATCH_ADMIN_TOKEN or "
    "SESSIONWATCH_ADMIN_TOKEN_FILE (or --admin-token-file) and restart the exporter"
)


def bearer_token_guard(token: str | None) -> Callable[[Request], None]:
    """Return a FastAPI dependency that accepts only `Authorization: Bearer <token>`.

    The comparison takes constant time. Neither the expected nor the presented token ever
    appears in a response or a log line.
    """
    expected = token.encode("utf-8") if token else None

    def require_admin_token(request: Request) -> None:
        if expected is None:
            raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, NO_TOKEN_DETAIL)
        header = request.headers.get("authorization", "")
        scheme, _, presented = header.partition(" ")
        if scheme.lower() != "bearer" or not presented:
            raise HTTPException(
                status.HTTP_401_UNAUTHORIZED,
                "missing bearer token: send 'Authorization: Bearer <admin token>'",
                headers={"WWW-Authenticate": "Bearer"},
            )
        if not hmac.compare_digest(presented.strip().encode("utf-8"), expected):
            raise HTTPException(
                status.HTTP_401_UNAUTHORIZED,
                "invalid bearer token",
                headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
            )

    return require_admin_token
