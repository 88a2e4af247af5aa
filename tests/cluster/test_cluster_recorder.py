"""The recorders against a 3-master Redis Cluster: exact counts, sharded active sets,
concurrent writers and reads that span hours stored on different nodes."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator

import pytest
import redis.cluster
from sessionwatch.api_hooks import AsyncSessionMetrics, SessionMetrics
from sessionwatch.api_hooks.buffered import BufferConfig
from sessionwatch.api_hooks.keys import HOUR, KeySchema
from sessionwatch.api_hooks.normalize import hash_session_id
from sessionwatch.api_hooks.plan import WriteBatch
from sessionwatch.api_hooks.scripts import batch_calls, run_calls
from sessionwatch.exporter.reader import SessionStatsReader
from sessionwatch.exporter.windows import parse_window

from ..support.cluster import LocalCluster
from .conftest import health_value, recorder_config
from .scenario import SESSIONS, check_scenario, record_scenario, record_scenario_async

WRITERS = 8
EVENTS_PER_WRITER = 1000


@pytest.fixture
def raw_cluster(cluster: LocalCluster) -> Iterator[redis.cluster.RedisCluster]:
    client = cluster.client(decode_responses=True)
    yield client
    client.close()


def assert_recorder_healthy(prefix: str) -> None:
    assert health_value("sessionwatch_recorder_errors_total", prefix) == 0
    for cause in ("redis_error", "breaker_open", "buffer_full"):
        assert health_value("sessionwatch_events_dropped_total", prefix, cause=cause) == 0, cause


@pytest.mark.parametrize("shards", [1, 4])
@pytest.mark.parametrize("buffered", [False, True], ids=["direct", "buffered"])
def test_cluster_recorder_scenario_exact(cluster_url: str, cluster: LocalCluster, prefix: str,
                                         buffered: bool, shards: int) -> None:
    config = recorder_config(prefix, active_shards=shards)
    with SessionMetrics.from_url(cluster_url, config=config, buffered=buffered) as metrics:
        record_scenario(metrics)

    client = cluster.client()
    try:
        check_scenario(SessionStatsReader(client, KeySchema(prefix, shards)))
    finally:
        client.close()
    assert_recorder_healthy(prefix)


@pytest.mark.parametrize("shards", [1, 4])
@pytest.mark.parametrize("buffered", [False, True], ids=["direct", "buffered"])
async def test_cluster_async_recorder_scenario_exact(cluster_url: str, cluster: LocalCluster,
                                                     prefix: str, buffered: bool,
                                                     shards: int) -> None:
    config = recorder_config(prefix, active_shards=shards)
    metrics = AsyncSessionMetrics.from_url(cluster_url, config=config, buffered=buffered)
    try:
        await record_scenario_async(metrics)
    finally:
        await metrics.aclose()

    client = cluster.client()
    try:
        check_scenario(SessionStatsReader(client, KeySchema(prefix, shards)))
    finally:
        client.close()
    assert_recorder_healthy(prefix)


def test_cluster_active_shards_hold_their_sessions(
    cluster_url: str, raw_cluster: redis.cluster.RedisCluster, prefix: str
) -> None:
    schema = KeySchema(prefix, 4)
    with SessionMetrics.from_url(cluster_url, config=recorder_config(prefix, active_shards=4)
                                 ) as metrics:
        record_scenario(metrics)

    ended = {f"s{number}" for number in range(6)}
    expected: dict[int, set[str]] = {shard: set() for shard in range(4)}
    for number in range(SESSIONS):
        session = f"s{number}"
        digest = hash_session_id(session)
        assert digest is not None
        if session not in ended:
            expected[schema.active_shard(digest)].add(digest)

    for shard, digests in expected.items():
        assert set(raw_cluster.zrange(schema.active_expiry(shard), 0, -1)) == digests, shard
        assert set(raw_cluster.hkeys(schema.active_site_of(shard))) == digests, shard
    assert sum(1 for digests in expected.values() if digests) > 1


@pytest.mark.slow
@pytest.mark.parametrize("buffered", [False, True], ids=["direct", "buffered"])
def test_cluster_concurrent_writers_exact_totals(cluster_url: str, cluster: LocalCluster,
                                                 prefix: str, buffered: bool) -> None:
    buffer_config = BufferConfig(flush_interval=0.05)
    metrics = SessionMetrics.from_url(cluster_url, config=recorder_config(prefix),
                                      buffered=buffered, buffer_config=buffer_config)
    start = threading.Barrier(WRITERS)

    def write(writer: int) -> None:
        start.wait()
        for number in range(EVENTS_PER_WRITER):
            if number % 2:
                metrics.refresh_failed("expired", site=f"site{writer % 3}",
                                       ip=f"10.{writer}.0.1")
            else:
                metrics.refresh_succeeded(f"w{writer}-{number // 2 % 50}",
                                          site=f"site{writer % 3}")

    threads = [threading.Thread(target=write, args=(writer,)) for writer in range(WRITERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    metrics.close()

    half = EVENTS_PER_WRITER // 2
    writers_of_site = Counter(f"site{writer % 3}" for writer in range(WRITERS))
    client = cluster.client()
    try:
        reader = SessionStatsReader(client, KeySchema(prefix))
        totals = reader.totals()
        assert totals.success == Counter({site: n * half for site, n in writers_of_site.items()})
        assert totals.failure == Counter({(site, "expired", "server"): n * half
                                          for site, n in writers_of_site.items()})
        assert reader.window_counts(parse_window("15m")).success_total == WRITERS * half
        ranking = reader.top_errors("ip", parse_window("15m"), limit=50)
        assert sorted(ranking.items) == [(f"10.{writer}.0.0/24", half)
                                         for writer in range(WRITERS)]
        assert reader.active().total == WRITERS * 50
    finally:
        client.close()
    assert_recorder_healthy(prefix)


def test_cluster_reads_span_hours_on_several_nodes(cluster_url: str, cluster: LocalCluster,
                                                   prefix: str) -> None:
    """Failures recorded in each of the last 24 hours are merged from every node."""
    now = time.time()
    with SessionMetrics.from_url(cluster_url, config=recorder_config(prefix)) as metrics:
        batch = WriteBatch()
        for hours_ago in range(24):
            for repeat in range(hours_ago % 3 + 1):
                stored_ip = metrics.ip_policy.apply(f"10.0.{hours_ago}.{repeat}")
                metrics.planner.failure(batch, now - hours_ago * HOUR, f"site{hours_ago}",
                                        "expired", "server", stored_ip)
        run_calls(metrics.client, batch_calls(metrics.planner, batch, now), None)

    schema = KeySchema(prefix)
    client = cluster.client()
    try:
        hours = parse_window("24h").bucket_numbers(now)
        nodes = {client.get_node_from_key(schema.hour_ranking("ip", hour)).port
                 for hour in hours}
        assert len(nodes) == len(cluster.nodes)

        reader = SessionStatsReader(client, schema)
        pages = [reader.top_errors("ip", parse_window("24h"), offset, 10, now=now)
                 for offset in (0, 10, 20)]
        merged = [item for page in pages for item in page.items]
        # Most failures first; ties by member descending, as ZREVRANGE orders them.
        by_member = sorted(((f"10.0.{h}.0/24", h % 3 + 1) for h in range(24)), reverse=True)
        expected = sorted(by_member, key=lambda item: -item[1])
        assert merged == expected
        assert [page.total for page in pages] == [24, 24, 24]

        series = reader.timeseries(parse_window("24h"), now)
        by_hour = {point.start // HOUR: point.counts.failure_total for point in series}
        for hours_ago in range(24):
            assert by_hour[int(now // HOUR) - hours_ago] == hours_ago % 3 + 1, hours_ago
    finally:
        client.close()
