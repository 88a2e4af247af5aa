"""Fixtures shared by every test: a private Redis per session and a fresh key prefix per test.

Tests never use the Redis on port 6379: `redis_server` starts its own `redis-server` on a free
port, and `prefix` gives each test keys of its own on it.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import pytest
import redis
from sessionwatch.api_hooks import RecorderConfig, SessionMetrics

from .support.servers import RedisServer

_prefix_numbers = itertools.count()


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    server = RedisServer().start()
    yield server
    server.stop()


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    return redis_server.url


@pytest.fixture
def redis_client(redis_server: RedisServer) -> Iterator[redis.Redis]:
    client = redis_server.client(decode_responses=True)
    yield client
    client.close()


@pytest.fixture
def prefix(request: pytest.FixtureRequest) -> str:
    """A key prefix no other test uses, so tests share one Redis without interfering."""
    name = request.node.name.split("[")[0][:30].replace("_", "-")
    return f"t{next(_prefix_numbers)}-{name}"


@pytest.fixture
def metrics(redis_url: str, prefix: str) -> Iterator[SessionMetrics]:
    """A direct-mode recorder on the private Redis, with generous timeouts for busy CI."""
    recorder = SessionMetrics.from_url(
        redis_url, config=RecorderConfig(prefix=prefix, socket_timeout=2, connect_timeout=2)
    )
    yield recorder
    recorder.close()
