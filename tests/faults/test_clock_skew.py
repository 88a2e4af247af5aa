"""Two recorder processes whose clocks differ by 90 s put their events in the same buckets.

Each recorder measures its offset to Redis `TIME` before it plans an event (direct mode: on
its first call; buffered mode: before its first flush plans anything), so buckets follow the
Redis server clock within half a round trip, whatever the host clocks show.
"""

from __future__ import annotations

import multiprocessing
import time

import pytest
import redis
from sessionwatch.api_hooks import RecorderConfig, SessionMetrics
from sessionwatch.api_hooks.buffered import BufferConfig
from sessionwatch.api_hooks.keys import HOUR, MINUTE, KeySchema
from sessionwatch.exporter.reader import EventCounts

from ..support import workers
from ..support.servers import RedisServer

SPAWN = multiprocessing.get_context("spawn")
SKEWS = {"ahead": 45.0, "behind": -45.0}  # 90 s apart: never in the same minute uncorrected
COUNT = 200  # events per process, about 1 s of recording


def counts_of(client: redis.Redis, key: str) -> EventCounts:
    counts = EventCounts()
    counts.add_hash(client.hgetall(key))  # type: ignore[arg-type]
    return counts


def start_of_fresh_minute(client: redis.Redis) -> int:
    """Wait until at most 40 s of the current Redis minute have passed; return the minute."""
    seconds = int(client.time()[0])
    if seconds % MINUTE > 40:
        time.sleep(MINUTE - seconds % MINUTE + 1)
    return int(client.time()[0]) // MINUTE


@pytest.mark.slow
@pytest.mark.parametrize("buffered", [False, True], ids=["direct", "buffered"])
def test_clock_skew_two_processes_share_buckets(
    redis_server: RedisServer, prefix: str, buffered: bool
) -> None:
    client = redis_server.client()
    schema = KeySchema(prefix)
    minute = start_of_fresh_minute(client)
    start = SPAWN.Barrier(len(SKEWS))
    processes = [
        SPAWN.Process(target=workers.record_failures_skewed,
                      args=(redis_server.url, prefix, site, skew, COUNT, buffered, start))
        for site, skew in SKEWS.items()
    ]
    for process in processes:
        process.start()
    for process in processes:
        process.join(60)
    end_minute = int(client.time()[0]) // MINUTE

    assert [process.exitcode for process in processes] == [0, 0]
    assert end_minute == minute, "the recording crossed a minute boundary"
    expected = {(site, "expired", "server"): COUNT for site in SKEWS}
    assert counts_of(client, schema.minute_counts(minute)).failure == expected
    assert counts_of(client, schema.hour_counts(minute * MINUTE // HOUR)).failure == expected
    minutes = {key for key in client.scan_iter(match=schema.bucket_pattern())
               if b":m" in key and b":counts" in key}
    assert minutes == {schema.minute_counts(minute).encode()}
    client.close()


def test_clock_skew_before_first_contact_uses_local_clock(prefix: str) -> None:
    # The documented limit: events that a buffered recorder plans before it ever reached
    # Redis are stamped with the host clock, skew included, as the best estimate there is.
    server = RedisServer()
    skew = 300.0
    recorder = SessionMetrics(
        redis.Redis(host="127.0.0.1", port=server.port, socket_timeout=2,
                    socket_connect_timeout=2),
        config=RecorderConfig(prefix=prefix, breaker_cooldown=0.05, breaker_max_cooldown=0.1),
        buffered=True, buffer_config=BufferConfig(flush_interval=60),
        clock=lambda: time.time() + skew,
    )
    recorder.refresh_failed("expired", site="Lyon")
    assert not recorder.flush()  # nothing listens yet: planned on the local clock
    local_minute = int(time.time() + skew) // MINUTE
    server.start()
    try:
        time.sleep(0.2)
        assert recorder.flush()
        recorder.refresh_failed("expired", site="Lyon")
        assert recorder.flush()
        client = server.client()
        server_minute = int(client.time()[0]) // MINUTE
        schema = KeySchema(prefix)
        early = counts_of(client, schema.minute_counts(local_minute)).failure_total
        later = counts_of(client, schema.minute_counts(server_minute)).failure_total
        client.close()
    finally:
        recorder.close()
        server.stop()

    assert local_minute != server_minute
    assert (early, later) == (1, 1)
