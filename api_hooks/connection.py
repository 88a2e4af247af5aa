"""Redis clients built from URLs, with short timeouts and no hidden client-side retries."""

from __future__ import annotations

from typing import Any

import redis
import redis.asyncio
from redis.asyncio.retry import Retry as AsyncRetry
from redis.backoff import NoBackoff
from redis.retry import Retry


MAX_CONNECTIONS = 50
POOL_TIMEOUT = 0.5


def redis_from_url(url: str, timeout: float, **kwargs: Any) -> redis.Redis:
    """Return a blocking client whose every command fails within about `timeout` seconds.

    Its pool holds at most MAX_CONNECTIONS connections; a caller finding them all busy waits
    up to POOL_TIMEOUT seconds for one instead of failing, so a burst is not an outage.
    """
    options: dict[str, Any] = {
        "socket_timeout": timeout,
        "socket_connect_timeout": timeout,
        "retry": Retry(NoBackoff(), 0),
        "max_connections": MAX_CONNECTIONS,
        "timeout": POOL_TIMEOUT,
        **kwargs,
    }
    pool = redis.BlockingConnectionPool.from_url(url, **options)
    client = redis.Redis(connection_pool=pool)
    client.auto_close_connection_pool = True  # close() also closes the pool it owns
    return client


def async_redis_from_url(url: str, timeout: float, **kwargs: Any) -> redis.asyncio.Redis:
    """Asynchronous twin of `redis_from_url`."""
    options: dict[str, Any] = {
        "socket_timeout": timeout,
        "socket_connect_timeout": timeout,
        "retry": AsyncRetry(NoBackoff(), 0),
        "max_connections": MAX_CONNECTIONS,
        "timeout": POOL_TIMEOUT,
        **kwargs,
    }
    pool = redis.asyncio.BlockingConnectionPool.from_url(url, **options)
    client = redis.asyncio.Redis(connection_pool=pool)
    client.auto_close_connection_pool = True  # aclose() also closes the pool it owns
    return client


def describe_url(url: str) -> str:
    """Return `url` without its password, for logs and error messages."""
    scheme, sep, rest = url.partition("://")
    if not sep or "@" not in rest:
        return url
    credentials, _, host = rest.rpartition("@")
    user = credentials.split(":", 1)[0]
    return f"{scheme}://{user + ':***@' if user else '***@'}{host}"
