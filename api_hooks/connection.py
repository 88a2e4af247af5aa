"""Redis clients built from URLs, with short timeouts and no hidden client-side retries.

Three kinds of URL are understood, by the recorder, the exporter and the CLI alike:

- ``redis://[user:password@]host:port/db``, ``rediss://…`` and ``unix://…``: one server;
- ``redis+cluster://[user:password@]host:port[,host:port…]``: a Redis Cluster, found from
  any of the listed nodes;
- ``redis+sentinel://[user:password@]host:port[,host:port…]/service[/db]``: the primary that
  the listed Sentinels name `service`, followed through failovers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

import redis
import redis.asyncio
import redis.asyncio.cluster
import redis.asyncio.sentinel
import redis.cluster
import redis.sentinel
from redis.asyncio.retry import Retry as AsyncRetry
from redis.backoff import NoBackoff
from redis.retry import Retry

MAX_CONNECTIONS = 50
POOL_TIMEOUT = 0.5
CLUSTER_SCHEME = "redis+cluster"
SENTINEL_SCHEME = "redis+sentinel"


@dataclass(frozen=True)
class RedisTarget:
    """A parsed cluster or Sentinel URL."""

    scheme: str
    nodes: tuple[tuple[str, int], ...]
    username: str | None = None
    password: str | None = None
    service: str | None = None
    db: int = 0


def parse_multi_host_url(url: str) -> RedisTarget:
    """Parse a ``redis+cluster://`` or ``redis+sentinel://`` URL; raise ValueError if invalid."""
    scheme, sep, rest = url.partition("://")
    if not sep or scheme not in (CLUSTER_SCHEME, SENTINEL_SCHEME):
        raise ValueError(f"not a cluster or sentinel URL: {describe_url(url)!r}")
    username = password = None
    if "@" in rest:
        credentials, _, rest = rest.rpartition("@")
        user, _, secret = credentials.partition(":")
        username, password = unquote(user) or None, unquote(secret) or None
    hosts, _, path = rest.partition("/")
    nodes = tuple(_parse_node(node, url) for node in hosts.split(",") if node)
    if not nodes:
        raise ValueError(f"invalid Redis URL {describe_url(url)!r}: no host listed")
    parts = [part for part in path.split("/") if part]
    if scheme == CLUSTER_SCHEME:
        if parts:
            raise ValueError(
                f"invalid Redis URL {describe_url(url)!r}: a cluster URL takes no path "
                "(Redis Cluster has only database 0)"
            )
        return RedisTarget(scheme, nodes, username, password)
    if not parts or len(parts) > 2:
        raise ValueError(
            f"invalid Redis URL {describe_url(url)!r}: expected "
            "redis+sentinel://host:port[,host:port]/service[/db]"
        )
    try:
        db = int(parts[1]) if len(parts) == 2 else 0
    except ValueError:
        raise ValueError(f"invalid database number in {describe_url(url)!r}") from None
    return RedisTarget(scheme, nodes, username, password, unquote(parts[0]), db)


def _parse_node(node: str, url: str) -> tuple[str, int]:
    host, _, port = node.rpartition(":")
    if not host:
        host, port = port, "26379" if url.startswith(SENTINEL_SCHEME) else "6379"
    try:
        return host.strip("[]"), int(port)
    except ValueError:
        raise ValueError(f"invalid port {port!r} in Redis URL {describe_url(url)!r}") from None


def _options(timeout: float, retry: Any, kwargs: dict[str, Any]) -> dict[str, Any]:
    return {
        "socket_timeout": timeout,
        "socket_connect_timeout": timeout,
        "retry": retry,
        **kwargs,
    }


def _pool_options(options: dict[str, Any]) -> dict[str, Any]:
    """Add the pool bounds, unless the caller chose its own `max_connections` or `timeout`."""
    return {"max_connections": MAX_CONNECTIONS, "timeout": POOL_TIMEOUT, **options}


def redis_from_url(url: str, timeout: float, **kwargs: Any) -> Any:
    """Return a blocking client whose every command fails within about `timeout` seconds.

    For one server, the pool holds at most MAX_CONNECTIONS connections, and a caller finding
    them all busy waits up to POOL_TIMEOUT seconds for one instead of failing, so a burst is
    not taken for an outage.
    """
    options = _options(timeout, Retry(NoBackoff(), 0), kwargs)
    if url.startswith(CLUSTER_SCHEME + "://"):
        target = parse_multi_host_url(url)
        nodes = [
            redis.cluster.ClusterNode(host, port)  # type: ignore[no-untyped-call]
            for host, port in target.nodes
        ]
        return redis.cluster.RedisCluster(
            startup_nodes=nodes, username=target.username, password=target.password,
            **options,
        )
    if url.startswith(SENTINEL_SCHEME + "://"):
        target = parse_multi_host_url(url)
        sentinel = redis.sentinel.Sentinel(
            list(target.nodes), sentinel_kwargs={"socket_timeout": timeout,
                                                 "socket_connect_timeout": timeout},
            username=target.username, password=target.password, db=target.db, **options,
        )
        assert target.service is not None
        return sentinel.master_for(target.service)
    pool = redis.BlockingConnectionPool.from_url(url, **_pool_options(options))
    client = redis.Redis(connection_pool=pool)
    client.auto_close_connection_pool = True  # close() also closes the pool it owns
    return client


def async_redis_from_url(url: str, timeout: float, **kwargs: Any) -> Any:
    """Asynchronous twin of `redis_from_url`."""
    options = _options(timeout, AsyncRetry(NoBackoff(), 0), kwargs)
    if url.startswith(CLUSTER_SCHEME + "://"):
        target = parse_multi_host_url(url)
        nodes = [
            redis.asyncio.cluster.ClusterNode(host, port)
            for host, port in target.nodes
        ]
        return redis.asyncio.cluster.RedisCluster(
            startup_nodes=nodes, username=target.username, password=target.password,
            **options,
        )
    if url.startswith(SENTINEL_SCHEME + "://"):
        target = parse_multi_host_url(url)
        sentinel = redis.asyncio.sentinel.Sentinel(
            list(target.nodes), sentinel_kwargs={"socket_timeout": timeout,
                                                 "socket_connect_timeout": timeout},
            username=target.username, password=target.password, db=target.db, **options,
        )
        assert target.service is not None
        return sentinel.master_for(target.service)
    pool = redis.asyncio.BlockingConnectionPool.from_url(url, **_pool_options(options))
    client = redis.asyncio.Redis(connection_pool=pool)
    client.auto_close_connection_pool = True  # aclose() also closes the pool it owns
    return client


def is_cluster(client: Any) -> bool:
    return isinstance(client, redis.cluster.RedisCluster | redis.asyncio.cluster.RedisCluster)


_PASSWORD_PARAMETER = re.compile(r"((?:^|[?&;])password=)[^&;#]*", re.IGNORECASE)


def describe_url(url: str) -> str:
    """Return `url` without its password (user info or `password=` parameter), for logs and
    error messages."""
    url = _PASSWORD_PARAMETER.sub(r"\1***", url)
    scheme, sep, rest = url.partition("://")
    if not sep or "@" not in rest:
        return url
    credentials, _, host = rest.rpartition("@")
    user = credentials.split(":", 1)[0]
    return f"{scheme}://{user + ':***@' if user else '***@'}{host}"
