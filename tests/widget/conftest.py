"""Fixtures of the widget tests: Debian's Chromium through Playwright, the real exporter on a
private Redis seeded through the recorder, and a stub of the admin API for forced states."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, Playwright, sync_playwright
from sessionwatch.exporter.app import create_app
from sessionwatch.exporter.settings import ExporterSettings

from ..support.servers import RedisServer, UvicornThread
from .seed import FAILING_IPS, SeededHistory, seed_history
from .stub_app import StubState, create_stub_app

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
ADMIN_TOKEN = "widget-test-admin-token-0123456789"
SEEDED_PREFIX = "widget-seeded"
WIDGET = "session-metrics-widget"
# Chromium itself logs every HTTP error response of a fetch; those lines are not the widget's.
BROWSER_NETWORK_LOG = re.compile(r"^Failed to load resource\b")

pytestmark = pytest.mark.browser


def digits(text: str) -> str:
    """Drop every kind of space, so "1 900" (narrow no-break space) compares as "1900"."""
    return re.sub(r"\s", "", text.replace("\u202f", " ").replace("\u00a0", " "))


@dataclass
class OpenedPage:
    page: Page
    console: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


@pytest.fixture(scope="module")
def browser(request: pytest.FixtureRequest) -> Iterator[Browser]:
    """Launch Chromium from a suite-wide `playwright_instance` fixture when one exists.

    Playwright's sync API runs one instance per thread, so a second `sync_playwright()` fails
    while another package's session-scoped instance is alive. Without a shared fixture this
    module starts its own instance.
    """
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium package")
    try:
        shared: Playwright | None = request.getfixturevalue("playwright_instance")
    except pytest.FixtureLookupError:
        shared = None
    if shared is not None:
        instance = shared.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield instance
        instance.close()
        return
    # NOTE: this path fails with "Sync API inside the asyncio loop" when tests/browser ran
    # first in the same pytest process and kept its session-scoped Playwright alive.
    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield instance
        instance.close()


OpenPage = Callable[..., Page]


@pytest.fixture
def open_page(browser: Browser) -> Iterator[OpenPage]:
    """Open pages in fresh contexts; on teardown, fail on any page error or console output."""
    opened: list[OpenedPage] = []
    contexts = []

    def open_(url: str | None = None, *, scheme: str = "light", size: tuple[int, int] = (1280, 800),
              locale: str = "fr-FR", init_script: str | None = None,
              cookies: list[dict[str, str]] | None = None) -> Page:
        context = browser.new_context(
            viewport={"width": size[0], "height": size[1]}, color_scheme=scheme,
            locale=locale, timezone_id="Europe/Paris",
        )
        contexts.append(context)
        if cookies:
            context.add_cookies(cookies)  # type: ignore[arg-type]
        page = context.new_page()
        record = OpenedPage(page)
        opened.append(record)

        def on_console(message: ConsoleMessage) -> None:
            if not BROWSER_NETWORK_LOG.match(message.text):
                record.console.append(f"{message.type}: {message.text}")

        page.on("console", on_console)
        page.on("pageerror", lambda error: record.errors.append(str(error)))
        if init_script:
            page.add_init_script(init_script)
        if url:
            page.goto(url)
        return page

    yield open_
    for context in contexts:
        context.close()
    for record in opened:
        assert record.errors == [], f"uncaught errors on {record.page.url}: {record.errors}"
        assert record.console == [], f"console output on {record.page.url}: {record.console}"


def wait_for_state(page: Page, state: str, selector: str = WIDGET, timeout: float = 10_000) -> None:
    page.wait_for_selector(f"{selector}[data-state={state}]", state="attached", timeout=timeout)


# ---- Real exporter on seeded Redis ---------------------------------------------------------


@dataclass
class SeededExporter:
    url: str
    history: SeededHistory
    redis: RedisServer


@pytest.fixture(scope="module")
def seeded_exporter() -> Iterator[SeededExporter]:
    redis_server = RedisServer().start()
    try:
        history = seed_history(redis_server.url, SEEDED_PREFIX)
        assert len(history.windows["15m"].by_ip) == len(FAILING_IPS) == 45
        settings = ExporterSettings(redis_url=redis_server.url, prefix=SEEDED_PREFIX,
                                    admin_token=ADMIN_TOKEN)
        with UvicornThread(create_app(settings)) as server:
            yield SeededExporter(server.url, history, redis_server)
    finally:
        redis_server.stop()


def token_init_script(token: str = ADMIN_TOKEN) -> str:
    """Return an init script that stores the admin token as the /admin page's form would."""
    return f"sessionStorage.setItem('sessionwatch.admin.token', {token!r})"


# ---- Stub of the admin API -----------------------------------------------------------------


def default_stub_state(state: StubState) -> None:
    """Fill `state` with three sites, several reasons and 45 failing networks."""
    state.active_by_site = {"Lyon": 5, "Paris": 4, "Nantes": 3}
    state.success = 1900
    reasons = ("network", "expired", "network", "invalid", "revoked")
    sites = ("Lyon", "Paris", "Nantes")
    state.failures = []
    for index in range(45):
        for _repeat in range(1 + index % 4):
            number = len(state.failures)
            state.failures.append((f"198.18.{index}.0/24", sites[number % 3],
                                   reasons[number % len(reasons)]))
    state.forced_by_reason = {"revoked": 2, "inactive": 1}
    state.threshold = 0.05
    state.error = None
    with state.lock:
        state.requests.clear()


@dataclass
class Stub:
    url: str
    state: StubState


@pytest.fixture(scope="module")
def stub_server() -> Iterator[Stub]:
    state = StubState()
    with UvicornThread(create_stub_app(state)) as server:
        yield Stub(server.url, state)


@pytest.fixture
def stub(stub_server: Stub) -> Stub:
    default_stub_state(stub_server.state)
    return stub_server
