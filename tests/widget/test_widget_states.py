"""Widget behaviour against the stub admin API: embedding, auth modes, timers, forced states."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from .conftest import WIDGET, OpenPage, Stub, digits, wait_for_state
from .stub_app import SESSION_COOKIE, STATIC_DIR, TOKEN

pytestmark = pytest.mark.browser

COUNT_UPDATES = """
  window.__updates = 0;
  document.addEventListener('session-metrics-widget:updated', () => { window.__updates += 1; });
"""


def session_cookie(stub: Stub) -> list[dict[str, str]]:
    return [{"name": SESSION_COOKIE[0], "value": SESSION_COOKIE[1], "url": stub.url}]


def wait_until(condition: Callable[[], bool], message: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(message)
        time.sleep(0.05)


def add_widget(page: Page, attributes: str = "", script: str = "") -> None:
    """Insert a widget into the blank page, optionally running `script` on it (as `widget`)
    before it is connected."""
    page.evaluate(
        f"""async () => {{
          await customElements.whenDefined('session-metrics-widget');
          const template = document.createElement('template');
          template.innerHTML = `<session-metrics-widget {attributes}></session-metrics-widget>`;
          const widget = template.content.firstElementChild;
          {script}
          document.querySelector('main').append(widget);
        }}"""
    )


def test_widget_plain_page_needs_import_and_tag(open_page: OpenPage, stub: Stub) -> None:
    page_source = (Path(__file__).parent / "pages" / "plain.html").read_text("utf-8")
    assert re.findall(r"<script[^>]*>", page_source) == [
        '<script type="module" src="/static/widget/index.js">']

    page = open_page(f"{stub.url}/pages/plain.html", cookies=session_cookie(stub))
    wait_for_state(page, "ready")

    assert digits(page.locator(f"{WIDGET} .kpi-active .kpi-value").inner_text()) == "12"
    expect(page.locator(f"{WIDGET} input[name=window][value='15m']")).to_be_checked()
    requests = stub.state.requests_to("/metrics")
    assert requests[0].params == {"window": "15m"}
    assert requests[0].authorization is None
    assert requests[0].cookie == "=".join(SESSION_COOKIE)
    assert stub.state.requests_to("/top-errors")[0].params == {
        "by": "ip", "window": "15m", "limit": "10", "offset": "0"}


def test_widget_token_provider_sends_bearer(open_page: OpenPage, stub: Stub) -> None:
    page = open_page(f"{stub.url}/pages/blank.html")
    add_widget(page, 'credentials="omit" page-size="25"',
               f"widget.tokenProvider = async () => {TOKEN!r};")
    wait_for_state(page, "ready")

    for request in stub.state.requests:
        assert request.authorization == f"Bearer {TOKEN}"
        assert request.cookie is None
    assert stub.state.requests_to("/top-errors")[0].params["limit"] == "25"


def test_widget_failing_token_provider_is_error(open_page: OpenPage, stub: Stub) -> None:
    page = open_page(f"{stub.url}/pages/blank.html")
    add_widget(page, "", "widget.tokenProvider = async () => { throw new Error('vault down'); };")
    wait_for_state(page, "error")

    expect(page.locator(f"{WIDGET} .banner-message")).to_contain_text(
        "Impossible d’obtenir le jeton d’accès.")  # noqa: RUF001
    assert stub.state.requests == []


def test_widget_refused_without_credentials(open_page: OpenPage, stub: Stub) -> None:
    page = open_page(f"{stub.url}/pages/blank.html", cookies=session_cookie(stub))
    add_widget(page, 'credentials="omit"')
    wait_for_state(page, "error")

    assert stub.state.requests_to("/metrics")[0].cookie is None
    banner = page.locator(f"{WIDGET} .banner")
    expect(banner.locator(".banner-title")).to_have_text("Données indisponibles")
    expect(banner).to_contain_text("Accès refusé (401)")
    expect(banner.locator(".banner-detail")).to_have_text(
        "Détail\u00a0: missing or invalid credentials")
    expect(page.locator(f"{WIDGET} .kpi-active .kpi-value")).to_have_text("—")


@pytest.mark.parametrize(
    ("status", "body", "message"),
    [
        (403, {"detail": "not an admin"}, "Accès interdit (403)"),
        (503, {"detail": "Redis unavailable (TimeoutError); retry later"},
         "Service indisponible (503)"),
        (422, {"detail": [{"msg": "invalid window"}]}, "Requête refusée par le serveur (422)."),
        (500, "Internal Server Error", "Réponse inattendue du serveur (HTTP 500)."),
        (200, "<html>login page</html>", "Réponse illisible du serveur."),
        (200, {"window": "15m"}, "Réponse illisible du serveur."),
    ],
)
def test_widget_error_state_names_cause(open_page: OpenPage, stub: Stub, status: int,
                                        body: object, message: str) -> None:
    stub.state.error = (status, body)
    page = open_page(f"{stub.url}/pages/plain.html", cookies=session_cookie(stub))
    wait_for_state(page, "error")

    expect(page.locator(f"{WIDGET} .banner")).to_contain_text(message)
    expect(page.locator(f"{WIDGET} .retry-button")).to_be_visible()
    expect(page.locator(f"{WIDGET} .updated")).to_have_text("Pas encore de données")


def test_widget_empty_state(open_page: OpenPage, stub: Stub) -> None:
    stub.state.active_by_site = {}
    stub.state.success = 0
    stub.state.failures = []
    stub.state.forced_by_reason = {}
    page = open_page(f"{stub.url}/pages/plain.html", cookies=session_cookie(stub))
    wait_for_state(page, "empty")

    expect(page.locator(f"{WIDGET} .banner")).to_be_visible()
    expect(page.locator(f"{WIDGET} .banner-message")).to_have_text(
        "Aucune activité enregistrée sur les 15 dernières minutes.")
    expect(page.locator(f"{WIDGET} .retry-button")).to_be_hidden()
    expect(page.locator(f"{WIDGET} .kpi-rate .kpi-value")).to_have_text("—")
    expect(page.locator(f"{WIDGET} .rate-status")).to_have_text(
        "Aucun renouvellement sur la fenêtre")
    expect(page.locator(f"{WIDGET} .chart-empty")).to_be_visible()
    expect(page.locator(f"{WIDGET} .sites-table tbody")).to_have_text("Aucune session active.")
    expect(page.locator(f"{WIDGET} .top-table tbody")).to_have_text(
        "Aucun échec sur cette fenêtre.")
    expect(page.locator(f"{WIDGET} .pager")).to_be_hidden()


def test_widget_english_with_lang_en(open_page: OpenPage, stub: Stub) -> None:
    page = open_page(f"{stub.url}/pages/blank.html", cookies=session_cookie(stub),
                     locale="en-GB")
    add_widget(page, 'lang="en"')
    wait_for_state(page, "ready")

    expect(page.locator(f"{WIDGET} h2")).to_have_text("Sessions")
    expect(page.locator(f"{WIDGET} .kpi-success .kpi-label")).to_have_text(
        "Successful refreshes")
    expect(page.locator(f"{WIDGET} .kpi-success .kpi-value")).to_have_text("1,900")
    expect(page.locator(f"{WIDGET} .kpi-rate .kpi-value")).to_have_text("5.5%")
    expect(page.locator(f"{WIDGET} .rate-status")).to_have_text("Above the alert threshold")
    expect(page.locator(f"{WIDGET} .pager-range")).to_have_text("1–10 of 45")  # noqa: RUF001
    expect(page.locator(f"{WIDGET} .kpi-failure .kpi-note")).to_have_text(
        "network 45 · expired 22 · invalid 22 · …")

    page.evaluate("document.querySelector('session-metrics-widget').lang = 'fr'")
    expect(page.locator(f"{WIDGET} .kpi-success .kpi-label")).to_have_text(
        "Renouvellements réussis")


def test_widget_messages_override(open_page: OpenPage, stub: Stub) -> None:
    page = open_page(f"{stub.url}/pages/blank.html", cookies=session_cookie(stub))
    add_widget(page, "", "widget.messages = "
               "{ fr: { title: 'Connexions', 'reason.network': 'réseau client' } };")
    wait_for_state(page, "ready")

    expect(page.locator(f"{WIDGET} h2")).to_have_text("Connexions")
    expect(page.locator(f"{WIDGET} .kpi-failure .kpi-note")).to_contain_text("réseau client 45")


def test_widget_hostile_labels_render_as_text(open_page: OpenPage, stub: Stub) -> None:
    hostile = ['<img src=x onerror="window.__pwned=1">', 'a"b', "c\\", "тест ✓ 🙂"]
    stub.state.active_by_site = {name: 1 for name in hostile}
    stub.state.failures = [("203.0.113.0/24", name, "network") for name in hostile]
    page = open_page(f"{stub.url}/pages/plain.html", cookies=session_cookie(stub))
    wait_for_state(page, "ready")

    sites = page.locator(f"{WIDGET} .sites-table tbody th").all_inner_texts()
    assert sorted(sites) == sorted(hostile)
    page.locator(f"{WIDGET} input[name=ranking][value=site]").check()
    expect(page.locator(f"{WIDGET} .top-table tbody tr")).to_have_count(4)
    keys = page.locator(f"{WIDGET} .top-table tbody td.key").all_inner_texts()
    assert sorted(keys) == sorted(hostile)
    assert page.locator(f"{WIDGET} img").count() == 0
    assert page.evaluate("window.__pwned") is None


def test_widget_refreshes_every_30s_and_pauses_hidden(open_page: OpenPage, stub: Stub) -> None:
    page = open_page(cookies=session_cookie(stub), init_script=COUNT_UPDATES)
    page.clock.install()
    page.goto(f"{stub.url}/pages/plain.html")
    wait_for_state(page, "ready")
    metrics_requests = lambda: len(stub.state.requests_to("/metrics"))  # noqa: E731
    assert metrics_requests() == 1

    page.clock.run_for(29_000)
    time.sleep(0.3)
    assert metrics_requests() == 1
    page.clock.run_for(1_500)
    wait_until(lambda: page.evaluate("window.__updates") == 2, "no refresh after 30 s")
    assert metrics_requests() == 2

    page.evaluate("""() => {
      Object.defineProperty(document, 'visibilityState',
                            { configurable: true, get: () => 'hidden' });
      document.dispatchEvent(new Event('visibilitychange'));
    }""")
    page.clock.run_for(5 * 60_000)
    time.sleep(0.5)
    assert metrics_requests() == 2

    page.evaluate("""() => {
      Object.defineProperty(document, 'visibilityState',
                            { configurable: true, get: () => 'visible' });
      document.dispatchEvent(new Event('visibilitychange'));
    }""")
    wait_until(lambda: page.evaluate("window.__updates") == 3, "no refresh when visible again")
    assert metrics_requests() == 3


def test_widget_retries_after_failure_on_schedule(open_page: OpenPage, stub: Stub) -> None:
    page = open_page(cookies=session_cookie(stub), init_script=COUNT_UPDATES)
    page.clock.install()
    page.goto(f"{stub.url}/pages/plain.html")
    wait_for_state(page, "ready")

    stub.state.error = (503, {"detail": "Redis unavailable (ConnectionError); retry later"})
    page.clock.run_for(30_500)
    wait_for_state(page, "stale")
    expect(page.locator(f"{WIDGET} .banner")).to_contain_text("Service indisponible (503)")

    stub.state.error = None
    page.clock.run_for(30_500)
    wait_for_state(page, "ready")
    expect(page.locator(f"{WIDGET} .banner")).to_be_hidden()


def test_widget_disconnect_stops_timers_and_listeners(open_page: OpenPage, stub: Stub) -> None:
    page = open_page(cookies=session_cookie(stub))
    page.clock.install()
    page.goto(f"{stub.url}/pages/plain.html")
    wait_for_state(page, "ready")

    page.evaluate("document.querySelector('session-metrics-widget').remove()")
    page.clock.run_for(5 * 60_000)
    page.evaluate("document.dispatchEvent(new Event('visibilitychange'))")
    time.sleep(0.5)
    assert len(stub.state.requests_to("/metrics")) == 1


def test_widget_window_change_can_be_cancelled(open_page: OpenPage, stub: Stub) -> None:
    page = open_page(f"{stub.url}/pages/plain.html", cookies=session_cookie(stub))
    wait_for_state(page, "ready")
    page.evaluate("""document.querySelector('session-metrics-widget').addEventListener(
      'session-metrics-widget:window-change', (event) => event.preventDefault())""")

    page.locator(f"{WIDGET} input[name=window][value='7d']").click()
    expect(page.locator(f"{WIDGET} input[name=window][value='15m']")).to_be_checked()
    assert page.evaluate("document.querySelector('session-metrics-widget').timeWindow") == "15m"
    assert len(stub.state.requests_to("/metrics")) == 1


def test_widget_invalid_attributes_fall_back(open_page: OpenPage, stub: Stub) -> None:
    page = open_page(f"{stub.url}/pages/blank.html", cookies=session_cookie(stub))
    add_widget(page, 'window="3m" page-size="5000" refresh-interval="1" credentials="all"')
    wait_for_state(page, "ready")

    top = stub.state.requests_to("/top-errors")[0].params
    assert top["window"] == "15m"
    assert top["limit"] == "10"
    expect(page.locator(f"{WIDGET} .cadence")).to_have_text("actualisation toutes les 30\u00a0s")
    error = page.evaluate("""() => {
      try { document.querySelector('session-metrics-widget').timeWindow = '3m'; }
      catch (error) { return `${error.name}: ${error.message}`; }
    }""")
    assert error == "RangeError: Invalid window '3m': expected one of 5m, 15m, 1h, 24h, 7d."


def test_widget_chart_reads_without_colour(open_page: OpenPage, stub: Stub) -> None:
    page = open_page(f"{stub.url}/pages/plain.html", cookies=session_cookie(stub))
    wait_for_state(page, "ready")

    chart = page.locator(f"{WIDGET} svg.chart-svg")
    expect(chart).to_have_attribute("role", "img")
    expect(chart).to_have_attribute(
        "aria-label", "1\u202f900 réussis et 111 échoués sur les 15 dernières minutes, "
        "par tranches de 1 minute.")
    failure_fills = chart.locator("rect.bar-failure").evaluate_all(
        "rects => rects.map((rect) => rect.getAttribute('fill'))")
    assert failure_fills and all(re.fullmatch(r"url\(#smw-hatch-\d+\)", f) for f in failure_fills)
    expect(page.locator(f"{WIDGET} .legend")).to_have_text(re.compile(r"Réussis\s*Échoués"))
    expect(page.locator(f"{WIDGET} .chart-table tbody tr")).to_have_count(15)


def test_widget_sources_have_no_console_calls() -> None:
    sources = [*sorted((STATIC_DIR / "widget").glob("*.js")), STATIC_DIR / "admin.js"]
    assert len(sources) >= 5
    for source in sources:
        assert "console." not in source.read_text("utf-8"), source.name
