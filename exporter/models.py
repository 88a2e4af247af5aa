"""Response models of the admin JSON API, so its OpenAPI document describes the real JSON.

The documents themselves are built as dicts in `summaries` (the CLI prints the same ones);
these models only declare and check their shape. Field names and order follow `summaries`
exactly, because the admin widget reads that JSON.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RankingItem(_Strict):
    """One member of a failure ranking: a client network, a site or a reason."""

    key: str
    count: int


class SiteCount(_Strict):
    site: str
    count: int


class ActiveSessions(_Strict):
    total: int
    by_site: list[SiteCount] = Field(description="Sites with active sessions, busiest first.")


class RefreshCounts(_Strict):
    success: int
    failure: int
    failure_ratio: float | None = Field(
        description="failure / (success + failure); null when the window has no refresh."
    )
    failures_by_reason: dict[str, int] = Field(description="Every known reason, 0 included.")


class ForcedLogouts(_Strict):
    total: int
    by_reason: dict[str, int]


class TopErrors(_Strict):
    ip: list[RankingItem]
    site: list[RankingItem]
    reason: list[RankingItem]


class SummaryResponse(_Strict):
    """`GET /metrics`: the admin widget's summary of one window."""

    window: str
    generated_at: str = Field(description="UTC time of the response, ISO 8601.")
    window_start: int = Field(description="Start of the first bucket, Unix seconds.")
    window_end: int = Field(description="Redis server time of the response, Unix seconds.")
    alert_threshold: float
    active: ActiveSessions
    refresh: RefreshCounts
    forced_logouts: ForcedLogouts
    top_errors: TopErrors


class TopErrorsResponse(_Strict):
    """`GET /top-errors`: one page of a failure ranking."""

    by: str
    window: str
    items: list[RankingItem]
    total: int = Field(description="Distinct members in the whole ranking.")
    offset: int
    limit: int
    next_offset: int | None = Field(description="Offset of the next page; null on the last.")
    generated_at: str


class TimePoint(_Strict):
    start: int = Field(description="Start of the bucket, Unix seconds.")
    success: int
    failure: int
    failures_by_reason: dict[str, int] = Field(description="Reasons with failures only.")
    forced_logouts: int


class TimeseriesResponse(_Strict):
    """`GET /timeseries`: counts per bucket, oldest first."""

    window: str
    step_seconds: int
    points: list[TimePoint]
    generated_at: str


class ErrorResponse(BaseModel):
    """Body of every error response: what failed and what to do next."""

    detail: str


class ValidationErrorResponse(BaseModel):
    """Body of a 422: a sentence for an invalid value, or FastAPI's list of errors for a
    parameter of the wrong type."""

    detail: str | list[dict[str, Any]]


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """Return the OpenAPI `responses` entries of the given error statuses."""
    descriptions = {
        401: ("missing or invalid bearer token", ErrorResponse),
        422: ("invalid query parameter", ValidationErrorResponse),
        503: ("Redis unavailable, or the admin API is disabled (no token configured)",
              ErrorResponse),
    }
    return {status: {"model": descriptions[status][1], "description": descriptions[status][0]}
            for status in statuses}
