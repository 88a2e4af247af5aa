"""The exporter's guards: constant-time token check, CORS closed unless configured, loopback
bind by default, and no token in a log line or a response."""

from __future__ import annotations

import hmac
import logging
from typing import Any

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient
from sessionwatch.exporter import __main__ as exporter_main
from sessionwatch.exporter.app import create_app
from sessionwatch.exporter.settings import ExporterSettings

from ..support.exporter import ADMIN_TOKEN

ORIGIN = "https://intranet.example"
SUMMARY = "/v1/admin/sessions/metrics"


def exporter_client(redis_url: str, prefix: str, **settings: Any) -> TestClient:
    app = create_app(ExporterSettings(redis_url=redis_url, prefix=prefix,
                                      admin_token=ADMIN_TOKEN, **settings))
    return TestClient(app)


def test_security_token_compared_in_constant_time(
    redis_url: str, prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    compared: list[tuple[bytes, bytes]] = []
    real_compare = hmac.compare_digest

    def spy(presented: bytes, expected: bytes) -> bool:
        compared.append((presented, expected))
        return real_compare(presented, expected)

    monkeypatch.setattr(hmac, "compare_digest", spy)
    with exporter_client(redis_url, prefix) as client:
        wrong = client.get(SUMMARY, headers={"Authorization": "Bearer wrong-token-000000"})
        right = client.get(SUMMARY, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})

    assert (wrong.status_code, right.status_code) == (401, 200)
    assert compared == [(b"wrong-token-000000", ADMIN_TOKEN.encode()),
                        (ADMIN_TOKEN.encode(), ADMIN_TOKEN.encode())]


def test_security_cors_closed_by_default(redis_url: str, prefix: str) -> None:
    with exporter_client(redis_url, prefix) as client:
        preflight = client.options(SUMMARY, headers={
            "Origin": ORIGIN, "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "Authorization"})
        simple = client.get(SUMMARY, headers={"Origin": ORIGIN,
                                              "Authorization": f"Bearer {ADMIN_TOKEN}"})

    assert preflight.status_code == 405
    assert "access-control-allow-origin" not in preflight.headers
    assert simple.status_code == 200
    assert "access-control-allow-origin" not in simple.headers


def test_security_cors_only_for_configured_origin(redis_url: str, prefix: str) -> None:
    with exporter_client(redis_url, prefix, cors_origins=(ORIGIN,)) as client:
        allowed = client.options(SUMMARY, headers={
            "Origin": ORIGIN, "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "Authorization"})
        other = client.options(SUMMARY, headers={
            "Origin": "https://evil.example", "Access-Control-Request-Method": "GET"})
        post = client.options(SUMMARY, headers={
            "Origin": ORIGIN, "Access-Control-Request-Method": "POST"})

    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == ORIGIN
    assert "authorization" in allowed.headers["access-control-allow-headers"].lower()
    assert other.status_code == 400
    assert "access-control-allow-origin" not in other.headers
    assert post.status_code == 400


@pytest.mark.parametrize(("env", "expected_host"), [
    ({}, "127.0.0.1"),
    ({"SESSIONWATCH_HOST": "0.0.0.0"}, "0.0.0.0"),  # uvicorn.run is replaced: nothing binds
])
def test_security_exporter_binds_loopback_unless_told(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], expected_host: str
) -> None:
    served: dict[str, Any] = {}
    monkeypatch.setattr(exporter_main.uvicorn, "run",
                        lambda app, **options: served.update(options))
    monkeypatch.delenv("SESSIONWATCH_HOST", raising=False)

    result = CliRunner().invoke(exporter_main.main, ["--redis-url", "redis://127.0.0.1:1/0"],
                                env=env)

    assert result.exit_code == 0, result.output
    assert served["host"] == expected_host


def test_security_token_never_logged(
    redis_url: str, prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with exporter_client(redis_url, prefix) as client:
        responses = [client.get(SUMMARY, headers={"Authorization": header}).text
                   for header in (f"Bearer {ADMIN_TOKEN}", f"Bearer {ADMIN_TOKEN}x",
                                  f"Basic {ADMIN_TOKEN}")]

    assert "admin API enabled" in caplog.text
    assert ADMIN_TOKEN not in caplog.text
    for text in responses[1:]:
        assert ADMIN_TOKEN not in text
