"""Recorder, exporter and CLI behind Redis Sentinel, including a failover during traffic."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient
from sessionwatch.api_hooks import AsyncSessionMetrics, SessionMetrics
from sessionwatch.api_hooks.buffered import BufferConfig
from sessionwatch.api_hooks.connection import redis_from_url
from sessionwatch.api_hooks.keys import KeySchema
from sessionwatch.exporter.app import create_app
from sessionwatch.exporter.cli import cli
from sessionwatch.exporter.reader import SessionStatsReader
from sessionwatch.exporter.settings import ExporterSettings

from ..support.cluster import LocalSentinel
from ..support.exposition import parse_samples, sample_value
from .conftest import health_value, recorder_config
from .scenario import check_scenario, record_scenario, record_scenario_async

pytestmark = pytest.mark.timeout(120)

TRAFFIC_PAUSE = 0.005  # about 200 events per second
FLUSH_INTERVAL = 0.1
# A flush acknowledged by the old master this long before it died may not have reached the
# replica yet, because replication is asynchronous. On loopback the replica trails by far less.
REPLICATION_WINDOW = 1.0
# Acknowledgements seen this soon after the kill still came from the old master: no new
# master can exist before the Sentinel's down-after-milliseconds (2 s) has passed.
ACK_GRACE = 0.2


def reader_for(url: str, prefix: str) -> SessionStatsReader:
    return SessionStatsReader(redis_from_url(url, 2.0), KeySchema(prefix))


def test_sentinel_url_serves_recorder_exporter_cli(sentinel: LocalSentinel,
                                                   prefix: str) -> None:
    with SessionMetrics.from_url(sentinel.url, config=recorder_config(prefix)) as metrics:
        record_scenario(metrics)
    reader = reader_for(sentinel.url, prefix)
    check_scenario(reader)
    reader.client.close()

    with TestClient(create_app(ExporterSettings(redis_url=sentinel.url, prefix=prefix))) as api:
        samples = parse_samples(api.get("/metrics").text)
    result = CliRunner().invoke(cli, ["--redis-url", sentinel.url, "--prefix", prefix,
                                      "active", "--json"], catch_exceptions=False)

    assert sample_value(samples, "sessionwatch_redis_up") == 1
    assert sample_value(samples, "session_active") == 34
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["total"] == 34


async def test_sentinel_url_serves_async_recorder(sentinel: LocalSentinel, prefix: str) -> None:
    metrics = AsyncSessionMetrics.from_url(sentinel.url, config=recorder_config(prefix))
    try:
        await record_scenario_async(metrics)
    finally:
        await metrics.aclose()

    reader = reader_for(sentinel.url, prefix)
    check_scenario(reader)
    reader.client.close()


@dataclass
class Traffic:
    """A thread recording about 200 events per second until stopped."""

    metrics: SessionMetrics
    sent_success: int = 0
    sent_failure: int = 0
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        number = 0
        while not self.stop.is_set():
            if number % 5 == 4:
                self.metrics.refresh_failed("network", site="Lyon", ip="203.0.113.5")
                self.sent_failure += 1
            else:
                self.metrics.refresh_succeeded(f"s{number % 100}", site="Lyon")
                self.sent_success += 1
            number += 1
            time.sleep(TRAFFIC_PAUSE)


@dataclass
class Acknowledged:
    """Events of each flushed batch, with the monotonic instant Redis acknowledged it."""

    batches: list[tuple[float, int]] = field(default_factory=list)

    def events_between(self, start: float, end: float) -> int:
        return sum(events for at, events in self.batches if start <= at <= end)


def track_acknowledgements(metrics: SessionMetrics, monkeypatch: pytest.MonkeyPatch
                           ) -> Acknowledged:
    state = metrics._buffered
    assert state is not None
    acknowledged = Acknowledged()
    written = state.written

    def record_then_forget() -> None:
        acknowledged.batches.append((time.monotonic(), state.pending[0][1].events))
        written()

    monkeypatch.setattr(state, "written", record_then_forget)
    return acknowledged


def redis_up(api: TestClient) -> float | None:
    return sample_value(parse_samples(api.get("/metrics").text), "sessionwatch_redis_up")


def wait_until(check: Callable[[], object], timeout: float, failure: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise AssertionError(f"{failure} within {timeout} s")


@pytest.fixture
def sentinel_api(sentinel: LocalSentinel, prefix: str) -> Iterator[TestClient]:
    settings = ExporterSettings(redis_url=sentinel.url, prefix=prefix, redis_timeout=0.5)
    with TestClient(create_app(settings)) as api:
        yield api


@pytest.mark.slow
def test_sentinel_failover_loses_only_unreplicated_flushes(
    sentinel: LocalSentinel, sentinel_api: TestClient, prefix: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """SIGKILL the master during traffic: buffered events wait, then reach the new master.

    Bound asserted: recorded <= sent (a flush whose reply was lost is retried with the same
    write id, so it never counts twice) and recorded >= sent minus the events of the flushes
    that the old master acknowledged in its last second (replication is asynchronous, so
    those may never have reached the replica that the Sentinel promoted).
    """
    config = recorder_config(prefix, socket_timeout=0.05, connect_timeout=0.05,
                             breaker_cooldown=0.2, breaker_max_cooldown=1.0)
    metrics = SessionMetrics.from_url(sentinel.url, config=config, buffered=True,
                                      buffer_config=BufferConfig(flush_interval=FLUSH_INTERVAL))
    acknowledged = track_acknowledgements(metrics, monkeypatch)
    traffic = Traffic(metrics)
    thread = threading.Thread(target=traffic.run)
    thread.start()
    try:
        time.sleep(1.5)
        assert redis_up(sentinel_api) == 1
        old_port = sentinel.master_port()

        killed_at = time.monotonic()
        sentinel.node_on(old_port).kill()
        assert redis_up(sentinel_api) == 0
        new_master = sentinel.wait_for_new_master(old_port)
        wait_until(lambda: redis_up(sentinel_api) == 1, 30, "the exporter did not recover")
        time.sleep(1.0)
    finally:
        traffic.stop.set()
        thread.join(10)
    wait_until(metrics.flush, 10, "the recorder did not write its buffer to the new master")
    metrics.close()

    reader = reader_for(sentinel.url, prefix)
    totals = reader.totals()
    reader.client.close()
    sent = traffic.sent_success + traffic.sent_failure
    recorded = totals.success_total + totals.failure_total
    at_risk = acknowledged.events_between(killed_at - REPLICATION_WINDOW, killed_at + ACK_GRACE)
    samples = parse_samples(sentinel_api.get("/metrics").text)

    assert new_master.port != old_port
    assert totals.success_total <= traffic.sent_success
    assert totals.failure_total <= traffic.sent_failure
    assert sent - at_risk <= recorded <= sent
    assert metrics.pending_events == 0
    assert health_value("sessionwatch_recorder_errors_total", prefix) > 0
    for cause in ("redis_error", "breaker_open", "buffer_full"):
        assert health_value("sessionwatch_events_dropped_total", prefix, cause=cause) == 0
    assert sample_value(samples, "sessionwatch_redis_up") == 1
    assert sample_value(samples, "session_refresh_success_total",
                        site="Lyon") == totals.success_total
