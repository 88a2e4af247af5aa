"""The exporter, its JSON API and `session-stats` reading a 3-master Redis Cluster."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient
from sessionwatch.api_hooks import SessionMetrics
from sessionwatch.exporter.app import create_app
from sessionwatch.exporter.cli import cli
from sessionwatch.exporter.settings import ExporterSettings

from ..support.exposition import parse_samples, sample_value
from .conftest import health_value, recorder_config
from .scenario import EXPECTED_ACTIVE_BY_SITE, EXPECTED_TOP_IP, record_scenario

ADMIN_TOKEN = "cluster-test-admin-token-0123456789"
SHARDS = 4
PAGINATED_IPS = 45


def failures_of_ip(number: int) -> int:
    """Failures recorded from network 10.0.<number>.0/24: ties on purpose (1 to 5)."""
    return number % 5 + 1


def expected_ip_ranking() -> list[tuple[str, int]]:
    """The whole IP ranking: most failures first, ties by member descending (ZREVRANGE)."""
    items = [(f"10.0.{n}.0/24", failures_of_ip(n)) for n in range(PAGINATED_IPS)]
    return sorted(sorted(items, reverse=True), key=lambda item: -item[1])


@pytest.fixture
def recorded(cluster_url: str, prefix: str) -> str:
    """Record the scenario plus failures from 45 networks on the cluster; return the prefix."""
    config = recorder_config(prefix, active_shards=SHARDS)
    with SessionMetrics.from_url(cluster_url, config=config, buffered=True) as metrics:
        record_scenario(metrics)
        for number in range(PAGINATED_IPS):
            for _ in range(failures_of_ip(number)):
                metrics.refresh_failed("invalid", site="Nice", ip=f"10.0.{number}.9")
    return prefix


@pytest.fixture
def api(cluster_url: str, recorded: str) -> Iterator[TestClient]:
    settings = ExporterSettings(redis_url=cluster_url, prefix=recorded, admin_token=ADMIN_TOKEN,
                                active_shards=SHARDS)
    with TestClient(create_app(settings)) as client:
        client.headers["Authorization"] = f"Bearer {ADMIN_TOKEN}"
        yield client


def test_cluster_exporter_metrics_values(api: TestClient) -> None:
    response = api.get("/metrics")
    samples = parse_samples(response.text)

    assert response.status_code == 200
    assert sample_value(samples, "sessionwatch_redis_up") == 1
    assert sample_value(samples, "session_active") == 34
    for site, count in EXPECTED_ACTIVE_BY_SITE.items():
        assert sample_value(samples, "session_active_by_site", site=site) == count
        assert sample_value(samples, "session_started_total", site=site) == 20
        assert sample_value(samples, "session_refresh_success_total", site=site) == 20
    assert sample_value(samples, "session_refresh_failure_total", site="Lyon",
                        reason="expired", source="server") == 2
    assert sample_value(samples, "session_refresh_failure_total", site="Nice",
                        reason="invalid", source="server") == 135
    assert sample_value(samples, "session_logout_forced_total", site="Paris",
                        reason="revoked") == 1
    assert sample_value(samples, "session_ended_total", site="Lyon") == 3
    assert sample_value(samples, "session_refresh_failure_ratio", window="15m") == 140 / 180


def test_cluster_api_summary_and_timeseries(api: TestClient) -> None:
    summary = api.get("/v1/admin/sessions/metrics", params={"window": "24h"})
    series = api.get("/v1/admin/sessions/timeseries", params={"window": "1h"})

    assert summary.status_code == 200, summary.text
    body = summary.json()
    assert body["active"]["total"] == 34
    assert body["active"]["by_site"] == [{"site": "Lyon", "count": 17},
                                         {"site": "Paris", "count": 17}]
    assert body["refresh"]["success"] == 40
    assert body["refresh"]["failure"] == 140
    assert body["forced_logouts"] == {"total": 1, "by_reason": {"revoked": 1}}
    assert body["top_errors"]["reason"][0] == {"key": "invalid", "count": 135}
    assert series.status_code == 200, series.text
    points = series.json()["points"]
    assert len(points) == 60
    assert sum(point["success"] for point in points) == 40
    assert sum(point["failure"] for point in points) == 140


@pytest.mark.parametrize("window", ["15m", "7d"])
def test_cluster_api_top_errors_every_page(api: TestClient, window: str) -> None:
    pages = []
    offset: int | None = 0
    while offset is not None:
        response = api.get("/v1/admin/sessions/top-errors",
                           params={"by": "ip", "window": window, "limit": 20, "offset": offset})
        assert response.status_code == 200, response.text
        pages.append(response.json())
        offset = response.json()["next_offset"]

    networks = {item[0] for item in EXPECTED_TOP_IP}
    items = [(item["key"], item["count"]) for page in pages for item in page["items"]
             if item["key"] not in networks]
    assert [len(page["items"]) for page in pages] == [20, 20, 9]
    assert [page["total"] for page in pages] == [49, 49, 49]
    assert items == expected_ip_ranking()


def run_cli(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.output


def test_cluster_cli_summary_active_top_errors(cluster_url: str, recorded: str) -> None:
    common = ("--redis-url", cluster_url, "--prefix", recorded,
              "--active-shards", str(SHARDS), "--json")

    code, output = run_cli(*common, "summary", "--window", "15m")
    assert code == 0, output
    summary = json.loads(output)
    assert summary["active"]["total"] == 34
    assert summary["refresh"]["failure"] == 140

    code, output = run_cli(*common, "active")
    assert code == 0, output
    assert json.loads(output)["by_site"] == [{"site": "Lyon", "count": 17},
                                             {"site": "Paris", "count": 17}]

    code, output = run_cli(*common, "top-errors", "--by", "ip", "--limit", "20",
                           "--offset", "40")
    assert code == 0, output
    page = json.loads(output)
    assert page["total"] == 49
    assert page["next_offset"] is None
    assert len(page["items"]) == 9

    code, output = run_cli(*common, "check", "--max-failure-ratio", "0.5")
    assert code == 2, output
    assert json.loads(output)["breached"] is True


def test_cluster_cli_command_text_output(cluster_url: str, recorded: str) -> None:
    """The installed `session-stats` entry point, as an operator runs it."""
    result = subprocess.run(
        [str(Path(sys.executable).parent / "session-stats"), "--redis-url", cluster_url,
         "--prefix", recorded, "--active-shards", str(SHARDS), "top-errors", "--by", "site"],
        capture_output=True, text=True, timeout=60, check=False,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )

    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert result.stdout.splitlines() == [
        "Failures by site over 15m: 3 distinct, showing 1-3",
        "    1. Nice   135",
        "    2. Lyon   3",
        "    3. Paris  2",
    ]


def test_cluster_no_redirect_error_logged(cluster_url: str, prefix: str,
                                          caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="sessionwatch")
    config = recorder_config(prefix, active_shards=SHARDS)
    with SessionMetrics.from_url(cluster_url, config=config) as metrics:
        record_scenario(metrics)
    settings = ExporterSettings(redis_url=cluster_url, prefix=prefix, admin_token=ADMIN_TOKEN,
                                active_shards=SHARDS)
    with TestClient(create_app(settings)) as client:
        client.headers["Authorization"] = f"Bearer {ADMIN_TOKEN}"
        for path in ("/metrics", "/v1/admin/sessions/metrics?window=7d",
                     "/v1/admin/sessions/top-errors?window=24h",
                     "/v1/admin/sessions/timeseries?window=24h"):
            assert client.get(path).status_code == 200, path

    logged = [record.getMessage() for record in caplog.records
              if record.levelno >= logging.WARNING]
    assert logged == []
    assert health_value("sessionwatch_recorder_errors_total", prefix) == 0
