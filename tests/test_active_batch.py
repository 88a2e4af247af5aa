"""update_active_many.lua against a real private Redis: the same end state as one
update_active.lua call per update, whatever the order of touches, ends and site changes."""

from __future__ import annotations

import random
from collections.abc import Iterator

import pytest
import redis
from sessionwatch.api_hooks.keys import KeySchema, RetentionConfig
from sessionwatch.api_hooks.plan import ActiveUpdate, EventPlanner, WriteBatch
from sessionwatch.api_hooks.scripts import UPDATE_ACTIVE, UPDATE_ACTIVE_MANY, batch_calls, run_calls

from .support.servers import RedisServer

NOW = 1_800_000_000.0


@pytest.fixture
def client(redis_server: RedisServer) -> Iterator[redis.Redis]:
    instance = redis_server.client(decode_responses=True)
    yield instance
    instance.close()


def random_updates(seed: int, count: int) -> list[ActiveUpdate]:
    """Touches and ends of 30 sessions over 4 sites (one with a non-ASCII name), some
    expired already, so the trim has work too."""
    chooser = random.Random(seed)
    sites = ["Lyon", "Paris", "Nantes", "Saint-Étienne"]
    updates = []
    for _ in range(count):
        session = f"{chooser.randrange(30):024x}"
        if chooser.random() < 0.25:
            updates.append(ActiveUpdate("end", 0, session))
        else:
            expires_at = NOW + chooser.choice((-50, 600, 1200, 3600))
            updates.append(ActiveUpdate("touch", 0, session, expires_at, chooser.choice(sites)))
    return updates


def active_state(client: redis.Redis, schema: KeySchema) -> dict[str, object]:
    """Return the active-set keys of `schema` with the prefix taken out of their names."""
    state: dict[str, object] = {
        "expiry": client.zrange(schema.active_expiry(0), 0, -1, withscores=True),
        "site_of": client.hgetall(schema.active_site_of(0)),
        "sites": client.hgetall(schema.active_sites(0)),
    }
    base = schema.active_site_base(0)
    for key in client.scan_iter(match=base + "*"):
        state["site " + key[len(base):]] = client.zrange(key, 0, -1, withscores=True)
    return state


@pytest.mark.parametrize("seed", range(6))
def test_active_batch_matches_one_call_per_update(client: redis.Redis, prefix: str,
                                                  seed: int) -> None:
    one_by_one = KeySchema(prefix + "-single")
    batched = KeySchema(prefix + "-batch")
    updates = random_updates(seed, 120)

    single_planner = EventPlanner(one_by_one, RetentionConfig(), 1000)
    client.script_load(UPDATE_ACTIVE.source)
    for update in updates:
        keys, args = single_planner.active_args(update, NOW, 10)
        client.evalsha(UPDATE_ACTIVE.sha, len(keys), *keys, *args)

    planner = EventPlanner(batched, RetentionConfig(), 1000)
    batch = WriteBatch(active=list(updates))
    calls = batch_calls(planner, batch, NOW, 10, write_id="w1")
    assert [call.script for call in calls] == [UPDATE_ACTIVE_MANY]
    run_calls(client, calls, None)

    assert active_state(client, batched) == active_state(client, one_by_one)
    remaining: list[tuple[str, float]] = client.zrange(  # type: ignore[assignment]
        batched.active_expiry(0), 0, -1, withscores=True)
    assert remaining
    assert all(score >= NOW for _, score in remaining)
