"""A stand-in for the exporter's admin API, for widget states the real exporter cannot be put in
on demand (a given HTTP error, a malformed body, hostile labels) and for cookie-based host auth.

It serves the same JSON contract from an editable `StubState`, the widget's static files, and
the pages under tests/widget/pages. Every API request is recorded for assertions.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, JSONResponse, PlainTextResponse, Response
from fastapi.staticfiles import StaticFiles

REPO = Path(__file__).resolve().parents[2]
STATIC_DIR = REPO / "exporter" / "static"
PAGES_DIR = Path(__file__).resolve().parent / "pages"
TOKEN = "stub-token-0123456789"
SESSION_COOKIE = ("admin_session", "stub-session")
WINDOW_STEPS = {"5m": (5, 60), "15m": (15, 60), "1h": (60, 60), "24h": (24, 3600),
                "7d": (168, 3600)}


@dataclass
class RecordedRequest:
    path: str
    params: dict[str, str]
    authorization: str | None
    cookie: str | None


@dataclass
class StubState:
    """The data and errors the stub returns; tests change them between requests."""

    active_by_site: dict[str, int] = field(default_factory=dict)
    success: int = 0
    failures: list[tuple[str, str, str]] = field(default_factory=list)  # (ip, site, reason)
    forced_by_reason: dict[str, int] = field(default_factory=dict)
    threshold: float = 0.05
    # When set, every API request gets this status and JSON body (or raw text if a str).
    error: tuple[int, Any] | None = None
    requests: list[RecordedRequest] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def ranking(self, by: str) -> list[tuple[str, int]]:
        index = {"ip": 0, "site": 1, "reason": 2}[by]
        counts: dict[str, int] = {}
        for failure in self.failures:
            counts[failure[index]] = counts.get(failure[index], 0) + 1
        return sorted(counts.items(), key=lambda item: (-item[1], item[0]))

    def requests_to(self, path: str) -> list[RecordedRequest]:
        with self.lock:
            return [r for r in self.requests if r.path.endswith(path)]


def generated_at() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def metrics_body(state: StubState, window: str) -> dict[str, Any]:
    failure = len(state.failures)
    attempts = state.success + failure
    by_reason = {reason: count for reason, count in state.ranking("reason")}
    sites = sorted(state.active_by_site.items(), key=lambda item: (-item[1], item[0]))
    return {
        "window": window,
        "generated_at": generated_at(),
        "window_start": 0,
        "window_end": 0,
        "alert_threshold": state.threshold,
        "active": {"total": sum(state.active_by_site.values()),
                   "by_site": [{"site": s, "count": c} for s, c in sites]},
        "refresh": {"success": state.success, "failure": failure,
                    "failure_ratio": failure / attempts if attempts else None,
                    "failures_by_reason": by_reason},
        "forced_logouts": {"total": sum(state.forced_by_reason.values()),
                           "by_reason": dict(state.forced_by_reason)},
        "top_errors": {by: [{"key": k, "count": c} for k, c in state.ranking(by)[:5]]
                       for by in ("ip", "site", "reason")},
    }


def timeseries_body(state: StubState, window: str) -> dict[str, Any]:
    """Spread the stub's totals over the window's buckets, the remainder in the last one."""
    count, step = WINDOW_STEPS[window]
    now = int(datetime.now(UTC).timestamp())
    first = (now // step - count + 1) * step
    points = []
    for n in range(count):
        share_success = state.success // count + (state.success % count if n == count - 1 else 0)
        failures = len(state.failures)
        share_failure = failures // count + (failures % count if n == count - 1 else 0)
        points.append({"start": first + n * step, "success": share_success,
                       "failure": share_failure, "failures_by_reason": {},
                       "forced_logouts": 0})
    return {"window": window, "step_seconds": step, "points": points,
            "generated_at": generated_at()}


def create_stub_app(state: StubState) -> FastAPI:
    app = FastAPI()

    def guard(request: Request) -> Response | None:
        with state.lock:
            state.requests.append(RecordedRequest(
                request.url.path, dict(request.query_params),
                request.headers.get("authorization"), request.headers.get("cookie")))
        if state.error is not None:
            status, body = state.error
            if isinstance(body, str):
                return PlainTextResponse(body, status_code=status)
            return JSONResponse(body, status_code=status)
        bearer_ok = request.headers.get("authorization") == f"Bearer {TOKEN}"
        cookie_ok = request.cookies.get(SESSION_COOKIE[0]) == SESSION_COOKIE[1]
        if not (bearer_ok or cookie_ok):
            return JSONResponse({"detail": "missing or invalid credentials"}, status_code=401)
        return None

    @app.get("/v1/admin/sessions/metrics")
    def metrics(request: Request, window: str = "15m") -> Response:
        return guard(request) or JSONResponse(metrics_body(state, window))

    @app.get("/v1/admin/sessions/timeseries")
    def timeseries(request: Request, window: str = "1h") -> Response:
        return guard(request) or JSONResponse(timeseries_body(state, window))

    @app.get("/v1/admin/sessions/top-errors")
    def top_errors(request: Request, by: str = "ip", window: str = "15m", limit: int = 20,
                   offset: int = 0) -> Response:
        refused = guard(request)
        if refused:
            return refused
        ranking = state.ranking(by)
        items = ranking[offset:offset + limit]
        following = offset + len(items)
        return JSONResponse({
            "by": by, "window": window, "total": len(ranking), "offset": offset,
            "limit": limit, "next_offset": following if following < len(ranking) else None,
            "items": [{"key": k, "count": c} for k, c in items],
            "generated_at": generated_at(),
        })

    @app.get("/admin")
    def admin() -> Response:
        return FileResponse(STATIC_DIR / "admin.html", media_type="text/html")

    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.mount("/pages", StaticFiles(directory=PAGES_DIR), name="pages")
    return app
