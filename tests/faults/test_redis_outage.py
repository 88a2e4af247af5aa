"""Redis stops while the demo refresh endpoint serves steady traffic from a separate client.

The service (uvicorn, buffered `AsyncSessionMetrics`, default 50 ms timeouts) and the load
client run as processes of their own; Redis is a private server that saves its data when
stopped, so that after the restart the totals can be compared with everything sent.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sessionwatch.api_hooks.keys import KeySchema
from sessionwatch.exporter.reader import EventCounts, SessionStatsReader

from ..support.load_client import Record
from ..support.servers import RedisServer
from ..support.service_process import (
    ServiceProcess,
    load_records,
    refresh_service,
    start_load_client,
)
from .timeline import LatencySummary, between

RATE = 40  # refreshes per second
TIMEOUT_MS = 50  # the recorder's default socket timeout


@pytest.fixture
def persistent_redis() -> Iterator[RedisServer]:
    server = RedisServer().start()
    yield server
    server.stop()


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.2)


def read_totals(server: RedisServer, prefix: str) -> EventCounts:
    client = server.client()
    try:
        return SessionStatsReader(client, KeySchema(prefix)).totals()
    finally:
        client.close()


def sent_counts(records: list[Record]) -> Counter[tuple[str, int | str]]:
    return Counter((kind, status) for _, _, kind, status in records)


def run_outage(server: RedisServer, service: ServiceProcess, out: Path, *, before: float,
               outage: float, after: float) -> tuple[float, float, dict[str, Any]]:
    """Drive the load through an outage; return its start, its end (Unix time) and the
    recorder's health just before Redis came back."""
    client = start_load_client(service.url, out, rate=RATE, duration=before + outage + after)
    time.sleep(before)
    stopped_at = time.time()
    server.stop_keeping_data()
    time.sleep(outage)
    during = service.recorder()
    server.start()
    restarted_at = time.time()
    assert client.wait(before + outage + after + 60) == 0
    return stopped_at, restarted_at, during


def outage_log_lines(service: ServiceProcess) -> list[str]:
    return [line for line in service.log_lines() if " sessionwatch.api_hooks." in line]


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_outage_sixty_seconds_fails_no_request(
    persistent_redis: RedisServer, prefix: str, tmp_path: Path
) -> None:
    out = tmp_path / "records.json"
    with refresh_service(persistent_redis.url, prefix, tmp_path / "service.log") as service:
        stopped_at, restarted_at, during = run_outage(persistent_redis, service, out,
                                                      before=10, outage=60, after=15)
        wait_until(lambda: service.recorder()["pending"] == 0, 60,
                   "the buffered events to reach Redis")
        written_at = time.time()
        health = service.recorder()
    records = load_records(out)
    sent = sent_counts(records)
    totals = read_totals(persistent_redis, prefix)
    phases = {
        "before": LatencySummary.of(between(records, 0, stopped_at)),
        "outage": LatencySummary.of(between(records, stopped_at, restarted_at)),
        "after": LatencySummary.of(between(records, restarted_at, float("inf"))),
    }
    logged = outage_log_lines(service)
    print(f"outage figures: {phases} sent={dict(sent)} during={during} health={health} "
          f"all written at most {written_at - restarted_at:.1f} s after the restart")

    # No request failed, whatever Redis did.
    assert set(sent) == {("login", 200), ("refresh", 200), ("invalid", 401)}
    assert phases["outage"].requests >= 0.9 * RATE * 60
    # The request path never waits on Redis: the outage adds less than one socket timeout.
    assert phases["outage"].p99_ms <= phases["before"].p99_ms + TIMEOUT_MS + 50
    # Events were held during the outage, then written; every one is counted once.
    assert during["breaker_open"] is True
    assert int(during["pending"]) > RATE * 50
    assert sum(totals.started.values()) == sent[("login", 200)]
    assert totals.success_total == sent[("refresh", 200)]
    assert totals.failures_by_reason()["invalid"] == sent[("invalid", 401)]
    assert totals.failure_total == sent[("invalid", 401)]
    assert health["dropped"] == {"redis_error": 0, "breaker_open": 0, "buffer_full": 0,
                                 "shutdown": 0}
    assert health["errors"] >= 1
    # One line when Redis went away and one when it came back, not one per request.
    assert sum("Redis unreachable" in line for line in logged) == 1, logged
    assert sum("recording resumed" in line for line in logged) == 1, logged
    assert len(logged) <= 4, logged


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_outage_past_buffer_capacity_counts_drops(
    persistent_redis: RedisServer, prefix: str, tmp_path: Path
) -> None:
    out = tmp_path / "records.json"
    # About 40 key updates per second of traffic: the queue holds a few seconds of outage.
    with refresh_service(persistent_redis.url, prefix, tmp_path / "service.log",
                         max_pending_updates=200, breaker_max_cooldown=2) as service:
        run_outage(persistent_redis, service, out, before=3, outage=15, after=5)
        wait_until(lambda: service.recorder()["pending"] == 0, 60,
                   "the buffered events to reach Redis")
        health = service.recorder()
    records = load_records(out)
    sent = sent_counts(records)
    totals = read_totals(persistent_redis, prefix)
    recorded = sum(totals.started.values()) + totals.success_total + totals.failure_total
    dropped = health["dropped"]
    print(f"buffer overflow figures: sent={dict(sent)} recorded={recorded} health={health}")

    assert set(sent) == {("login", 200), ("refresh", 200), ("invalid", 401)}
    assert dropped["buffer_full"] > 0
    assert recorded + dropped["buffer_full"] == sum(sent.values())
    assert dropped["redis_error"] == dropped["breaker_open"] == 0
