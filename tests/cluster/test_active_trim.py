"""Trimming of expired sessions (update_active.lua) run by two clients at once.

The trim is the only periodic cleanup: the recorder runs it with every active-set update and
the exporter never writes. Two processes trimming one shard at the same moment must remove
each expired session exactly once and never touch a live one.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
import redis.cluster
from sessionwatch.api_hooks.keys import KeySchema, RetentionConfig
from sessionwatch.api_hooks.normalize import hash_session_id
from sessionwatch.api_hooks.plan import ActiveUpdate, EventPlanner
from sessionwatch.api_hooks.scripts import UPDATE_ACTIVE

from ..support.cluster import LocalCluster

SHARDS = 2
EXPIRED = 600
LIVE = 60
TRIM_LIMIT = 7
NOW = 1_750_000_000.0


@pytest.fixture
def client(cluster: LocalCluster) -> Iterator[redis.cluster.RedisCluster]:
    instance = cluster.client(decode_responses=True)
    instance.script_load(UPDATE_ACTIVE.source)
    yield instance
    instance.close()


def run_update(client: redis.cluster.RedisCluster, planner: EventPlanner,
               update: ActiveUpdate, now: float) -> int:
    keys, args = planner.active_args(update, now, TRIM_LIMIT)
    return int(client.evalsha(UPDATE_ACTIVE.sha, len(keys), *keys, *args))


def seed(client: redis.cluster.RedisCluster, planner: EventPlanner) -> dict[int, set[str]]:
    """Add expired sessions on two sites and live ones on one; return the live digests."""
    schema = planner.schema
    live: dict[int, set[str]] = {shard: set() for shard in range(SHARDS)}
    for number in range(EXPIRED + LIVE):
        digest = hash_session_id(f"session-{number}")
        assert digest is not None
        shard = schema.active_shard(digest)
        if number < EXPIRED:
            site, expires_at = ("Lyon", "Paris")[number % 2], NOW + 10
        else:
            site, expires_at = "Lyon", NOW + 10_000
            live[shard].add(digest)
        # Seeding at a time before every expiry, so the seed itself trims nothing.
        assert run_update(client, planner, ActiveUpdate("touch", shard, digest, expires_at,
                                                        site), NOW) == 0
    return live


def test_concurrent_trims_remove_each_expired_once(cluster: LocalCluster,
                                                   client: redis.cluster.RedisCluster,
                                                   prefix: str) -> None:
    schema = KeySchema(prefix, SHARDS)
    planner = EventPlanner(schema, RetentionConfig(), 1000)
    live = seed(client, planner)
    trimmed = [0, 0]
    start = threading.Barrier(2)

    def trim(worker: int) -> None:
        connection = cluster.client(decode_responses=True)
        start.wait()
        try:
            for shard in range(SHARDS):
                while count := run_update(connection, planner,
                                          ActiveUpdate("trim", shard, ""), NOW + 100):
                    trimmed[worker] += count
        finally:
            connection.close()

    workers = [threading.Thread(target=trim, args=(worker,)) for worker in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)

    assert sum(trimmed) == EXPIRED
    for shard in range(SHARDS):
        assert set(client.zrange(schema.active_expiry(shard), 0, -1)) == live[shard]
        assert set(client.hkeys(schema.active_site_of(shard))) == live[shard]
        assert set(client.zrange(schema.active_site(shard, "Lyon"), 0, -1)) == live[shard]
        assert client.exists(schema.active_site(shard, "Paris")) == 0
        assert client.hgetall(schema.active_sites(shard)) == {"Lyon": "Lyon"}
