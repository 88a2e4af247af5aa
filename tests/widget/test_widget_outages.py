"""Stale and error states with the real exporter stopped, and with its Redis stopped."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from playwright.sync_api import Page, expect
from sessionwatch.exporter.app import create_app
from sessionwatch.exporter.settings import ExporterSettings

from ..support.servers import RedisServer, UvicornThread, free_port
from .conftest import ADMIN_TOKEN, WIDGET, OpenPage, digits, token_init_script, wait_for_state
from .seed import seed_history

pytestmark = pytest.mark.browser


@dataclass
class ExporterUnderTest:
    """An exporter that a test may stop and start again on the same port."""

    redis: RedisServer
    port: int
    server: UvicornThread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        settings = ExporterSettings(redis_url=self.redis.url, prefix="widget-outage",
                                    admin_token=ADMIN_TOKEN)
        self.server = UvicornThread(create_app(settings), port=self.port).__enter__()

    def stop(self) -> None:
        if self.server is not None:
            self.server.__exit__(None, None, None)
            self.server = None


@pytest.fixture
def exporter() -> Iterator[ExporterUnderTest]:
    redis_server = RedisServer().start()
    instance = ExporterUnderTest(redis_server, free_port())
    try:
        seed_history(redis_server.url, "widget-outage")
        instance.start()
        yield instance
    finally:
        instance.stop()
        redis_server.stop()


def open_dashboard(open_page: OpenPage, exporter: ExporterUnderTest) -> Page:
    page = open_page(f"{exporter.url}/admin", init_script=token_init_script())
    wait_for_state(page, "ready")
    return page


def test_widget_stale_when_exporter_unreachable(open_page: OpenPage,
                                                exporter: ExporterUnderTest) -> None:
    page = open_dashboard(open_page, exporter)
    updated = page.locator(f"{WIDGET} .updated").inner_text()
    errors = page.evaluate_handle("""() => {
      const seen = [];
      document.querySelector('session-metrics-widget')
        .addEventListener('session-metrics-widget:error', (event) => seen.push(event.detail));
      return seen;
    }""")

    exporter.stop()
    page.locator(f"{WIDGET} .refresh-button").click()
    wait_for_state(page, "stale")

    banner = page.locator(f"{WIDGET} .banner")
    expect(banner).to_be_visible()
    expect(banner.locator(".banner-title")).to_have_text("Données périmées")
    expect(banner).to_contain_text("Le point d’accès ne répond pas.")  # noqa: RUF001
    expect(banner).to_contain_text("Nouvel essai automatique toutes les 30\u00a0s.")
    # The last good figures stay on screen, with the time they date from.
    assert digits(page.locator(f"{WIDGET} .kpi-success .kpi-value").inner_text()) == "1900"
    assert page.locator(f"{WIDGET} .updated").inner_text() == updated
    expect(page.locator(f"{WIDGET} .banner-message")).to_contain_text(
        updated.removeprefix("Mis à jour à "))
    detail = errors.evaluate("seen => seen[0]")
    assert detail == {"kind": "unreachable", "status": None, "detail": None, "stale": True}

    exporter.start()
    page.locator(f"{WIDGET} .retry-button").click()
    wait_for_state(page, "ready")
    expect(banner).to_be_hidden()


def test_widget_stale_when_redis_down(open_page: OpenPage,
                                      exporter: ExporterUnderTest) -> None:
    page = open_dashboard(open_page, exporter)

    exporter.redis.stop()
    page.locator(f"{WIDGET} .refresh-button").click()
    wait_for_state(page, "stale")

    banner = page.locator(f"{WIDGET} .banner")
    expect(banner).to_contain_text("Service indisponible (503)")
    expect(banner.locator(".banner-detail")).to_have_text(
        "Détail\u00a0: Redis unavailable (ConnectionError); retry later")

