"""Accessibility and layout of the banner: axe in both colour schemes, focus, keyboard, live
region, reduced motion and touch targets. The layout test saves the screenshots of the docs."""

from __future__ import annotations

from pathlib import Path

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, BrowserContext, Page

from .conftest import DemoServer
from .pages import (
    advance,
    cut_network,
    due_in_ms,
    install_clock,
    keeper_state,
    open_cashier,
    poll,
    refresh_calls,
    tone,
)

pytestmark = pytest.mark.browser

QUIET_MS = 5_000
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots" / "banner"
SIZES = {"1280x800": (1280, 800), "375x667": (375, 667)}
STATES = {"network": "retrying", "server": "retrying", "refused": "refused", "expired": "expired"}


def reach_state(browser: Browser, server: DemoServer, state: str) -> tuple[BrowserContext, Page]:
    """Open the cashier page and drive it into one banner state."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    install_clock(context, server)
    page = open_cashier(context, server)
    if state in ("network", "expired"):
        cut_network(page)
    else:
        # Through the page's demo tools, so the screenshots show the mode that is in force.
        mode = "error" if state == "server" else "refuse"
        with page.expect_response("**/demo/chaos"):
            page.check(f"input[name=chaos][value={mode}]")
    if state == "expired":
        left = keeper_state(page)["expiresAt"] - page.evaluate("Date.now()")
        advance(page, server, int(left) + 1000, step=5000)
    else:
        advance(page, server, due_in_ms(page) + QUIET_MS + 4000)
    assert tone(page) == STATES[state]
    return context, page


def serious_violations(page: Page) -> list[str]:
    violations = Axe().run(page).response["violations"]
    return [f"{v['id']} ({v['impact']}): {[n['target'] for n in v['nodes']]}"
            for v in violations if v["impact"] in ("serious", "critical")]


@pytest.mark.parametrize("state", list(STATES))
def test_banner_axe_finds_no_serious_violation(
    browser: Browser, demo_server: DemoServer, state: str
):
    context, page = reach_state(browser, demo_server, state)
    # axe-core schedules work with timers; let the page's clock run from here on. The entrance
    # animation fades the banner in, and axe must measure colours once it is over.
    context.clock.resume()
    page.evaluate("""() => Promise.all(document.querySelector('session-banner').shadowRoot
        .getAnimations().map((animation) => animation.finished))""")
    for scheme in ("light", "dark"):
        page.emulate_media(color_scheme=scheme)
        assert serious_violations(page) == [], f"{state} in {scheme} mode"
    context.close()


BANNER_BOXES = """() => {
    const root = document.querySelector('session-banner').shadowRoot;
    const box = (selector) => root.querySelector(selector).getBoundingClientRect().toJSON();
    return { banner: box('.banner'), text: box('.text'), actions: box('.actions') };
}"""


@pytest.mark.parametrize("state", list(STATES))
def test_banner_layout_fits_and_is_captured(browser: Browser, demo_server: DemoServer, state: str):
    context, page = reach_state(browser, demo_server, state)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for size, (width, height) in [*SIZES.items(), ("800x1280", (800, 1280)),
                                  ("320x568", (320, 568))]:
        page.set_viewport_size({"width": width, "height": height})
        box = page.evaluate(BANNER_BOXES)
        if width < 960:
            # Stacked: the text keeps the width, the actions go under it.
            assert box["actions"]["top"] >= box["text"]["bottom"], f"actions beside text at {size}"
            assert box["text"]["width"] >= 0.8 * width, f"text squeezed at {size}"
        if size == "375x667":
            assert box["banner"]["height"] <= 240, f"banner takes too much of a phone at {size}"
        targets = page.evaluate("""() => [...document.querySelector('session-banner').shadowRoot
            .querySelectorAll('.btn')].map((b) => { const r = b.getBoundingClientRect();
            return [b.dataset.action, r.width, r.height, r.right]; })""")
        for action, target_width, target_height, right in targets:
            assert target_width >= 44, f"{action} width at {size}"
            assert target_height >= 44, f"{action} height at {size}"
            assert right <= width, f"{action} overflows at {size}"
        assert page.evaluate("document.documentElement.scrollWidth") <= width, f"overflow at {size}"
        if size not in SIZES:
            continue
        for scheme in ("light", "dark"):
            page.emulate_media(color_scheme=scheme)
            page.evaluate("window.scrollTo(0, 0)")
            path = SCREENSHOTS / f"{state}-{scheme}-{size}.png"
            page.screenshot(path=path, animations="disabled")
    context.close()


def test_banner_moves_focus_only_at_expiry(browser: Browser, demo_server: DemoServer):
    context = browser.new_context()
    install_clock(context, demo_server)
    page = open_cashier(context, demo_server)
    page.focus("#article")
    cut_network(page)
    advance(page, demo_server, due_in_ms(page) + QUIET_MS + 1000)
    assert tone(page) == "retrying"
    assert page.evaluate("document.activeElement.id") == "article"

    left = keeper_state(page)["expiresAt"] - page.evaluate("Date.now()")
    advance(page, demo_server, int(left) + 1000, step=5000)
    assert tone(page) == "expired"
    focused = page.evaluate(
        "document.querySelector('session-banner').shadowRoot.activeElement?.dataset.action")
    assert focused == "relogin"
    context.close()


def test_banner_actions_work_from_keyboard(browser: Browser, demo_server: DemoServer):
    context, page = reach_state(browser, demo_server, "network")
    page.evaluate("""() => { window.saves = 0;
        document.addEventListener('session-save', () => { window.saves += 1; }); }""")
    focused = "document.querySelector('session-banner').shadowRoot.activeElement?.dataset.action"
    page.focus("#logout")

    page.keyboard.press("Tab")
    assert page.evaluate(focused) == "retry"
    before = refresh_calls(page)
    page.keyboard.press("Enter")
    poll(lambda: refresh_calls(page) == before + 1, message="Enter on « Réessayer » did nothing")

    page.keyboard.press("Tab")
    assert page.evaluate(focused) == "save"
    page.keyboard.press("Space")
    assert page.evaluate("window.saves") == 1

    page.keyboard.press("Tab")
    assert page.evaluate(focused) == "relogin"
    context.close()


def test_banner_announces_thresholds_not_every_second(browser: Browser, demo_factory):
    server = demo_factory(token_expiration_minutes=30)
    context = browser.new_context()
    install_clock(context, server)
    page = open_cashier(context, server, "/?ahead=200")
    cut_network(page)
    advance(page, server, due_in_ms(page, 200_000) + QUIET_MS + 1000)
    assert tone(page) == "retrying"
    page.evaluate("""() => {
        window.spoken = [];
        const root = document.querySelector('session-banner').shadowRoot;
        const region = root.querySelector('[data-live=polite]');
        new MutationObserver(() => window.spoken.push(region.textContent.trim()))
            .observe(region, { childList: true, characterData: true, subtree: true });
    }""")

    advance(page, server, 150_000)

    assert page.evaluate("window.spoken") == [
        "La session expire dans 2\u00a0min", "La session expire dans 1\u00a0min"]
    context.close()


def test_banner_respects_reduced_motion(browser: Browser, demo_server: DemoServer):
    context, page = reach_state(browser, demo_server, "network")
    animation = """() => getComputedStyle(document.querySelector('session-banner')
        .shadowRoot.querySelector('.banner')).animationName"""
    page.emulate_media(reduced_motion="no-preference")
    assert page.evaluate(animation) == "enter"
    page.emulate_media(reduced_motion="reduce")
    assert page.evaluate(animation) == "none"
    context.close()
