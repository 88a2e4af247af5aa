"""Browser-test fixtures: the demo auth service on a private Redis, and Debian's Chromium.

`demo_server` serves `sessionwatch.demo.auth_service.create_app` with uvicorn in a thread on a
free loopback port, recording into the private `redis-server` of `tests/conftest.py` under a
prefix of the test's own. The service's clock is a `ManualClock` that tests move forward in
step with the page's clock (`DemoPage.advance`), so token expiry and inactivity follow the
same time on both sides. Helpers to drive the page live in `pages.py`.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import redis
from playwright.sync_api import Browser, Playwright, sync_playwright
from sessionwatch.api_hooks import SessionMetrics
from sessionwatch.api_hooks.keys import KeySchema, counter_field
from sessionwatch.demo.auth_service import DemoSettings, create_app

from ..support.servers import UvicornThread

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
# A name that resolves to loopback but is not "localhost": Chromium treats it as an insecure
# origin, like a shop's LAN server reached over plain http.
LAN_HOST = "cashier.lan.test"


class ManualClock:
    """Unix-seconds clock that starts at the real time and moves only through `advance`."""

    def __init__(self) -> None:
        self._now = time.time()
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._now += seconds


@dataclass
class DemoServer:
    """A running demo service and what tests read back from its Redis."""

    url: str
    clock: ManualClock
    redis: redis.Redis
    prefix: str
    site: str = "Lyon Croix-Rousse"

    def totals(self) -> dict[str, int]:
        raw = self.redis.hgetall(KeySchema(self.prefix).totals())
        return {field: int(value) for field, value in raw.items()}

    def client_network_failures(self) -> int:
        field = counter_field("failure", self.site, "network", "client")
        return self.totals().get(field, 0)

    def forced_logouts(self) -> int:
        return sum(count for field, count in self.totals().items()
                   if json.loads(field)[0] == "forced")

    def set_chaos(self, mode: str) -> None:
        import httpx

        httpx.post(f"{self.url}/demo/chaos", json={"refresh": mode}).raise_for_status()


# Module scope, not session: Playwright's sync API keeps an asyncio loop running while it is
# open, and asyncio tests in later modules cannot start their own loop until it stops.
@pytest.fixture(scope="module")
def playwright_instance() -> Iterator[Playwright]:
    with sync_playwright() as playwright:
        yield playwright


@pytest.fixture(scope="module")
def browser(playwright_instance: Playwright) -> Iterator[Browser]:
    browser = playwright_instance.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    yield browser
    browser.close()


@pytest.fixture(scope="module")
def lan_browser(playwright_instance: Playwright) -> Iterator[Browser]:
    """Chromium resolving LAN_HOST to 127.0.0.1, for insecure-origin tests."""
    args = [*CHROMIUM_ARGS, f"--host-resolver-rules=MAP {LAN_HOST} 127.0.0.1"]
    browser = playwright_instance.chromium.launch(executable_path=CHROMIUM, args=args)
    yield browser
    browser.close()


@pytest.fixture
def demo_factory(
    redis_url: str, redis_client: redis.Redis, prefix: str, metrics: SessionMetrics,
) -> Iterator[Callable[..., DemoServer]]:
    """Start demo services with DemoSettings overrides; all stop at the end of the test."""
    servers: list[UvicornThread] = []

    def start(**overrides: Any) -> DemoServer:
        clock = ManualClock()
        settings = DemoSettings(redis_url=redis_url, prefix=prefix, clock=clock,
                                **{"token_expiration_minutes": 5, **overrides})
        server = UvicornThread(create_app(settings, metrics=metrics))
        servers.append(server.__enter__())
        return DemoServer(url=server.url, clock=clock, redis=redis_client, prefix=prefix)

    yield start
    for server in servers:
        server.__exit__(None, None, None)


@pytest.fixture
def demo_server(demo_factory: Callable[..., DemoServer]) -> DemoServer:
    return demo_factory()
