"""Real-world failures: offline past expiry, a network that fails while `onLine` is true,
server errors, a tab throttled in the background, and exactly-once client events."""

from __future__ import annotations

import contextlib
import json
import re

import pytest
from playwright.sync_api import Browser, Route

from .conftest import DemoServer
from .pages import (
    advance,
    banner_texts,
    cut_network,
    due_in_ms,
    install_clock,
    jump,
    keeper_state,
    open_cashier,
    poll,
    refresh_calls,
    set_visibility,
    submit_login,
    tone,
    wait_started,
)

pytestmark = pytest.mark.browser

QUIET_MS = 5_000


def assert_jittered_backoff(failures: list[dict]) -> None:
    """Each retry delay lies in the upper half of its nominal exponential delay."""
    delays = [f["nextRetryAt"] - f["at"] for f in failures if f["nextRetryAt"] is not None]
    assert delays, "no retry was scheduled"
    for attempt, delay in enumerate(delays, start=1):
        nominal = min(30_000, 1000 * 2 ** (attempt - 1))
        assert nominal / 2 <= delay <= nominal, f"retry {attempt} delay {delay} ms"
    capped = [d for a, d in enumerate(delays, start=1) if a >= 6]
    assert len(set(capped)) == len(capped), "capped delays are not jittered"


def test_banner_offline_past_expiry_is_not_logged_out(browser: Browser, demo_server: DemoServer):
    context = browser.new_context()
    install_clock(context, demo_server)
    page = open_cashier(context, demo_server)
    context.set_offline(True)
    lifetime_left = keeper_state(page)["expiresAt"] - page.evaluate("Date.now()")
    advance(page, demo_server, int(lifetime_left) + 2 * 60_000, step=2000)

    texts = banner_texts(page)
    assert tone(page) == "expired"
    assert texts["title"] == "Votre session a expiré"
    assert texts["detail"].startswith("Connexion perdue — ")
    assert page.url == f"{demo_server.url}/"
    failures = page.evaluate("window.demo.stats.failures")
    assert {f["detail"] for f in failures} == {"offline"}
    assert_jittered_backoff(failures)

    calls_before = refresh_calls(page)
    context.set_offline(False)
    poll(lambda: keeper_state(page)["problem"] is None, message="no retry on the online event")
    assert refresh_calls(page) == calls_before + 1
    assert tone(page) == "hidden"
    # One outage is one failed refresh, however many retries it took.
    assert len(failures) > 1
    poll(lambda: demo_server.client_network_failures() == 1,
         message="the offline failure did not reach Redis")
    assert demo_server.forced_logouts() == 0
    context.close()


def test_banner_online_but_fetch_failing_keeps_retrying(browser: Browser, demo_server: DemoServer):
    context = browser.new_context()
    install_clock(context, demo_server)
    page = open_cashier(context, demo_server)
    page.route(re.compile(r"/(auth|api|v1)/"), lambda route: route.abort("failed"))
    advance(page, demo_server, due_in_ms(page) + 60_000, step=2000)

    assert page.evaluate("navigator.onLine") is True
    assert tone(page) == "retrying"
    assert re.fullmatch(r"Connexion perdue — nouvelle tentative automatique dans \d+\u00a0s",
                        banner_texts(page)["detail"])
    failures = page.evaluate("window.demo.stats.failures")
    assert {f["detail"] for f in failures} == {"fetch_error"}
    assert_jittered_backoff(failures)

    page.unroute(re.compile(r"/(auth|api|v1)/"))
    advance(page, demo_server, 31_000)
    assert tone(page) == "hidden"
    assert page.url == f"{demo_server.url}/"
    assert demo_server.forced_logouts() == 0
    context.close()


def test_banner_server_errors_three_times_then_ok(browser: Browser, demo_server: DemoServer):
    context = browser.new_context()
    install_clock(context, demo_server)
    page = open_cashier(context, demo_server)
    answered: list[int] = []

    def three_errors(route: Route) -> None:
        if len(answered) < 3:
            answered.append(503)
            route.fulfill(status=503, content_type="application/json",
                          body=json.dumps({"detail": {"reason": "server_error"}}))
        else:
            answered.append(200)
            route.continue_()

    page.route("**/auth/refresh", three_errors)
    advance(page, demo_server, due_in_ms(page) + 10_000, step=500)

    assert answered == [503, 503, 503, 200]
    failures = page.evaluate("window.demo.stats.failures")
    assert [(f["kind"], f["reason"]) for f in failures] == [("server", "server_error")] * 3
    assert_jittered_backoff(failures)
    assert keeper_state(page)["problem"] is None
    assert tone(page) == "hidden"
    assert page.url == f"{demo_server.url}/"
    assert demo_server.forced_logouts() == 0
    context.close()


def test_banner_hidden_tab_retries_once_after_throttling(browser: Browser, demo_server: DemoServer):
    context = browser.new_context()
    install_clock(context, demo_server)
    page = open_cashier(context, demo_server, "/?ahead=125")
    cut_network(page)
    advance(page, demo_server, due_in_ms(page, 125_000) + QUIET_MS + 1000)
    assert tone(page) == "retrying"
    assert re.fullmatch(r"Session expirée dans (2:00|1:5\d)", banner_texts(page)["countdown"])

    # On a loaded machine a retry may still be waiting for the Web Lock (a real browser task)
    # when `advance` returns. Let it leave first, or it would be counted as a burst below.
    with contextlib.suppress(AssertionError):
        poll(lambda: not keeper_state(page)["refreshing"], 5)
    set_visibility(page, "hidden")
    jump(page, demo_server, 5 * 60_000)
    calls_before = refresh_calls(page)
    set_visibility(page, "visible")

    texts = banner_texts(page)
    assert texts["title"] == "Votre session a expiré"
    assert tone(page) == "expired"
    assert refresh_calls(page) == calls_before + 1
    # At least three retries failed before the tab was hidden, so the retry after this one is
    # due at least 4 s later (half of 8 s, jittered); a call within 3 s would come from timers
    # left overdue while hidden.
    advance(page, demo_server, 3000)
    assert refresh_calls(page) == calls_before + 1, "overdue timers caused a burst"

    cut_network(page, False)
    advance(page, demo_server, 31_000)
    assert tone(page) == "hidden"
    assert demo_server.forced_logouts() == 0
    context.close()


def test_client_events_reach_redis_exactly_once(browser: Browser, demo_server: DemoServer):
    context = browser.new_context()
    install_clock(context, demo_server)
    page = open_cashier(context, demo_server)
    cut_network(page)
    advance(page, demo_server, due_in_ms(page) + 20_000)
    # Several retries, one outage: one event to report.
    assert len(page.evaluate("window.demo.stats.failures")) >= 3
    failures = 1
    assert keeper_state(page)["pendingEvents"] == failures
    assert demo_server.client_network_failures() == 0

    posts: list[str] = []

    def lose_first_response(route: Route) -> None:
        posts.append(route.request.post_data or "")
        if len(posts) == 1:
            route.fetch()  # the server stores the events...
            route.abort("failed")  # ...but the browser never hears back
        else:
            route.continue_()

    page.route("**/v1/sessions/client-events", lose_first_response)
    cut_network(page, False)
    advance(page, demo_server, 31_000)
    assert keeper_state(page)["problem"] is None
    assert demo_server.client_network_failures() == failures
    assert keeper_state(page)["pendingEvents"] == failures

    advance(page, demo_server, 61_000, step=5000)
    assert len(posts) == 2
    assert json.loads(posts[0])["events"] == json.loads(posts[1])["events"]
    assert keeper_state(page)["pendingEvents"] == 0
    assert demo_server.client_network_failures() == failures
    context.close()


def test_banner_reload_keeps_showing_the_problem(browser: Browser, demo_server: DemoServer):
    # Real time here: a reload with a fake clock would replay the clock from its start.
    context = browser.new_context()
    page = open_cashier(context, demo_server)
    cut_network(page)
    page.locator("#refresh-now").click()
    poll(lambda: tone(page) == "retrying", timeout=QUIET_MS / 1000 + 5,
         message="the banner did not show after the quiet period")

    page.reload()
    wait_started(page)

    assert poll(lambda: tone(page) == "retrying", timeout=1.5,
                message="the reloaded page hid an ongoing network problem")
    assert keeper_state(page)["problem"] == "network"
    context.close()


def test_banner_draft_survives_login_redirect(browser: Browser, demo_server: DemoServer):
    context = browser.new_context()
    page = open_cashier(context, demo_server)
    page.fill("#article", "Veste en laine")
    page.locator("session-banner").evaluate("(banner) => banner.save()")
    draft_key = "session-banner:draft:/:vente"
    assert page.evaluate(f"localStorage.getItem('{draft_key}')") is not None

    # The session is gone: the cashier page sends the tablet to the login page at once.
    page.evaluate("localStorage.removeItem('demo.auth')")
    page.goto(f"{demo_server.url}/")
    page.wait_for_url(re.compile(r"/login"))
    assert page.evaluate(f"localStorage.getItem('{draft_key}')") is not None
    submit_login(page)
    wait_started(page)

    assert page.input_value("#article") == "Veste en laine"
    page.fill("#price", "4")
    page.locator("#sale-form button[type=submit]").click()
    assert page.evaluate(f"localStorage.getItem('{draft_key}')") is None
    context.close()
