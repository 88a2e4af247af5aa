"""The admin JSON API: authentication, validation, pagination, time series and outages."""

from __future__ import annotations

import itertools
import logging
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import redis
from fastapi import Depends, FastAPI, Header, HTTPException
from sessionwatch.api_hooks import RecorderConfig, SessionMetrics
from sessionwatch.api_hooks.keys import KeySchema
from sessionwatch.exporter.reader import SessionStatsReader
from sessionwatch.exporter.router import sessions_admin_router

from .support.events import write_events_at
from .support.exporter import ADMIN_TOKEN, ServedExporter, served_exporter
from .support.exposition import parse_samples, sample_value
from .support.servers import RedisServer, UvicornThread

ADMIN_PATHS = ("/metrics", "/top-errors", "/timeseries")
MISSING = "missing bearer token: send 'Authorization: Bearer <admin token>'"


@pytest.fixture
def exporter(redis_url: str, prefix: str) -> Iterator[ServedExporter]:
    with served_exporter(redis_url, prefix) as served:
        yield served


@pytest.fixture(scope="module")
def empty_exporter(redis_server: RedisServer) -> Iterator[ServedExporter]:
    """One exporter for the tests that never write: authentication and validation."""
    with served_exporter(redis_server.url, "admin-api-empty") as served:
        yield served


@pytest.fixture
def raw_client(redis_server: RedisServer) -> Iterator[redis.Redis]:
    client = redis_server.client()
    yield client
    client.close()


@pytest.mark.parametrize("path", ADMIN_PATHS)
@pytest.mark.parametrize(("header", "detail"), [
    pytest.param(None, MISSING, id="no-header"),
    pytest.param("Bearer wrong-token-0123456789", "invalid bearer token", id="wrong-token"),
    pytest.param(f"Basic {ADMIN_TOKEN}", MISSING, id="basic-scheme"),
    pytest.param("Bearer", MISSING, id="empty-token"),
    pytest.param(f"Bearer {ADMIN_TOKEN}x", "invalid bearer token", id="token-plus-one"),
    pytest.param(f"Bearer {ADMIN_TOKEN[:-1]}", "invalid bearer token", id="token-prefix"),
])
def test_admin_api_rejects_missing_or_wrong_token(
    empty_exporter: ServedExporter, path: str, header: str | None, detail: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    headers = {} if header is None else {"Authorization": header}

    with caplog.at_level(logging.DEBUG):
        response = empty_exporter.http.get(f"/v1/admin/sessions{path}", headers=headers)

    assert response.status_code == 401
    assert response.json() == {"detail": detail}
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert ADMIN_TOKEN not in response.text
    assert ADMIN_TOKEN not in caplog.text


@pytest.mark.parametrize("path", ADMIN_PATHS)
def test_admin_api_without_configured_token_is_unavailable(
    redis_url: str, prefix: str, path: str
) -> None:
    with served_exporter(redis_url, prefix, admin_token=None) as exporter:
        response = exporter.admin(path)

    assert response.status_code == 503
    detail = response.json()["detail"]
    assert "no admin token is configured" in detail
    assert "SESSIONWATCH_ADMIN_TOKEN" in detail


@pytest.mark.parametrize("path", ADMIN_PATHS)
@pytest.mark.parametrize("window", ["3m", "", "15M", pytest.param("x" * 500, id="500-chars")])
def test_admin_api_rejects_unknown_window(
    empty_exporter: ServedExporter, path: str, window: str
) -> None:
    response = empty_exporter.admin(path, window=window)

    assert response.status_code == 422
    detail = response.json()["detail"]
    assert detail.startswith("invalid window ")
    assert detail.endswith("use one of 5m, 15m, 1h, 24h, 7d")
    assert len(detail) < 100


@pytest.mark.parametrize(("params", "fragment"), [
    pytest.param({"by": "user"}, "invalid by 'user': use one of ip, site, reason", id="by"),
    pytest.param({"limit": 0}, "invalid limit 0: use 1 to 500", id="limit-0"),
    pytest.param({"limit": 501}, "invalid limit 501: use 1 to 500", id="limit-501"),
    pytest.param({"offset": -1}, "invalid offset -1: use 0 to 10000000", id="offset"),
])
def test_admin_api_rejects_bad_page_parameters(
    empty_exporter: ServedExporter, params: dict[str, Any], fragment: str
) -> None:
    response = empty_exporter.admin("/top-errors", **params)

    assert response.status_code == 422
    assert response.json()["detail"] == fragment


def test_admin_api_rejects_non_integer_limit(empty_exporter: ServedExporter) -> None:
    response = empty_exporter.admin("/top-errors", limit="many")

    assert response.status_code == 422
    assert "limit" in response.text


def test_admin_api_pages_cover_each_ip_once(
    redis_url: str, prefix: str, exporter: ServedExporter
) -> None:
    recorder = SessionMetrics.from_url(
        redis_url, config=RecorderConfig(prefix=prefix, socket_timeout=2, connect_timeout=2))
    expected = {}
    for number in range(45):
        network = f"10.{number}.0.0/24"
        expected[network] = 1 + number % 4
        for _ in range(expected[network]):
            recorder.refresh_failed("expired", site="Lyon", ip=f"10.{number}.0.{number + 1}")
    recorder.close()

    pages = []
    offset: int | None = 0
    while offset is not None:
        response = exporter.admin("/top-errors", by="ip", window="15m", limit=20, offset=offset)
        assert response.status_code == 200
        pages.append(response.json())
        offset = pages[-1]["next_offset"]
        assert len(pages) <= 3

    assert [len(page["items"]) for page in pages] == [20, 20, 5]
    assert [page["next_offset"] for page in pages] == [20, 40, None]
    assert [page["offset"] for page in pages] == [0, 20, 40]
    assert {page["total"] for page in pages} == {45}
    items = [item for page in pages for item in page["items"]]
    assert len(items) == 45
    assert {item["key"]: item["count"] for item in items} == expected
    counts = [item["count"] for item in items]
    assert counts == sorted(counts, reverse=True)


def test_admin_api_page_past_end_is_empty(empty_exporter: ServedExporter) -> None:
    response = empty_exporter.admin("/top-errors", by="site", offset=100)

    assert response.status_code == 200
    body = response.json()
    assert body["items"] == []
    assert body["total"] == 0
    assert body["next_offset"] is None


def test_admin_api_summary_reports_window(
    metrics: SessionMetrics, exporter: ServedExporter
) -> None:
    metrics.session_started("s1", site="Lyon")
    metrics.session_started("s2", site="Paris")
    for _ in range(3):
        metrics.refresh_succeeded("s1", site="Lyon")
    metrics.refresh_failed("expired", site="Lyon", ip="203.0.113.77")
    metrics.session_ended("s2", forced=True, reason="revoked", site="Paris")

    body = exporter.admin("/metrics", window="5m").json()

    assert body["window"] == "5m"
    assert body["window_end"] - body["window_start"] < 300
    assert body["window_end"] - body["window_start"] >= 240
    assert body["alert_threshold"] == 0.05
    assert body["active"] == {"total": 1, "by_site": [{"site": "Lyon", "count": 1}]}
    assert body["refresh"]["success"] == 3
    assert body["refresh"]["failure"] == 1
    assert body["refresh"]["failure_ratio"] == 0.25
    assert body["refresh"]["failures_by_reason"]["expired"] == 1
    assert sum(body["refresh"]["failures_by_reason"].values()) == 1
    assert body["forced_logouts"] == {"total": 1, "by_reason": {"revoked": 1}}
    assert body["top_errors"] == {
        "ip": [{"key": "203.0.113.0/24", "count": 1}],
        "site": [{"key": "Lyon", "count": 1}],
        "reason": [{"key": "expired", "count": 1}],
    }


def test_admin_api_summary_ratio_null_without_refreshes(empty_exporter: ServedExporter) -> None:
    body = empty_exporter.admin("/metrics").json()

    assert body["refresh"]["failure_ratio"] is None
    assert body["refresh"]["success"] == 0
    assert body["active"]["total"] == 0


@pytest.mark.parametrize(("window", "step", "points"), [
    ("5m", 60, 5), ("15m", 60, 15), ("1h", 60, 60), ("24h", 3600, 24), ("7d", 3600, 168),
])
def test_admin_api_timeseries_buckets_line_up(
    raw_client: redis.Redis, prefix: str, exporter: ServedExporter,
    window: str, step: int, points: int,
) -> None:
    now = raw_client.time()[0]
    recorded = {0: (5, 1), 2 * 60: (3, 2), 50 * 60: (7, 0), 5 * 3600: (1, 4)}
    for seconds_ago, (successes, failures) in recorded.items():
        write_events_at(raw_client, prefix, now - seconds_ago, successes=successes,
                        failures=failures)

    body = exporter.admin("/timeseries", window=window).json()

    starts = [point["start"] for point in body["points"]]
    assert body["step_seconds"] == step
    assert len(starts) == points
    assert all(later - earlier == step for earlier, later in itertools.pairwise(starts))
    assert all(start % step == 0 for start in starts)
    # The current bucket comes last (the one after `now` if a boundary passed meanwhile).
    assert starts[-1] - step <= now < starts[-1] + step
    in_window = [(s, f) for ago, (s, f) in recorded.items() if now - ago >= starts[0]]
    assert sum(point["success"] for point in body["points"]) == sum(s for s, _ in in_window)
    assert sum(point["failure"] for point in body["points"]) == sum(f for _, f in in_window)
    for point in body["points"]:
        assert sum(point["failures_by_reason"].values()) == point["failure"]
        bucket_events = [(s, f) for ago, (s, f) in recorded.items()
                         if point["start"] <= now - ago < point["start"] + step]
        assert point["success"] == sum(s for s, _ in bucket_events), point
        assert point["failure"] == sum(f for _, f in bucket_events), point


def test_admin_api_redis_down_answers_503(prefix: str) -> None:
    server = RedisServer().start()
    try:
        with served_exporter(server.url, prefix) as exporter:
            assert exporter.admin("/metrics").status_code == 200
            server.stop()
            started = time.monotonic()
            scrape = exporter.http.get("/metrics")
            responses = {path: exporter.admin(path) for path in ADMIN_PATHS}
            elapsed = time.monotonic() - started
    finally:
        server.stop()

    assert elapsed < 5.0
    assert scrape.status_code == 200
    assert sample_value(parse_samples(scrape.text), "sessionwatch_redis_up") == 0
    for path, response in responses.items():
        assert response.status_code == 503, path
        assert response.json()["detail"].startswith("Redis unavailable ("), path
        assert response.json()["detail"].endswith("); retry later"), path


def host_app(reader: SessionStatsReader) -> FastAPI:
    """A host API that mounts the admin router under its own admin check."""

    def require_host_admin(x_role: str | None = Header(default=None)) -> None:
        if x_role != "admin":
            raise HTTPException(403, "admins only")

    app = FastAPI()
    app.include_router(sessions_admin_router(reader, dependencies=[Depends(require_host_admin)],
                                             alert_threshold=0.1))

    @app.get("/v1/ping")
    def ping() -> dict[str, str]:
        return {"status": "ok"}

    return app


def test_admin_router_mounted_under_host_dependency(
    metrics: SessionMetrics, redis_server: RedisServer, prefix: str
) -> None:
    metrics.refresh_failed("revoked", site="Lyon", ip="198.51.100.7")
    reader = SessionStatsReader(redis_server.client(), KeySchema(prefix))

    with UvicornThread(host_app(reader)) as server, \
            httpx.Client(base_url=server.url, timeout=30) as http:
        denied = {path: http.get(f"/v1/admin/sessions{path}") for path in ADMIN_PATHS}
        allowed = {path: http.get(f"/v1/admin/sessions{path}", headers={"X-Role": "admin"})
                   for path in ADMIN_PATHS}
        ping = http.get("/v1/ping")

    assert ping.json() == {"status": "ok"}
    for path in ADMIN_PATHS:
        assert denied[path].status_code == 403, path
        assert denied[path].json() == {"detail": "admins only"}
        assert allowed[path].status_code == 200, path
    summary = allowed["/metrics"].json()
    assert summary["alert_threshold"] == 0.1
    assert summary["refresh"]["failure"] == 1
    assert allowed["/top-errors"].json()["items"] == [{"key": "198.51.100.0/24", "count": 1}]
