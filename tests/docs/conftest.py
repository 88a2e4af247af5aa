"""Fixtures of the doc tests: a private Redis seeded by the recorder under the default prefix,
the exporter on it, and the shell that runs the docs' commands against them.

The docs show the default key prefix (`sessionwatch`), so this Redis is the module's own and
no other test writes to it. Alertmanager and Prometheus start only when a block needs them.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sessionwatch.api_hooks import RecorderConfig, SessionMetrics
from sessionwatch.api_hooks.keys import DEFAULT_PREFIX

# The browser tests' fixtures: Debian's Chromium through Playwright, one instance per module.
from ..browser.conftest import browser, playwright_instance  # noqa: F401
from ..support.alertmanager import AlertmanagerServer, SMTPSink, shipped_config_for_sink
from ..support.exporter import ADMIN_TOKEN, ServedExporter, served_exporter
from ..support.prometheus import PrometheusServer
from ..support.servers import RedisServer
from .markdown import REPO
from .shell import DocShell

SITES = ("Lyon", "Paris", "Nantes")
SUCCESSES_PER_SITE = 60


def seed_doc_events(redis_url: str, prefix: str = DEFAULT_PREFIX) -> None:
    """Record logins, refreshes, a few failures and logouts in three shops.

    The failure ratio stays under 5 % (6 of 186), so `session-stats check` passes.
    """
    config = RecorderConfig(prefix=prefix, socket_timeout=2, connect_timeout=2)
    recorder = SessionMetrics.from_url(redis_url, config=config)
    expires_at = time.time() + 480 * 60
    for number, site in enumerate(SITES, start=1):
        sessions = [f"{site}-tablet-{index}" for index in range(10)]
        for index, session in enumerate(sessions):
            recorder.session_started(session, user_id=f"cashier-{index}", site=site,
                                     ip=f"203.0.113.{10 * number + index}", expires_at=expires_at)
        for index in range(SUCCESSES_PER_SITE):
            recorder.refresh_succeeded(sessions[index % 10], site=site, expires_at=expires_at)
        recorder.refresh_failed("network", session_id=sessions[1], site=site,
                                ip=f"198.51.100.{number}", source="client")
        recorder.refresh_failed("expired", session_id=sessions[2], site=site,
                                ip=f"198.51.100.{number}")
        recorder.session_ended(sessions[9], forced=True, reason="inactive", site=site)
        recorder.session_ended(sessions[8], site=site)
    recorder.close()


@pytest.fixture
def example_env(monkeypatch: pytest.MonkeyPatch, redis_url: str, prefix: str) -> str:
    """Point the examples at the private Redis, under the test's own prefix."""
    for key in [key for key in os.environ if key.startswith("SESSIONWATCH_")]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("SESSIONWATCH_REDIS_URL", redis_url)
    monkeypatch.setenv("SESSIONWATCH_PREFIX", prefix)
    return prefix


@pytest.fixture(scope="session")
def doc_redis() -> Iterator[RedisServer]:
    server = RedisServer().start()
    try:
        seed_doc_events(server.url)
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def doc_exporter(doc_redis: RedisServer) -> Iterator[ServedExporter]:
    with served_exporter(doc_redis.url, DEFAULT_PREFIX) as exporter:
        yield exporter


@pytest.fixture(scope="session")
def doc_prometheus(doc_exporter: ServedExporter) -> Iterator[PrometheusServer]:
    """Prometheus scraping the doc exporter every second, with the shipped rules loaded."""
    rules = sorted((REPO / "alerting" / "rules").glob("*.yml"))
    address = doc_exporter.url.removeprefix("http://")
    with PrometheusServer([address], rule_files=rules) as prometheus:
        yield prometheus


@pytest.fixture(scope="session")
def doc_shell(doc_redis: RedisServer, doc_exporter: ServedExporter,
              tmp_path_factory: pytest.TempPathFactory) -> Iterator[DocShell]:
    with contextlib.ExitStack() as stack:

        def start_alertmanager() -> str:
            sink = stack.enter_context(SMTPSink())
            alertmanager = stack.enter_context(
                AlertmanagerServer(shipped_config_for_sink(sink.port)))
            return alertmanager.url

        workdir: Path = tmp_path_factory.mktemp("doc-shell")
        yield DocShell(
            workdir=workdir,
            redis_url=doc_redis.url,
            redis_port=doc_redis.port,
            exporter_address=doc_exporter.url.removeprefix("http://"),
            admin_token=ADMIN_TOKEN,
            lazy={"alertmanager": start_alertmanager},
        )
