"""The exporter served over real HTTP for tests, with helpers to scrape and parse it."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
from sessionwatch.exporter.app import create_app
from sessionwatch.exporter.settings import ExporterSettings

from .exposition import Samples, parse_samples
from .servers import UvicornThread

ADMIN_TOKEN = "test-admin-token-0123456789"


@dataclass
class ServedExporter:
    """A running exporter: its server thread and an HTTP client bound to it."""

    server: UvicornThread
    http: httpx.Client

    @property
    def url(self) -> str:
        return self.server.url

    def exposition(self) -> str:
        """Return the text exposition (format 0.0.4) of one scrape; a non-200 raises."""
        response = self.http.get("/metrics", headers={"Accept": "text/plain"})
        response.raise_for_status()
        return response.text

    def scrape(self) -> Samples:
        return parse_samples(self.exposition())

    def admin(self, path: str, **params: Any) -> httpx.Response:
        """GET an admin API path (relative to /v1/admin/sessions) with the test token."""
        return self.http.get(f"/v1/admin/sessions{path}", params=params,
                             headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})


@contextlib.contextmanager
def served_exporter(redis_url: str, prefix: str, **settings: Any) -> Iterator[ServedExporter]:
    """Serve `create_app` for `prefix` on a free loopback port, admin token ADMIN_TOKEN."""
    options: dict[str, Any] = {"admin_token": ADMIN_TOKEN, **settings}
    app = create_app(ExporterSettings(redis_url=redis_url, prefix=prefix, **options))
    with UvicornThread(app) as server, httpx.Client(base_url=server.url, timeout=30) as http:
        yield ServedExporter(server, http)
