"""The widget and the /admin page against the real exporter, on a Redis seeded by the recorder."""

from __future__ import annotations

from urllib.parse import parse_qs, urlparse

import pytest
from playwright.sync_api import Page, Request, expect

from .conftest import (
    ADMIN_TOKEN,
    WIDGET,
    OpenPage,
    SeededExporter,
    digits,
    token_init_script,
    wait_for_state,
)
from .seed import WindowTotals

pytestmark = pytest.mark.browser

FRENCH_REASONS = {"network": "réseau", "expired": "expiré", "invalid": "non valide",
                  "revoked": "révoqué", "server_error": "erreur serveur", "inactive": "inactivité"}


def french_ratio(ratio: float) -> str:
    return f"{ratio * 100:.1f}".replace(".", ",") + "%"


def kpi(page: Page, name: str, part: str = "kpi-value") -> str:
    return page.locator(f"{WIDGET} .kpi-{name} .{part}").inner_text()


def table_rows(page: Page, table: str) -> list[list[str]]:
    """Return the cell texts of a table's body rows, read in one step.

    Reading row by row could mix two renders when the widget redraws the table meanwhile.
    """
    rows = page.locator(f"{WIDGET} .{table} tbody tr")
    cells: list[list[str]] = rows.evaluate_all(
        "(rows) => rows.map((row) => [...row.querySelectorAll('th, td')]"
        ".map((cell) => cell.innerText.trim()))")
    return cells


def open_admin(open_page: OpenPage, exporter: SeededExporter, **options: object) -> Page:
    page = open_page(f"{exporter.url}/admin", init_script=token_init_script(), **options)
    wait_for_state(page, "ready")
    return page


def assert_window_numbers(page: Page, totals: WindowTotals, active_total: int) -> None:
    assert digits(kpi(page, "active")) == str(active_total)
    assert digits(kpi(page, "success")) == str(totals.success)
    assert digits(kpi(page, "failure")) == str(totals.failure)
    assert totals.ratio is not None
    assert digits(kpi(page, "rate")) == french_ratio(totals.ratio)
    assert digits(kpi(page, "forced")) == str(sum(totals.forced_by_reason.values()))
    above = totals.ratio > 0.05
    expected_status = "Au-dessus du seuil d’alerte" if above else "Sous le seuil d’alerte"  # noqa: RUF001
    assert kpi(page, "rate", "rate-status") == expected_status
    assert kpi(page, "rate", "kpi-note") == "Seuil d’alerte\u00a0: 5\u00a0%"  # noqa: RUF001


def test_widget_numbers_match_seeded_redis(open_page: OpenPage,
                                           seeded_exporter: SeededExporter) -> None:
    history = seeded_exporter.history
    page = open_admin(open_page, seeded_exporter)

    for window in ("15m", "24h", "7d"):
        if window != "15m":
            with page.expect_response(lambda r, w=window: f"timeseries?window={w}" in r.url):
                page.locator(f"{WIDGET} input[name=window][value='{window}']").check()
            wait_for_state(page, "ready")
            expect(page.locator(f"{WIDGET} .kpi-success .kpi-value")).to_have_text(
                f"{history.windows[window].success:,}".replace(",", "\u202f"))
        totals = history.windows[window]
        assert_window_numbers(page, totals, history.active_total)

        forced_note = kpi(page, "forced", "kpi-note")
        for reason, count in totals.forced_by_reason.items():
            assert f"{FRENCH_REASONS[reason]} {count}" in forced_note

        page.locator(f"{WIDGET} details summary").first.click()
        chart_rows = table_rows(page, "chart-table")
        assert sum(int(digits(row[1])) for row in chart_rows) == totals.success
        assert sum(int(digits(row[2])) for row in chart_rows) == totals.failure
        expected_buckets = {"15m": 15, "24h": 24, "7d": 168}[window]
        assert len(chart_rows) == expected_buckets
        page.locator(f"{WIDGET} details summary").first.click()

    sites = table_rows(page, "sites-table")
    assert sites == [[site, str(count)] for site, count in history.active_by_site.items()]


def test_widget_reason_and_site_rankings_match(open_page: OpenPage,
                                               seeded_exporter: SeededExporter) -> None:
    totals = seeded_exporter.history.windows["15m"]
    page = open_admin(open_page, seeded_exporter)

    with page.expect_response(lambda r: "by=reason" in r.url):
        page.locator(f"{WIDGET} input[name=ranking][value=reason]").check()
    expect(page.locator(f"{WIDGET} .top-table thead th").nth(1)).to_have_text("Raison")
    rows = table_rows(page, "top-table")
    shown = {row[1]: int(row[2]) for row in rows}
    expected = {f"{FRENCH_REASONS[r]}{r}": n for r, n in totals.failures_by_reason.items()}
    assert {key.replace(" ", "").replace("\n", ""): n for key, n in shown.items()} == {
        key.replace(" ", ""): n for key, n in expected.items()}

    with page.expect_response(lambda r: "by=site" in r.url):
        page.locator(f"{WIDGET} input[name=ranking][value=site]").check()
    expect(page.locator(f"{WIDGET} .top-table thead th").nth(1)).to_have_text("Site")
    expect(page.locator(f"{WIDGET} .top-table tbody tr")).to_have_count(len(totals.by_site))
    rows = table_rows(page, "top-table")
    assert {row[1]: int(row[2]) for row in rows} == dict(totals.by_site)


def test_widget_ip_pages_show_all_45_once(open_page: OpenPage,
                                          seeded_exporter: SeededExporter) -> None:
    totals = seeded_exporter.history.windows["15m"]
    page = open_admin(open_page, seeded_exporter)
    ranking_requests: list[dict[str, list[str]]] = []

    def on_request(request: Request) -> None:
        if "/top-errors" in request.url:
            ranking_requests.append(parse_qs(urlparse(request.url).query))

    page.on("request", on_request)
    seen: list[tuple[str, int]] = []
    next_button = page.locator(f"{WIDGET} .next-button")
    while True:
        seen.extend((row[1], int(row[2])) for row in table_rows(page, "top-table"))
        if next_button.is_disabled():
            break
        first_rank = page.locator(f"{WIDGET} .top-table tbody tr td.rank").first.inner_text()
        next_button.click()
        expect(page.locator(f"{WIDGET} .top-table tbody tr td.rank").first).not_to_have_text(
            first_rank)

    keys = [key for key, _ in seen]
    assert len(keys) == 45
    assert len(set(keys)) == 45
    assert dict(seen) == dict(totals.by_ip)
    counts = [count for _, count in seen]
    assert counts == sorted(counts, reverse=True)
    assert page.locator(f"{WIDGET} .pager-range").inner_text() == "41–45 sur 45"  # noqa: RUF001
    assert len(ranking_requests) == 4
    assert all(query["limit"] == ["10"] for query in ranking_requests)
    assert [query["offset"] for query in ranking_requests] == [["10"], ["20"], ["30"], ["40"]]


def deep_focus(page: Page) -> str:
    """Describe the focused element, looking inside the widget's shadow root."""
    return str(page.evaluate(
        """() => {
          let el = document.activeElement;
          while (el && el.shadowRoot && el.shadowRoot.activeElement) {
            el = el.shadowRoot.activeElement;
          }
          if (!el) return '';
          if (el.type === 'radio') return `${el.name}=${el.value}`;
          return `${el.localName}.${el.className}`;
        }"""))


def tab_to(page: Page, target: str, limit: int = 30) -> None:
    for _ in range(limit):
        page.keyboard.press("Tab")
        if deep_focus(page) == target:
            return
    raise AssertionError(f"Tab never reached {target}; focus is on {deep_focus(page)}")


def test_widget_switches_by_keyboard(open_page: OpenPage,
                                     seeded_exporter: SeededExporter) -> None:
    history = seeded_exporter.history
    page = open_admin(open_page, seeded_exporter)

    tab_to(page, "window=15m")
    with page.expect_response(lambda r: "timeseries?window=1h" in r.url):
        page.keyboard.press("ArrowRight")
    wait_for_state(page, "ready")
    with page.expect_response(lambda r: "timeseries?window=24h" in r.url):
        page.keyboard.press("ArrowRight")
    wait_for_state(page, "ready")
    assert deep_focus(page) == "window=24h"
    expect(page.locator(f"{WIDGET} [role=status]")).to_have_text(
        "Données mises à jour pour les dernières 24 heures.")
    expect(page.locator(WIDGET)).to_have_attribute("window", "24h")
    expect(page.locator(f"{WIDGET} .kpi-success .kpi-value")).to_have_text(
        f"{history.windows['24h'].success:,}".replace(",", "\u202f"))

    tab_to(page, "ranking=ip")
    with page.expect_response(lambda r: "by=site" in r.url and "window=24h" in r.url):
        page.keyboard.press("ArrowRight")
    expect(page.locator(f"{WIDGET} .top-table thead th").nth(1)).to_have_text("Site")
    rows = table_rows(page, "top-table")
    assert {row[1]: int(row[2]) for row in rows} == dict(history.windows["24h"].by_site)

    with page.expect_response(lambda r: "by=ip" in r.url):
        page.keyboard.press("ArrowLeft")
    tab_to(page, "button.next-button")
    with page.expect_response(lambda r: "offset=10" in r.url):
        page.keyboard.press("Enter")
    expect(page.locator(f"{WIDGET} .pager-range")).to_have_text("11–20 sur 45")  # noqa: RUF001
    # Enter on the last page disables "Next"; focus must move to "Previous", not get lost.
    for offset in (20, 30, 40):
        with page.expect_response(lambda r, o=offset: f"offset={o}" in r.url):
            page.keyboard.press("Enter")
        expect(page.locator(f"{WIDGET} .pager-range")).to_contain_text(f"{offset + 1}–")  # noqa: RUF001
    expect(page.locator(f"{WIDGET} .next-button")).to_be_disabled()
    assert deep_focus(page) == "button.previous-button"


def test_admin_page_asks_token_once(open_page: OpenPage,
                                    seeded_exporter: SeededExporter) -> None:
    page = open_page(f"{seeded_exporter.url}/admin")
    form = page.locator("#token-form")
    expect(form).to_be_visible()
    expect(page.locator(WIDGET)).to_have_count(0)

    page.fill("#token-input", "wrong-token-0123456789")
    page.click("#token-form button[type=submit]")
    expect(page.locator("#token-error")).to_have_text(
        "L’exporteur a refusé ce jeton. Saisissez-le à nouveau.")  # noqa: RUF001
    expect(page.locator(WIDGET)).to_have_count(0)

    page.fill("#token-input", ADMIN_TOKEN)
    page.click("#token-form button[type=submit]")
    wait_for_state(page, "ready")
    expect(form).to_be_hidden()
    assert page.evaluate("sessionStorage.getItem('sessionwatch.admin.token')") == ADMIN_TOKEN
    assert ADMIN_TOKEN not in page.url

    page.reload()
    wait_for_state(page, "ready")
    expect(form).to_be_hidden()

    page.click("[data-lang=en]")
    expect(page.locator("h1")).to_have_text("Session health")
    expect(page.locator(f"{WIDGET} .kpi-active .kpi-label")).to_have_text("Active sessions")
    assert page.evaluate("document.documentElement.lang") == "en"
    page.reload()
    wait_for_state(page, "ready")
    expect(page.locator(f"{WIDGET} .kpi-success .kpi-value")).to_have_text("1,900")

    page.click("#forget-token")
    expect(form).to_be_visible()
    assert page.evaluate("sessionStorage.getItem('sessionwatch.admin.token')") is None
