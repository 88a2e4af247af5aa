"""The admin JSON endpoints, as an APIRouter that a host API mounts under its own auth.

    from fastapi import Depends
    from sessionwatch.exporter.router import sessions_admin_router

    app.include_router(sessions_admin_router(reader, dependencies=[Depends(require_admin)]))

serves `/v1/admin/sessions/metrics`, `/top-errors` and `/timeseries` from the host.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

from fastapi import APIRouter, HTTPException, Query, params, status
from redis.exceptions import RedisError

from . import summaries
from .models import SummaryResponse, TimeseriesResponse, TopErrorsResponse, error_responses
from .reader import MAX_PAGE_SIZE, SessionStatsReader
from .windows import InvalidWindowError, Window, parse_window

_log = logging.getLogger(__name__)
DIMENSIONS = ("ip", "site", "reason")


def _window(name: str) -> Window:
    try:
        return parse_window(name)
    except InvalidWindowError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from None


def _read(action: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    try:
        return action()
    except (RedisError, OSError) as exc:
        _log.warning("admin API could not read Redis: %s", type(exc).__name__)
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            f"Redis unavailable ({type(exc).__name__}); retry later",
        ) from None


def sessions_admin_router(
    reader: SessionStatsReader,
    *,
    dependencies: Sequence[params.Depends] = (),
    alert_threshold: float = 0.05,
    prefix: str = "/v1/admin/sessions",
) -> APIRouter:
    """Build the router; `dependencies` carry the host's admin authentication."""
    router = APIRouter(prefix=prefix, dependencies=list(dependencies), tags=["sessions"],
                       responses=error_responses(422, 503))

    @router.get("/metrics", response_model=SummaryResponse)
    def session_summary(window: str = Query("15m", description="5m, 15m, 1h, 24h or 7d")
                        ) -> dict[str, Any]:
        """Return active sessions, refresh counts, failure ratio and top errors of a window."""
        chosen = _window(window)
        return _read(lambda: summaries.summary(reader, chosen, alert_threshold))

    @router.get("/top-errors", response_model=TopErrorsResponse)
    def top_errors(
        by: str = Query("ip", description="ip, site or reason"),
        window: str = Query("15m", description="5m, 15m, 1h, 24h or 7d"),
        limit: int = Query(20, description=f"page size, 1 to {MAX_PAGE_SIZE}"),
        offset: int = Query(0, description="number of entries to skip"),
    ) -> dict[str, Any]:
        """Return one page of the failure ranking by client IP, site or reason."""
        if by not in DIMENSIONS:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT,
                                f"invalid by {by[:20]!r}: use one of ip, site, reason")
        if not 1 <= limit <= MAX_PAGE_SIZE:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT,
                                f"invalid limit {limit}: use 1 to {MAX_PAGE_SIZE}")
        if not 0 <= offset <= 10_000_000:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT,
                                f"invalid offset {offset}: use 0 to 10000000")
        chosen = _window(window)
        return _read(lambda: summaries.top_errors(reader, by, chosen, offset, limit))

    @router.get("/timeseries", response_model=TimeseriesResponse)
    def timeseries(window: str = Query("1h", description="5m, 15m, 1h, 24h or 7d")
                   ) -> dict[str, Any]:
        """Return successes, failures by reason and forced logouts per bucket of a window."""
        chosen = _window(window)
        return _read(lambda: summaries.timeseries(reader, chosen))

    return router
