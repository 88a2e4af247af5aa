"""A real Prometheus scrapes the exporter; promtool and prometheus_client check the format."""

from __future__ import annotations

import json
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families
from sessionwatch.api_hooks import SessionMetrics

from .support.exporter import served_exporter
from .support.prometheus import PrometheusServer, promtool_check_metrics

HOSTILE_SITES = ('a"b', "c\\", "line1\nline2", "тест ✓ 🙂")


def promql_string(text: str) -> str:
    """Quote `text` as a PromQL string literal (JSON escapes are valid PromQL escapes)."""
    return json.dumps(text, ensure_ascii=False)


def single_value(result: list[dict[str, Any]]) -> float | None:
    return float(result[0]["value"][1]) if len(result) == 1 else None


def record_traffic(metrics: SessionMetrics) -> None:
    metrics.session_started("s1", site="Lyon")
    metrics.session_started("s2", site="Lyon")
    for _ in range(7):
        metrics.refresh_succeeded("s1", site="Lyon")
    for _ in range(3):
        metrics.refresh_failed("expired", site="Lyon", ip="203.0.113.77")
    metrics.session_ended("s2", forced=True, reason="revoked", site="Lyon")
    for number, site in enumerate(HOSTILE_SITES, start=1):
        for _ in range(number):
            metrics.refresh_failed("network", site=site, source="client")


@pytest.mark.slow
@pytest.mark.prometheus
def test_prometheus_scrape_returns_recorded_values(
    metrics: SessionMetrics, redis_url: str, prefix: str
) -> None:
    record_traffic(metrics)
    expected = {
        'session_refresh_success_total{site="Lyon"}': 7,
        'session_refresh_failure_total{site="Lyon",reason="expired",source="server"}': 3,
        'session_refresh_failure_total{site="Lyon",reason="revoked",source="server"}': 0,
        'session_logout_forced_total{site="Lyon",reason="revoked"}': 1,
        'session_started_total{site="Lyon"}': 2,
        "session_active": 1,
        'session_active_by_site{site="Lyon"}': 1,
        "sessionwatch_redis_up": 1,
        'up{job="sessionwatch"}': 1,
        'session_refresh_failure_ratio{window="15m"}': (3 + 10) / (7 + 3 + 10),
    }
    for number, site in enumerate(HOSTILE_SITES, start=1):
        selector = (f"session_refresh_failure_total{{site={promql_string(site)},"
                    f'reason="network",source="client"}}')
        expected[selector] = number

    with served_exporter(redis_url, prefix) as exporter, \
            PrometheusServer([f"127.0.0.1:{exporter.server.port}"]) as prometheus:
        prometheus.wait_for("up", lambda result: single_value(result) == 1, timeout=60)
        values = {expr: single_value(prometheus.query(expr)) for expr in expected}
        target = prometheus.targets()[0]

    assert target["health"] == "up"
    assert target["lastError"] == ""
    for expr, value in expected.items():
        assert values[expr] == pytest.approx(value), expr


def test_prometheus_exposition_passes_promtool(metrics: SessionMetrics, redis_url: str,
                                               prefix: str) -> None:
    record_traffic(metrics)

    with served_exporter(redis_url, prefix) as exporter:
        exposition = exporter.exposition()

    result = promtool_check_metrics(exposition)
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")
    names = {family.name for family in text_string_to_metric_families(exposition)}
    assert {"session_refresh_success", "session_refresh_failure", "session_logout_forced",
            "session_started", "session_ended", "session_active", "session_active_by_site",
            "session_refresh_failure_ratio", "sessionwatch_redis_up",
            "sessionwatch_scrape_errors", "sessionwatch_scrape_duration_seconds"} <= names


def test_prometheus_promtool_detects_broken_exposition() -> None:
    """Guards the check above: promtool must report a counter without `_total`."""
    broken = "# HELP requests Requests.\n# TYPE requests counter\nrequests 1\n"

    result = promtool_check_metrics(broken)

    assert result.returncode != 0
    assert "requests" in result.stdout + result.stderr
