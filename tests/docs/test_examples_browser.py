"""The HTML examples of the docs, loaded in Chromium from the example apps that serve them.

Each page is served as it is, by the example app of the same doc where there is one, with
only what the page needs around it (the widget's or the banner's files, a refresh endpoint).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from fastapi import Depends, FastAPI, Request, Response
from fastapi.responses import FileResponse, JSONResponse, PlainTextResponse
from fastapi.staticfiles import StaticFiles
from playwright.sync_api import Browser, Page
from sessionwatch.api_hooks import SessionMetrics
from sessionwatch.api_hooks.client_events import ClientIdentity
from sessionwatch.api_hooks.keys import KeySchema, counter_field
from sessionwatch.exporter.app import STATIC_DIR
from sessionwatch.exporter.auth import bearer_token_guard
from sessionwatch.exporter.reader import SessionStatsReader
from sessionwatch.exporter.router import sessions_admin_router

from ..support.servers import UvicornThread
from .example_apps import EXAMPLES, load_example
from .markdown import REPO

pytestmark = pytest.mark.browser

BANNER_SOURCES = REPO / "frontend_banner" / "src"
WIDGET = "session-metrics-widget"
TOKEN = "widget-example-token-0123456789"


def serve_page(app: FastAPI, page: Path) -> None:
    @app.get("/", include_in_schema=False)
    def example_page() -> FileResponse:
        return FileResponse(page, media_type="text/html")


def seed_one_session(redis_url: str, prefix: str) -> None:
    recorder = SessionMetrics.from_url(redis_url, prefix=prefix)
    recorder.session_started("session-1", site="Lyon", expires_at=time.time() + 3600)
    recorder.refresh_succeeded("session-1", site="Lyon", expires_at=time.time() + 3600)
    recorder.close()


def widget_state(page: Page, state: str) -> None:
    page.wait_for_selector(f"{WIDGET}[data-state={state}]", state="attached", timeout=15_000)


@pytest.fixture
def served() -> Iterator[Callable[[FastAPI], str]]:
    servers: list[UvicornThread] = []

    def serve(app: FastAPI) -> str:
        server = UvicornThread(app).__enter__()
        servers.append(server)
        return server.url

    yield serve
    for server in servers:
        server.__exit__(None, None, None)


def test_widget_one_tag_page_uses_cookies(example_env: str, redis_url: str,
                                          browser: Browser,
                                          served: Callable[[FastAPI], str]) -> None:
    seed_one_session(redis_url, example_env)
    app_module = load_example("admin_router_app")
    app_module.ADMIN_SESSIONS.add("admin-cookie")
    serve_page(app_module.app, EXAMPLES / "widget" / "one-tag.html")
    url = served(app_module.app)

    admin = browser.new_context()
    admin.add_cookies([{"name": "admin_session", "value": "admin-cookie", "url": url}])
    admin_page = admin.new_page()
    admin_page.goto(url)
    widget_state(admin_page, "ready")
    stranger = browser.new_context().new_page()
    stranger.goto(url)
    widget_state(stranger, "error")

    summary = admin_page.evaluate(f"document.querySelector('{WIDGET}').shadowRoot.textContent")
    assert "Sessions actives" in summary
    admin.close()
    stranger.context.close()


def test_widget_token_provider_page_sends_token(redis_server: Any, prefix: str,
                                                browser: Browser,
                                                served: Callable[[FastAPI], str]) -> None:
    seed_one_session(redis_server.url, prefix)
    reader = SessionStatsReader(redis_server.client(socket_timeout=2), KeySchema(prefix))
    seen: list[tuple[str | None, str | None]] = []
    app = FastAPI()

    @app.middleware("http")
    async def record(request: Request, call_next: Any) -> Response:
        if request.url.path.startswith("/admin/api/sessions"):
            seen.append((request.headers.get("authorization"), request.headers.get("cookie")))
        response: Response = await call_next(request)
        return response

    app.include_router(sessions_admin_router(
        reader, dependencies=[Depends(bearer_token_guard(TOKEN))], prefix="/admin/api/sessions"))

    @app.get("/admin/api-token")
    def api_token() -> PlainTextResponse:
        return PlainTextResponse(TOKEN)

    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    serve_page(app, EXAMPLES / "widget" / "token-provider.html")
    url = served(app)
    context = browser.new_context()
    context.add_cookies([{"name": "admin_session", "value": "not-for-the-api", "url": url}])
    page = context.new_page()

    page.goto(url)
    widget_state(page, "ready")
    context.close()

    # NOTE: the widget starts loading as soon as the import defines it, before the script
    # sets tokenProvider. Those first requests go without a token, and the reload that the
    # assignment starts supersedes them.
    authorized = [authorization for authorization, _ in seen if authorization]
    assert authorized, f"no request carried the token: {seen}"
    assert set(authorized) == {f"Bearer {TOKEN}"}
    assert all(cookie is None for _, cookie in seen), "credentials=omit still sent cookies"


class RefreshSwitch:
    """The refresh endpoint of the banner page: returns 503 or a new expiry, by `mode`."""

    def __init__(self) -> None:
        self.mode = "error"
        self.calls = 0
        self.lock = threading.Lock()

    def answer(self) -> JSONResponse:
        with self.lock:
            self.calls += 1
            mode = self.mode
        if mode == "error":
            return JSONResponse({"detail": {"reason": "server_error"}}, status_code=503)
        return JSONResponse({"expires_in": 3600})


def banner_text(page: Page, part: str) -> str:
    text: str = page.evaluate(
        "(part) => document.querySelector('session-banner').shadowRoot"
        ".querySelector(`[part~=${part}]`).textContent", part)
    return text


def poll(check: Callable[[], Any], message: str, timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, message
        time.sleep(0.1)


def test_banner_plain_page_retries_and_reports(example_env: str,
                                               redis_client: redis.Redis, browser: Browser,
                                               served: Callable[[FastAPI], str]) -> None:
    app_module = load_example("client_events_app")
    app_module.SESSIONS["tablet-token"] = ClientIdentity("session-1", "camille", "Lyon")
    switch = RefreshSwitch()
    app_module.app.add_api_route("/auth/refresh", switch.answer, methods=["POST"])
    app_module.app.mount("/banner", StaticFiles(directory=BANNER_SOURCES), name="banner")
    serve_page(app_module.app, EXAMPLES / "banner" / "plain.html")
    url = served(app_module.app)
    context = browser.new_context()
    # What the host page would have set at login: the expiry and its access-token getter.
    context.add_init_script("""
        localStorage.setItem('expiresAt', String(Date.now() + 8000));
        window.currentAccessToken = () => 'tablet-token';
    """)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(url)
    tone = "document.querySelector('session-banner').getAttribute('tone')"
    state = "document.querySelector('session-banner').keeper.state"

    poll(lambda: page.evaluate(tone) in ("retrying", "expired"), "no banner on a 503")
    server_detail = banner_text(page, "detail")
    page.route("**/auth/refresh", lambda route: route.abort("internetdisconnected"))
    page.evaluate("document.querySelector('session-banner').retry()")
    poll(lambda: page.evaluate(state)["pendingEvents"] >= 1, "no offline failure queued")
    page.unroute("**/auth/refresh")
    switch.mode = "ok"
    page.evaluate("document.querySelector('session-banner').retry()")
    poll(lambda: page.evaluate(tone) == "hidden", "the banner stayed after a success")
    poll(lambda: page.evaluate(state)["pendingEvents"] == 0, "queued failures never sent")
    field = counter_field("failure", "Lyon", "network", "client")
    totals = KeySchema(example_env).totals()
    counted = poll(lambda: int(redis_client.hget(totals, field) or 0),
                   "the client events never reached Redis")
    context.close()

    assert server_detail.startswith("Erreur du serveur — ")
    assert switch.calls >= 2
    assert counted >= 1
    assert errors == []
