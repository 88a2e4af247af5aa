"""Write recorder data fast, at chosen times, through the recorder's own planner and scripts.

The benchmarks need days of history in seconds: `Seeder` plans events with explicit
timestamps (`EventPlanner`), merges them into one `WriteBatch` and sends it with the same Lua
scripts the recorder uses, one pipeline per few thousand key updates. Bucket keys whose
retention has already passed get an EXPIREAT in the past, so Redis drops them at once, as it
would have in real time.
"""

from __future__ import annotations

import time

import redis
from sessionwatch.api_hooks import RecorderConfig
from sessionwatch.api_hooks.keys import KeySchema
from sessionwatch.api_hooks.normalize import hash_session_id
from sessionwatch.api_hooks.plan import EventPlanner, WriteBatch
from sessionwatch.api_hooks.scripts import batch_calls, run_calls

SEND_EVERY = 5000  # key updates and active-set updates per pipeline


def address(number: int) -> str:
    """Return an IPv4 address whose /24 network is distinct for every number below 2**24."""
    return f"{11 + (number >> 16)}.{(number >> 8) & 255}.{number & 255}.7"


class Seeder:
    """Plan events at given Unix times and write them in large pipelines."""

    def __init__(self, client: redis.Redis, config: RecorderConfig) -> None:
        self.client = client
        self.config = config
        self.planner = EventPlanner(KeySchema(config.prefix, config.active_shards),
                                    config.retention, config.ranking_cap)
        self.ip_policy = config.ip_policy()
        self.batch = WriteBatch()
        self.increments = 0

    def failure(self, at: float, site: str, reason: str, client_address: str | None,
                amount: int = 1) -> None:
        self.planner.failure(self.batch, at, site, reason, "server",
                             self.ip_policy.apply(client_address), amount)
        self._grow(9)

    def count(self, at: float, parts: tuple[str, ...], amount: int = 1) -> None:
        self.planner.count(self.batch, at, parts, amount)
        self._grow(3)

    def touch(self, session_id: str, expires_at: float, site: str) -> None:
        session_hash = hash_session_id(session_id)
        assert session_hash is not None
        self.planner.touch(self.batch, session_hash, expires_at, site)
        self._grow(1)

    def _grow(self, increments: int) -> None:
        self.increments += increments
        if self.increments >= SEND_EVERY:
            self.send()

    def send(self) -> None:
        if self.batch:
            run_calls(self.client, batch_calls(self.planner, self.batch, time.time()), None)
        self.batch = WriteBatch()
        self.increments = 0
