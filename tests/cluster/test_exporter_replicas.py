"""Two exporters on the same Redis, as behind a load balancer, return the same figures.

The first exporter starts before any event is recorded and the second after, so any state
an exporter built up on its own would show as a difference.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from sessionwatch.api_hooks import SessionMetrics
from sessionwatch.api_hooks.keys import HOUR
from sessionwatch.api_hooks.plan import WriteBatch
from sessionwatch.api_hooks.scripts import batch_calls, run_calls
from sessionwatch.exporter.app import create_app
from sessionwatch.exporter.settings import ExporterSettings

from ..support.exposition import Samples, parse_samples
from ..support.servers import RedisServer, UvicornThread
from .conftest import recorder_config
from .scenario import record_scenario

ADMIN_TOKEN = "replica-test-admin-token-0123456789"
SHARDS = 2
# Series about the exporter process itself rather than the sessions it reads.
PROCESS_SERIES = ("process_", "python_", "sessionwatch_scrape_duration_seconds")
JSON_PATHS = [
    *(f"/v1/admin/sessions/metrics?window={window}" for window in ("5m", "15m", "1h", "24h",
                                                                     "7d")),
    *(f"/v1/admin/sessions/top-errors?by={by}&window=15m&limit=3&offset={offset}"
      for by in ("ip", "site", "reason") for offset in (0, 3)),
    *(f"/v1/admin/sessions/timeseries?window={window}" for window in ("1h", "24h")),
]


@pytest.fixture(params=["single", "cluster"])
def redis_url_of_kind(request: pytest.FixtureRequest) -> str:
    if request.param == "cluster":
        return str(request.getfixturevalue("cluster_url"))
    server: RedisServer = request.getfixturevalue("redis_server")
    return server.url


def session_samples(exposition: str) -> Samples:
    return {key: value for key, value in parse_samples(exposition).items()
            if not key[0].startswith(PROCESS_SERIES)}


def without_generated_at(document: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in document.items() if key != "generated_at"}


def same_second(fetch: Callable[[], Any]) -> Any:
    """Run `fetch` until one run starts and ends within one wall-clock second.

    Both exporters then read the same minute buckets and the same `window_end`.
    """
    for _ in range(5):
        started = int(time.time())
        result = fetch()
        if int(time.time()) == started:
            return result
    raise AssertionError("could not query both exporters within one second in 5 tries")


@pytest.fixture
def exporter_urls(redis_url_of_kind: str, prefix: str) -> Iterator[tuple[str, str]]:
    settings = ExporterSettings(redis_url=redis_url_of_kind, prefix=prefix,
                                admin_token=ADMIN_TOKEN, active_shards=SHARDS)
    with UvicornThread(create_app(settings)) as first:
        with SessionMetrics.from_url(redis_url_of_kind,
                                     config=recorder_config(prefix, active_shards=SHARDS)
                                     ) as metrics:
            record_scenario(metrics)
        httpx.get(first.url + "/metrics", timeout=10).raise_for_status()
        with UvicornThread(create_app(settings)) as second:
            yield first.url, second.url


def test_exporters_same_metrics(exporter_urls: tuple[str, str]) -> None:
    def fetch() -> list[Samples]:
        return [session_samples(httpx.get(url + "/metrics", timeout=10).text)
                for url in exporter_urls]

    first, second = same_second(fetch)

    assert first == second
    assert first[("session_active", frozenset())] == 34
    assert first[("sessionwatch_redis_up", frozenset())] == 1


def test_exporters_same_json(exporter_urls: tuple[str, str]) -> None:
    headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}

    def fetch(path: str) -> list[dict[str, Any]]:
        documents = []
        for url in exporter_urls:
            response = httpx.get(url + path, headers=headers, timeout=10)
            assert response.status_code == 200, response.text
            documents.append(without_generated_at(response.json()))
        return documents

    documents = {}
    for path in JSON_PATHS:
        first, second = same_second(lambda path=path: fetch(path))
        assert first == second, path
        documents[path] = first

    assert documents["/v1/admin/sessions/metrics?window=15m"]["active"]["total"] == 34


def late_failures(url: str, prefix: str, hours_ago: int, count: int) -> None:
    """Write failures into a bucket that closed `hours_ago` hours ago, as a buffered flush
    retried after a long outage does (events keep the time they happened at)."""
    with SessionMetrics.from_url(url, config=recorder_config(prefix)) as metrics:
        at = time.time() - hours_ago * HOUR
        batch = WriteBatch()
        metrics.planner.failure(batch, at, "Lyon", "expired", "server",
                                metrics.ip_policy.apply("203.0.113.7"), count)
        run_calls(metrics.client, batch_calls(metrics.planner, batch, time.time()), None)


@pytest.mark.parametrize("kind", ["single", "cluster"])
def test_exporters_same_rankings_after_late_writes(request: pytest.FixtureRequest, kind: str,
                                                   prefix: str) -> None:
    url = (str(request.getfixturevalue("cluster_url")) if kind == "cluster"
           else request.getfixturevalue("redis_server").url)
    settings = ExporterSettings(redis_url=url, prefix=prefix, admin_token=ADMIN_TOKEN)
    headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    path = "/v1/admin/sessions/top-errors?by=ip&window=24h"
    late_failures(url, prefix, 3, 5)

    with UvicornThread(create_app(settings)) as first:
        before = httpx.get(first.url + path, headers=headers, timeout=10).json()
        late_failures(url, prefix, 3, 2)
        with UvicornThread(create_app(settings)) as second:
            answers = [without_generated_at(httpx.get(server.url + path, headers=headers,
                                                      timeout=10).json())
                       for server in (first, second)]

    assert before["items"] == [{"key": "203.0.113.0/24", "count": 5}]
    assert answers[1]["items"] == [{"key": "203.0.113.0/24", "count": 7}]
    assert answers[0] == answers[1]
