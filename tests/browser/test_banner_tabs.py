"""Several tabs of one session: one refresh per cycle, shared outcome, and the fallbacks used
where Web Locks or BroadcastChannel are missing."""

from __future__ import annotations

import dataclasses

import pytest
from playwright.sync_api import Browser, BrowserContext, Page

from .conftest import LAN_HOST, DemoServer
from .pages import (
    advance,
    cut_network,
    due_in_ms,
    install_clock,
    keeper_state,
    open_cashier,
    poll,
    tone,
)

pytestmark = pytest.mark.browser

QUIET_MS = 5_000
# Removes both APIs before any page script runs, as in browsers that lack them.
REMOVE_SYNC_APIS = """
    delete window.BroadcastChannel;
    Object.defineProperty(Navigator.prototype, 'locks', {
        configurable: true, get: () => undefined });
"""


def two_tabs(context: BrowserContext, server: DemoServer) -> tuple[Page, Page, list[str]]:
    errors: list[str] = []
    context.on("weberror", lambda error: errors.append(str(error.error)))
    install_clock(context, server)
    first = open_cashier(context, server)
    second = open_cashier(context, server)
    return first, second, errors


def refresh_requests(context: BrowserContext) -> list[str]:
    urls: list[str] = []
    context.on("request", lambda r: urls.append(r.url) if r.url.endswith("/auth/refresh") else None)
    return urls


def assert_banner_shows_and_clears_in_both(first: Page, second: Page, server: DemoServer) -> None:
    cut_network(first)
    advance([first, second], server, due_in_ms(first) + QUIET_MS + 1000)
    assert tone(first) == "retrying"
    assert tone(second) == "retrying"

    cut_network(first, False)
    advance([first, second], server, 35_000)
    assert tone(first) == "hidden"
    assert tone(second) == "hidden"


def test_banner_two_tabs_one_refresh_per_cycle(browser: Browser, demo_server: DemoServer):
    context = browser.new_context()
    first, second, errors = two_tabs(context, demo_server)
    requests = refresh_requests(context)
    assert keeper_state(first)["expiresAt"] == keeper_state(second)["expiresAt"]

    for cycle in (1, 2, 3):
        advance([first, second], demo_server, due_in_ms(first) + 1000)
        assert len(requests) == cycle, f"refresh requests after cycle {cycle}"
        assert keeper_state(first)["expiresAt"] == keeper_state(second)["expiresAt"]
    assert first.evaluate("window.demo.keeper.mechanisms") == {
        "lock": "web-locks", "channel": "broadcast-channel"}
    assert errors == []
    context.close()


def test_banner_success_in_one_tab_clears_the_other(browser: Browser, demo_server: DemoServer):
    context = browser.new_context()
    first, second, errors = two_tabs(context, demo_server)
    cut_network(first)
    advance([first, second], demo_server, due_in_ms(first) + QUIET_MS + 1000)
    assert tone(second) == "retrying"

    cut_network(first, False)
    first.locator("session-banner [data-action=retry]").click()

    poll(lambda: tone(second) == "hidden", message="the other tab still shows the banner")
    assert tone(first) == "hidden"
    assert errors == []
    context.close()


def test_banner_fallback_without_locks_and_channel(browser: Browser, demo_server: DemoServer):
    context = browser.new_context()
    context.add_init_script(REMOVE_SYNC_APIS)
    first, second, errors = two_tabs(context, demo_server)
    requests = refresh_requests(context)
    assert first.evaluate("typeof BroadcastChannel + ' ' + typeof navigator.locks") == (
        "undefined undefined")
    assert first.evaluate("window.demo.keeper.mechanisms") == {
        "lock": "storage-lease", "channel": "storage-event"}

    advance([first, second], demo_server, due_in_ms(first) + 1000)
    # The storage lease is best effort: two tabs may both refresh once, never more.
    assert 1 <= len(requests) <= 2
    assert keeper_state(first)["expiresAt"] == keeper_state(second)["expiresAt"]
    assert_banner_shows_and_clears_in_both(first, second, demo_server)
    assert errors == []
    context.close()


def test_banner_fallback_on_insecure_lan_origin(lan_browser: Browser, demo_server: DemoServer):
    server = dataclasses.replace(demo_server, url=demo_server.url.replace("127.0.0.1", LAN_HOST))
    context = lan_browser.new_context()
    first, second, errors = two_tabs(context, server)
    assert first.evaluate("window.isSecureContext") is False
    assert first.evaluate("window.demo.keeper.mechanisms") == {
        "lock": "storage-lease", "channel": "broadcast-channel"}

    assert_banner_shows_and_clears_in_both(first, second, server)
    poll(lambda: first.evaluate("window.demo.keeper.state.pendingEvents") == 0,
         message="client events were not sent from the insecure origin")
    assert server.client_network_failures() >= 1
    assert errors == []
    context.close()
