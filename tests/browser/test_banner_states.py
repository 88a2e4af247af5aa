"""The banner's states against the demo service, in real Chromium with a controlled clock."""

from __future__ import annotations

import json
import re

import pytest
from playwright.sync_api import Browser, expect

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
    tone,
    wait_idle,
    wait_started,
)

pytestmark = pytest.mark.browser

QUIET_MS = 5_000


def failing_page(browser: Browser, server: DemoServer, *, path: str = "/"):
    """Open the cashier page, cut its network and let a refresh fail until the banner shows."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    install_clock(context, server)
    page = open_cashier(context, server, path)
    cut_network(page)
    advance(page, server, due_in_ms(page) + QUIET_MS + 1000)
    return context, page


def test_banner_network_cut_shows_retry_then_clears(browser: Browser, demo_server: DemoServer):
    context, page = failing_page(browser, demo_server)

    texts = banner_texts(page)
    assert tone(page) == "retrying"
    assert texts["visible"]
    assert texts["title"] == "Votre session doit être renouvelée"
    assert re.fullmatch(r"Connexion perdue — nouvelle tentative automatique dans \d+\u00a0s",
                        texts["detail"])
    assert re.fullmatch(r"Session expirée dans 2:\d\d", texts["countdown"])
    assert texts["polite"].startswith("Votre session doit être renouvelée. Connexion perdue")

    cut_network(page, False)
    advance(page, demo_server, 35_000)
    assert tone(page) == "hidden"
    assert not banner_texts(page)["visible"]
    assert keeper_state(page)["problem"] is None
    assert banner_texts(page)["polite"] == "Session renouvelée"
    context.close()


def test_banner_blip_shows_nothing(browser: Browser, demo_server: DemoServer):
    context = browser.new_context()
    install_clock(context, demo_server)
    page = open_cashier(context, demo_server)
    page.evaluate("""() => {
        window.tones = [];
        const banner = document.querySelector('session-banner');
        new MutationObserver(() => window.tones.push(banner.getAttribute('tone')))
            .observe(banner, { attributes: true, attributeFilter: ['tone'] });
    }""")
    cut_network(page)
    advance(page, demo_server, due_in_ms(page) + 1000)
    assert keeper_state(page)["problem"] == "network"
    cut_network(page, False)
    advance(page, demo_server, 4000)

    assert keeper_state(page)["problem"] is None
    assert page.evaluate("window.tones") == []
    context.close()


def test_banner_refusal_offers_relogin_with_return_path(browser: Browser, demo_server: DemoServer):
    context = browser.new_context()
    install_clock(context, demo_server)
    page = open_cashier(context, demo_server, "/?caisse=2")
    demo_server.set_chaos("refuse")
    advance(page, demo_server, due_in_ms(page) + QUIET_MS + 4000)

    texts = banner_texts(page)
    assert tone(page) == "refused"
    assert texts["detail"] == "Le serveur a refusé le renouvellement"
    relogin = page.locator("session-banner [data-action=relogin]")
    assert "primary" in relogin.get_attribute("class")
    assert relogin.get_attribute("href") == "/login?next=%2F%3Fcaisse%3D2"
    relogin.click()
    page.wait_for_url(re.compile(r"/login\?next=%2F%3Fcaisse%3D2$"))
    context.close()


def test_banner_retry_button_refreshes_at_once(browser: Browser, demo_server: DemoServer):
    context, page = failing_page(browser, demo_server)
    before = refresh_calls(page)
    requests = []
    page.on("request", lambda request: requests.append(request.url))
    cut_network(page, False)

    page.locator("session-banner [data-action=retry]").click()

    poll(lambda: refresh_calls(page) == before + 1 and not keeper_state(page)["refreshing"],
         message="« Réessayer » did not refresh")
    wait_idle([page])
    assert refresh_calls(page) == before + 1
    assert any(url.endswith("/auth/refresh") for url in requests)
    assert tone(page) == "hidden"
    context.close()


def test_banner_save_fires_cancelable_event_without_secrets(
    browser: Browser, demo_server: DemoServer
):
    context, page = failing_page(browser, demo_server)
    page.fill("#article", "Veste en laine")
    page.evaluate("""() => {
        window.saves = [];
        document.addEventListener('session-save', (event) => window.saves.push({
            cancelable: event.cancelable, bubbles: event.bubbles, detail: event.detail }));
    }""")

    page.locator("session-banner [data-action=save]").click()

    saves = page.evaluate("window.saves")
    assert len(saves) == 1
    assert saves[0]["cancelable"] and saves[0]["bubbles"]
    assert saves[0]["detail"]["tone"] == "retrying"
    token = page.evaluate("window.demo.readAuth().access_token")
    assert token not in json.dumps(saves[0])
    draft = json.loads(page.evaluate("localStorage.getItem('session-banner:draft:/:vente')"))
    assert draft["values"]["article"] == "Veste en laine"
    assert banner_texts(page)["note"] == "Brouillon enregistré sur cet appareil"
    context.close()


def test_banner_save_cancelled_keeps_no_draft(browser: Browser, demo_server: DemoServer):
    context, page = failing_page(browser, demo_server)
    page.evaluate("document.addEventListener('session-save', (event) => event.preventDefault())")

    page.locator("session-banner [data-action=save]").click()

    assert page.evaluate("localStorage.getItem('session-banner:draft:/:vente')") is None
    context.close()


def test_banner_hidden_ten_minutes_shows_wall_clock_time(browser: Browser, demo_factory):
    server = demo_factory(token_expiration_minutes=30)
    context = browser.new_context()
    install_clock(context, server)
    page = open_cashier(context, server, "/?ahead=900")
    cut_network(page)
    advance(page, server, due_in_ms(page, 900_000) + QUIET_MS + 1000)
    assert re.fullmatch(r"Session expirée dans 14:\d\d", banner_texts(page)["countdown"])
    left_before = int(keeper_state(page)["expiresAt"] - page.evaluate("Date.now()"))

    set_visibility(page, "hidden")
    jump(page, server, 10 * 60_000)
    set_visibility(page, "visible")

    expected = left_before - 10 * 60_000
    minutes, seconds = divmod(-(-expected // 1000), 60)
    assert banner_texts(page)["countdown"] == f"Session expirée dans {minutes}:{seconds:02d}"
    context.close()


def test_banner_english_with_lang_attribute(browser: Browser, demo_server: DemoServer):
    context, page = failing_page(browser, demo_server)
    page.evaluate("document.querySelector('session-banner').setAttribute('lang', 'en')")

    texts = banner_texts(page)
    assert texts["title"] == "Your session needs to be renewed"
    assert re.fullmatch(r"Connection lost — retrying automatically in \d+\u00a0s", texts["detail"])
    expect(page.locator("session-banner [data-action=relogin]")).to_have_text("Sign in again")
    context.close()


def test_demo_login_offers_configured_sites(browser: Browser, demo_factory):
    server = demo_factory(sites=("Rennes Nord", "Brest Port"))
    page = browser.new_page()
    page.goto(f"{server.url}/login?next=/")
    page.wait_for_selector("#site option", state="attached")
    assert page.locator("#site option").all_text_contents() == ["Rennes Nord", "Brest Port"]

    page.select_option("#site", "Brest Port")
    page.click("#login-form button[type=submit]")
    wait_started(page)
    expect(page.locator("#site-name")).to_have_text("Brest Port")

    def started_sites() -> set[str]:
        fields = [json.loads(field) for field in server.totals()]
        return {parts[1] for parts in fields if parts[0] == "started"}

    assert poll(started_sites, message="no session_started recorded") == {"Brest Port"}
    page.close()
