"""Accessibility scans and screenshots of each widget state, in light and dark, wide and narrow.

Screenshots replace the ones in docs/screenshots/widget on every run, as the banner's do, so the
docs always show what the current code draws; they are named
<state>-<light|dark>-<width>x<height>.png.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from pathlib import Path

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page, expect

from .conftest import WIDGET, OpenPage, SeededExporter, Stub, token_init_script, wait_for_state
from .stub_app import TOKEN

pytestmark = pytest.mark.browser

DOCS_SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots" / "widget"
SIZES = [(1280, 800), (375, 667)]
SCHEMES = ["light", "dark"]
BLOCKING_IMPACTS = {"serious", "critical"}


def blocking_violations(page: Page) -> list[str]:
    results = Axe().run(page)
    return [
        f"{violation['id']} ({violation['impact']}): "
        + "; ".join(str(node["target"]) for node in violation["nodes"])
        for violation in results.response["violations"]
        if violation["impact"] in BLOCKING_IMPACTS
    ]


def png_size(path: Path) -> tuple[int, int]:
    width, height = struct.unpack(">II", path.read_bytes()[16:24])
    return width, height


@pytest.fixture
def screenshot_dir() -> Path:
    DOCS_SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return DOCS_SCREENSHOTS


def show_dashboard(open_page: OpenPage, exporter: SeededExporter, stub: Stub,
                   **options: object) -> Page:
    page = open_page(f"{exporter.url}/admin", init_script=token_init_script(), **options)
    wait_for_state(page, "ready")
    return page


def show_stale(open_page: OpenPage, exporter: SeededExporter, stub: Stub,
               **options: object) -> Page:
    page = open_page(f"{stub.url}/admin", init_script=token_init_script(TOKEN), **options)
    wait_for_state(page, "ready")
    stub.state.error = (503, {"detail": "Redis unavailable (ConnectionError); retry later"})
    page.locator(f"{WIDGET} .refresh-button").click()
    wait_for_state(page, "stale")
    return page


def show_error(open_page: OpenPage, exporter: SeededExporter, stub: Stub,
               **options: object) -> Page:
    stub.state.error = (503, {"detail": "admin API disabled: no admin token is configured"})
    page = open_page(f"{stub.url}/admin", init_script=token_init_script(TOKEN), **options)
    wait_for_state(page, "error")
    return page


def show_empty(open_page: OpenPage, exporter: SeededExporter, stub: Stub,
               **options: object) -> Page:
    stub.state.active_by_site = {}
    stub.state.success = 0
    stub.state.failures = []
    stub.state.forced_by_reason = {}
    page = open_page(f"{stub.url}/admin", init_script=token_init_script(TOKEN), **options)
    wait_for_state(page, "empty")
    return page


def show_login(open_page: OpenPage, exporter: SeededExporter, stub: Stub,
               **options: object) -> Page:
    page = open_page(f"{exporter.url}/admin", **options)
    expect(page.locator("#token-form")).to_be_visible()
    return page


STATES: dict[str, Callable[..., Page]] = {
    "dashboard": show_dashboard,
    "stale": show_stale,
    "error": show_error,
    "empty": show_empty,
    "login": show_login,
}


@pytest.mark.parametrize("size", SIZES, ids=lambda size: f"{size[0]}x{size[1]}")
@pytest.mark.parametrize("scheme", SCHEMES)
@pytest.mark.parametrize("state", list(STATES))
def test_widget_state_accessible_and_captured(
    open_page: OpenPage, seeded_exporter: SeededExporter, stub: Stub, screenshot_dir: Path,
    state: str, scheme: str, size: tuple[int, int],
) -> None:
    page = STATES[state](open_page, seeded_exporter, stub, scheme=scheme, size=size)
    # Let the announcement timer and any layout settle before scanning and capturing.
    page.wait_for_timeout(150)

    violations = blocking_violations(page)
    assert violations == []

    path = screenshot_dir / f"{state}-{scheme}-{size[0]}x{size[1]}.png"
    page.screenshot(path=str(path), full_page=True)
    width, height = png_size(path)
    assert width == size[0]
    assert height >= size[1]


def test_widget_chart_table_accessible_when_open(open_page: OpenPage,
                                                 seeded_exporter: SeededExporter) -> None:
    page = open_page(f"{seeded_exporter.url}/admin", init_script=token_init_script())
    wait_for_state(page, "ready")
    page.locator(f"{WIDGET} details summary").click()
    expect(page.locator(f"{WIDGET} .chart-table")).to_be_visible()

    assert blocking_violations(page) == []
