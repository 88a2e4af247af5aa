"""RankingCache against a real private Redis: pages equal top_page.lua's, late writes show up."""

from __future__ import annotations

import random
from collections.abc import Iterator

import pytest
import redis
from sessionwatch.api_hooks import SessionMetrics
from sessionwatch.api_hooks.keys import KeySchema
from sessionwatch.api_hooks.plan import WriteBatch
from sessionwatch.api_hooks.scripts import batch_calls, run_calls
from sessionwatch.exporter import ranking_cache
from sessionwatch.exporter.ranking_cache import RankingCache
from sessionwatch.exporter.reader import TOP_PAGE, RankingPage, SessionStatsReader
from sessionwatch.exporter.windows import Window, parse_window

from .support.servers import RedisServer

PAGES = [(0, 20), (0, 1), (5, 7), (40, 500), (199, 3), (0, 500), (1000, 20), (0, 0)]


@pytest.fixture
def client(redis_server: RedisServer) -> Iterator[redis.Redis]:
    instance = redis_server.client()
    yield instance
    instance.close()


def fill(client: redis.Redis, schema: KeySchema, window: Window, now: float,
         seed: int) -> None:
    """Fill every bucket of `window` with overlapping members and many tied counts."""
    chooser = random.Random(seed)
    for number in window.bucket_numbers(now):
        key = (schema.minute_ranking("ip", number) if window.step == 60
               else schema.hour_ranking("ip", number))
        members = {f"10.0.{chooser.randrange(60)}.0/24": chooser.randrange(1, 6)
                   for _ in range(40)}
        client.zadd(key, members)


def lua_page(reader: SessionStatsReader, window: Window, now: float, offset: int,
             limit: int) -> RankingPage:
    """Return the page that top_page.lua computes inside Redis, for comparison."""
    keys = reader._ranking_keys("ip", window, now)
    client = reader.client
    client.script_load(TOP_PAGE.source)
    total, flat = client.evalsha(TOP_PAGE.sha, len(keys) + 1, reader.schema.scratch(), *keys,
                                 offset, limit)
    items = [(flat[i].decode(), int(float(flat[i + 1]))) for i in range(0, len(flat), 2)]
    return RankingPage(items, int(total), offset, limit)


@pytest.mark.parametrize("window_name", ["15m", "24h"])
def test_ranking_cache_pages_equal_lua_pages(client: redis.Redis, prefix: str,
                                             window_name: str) -> None:
    schema = KeySchema(prefix)
    window = parse_window(window_name)
    # Early in the current bucket, so the previous bucket is still open (grace period).
    now = float(int(client.time()[0]) // window.step * window.step + 30)
    fill(client, schema, window, now, seed=len(window_name))
    reader = SessionStatsReader(client, schema)

    for offset, limit in PAGES:
        expected = lua_page(reader, window, now, offset, limit)
        assert reader.top_errors("ip", window, offset, limit, now) == expected, (offset, limit)
    assert lua_page(reader, window, now, 0, 500).total == 60


def test_ranking_cache_sees_new_member_in_closed_bucket(client: redis.Redis,
                                                        prefix: str) -> None:
    schema = KeySchema(prefix)
    window = parse_window("24h")
    now = float(int(client.time()[0]))
    old_bucket = schema.hour_ranking("ip", int(now // 3600) - 5)
    client.zadd(old_bucket, {"192.0.2.0/24": 3})
    reader = SessionStatsReader(client, schema)
    assert reader.top_errors("ip", window, 0, 10, now).items == [("192.0.2.0/24", 3)]

    client.zadd(old_bucket, {"198.51.100.0/24": 7})

    page = reader.top_errors("ip", window, 0, 10, now)
    assert page.items == [("198.51.100.0/24", 7), ("192.0.2.0/24", 3)]
    assert page.total == 2


def test_ranking_cache_sees_late_increment_of_cached_member(client: redis.Redis,
                                                           prefix: str) -> None:
    # A buffered flush retried after an outage can raise a member a closed bucket already
    # holds: the bucket's size stays the same, but its version grows in the same write.
    metrics = SessionMetrics(client, prefix=prefix)
    schema = metrics.schema
    window = parse_window("24h")
    now = float(int(client.time()[0]))
    late_at = now - 5 * 3600
    reader = SessionStatsReader(client, schema)

    batch = WriteBatch()
    metrics.planner.failure(batch, late_at, "Lyon", "expired", "server", "192.0.2.0/24", 3)
    run_calls(client, batch_calls(metrics.planner, batch, now), None)
    assert reader.top_errors("ip", window, 0, 10, now).items == [("192.0.2.0/24", 3)]

    batch = WriteBatch()
    metrics.planner.failure(batch, late_at, "Lyon", "expired", "server", "192.0.2.0/24", 4)
    run_calls(client, batch_calls(metrics.planner, batch, now), None)

    assert reader.top_errors("ip", window, 0, 10, now).items == [("192.0.2.0/24", 7)]


def test_ranking_cache_declines_past_member_bound(client: redis.Redis, prefix: str) -> None:
    schema = KeySchema(prefix)
    now = float(int(client.time()[0]))
    key = schema.hour_ranking("ip", int(now // 3600) - 2)
    client.zadd(key, {f"10.1.{n}.0/24": n + 1 for n in range(30)})
    cache = RankingCache(client, max_members=29)
    reader = SessionStatsReader(client, schema)
    reader._rankings = cache

    versions = [(schema.ranking_versions(int(now // 3600) - 2), "h")]
    assert cache.page([key], [now - 3600], versions, now, 0, 5) is None
    page = reader.top_errors("ip", parse_window("24h"), 0, 5, now)
    assert page.items == [(f"10.1.{n}.0/24", n + 1) for n in range(29, 24, -1)]
    assert page.total == 30


def test_ranking_cache_reads_large_bucket_in_slices(
    client: redis.Redis, prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ranking_cache, "SLICE", 7)
    schema = KeySchema(prefix)
    now = float(int(client.time()[0]))
    key = schema.hour_ranking("ip", int(now // 3600) - 3)
    client.zadd(key, {f"10.2.{n}.0/24": n % 9 for n in range(50)})
    reader = SessionStatsReader(client, schema)

    page = reader.top_errors("ip", parse_window("24h"), 0, 500, now)

    assert page == lua_page(reader, parse_window("24h"), now, 0, 500)
    assert page.total == 50
