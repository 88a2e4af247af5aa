"""SessionStatsReader: parsing of stored counters (fakeredis) and ranking pages (real Redis)."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator

import fakeredis
import pytest
import redis
from sessionwatch.api_hooks.keys import KeySchema, counter_field
from sessionwatch.exporter.reader import EventCounts, RankingPage, SessionStatsReader
from sessionwatch.exporter.windows import parse_window

from .support.servers import RedisServer

NOW = 1_800_000_030.0  # 30 s into a minute
MINUTE = int(NOW // 60)


@pytest.fixture
def fake() -> fakeredis.FakeRedis:
    return fakeredis.FakeRedis()


def test_reader_totals_ignore_foreign_fields(fake: fakeredis.FakeRedis) -> None:
    schema = KeySchema("p")
    fake.hset(schema.totals(), mapping={
        counter_field("success", "Lyon"): 3,
        counter_field("failure", "Lyon", "expired", "server"): 2,
        counter_field("forced", "Lyon", "revoked"): 1,
        counter_field("started", "Lyon"): 4,
        counter_field("ended", "Lyon"): 5,
        counter_field("success"): 99,  # too short
        counter_field("failure", "Lyon", "expired"): 99,  # too short
        counter_field("future_kind", "Lyon"): 99,
        "not json": 99,
        json.dumps({"success": "Lyon"}): 99,
        counter_field("success", "Paris"): "not a number",
    })

    totals = SessionStatsReader(fake, schema).totals()

    assert totals.success == Counter({"Lyon": 3})
    assert totals.failure == Counter({("Lyon", "expired", "server"): 2})
    assert totals.forced == Counter({("Lyon", "revoked"): 1})
    assert totals.started == Counter({"Lyon": 4})
    assert totals.ended == Counter({"Lyon": 5})


def test_reader_window_counts_sum_only_window_buckets(fake: fakeredis.FakeRedis) -> None:
    schema = KeySchema("p")
    for minutes_ago in range(20):
        fake.hset(schema.minute_counts(MINUTE - minutes_ago),
                  counter_field("success", "Lyon"), minutes_ago + 1)
    reader = SessionStatsReader(fake, schema)

    five = reader.window_counts(parse_window("5m"), NOW)
    fifteen = reader.window_counts(parse_window("15m"), NOW)

    assert five.success_total == sum(range(1, 6))
    assert fifteen.success_total == sum(range(1, 16))
    assert [point.start for point in reader.timeseries(parse_window("5m"), NOW)] == [
        (MINUTE - 4 + n) * 60 for n in range(5)]


def test_event_counts_ratio_none_without_refreshes() -> None:
    counts = EventCounts()

    assert counts.failure_ratio() is None
    counts.failure[("Lyon", "expired", "server")] += 1
    assert counts.failure_ratio() == 1.0
    counts.success["Lyon"] += 3
    assert counts.failure_ratio() == 0.25


@pytest.mark.parametrize(("items", "total", "offset", "expected"), [
    (20, 45, 0, 20), (20, 45, 20, 40), (5, 45, 40, None), (0, 45, 100, None), (0, 0, 0, None),
])
def test_ranking_page_next_offset(items: int, total: int, offset: int,
                                  expected: int | None) -> None:
    page = RankingPage([("k", 1)] * items, total, offset, 20)

    assert page.next_offset == expected


@pytest.fixture
def raw_client(redis_server: RedisServer) -> Iterator[redis.Redis]:
    client = redis_server.client()
    yield client
    client.close()


def test_reader_cluster_merge_pages_like_lua(raw_client: redis.Redis, prefix: str) -> None:
    """The client-side merge used on Redis Cluster must page exactly like top_page.lua."""
    schema = KeySchema(prefix)
    now = float(raw_client.time()[0])
    minute = int(now // 60)
    for minutes_ago in range(5):
        raw_client.zadd(schema.minute_ranking("site", minute - minutes_ago),
                        {f"site-{n:02d}": (n % 4) + minutes_ago for n in range(30)})
    lua_reader = SessionStatsReader(raw_client, schema)
    merge_reader = SessionStatsReader(raw_client, schema)
    merge_reader._cluster = True  # what SessionStatsReader does for a RedisCluster client
    window = parse_window("15m")

    for offset, limit in ((0, 7), (7, 7), (28, 7), (0, 500), (29, 1), (30, 5)):
        lua_page = lua_reader.top_errors("site", window, offset, limit, now)
        merged_page = merge_reader.top_errors("site", window, offset, limit, now)
        assert merged_page == lua_page, (offset, limit)
    assert lua_reader.top_errors("site", window, 0, 500, now).total == 30
    assert not list(raw_client.scan_iter(match=f"{{{prefix}}}:tmp:*"))


@pytest.mark.parametrize(("dimension", "offset", "limit"), [
    ("user", 0, 20), ("ip", -1, 20), ("ip", 0, 501), ("ip", 0, -1),
])
def test_reader_top_errors_rejects_bad_arguments(
    fake: fakeredis.FakeRedis, dimension: str, offset: int, limit: int
) -> None:
    reader = SessionStatsReader(fake, KeySchema("p"))

    with pytest.raises(ValueError):
        reader.top_errors(dimension, parse_window("15m"), offset, limit, NOW)
