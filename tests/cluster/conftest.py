"""Fixtures of the Redis Cluster and Sentinel tests: the servers, recorders and readers.

`cluster` starts one 3-master Redis Cluster for the whole run; `sentinel` starts a fresh
master, replica and Sentinel for each test that asks for it, because a failover test leaves
the setup changed. Every test that uses the cluster also checks, through the nodes' own
error statistics, that no command of the test was answered with CROSSSLOT, MOVED or ASK.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from prometheus_client import REGISTRY
from sessionwatch.api_hooks import RecorderConfig
from sessionwatch.api_hooks.keys import KeySchema
from sessionwatch.exporter.reader import SessionStatsReader

from ..support.cluster import LocalCluster, LocalSentinel

REDIRECT_ERRORS = ("CROSSSLOT", "MOVED", "ASK")


@pytest.fixture(scope="session")
def cluster() -> Iterator[LocalCluster]:
    local = LocalCluster().start()
    yield local
    local.stop()


@pytest.fixture
def cluster_url(cluster: LocalCluster) -> str:
    return cluster.url


@pytest.fixture
def sentinel() -> Iterator[LocalSentinel]:
    local = LocalSentinel().start()
    yield local
    local.stop()


@pytest.fixture(autouse=True)
def no_cluster_redirects(request: pytest.FixtureRequest) -> Iterator[None]:
    """Fail a cluster test if any node answered CROSSSLOT, MOVED or ASK during it."""
    if "cluster" not in request.fixturenames:
        yield
        return
    local: LocalCluster = request.getfixturevalue("cluster")
    before = local.error_counts()
    yield
    after = local.error_counts()
    new = {code: after.get(code, 0) - before.get(code, 0) for code in REDIRECT_ERRORS}
    assert new == dict.fromkeys(REDIRECT_ERRORS, 0)


def recorder_config(prefix: str, **changes: Any) -> RecorderConfig:
    """A recorder config with timeouts generous enough for a busy CI machine."""
    return RecorderConfig(prefix=prefix, **{"socket_timeout": 2, "connect_timeout": 2, **changes})


def health_value(name: str, prefix: str, **labels: str) -> float:
    """Read one of the recorder's health counters from the default registry (0 if unset)."""
    value = REGISTRY.get_sample_value(name, {"prefix": prefix, **labels})
    return value or 0.0


@pytest.fixture
def cluster_reader(cluster: LocalCluster, prefix: str) -> Iterator[SessionStatsReader]:
    """A reader over the test's prefix on the cluster, with one active-set shard."""
    client = cluster.client()
    yield SessionStatsReader(client, KeySchema(prefix))
    client.close()
