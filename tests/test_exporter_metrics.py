"""The exporter's /metrics: exact exposition, counter behaviour, and scrapes during outages."""

from __future__ import annotations

import contextlib
import importlib
import re
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
import redis
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.openmetrics.parser import text_string_to_metric_families as om_families
from sessionwatch.api_hooks import RecorderConfig, SessionMetrics
from sessionwatch.api_hooks.keys import KeySchema
from sessionwatch.api_hooks.normalize import REASONS, SOURCES
from sessionwatch.exporter import collector as collector_module
from sessionwatch.exporter.app import create_app
from sessionwatch.exporter.collector import SessionCollector
from sessionwatch.exporter.reader import SessionStatsReader
from sessionwatch.exporter.settings import ExporterSettings

from .support.events import write_events_at
from .support.exporter import served_exporter
from .support.exposition import Samples, parse_samples, sample_value, series_of
from .support.servers import RedisServer, UvicornThread, free_port

EXPECTED_EXPOSITION = """\
# HELP session_refresh_success_total Successful session refreshes.
# TYPE session_refresh_success_total counter
session_refresh_success_total{site="Lyon"} 3.0
# HELP session_refresh_failure_total Failed session refreshes, by reason and by where the \
failure was seen (server or client).
# TYPE session_refresh_failure_total counter
session_refresh_failure_total{reason="expired",site="Lyon",source="client"} 1.0
session_refresh_failure_total{reason="expired",site="Lyon",source="server"} 0.0
session_refresh_failure_total{reason="inactive",site="Lyon",source="client"} 0.0
session_refresh_failure_total{reason="inactive",site="Lyon",source="server"} 0.0
session_refresh_failure_total{reason="invalid",site="Lyon",source="client"} 0.0
session_refresh_failure_total{reason="invalid",site="Lyon",source="server"} 0.0
session_refresh_failure_total{reason="network",site="Lyon",source="client"} 0.0
session_refresh_failure_total{reason="network",site="Lyon",source="server"} 0.0
session_refresh_failure_total{reason="other",site="Lyon",source="client"} 0.0
session_refresh_failure_total{reason="other",site="Lyon",source="server"} 0.0
session_refresh_failure_total{reason="rate_limited",site="Lyon",source="client"} 0.0
session_refresh_failure_total{reason="rate_limited",site="Lyon",source="server"} 0.0
session_refresh_failure_total{reason="revoked",site="Lyon",source="client"} 0.0
session_refresh_failure_total{reason="revoked",site="Lyon",source="server"} 0.0
session_refresh_failure_total{reason="server_error",site="Lyon",source="client"} 0.0
session_refresh_failure_total{reason="server_error",site="Lyon",source="server"} 0.0
# HELP session_logout_forced_total Sessions ended by the server, by reason.
# TYPE session_logout_forced_total counter
session_logout_forced_total{reason="expired",site="Lyon"} 0.0
session_logout_forced_total{reason="inactive",site="Lyon"} 0.0
session_logout_forced_total{reason="invalid",site="Lyon"} 0.0
session_logout_forced_total{reason="network",site="Lyon"} 0.0
session_logout_forced_total{reason="other",site="Lyon"} 0.0
session_logout_forced_total{reason="rate_limited",site="Lyon"} 0.0
session_logout_forced_total{reason="revoked",site="Lyon"} 1.0
session_logout_forced_total{reason="server_error",site="Lyon"} 0.0
# HELP session_started_total Sessions started (logins).
# TYPE session_started_total counter
session_started_total{site="Lyon"} 1.0
# HELP session_ended_total Sessions ended by the user (logouts).
# TYPE session_ended_total counter
session_ended_total{site="Lyon"} 0.0
# HELP session_active Sessions whose expiry is in the future, all sites.
# TYPE session_active gauge
session_active 1.0
# HELP session_active_by_site Sessions whose expiry is in the future, per site.
# TYPE session_active_by_site gauge
session_active_by_site{site="Lyon"} 1.0
# HELP session_refresh_failure_ratio Failed refreshes divided by all refreshes over the window \
(absent with no traffic).
# TYPE session_refresh_failure_ratio gauge
session_refresh_failure_ratio{window="15m"} 0.25
# HELP sessionwatch_redis_up Whether the last scrape could read Redis (1) or not (0).
# TYPE sessionwatch_redis_up gauge
sessionwatch_redis_up 1.0
# HELP sessionwatch_scrape_errors_total Scrapes of this exporter that could not read Redis.
# TYPE sessionwatch_scrape_errors_total counter
sessionwatch_scrape_errors_total 0.0
# HELP sessionwatch_scrape_duration_seconds Time this scrape spent reading Redis, in seconds.
# TYPE sessionwatch_scrape_duration_seconds gauge
sessionwatch_scrape_duration_seconds DURATION
"""

COUNTERS = ("session_refresh_success_total", "session_refresh_failure_total",
            "session_logout_forced_total", "session_started_total", "session_ended_total")


@pytest.fixture
def reader(redis_server: RedisServer, prefix: str) -> Iterator[SessionStatsReader]:
    client = redis_server.client()
    yield SessionStatsReader(client, KeySchema(prefix))
    client.close()


@pytest.fixture
def raw_client(redis_server: RedisServer) -> Iterator[redis.Redis]:
    client = redis_server.client()
    yield client
    client.close()


def collect(reader: SessionStatsReader, max_sites: int = 100) -> str:
    """Return the exposition of a registry holding only the session collector."""
    registry = CollectorRegistry()
    registry.register(SessionCollector(reader, max_sites))
    return generate_latest(registry).decode("utf-8")


def counter_values(samples: Samples) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {key: value for key, value in samples.items() if key[0] in COUNTERS}


def test_exporter_exposition_exact_text(
    metrics: SessionMetrics, reader: SessionStatsReader
) -> None:
    metrics.session_started("s1", site="Lyon")
    for _ in range(3):
        metrics.refresh_succeeded("s1", site="Lyon")
    metrics.refresh_failed("expired", site="Lyon", source="client")
    metrics.session_ended("s2", forced=True, reason="revoked", site="Lyon")

    text = collect(reader)

    duration = re.compile(r"^(sessionwatch_scrape_duration_seconds) \S+$", re.MULTILINE)
    assert duration.sub(r"\1 DURATION", text) == EXPECTED_EXPOSITION


def test_exporter_first_scrape_lists_every_reason(
    metrics: SessionMetrics, reader: SessionStatsReader
) -> None:
    metrics.refresh_succeeded("s1", site="Lyon")

    samples = parse_samples(collect(reader))

    for reason in REASONS:
        for source in SOURCES:
            assert sample_value(samples, "session_refresh_failure_total", site="Lyon",
                                reason=reason, source=source) == 0, (reason, source)
        assert sample_value(samples, "session_logout_forced_total", site="Lyon",
                            reason=reason) == 0, reason
    assert sample_value(samples, "session_refresh_success_total", site="Lyon") == 1


def test_exporter_empty_prefix_exports_zero_series(reader: SessionStatsReader) -> None:
    samples = parse_samples(collect(reader))

    assert sample_value(samples, "session_active") == 0
    assert sample_value(samples, "sessionwatch_redis_up") == 1
    assert sample_value(samples, "session_refresh_failure_total", site="unknown",
                        reason="expired", source="server") == 0
    assert series_of(samples, "session_refresh_failure_ratio") == {}


def test_exporter_ratio_absent_without_refreshes(
    metrics: SessionMetrics, reader: SessionStatsReader
) -> None:
    metrics.session_started("s1", site="Lyon")
    metrics.session_ended("s1", site="Lyon")

    samples = parse_samples(collect(reader))

    assert series_of(samples, "session_refresh_failure_ratio") == {}
    assert sample_value(samples, "sessionwatch_redis_up") == 1
    assert sample_value(samples, "session_started_total", site="Lyon") == 1


def test_exporter_ratio_counts_only_recent_window(
    raw_client: redis.Redis, reader: SessionStatsReader, prefix: str
) -> None:
    now = raw_client.time()[0]
    write_events_at(raw_client, prefix, now - 3600, failures=50)  # older than 15 minutes
    write_events_at(raw_client, prefix, now, successes=9, failures=1)

    samples = parse_samples(collect(reader))

    assert sample_value(samples, "session_refresh_failure_ratio", window="15m") == 0.1
    assert sample_value(samples, "session_refresh_failure_total", site="Lyon",
                        reason="expired", source="server") == 51


def test_exporter_counters_never_decrease_when_buckets_expire(
    raw_client: redis.Redis, reader: SessionStatsReader, prefix: str
) -> None:
    now = raw_client.time()[0]
    for minutes_ago in range(12):
        write_events_at(raw_client, prefix, now - 60 * minutes_ago, successes=9, failures=1,
                        ip="203.0.113.0/24")
    buckets = sorted(raw_client.scan_iter(match=KeySchema(prefix).bucket_pattern()))
    previous = counter_values(parse_samples(collect(reader)))
    ratios = []

    for key in buckets:
        raw_client.pexpire(key, 1)
        time.sleep(0.005)
        samples = parse_samples(collect(reader))
        current = counter_values(samples)
        assert current.keys() == previous.keys()
        for series, value in current.items():
            assert value >= previous[series], series
        previous = current
        ratios.append(sample_value(samples, "session_refresh_failure_ratio", window="15m"))

    assert not list(raw_client.scan_iter(match=KeySchema(prefix).bucket_pattern()))
    assert sample_value(previous, "session_refresh_failure_total", site="Lyon",
                        reason="expired", source="server") == 12
    assert sample_value(previous, "session_refresh_success_total", site="Lyon") == 108
    assert set(ratios) <= {0.1, None}
    assert ratios[-1] is None


def test_exporter_site_folding_keeps_other_monotonic(
    raw_client: redis.Redis, reader: SessionStatsReader, prefix: str
) -> None:
    now = raw_client.time()[0]
    registry = CollectorRegistry()
    registry.register(SessionCollector(reader, max_sites=3))
    write_events_at(raw_client, prefix, now, site="A", successes=10)
    write_events_at(raw_client, prefix, now, site="B", successes=9)
    write_events_at(raw_client, prefix, now, site="C", failures=5)
    write_events_at(raw_client, prefix, now, site="D", successes=1)
    first = parse_samples(generate_latest(registry).decode())

    write_events_at(raw_client, prefix, now, site="C", successes=10)  # C is now the busiest
    second = parse_samples(generate_latest(registry).decode())

    labels = {dict(labels)["site"] for labels in series_of(second, "session_started_total")}
    assert len(labels) <= 3
    assert sample_value(first, "session_refresh_failure_total", site="other",
                        reason="expired", source="server") == 5
    for series, value in counter_values(first).items():
        if series in counter_values(second):
            assert counter_values(second)[series] >= value, series


def test_exporter_site_labels_survive_restart(
    raw_client: redis.Redis, reader: SessionStatsReader, prefix: str
) -> None:
    now = raw_client.time()[0]
    write_events_at(raw_client, prefix, now, site="A", successes=10)
    write_events_at(raw_client, prefix, now, site="B", successes=9)
    write_events_at(raw_client, prefix, now, site="C", successes=1)
    before = counter_values(parse_samples(collect(reader, max_sites=3)))

    # C becomes the busiest; a fresh collector (a restarted exporter or another replica)
    # must still fold it into "other" rather than give it a label and lower "other".
    write_events_at(raw_client, prefix, now, site="C", successes=50)
    after = counter_values(parse_samples(collect(reader, max_sites=3)))

    labels = {dict(labels)["site"] for labels in series_of(after, "session_refresh_success_total")}
    assert labels == {"A", "B", "other"}
    for series, value in before.items():
        assert after[series] >= value, series


def test_exporter_max_sites_folds_rest_into_other(
    raw_client: redis.Redis, reader: SessionStatsReader, prefix: str
) -> None:
    now = raw_client.time()[0]
    for number in range(10):
        write_events_at(raw_client, prefix, now, site=f"site-{number}", successes=number + 1)

    samples = parse_samples(collect(reader, max_sites=4))

    success = {dict(labels)["site"]: value
               for labels, value in series_of(samples, "session_refresh_success_total").items()}
    assert success == {"site-9": 10, "site-8": 9, "site-7": 8, "other": 28}


def test_exporter_openmetrics_negotiated_and_parses(
    metrics: SessionMetrics, redis_url: str, prefix: str
) -> None:
    metrics.refresh_failed("expired", site="Lyon")

    with served_exporter(redis_url, prefix) as exporter:
        response = exporter.http.get(
            "/metrics", headers={"Accept": "application/openmetrics-text; version=1.0.0"})

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/openmetrics-text")
    families = {family.name: family for family in om_families(response.text)}
    failures = {tuple(sorted(sample.labels.items())): sample.value
                for sample in families["session_refresh_failure"].samples}
    assert failures[(("reason", "expired"), ("site", "Lyon"), ("source", "server"))] == 1


def test_exporter_app_created_twice_registers_once(redis_url: str, prefix: str) -> None:
    settings = ExporterSettings(redis_url=redis_url, prefix=prefix)
    first = create_app(settings)
    importlib.reload(collector_module)
    health = importlib.import_module("sessionwatch.api_hooks.health")
    importlib.reload(health)
    second = create_app(settings)
    recorder = SessionMetrics.from_url(
        redis_url, config=RecorderConfig(prefix=prefix, socket_timeout=2, connect_timeout=2))
    recorder.refresh_succeeded("s1", site="Lyon")
    recorder.close()

    with UvicornThread(first) as one, UvicornThread(second) as two:
        texts = [httpx.get(f"{one.url}/metrics", timeout=30).text,
                 httpx.get(f"{two.url}/metrics", timeout=30).text]

    for text in texts:
        assert sample_value(parse_samples(text), "session_refresh_success_total",
                            site="Lyon") == 1
        assert "Duplicated timeseries" not in text


@pytest.fixture
def private_redis() -> Iterator[RedisServer]:
    server = RedisServer(extra_args=("--enable-debug-command", "yes")).start()
    yield server
    server.kill()


def assert_health_only(response_status: int, text: str) -> Samples:
    """Check a scrape made while Redis could not be read; return its samples."""
    assert response_status == 200
    assert "Traceback" not in text
    samples = parse_samples(text)
    assert sample_value(samples, "sessionwatch_redis_up") == 0
    assert sample_value(samples, "sessionwatch_scrape_errors_total") == 1
    assert series_of(samples, "session_refresh_success_total") == {}
    return samples


def test_exporter_scrape_with_redis_stopped(private_redis: RedisServer, prefix: str) -> None:
    recorder = SessionMetrics.from_url(private_redis.url, config=RecorderConfig(
        prefix=prefix, socket_timeout=2, connect_timeout=2))
    recorder.refresh_succeeded("s1", site="Lyon")
    recorder.close()

    with served_exporter(private_redis.url, prefix) as exporter:
        assert sample_value(exporter.scrape(), "sessionwatch_redis_up") == 1
        private_redis.stop()
        started = time.monotonic()
        response = exporter.http.get("/metrics")
        elapsed = time.monotonic() - started

    assert elapsed < 3.0
    assert_health_only(response.status_code, response.text)


def test_exporter_scrape_with_redis_asleep(private_redis: RedisServer, prefix: str) -> None:
    recorder = SessionMetrics.from_url(private_redis.url, config=RecorderConfig(
        prefix=prefix, socket_timeout=2, connect_timeout=2))
    recorder.refresh_succeeded("s1", site="Lyon")
    recorder.close()
    sleeper = private_redis.client(socket_timeout=30)

    def sleep_redis() -> None:
        with contextlib.suppress(redis.RedisError):  # the server is killed at teardown
            sleeper.execute_command("DEBUG", "SLEEP", "15")

    with served_exporter(private_redis.url, prefix) as exporter:
        assert sample_value(exporter.scrape(), "sessionwatch_redis_up") == 1
        thread = threading.Thread(target=sleep_redis, daemon=True)
        thread.start()
        time.sleep(0.3)
        started = time.monotonic()
        response = exporter.http.get("/metrics")
        elapsed = time.monotonic() - started

    assert elapsed < 3.0
    assert_health_only(response.status_code, response.text)


def test_exporter_scrape_with_nothing_listening(prefix: str) -> None:
    with served_exporter(f"redis://127.0.0.1:{free_port()}/0", prefix) as exporter:
        responses = [exporter.http.get("/metrics") for _ in range(3)]

    samples = parse_samples(responses[-1].text)
    assert [response.status_code for response in responses] == [200, 200, 200]
    assert sample_value(samples, "sessionwatch_redis_up") == 0
    assert sample_value(samples, "sessionwatch_scrape_errors_total") == 3
