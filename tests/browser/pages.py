"""Drive the demo cashier page: log in, move the clocks, read the banner."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from typing import Any

from playwright.sync_api import BrowserContext, Page
from playwright.sync_api import Error as PlaywrightError

from .conftest import DemoServer

# How long to wait, in real time, for the page's own requests to the demo service to finish.
REQUEST_WAIT_S = 10.0


def poll(check: Callable[[], Any], timeout: float = 10.0, message: str = "") -> Any:
    """Call `check` until it returns a truthy value (real time); fail after `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = check()
        except PlaywrightError:
            # A navigation in progress destroys the page's context; the next poll reads the new one.
            value = None
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(message or f"condition still false after {timeout} s")
        time.sleep(0.05)


def install_clock(context: BrowserContext, server: DemoServer) -> None:
    """Give every page of `context` a paused clock at the service's time."""
    context.clock.install(time=server.clock())
    context.clock.pause_at(server.clock())


def submit_login(page: Page) -> None:
    """Submit the login form once it offers the demo's shops, the first one chosen."""
    page.wait_for_selector("#site option", state="attached")
    page.click("#login-form button[type=submit]")


def login(page: Page, server: DemoServer, path: str = "/") -> None:
    """Log in through the login page and wait until the cashier page runs its keeper."""
    page.goto(f"{server.url}/login?next={path}")
    submit_login(page)
    wait_started(page)


def wait_started(page: Page) -> None:
    poll(lambda: page.evaluate("typeof window.demo === 'object'"),
         message="cashier page did not start")


def open_cashier(context: BrowserContext, server: DemoServer, path: str = "/") -> Page:
    """Open a page on the cashier screen, logging in unless the context already has a token."""
    page = context.new_page()
    page.goto(f"{server.url}{path}")
    if "/login" in page.url:
        submit_login(page)
    wait_started(page)
    return page


def wait_idle(pages: list[Page]) -> None:
    """Wait until no page has a request to the demo service in flight.

    A refresh that just started may first wait for the Web Lock (a real browser task) before
    its request leaves; give it a moment. A refresh waiting on a fake-clock timer (the storage
    lease, the race check) stays pending until the clock moves, so that wait is not an error.
    """
    settled = "window.demo.stats.pendingRequests === 0 && !window.demo.keeper.state.refreshing"
    for page in pages:
        with contextlib.suppress(AssertionError):
            poll(lambda page=page: page.evaluate(settled), 0.5)
        poll(lambda page=page: page.evaluate("window.demo.stats.pendingRequests === 0"),
             REQUEST_WAIT_S, "a request of the page did not finish")


def advance(pages: list[Page] | Page, server: DemoServer, ms: int, step: int = 1000) -> None:
    """Move the browser context's clock and the service's clock forward together.

    Time moves in steps. After each step the page's requests may finish in real time, so a
    fake-clock timeout never fires while a real request is on its way.
    """
    pages = pages if isinstance(pages, list) else [pages]
    left = ms
    while left > 0:
        chunk = min(step, left)
        server.clock.advance(chunk / 1000)
        pages[0].clock.run_for(chunk)
        wait_idle(pages)
        left -= chunk


def jump(page: Page, server: DemoServer, ms: int) -> None:
    """Move the wall clock without firing timers: a hidden tab whose timers are throttled."""
    server.clock.advance(ms / 1000)
    page.clock.set_system_time(page.evaluate("Date.now()") / 1000 + ms / 1000)


def set_visibility(page: Page, state: str) -> None:
    """Make the page report `state` (visible or hidden) and fire visibilitychange."""
    page.evaluate(
        """(state) => {
            const define = (name, get) =>
                Object.defineProperty(document, name, { configurable: true, get });
            define('visibilityState', () => state);
            define('hidden', () => state === 'hidden');
            document.dispatchEvent(new Event('visibilitychange'));
        }""",
        state,
    )


def tone(page: Page) -> str | None:
    return page.locator("session-banner").get_attribute("tone")


def banner_texts(page: Page) -> dict[str, str]:
    return page.evaluate(
        """() => {
            const root = document.querySelector('session-banner').shadowRoot;
            const text = (selector) => root.querySelector(selector).textContent;
            return {
                title: text('.title'), detail: text('.detail'), countdown: text('.countdown'),
                note: text('.note'), polite: text('[data-live="polite"]'),
                assertive: text('[data-live="assertive"]'),
                visible: !root.querySelector('.banner').hidden,
            };
        }"""
    )


def keeper_state(page: Page) -> dict[str, Any]:
    return page.evaluate("({ ...window.demo.keeper.state })")


def refresh_calls(page: Page) -> int:
    return int(page.evaluate("window.demo.stats.refreshCalls"))


def cut_network(page: Page, cut: bool = True) -> None:
    page.evaluate("(cut) => window.demo.setNetworkCut(cut)", cut)


def due_in_ms(page: Page, ahead_ms: int = 5 * 60_000) -> int:
    """Milliseconds until the keeper's next refresh falls due (`ahead_ms`: its refreshAheadMs)."""
    state = keeper_state(page)
    lifetime = state["expiresAt"] - state["learnedAt"]
    ahead = min(ahead_ms, lifetime / 2)
    return max(0, int(state["expiresAt"] - ahead - state["now"]) + 1)
