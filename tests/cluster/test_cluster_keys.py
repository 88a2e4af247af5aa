"""Where the keys of one event land on a Redis Cluster: one slot per hash tag and call,
hours and active-set shards spread over the masters."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import redis.cluster
from redis.crc import key_slot
from sessionwatch.api_hooks.keys import HOUR, KeySchema, RetentionConfig
from sessionwatch.api_hooks.normalize import hash_session_id
from sessionwatch.api_hooks.plan import EventPlanner, WriteBatch
from sessionwatch.api_hooks.scripts import batch_calls

from ..support.cluster import LocalCluster

# A fixed prefix keeps the slot layout of these checks the same on every run.
PREFIX = "sessionwatch"


def slot(key: str) -> int:
    return int(key_slot(key.encode("utf-8")))


@pytest.fixture
def cluster_client(cluster: LocalCluster) -> Iterator[redis.cluster.RedisCluster]:
    client = cluster.client()
    yield client
    client.close()


def failure_batch(schema: KeySchema, at: float) -> WriteBatch:
    planner = EventPlanner(schema, RetentionConfig(), 1000)
    batch = WriteBatch(events=1)
    planner.failure(batch, at, "Lyon", "expired", "server", "203.0.113.0/24")
    session = hash_session_id("s1")
    assert session is not None
    planner.touch(batch, session, at + 3600, "Lyon")
    return batch


def test_event_bucket_writes_share_one_slot() -> None:
    schema = KeySchema(PREFIX)
    at = 1_750_000_000.0
    batch = failure_batch(schema, at)
    hour = int(at // HOUR)

    bucket_keys = [key for key in batch.updates if key != schema.totals()]
    assert len(bucket_keys) == 9  # minute and hour: counts + 3 rankings each; versions
    assert {slot(key) for key in bucket_keys} == {slot(schema.hour_counts(hour))}
    assert slot(schema.totals()) != slot(schema.hour_counts(hour))


def test_event_script_calls_each_stay_in_one_slot() -> None:
    schema = KeySchema(PREFIX, active_shards=4)
    batch = failure_batch(schema, 1_750_000_000.0)
    planner = EventPlanner(schema, RetentionConfig(), 1000)

    for write_id in (None, "w1"):
        calls = batch_calls(planner, batch, 1_750_000_000.0, write_id=write_id)
        # Totals, the hour's buckets and the session's active-set shard: three calls.
        assert len(calls) == 3
        for call in calls:
            assert len({slot(key) for key in call.keys}) == 1, call.keys
            # Key bases in ARGV (per-site active sets) must hash like the call's KEYS.
            for base in (arg for arg in call.args if isinstance(arg, str) and "{" in arg):
                assert slot(base + "Lyon") == slot(call.keys[0]), base


def test_flush_script_calls_each_stay_in_one_slot() -> None:
    """A buffered flush: many sessions and minutes, grouped into single-slot calls."""
    schema = KeySchema(PREFIX, active_shards=4)
    planner = EventPlanner(schema, RetentionConfig(), 1000)
    batch = WriteBatch()
    for second in range(0, 2 * HOUR, 37):
        planner.count(batch, 1_750_000_000.0 + second, ("success", "Lyon"))
        session = hash_session_id(f"s{second}")
        assert session is not None
        planner.touch(batch, session, 1_750_010_000.0, f"site{second % 5}")

    calls = batch_calls(planner, batch, 1_750_000_000.0, write_id="w1")

    assert len(calls) >= 3 + 4
    for call in calls:
        assert len({slot(key) for key in call.keys}) == 1, call.keys
        for base in (arg for arg in call.args if isinstance(arg, str) and "{" in arg):
            assert slot(base + "site1") == slot(call.keys[0]), base


def test_hour_slots_spread_over_all_masters(cluster_client: redis.cluster.RedisCluster,
                                            cluster: LocalCluster) -> None:
    schema = KeySchema(PREFIX)
    first = int(time.time() // HOUR)
    hours = range(first, first + 24)

    slots = [slot(schema.hour_counts(hour)) for hour in hours]
    ports = {cluster_client.get_node_from_key(schema.hour_counts(hour)).port for hour in hours}

    assert len(set(slots)) == len(slots)
    assert ports == {node.port for node in cluster.nodes}


@pytest.mark.parametrize("shards", [4, 8, 16])
def test_active_shards_use_distinct_slots(cluster_client: redis.cluster.RedisCluster,
                                          shards: int) -> None:
    schema = KeySchema(PREFIX, shards)
    slots = {slot(schema.active_expiry(shard)) for shard in range(shards)}
    ports = {cluster_client.get_node_from_key(schema.active_expiry(shard)).port
             for shard in range(shards)}

    assert len(slots) == shards
    assert len(ports) > 1


def test_active_shard_spread_is_even() -> None:
    schema = KeySchema(PREFIX, 4)
    shards = [schema.active_shard(hash_session_id(f"session-{n}") or "") for n in range(4000)]

    for shard in range(4):
        assert 800 < shards.count(shard) < 1200, shard
