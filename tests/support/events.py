"""Write recorder events at chosen instants, for tests that need several time buckets.

The recorder stamps events with Redis server time, so a test cannot make it write into past
minutes. This helper plans the same writes with the recorder's own planner and scripts.
"""

from __future__ import annotations

import redis
from sessionwatch.api_hooks.keys import KeySchema, RetentionConfig
from sessionwatch.api_hooks.plan import EventPlanner, WriteBatch
from sessionwatch.api_hooks.scripts import batch_calls, run_calls


def write_events_at(client: redis.Redis, prefix: str, at: float, *, site: str = "Lyon",
                    successes: int = 0, failures: int = 0, reason: str = "expired",
                    ip: str | None = None) -> None:
    """Count `successes` and `failures` of `site` as if they happened at Unix time `at`."""
    planner = EventPlanner(KeySchema(prefix), RetentionConfig(), ranking_cap=1000)
    batch = WriteBatch()
    if successes:
        planner.count(batch, at, ("success", site), successes)
    if failures:
        planner.failure(batch, at, site, reason, "server", ip, failures)
    run_calls(client, batch_calls(planner, batch, at), None)
