"""Demo auth service: tokens, sliding session, rotation grace, chaos, recorder calls."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import httpx
import pytest
import redis
from sessionwatch.api_hooks import SessionMetrics
from sessionwatch.api_hooks.keys import KeySchema
from sessionwatch.demo.auth_service import DemoSettings, create_app


class Clock:
    def __init__(self) -> None:
        self.now = 1_900_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def http(metrics: SessionMetrics, redis_url: str, prefix: str,
               clock: Clock) -> AsyncIterator[httpx.AsyncClient]:
    settings = DemoSettings(redis_url=redis_url, prefix=prefix, token_expiration_minutes=10,
                            activity_threshold=15, clock=clock)
    transport = httpx.ASGITransport(app=create_app(settings, metrics=metrics))
    async with httpx.AsyncClient(transport=transport, base_url="http://demo") as client:
        yield client


def totals(redis_client: redis.Redis, prefix: str) -> dict[tuple[str, ...], int]:
    raw = redis_client.hgetall(KeySchema(prefix).totals())
    return {tuple(json.loads(field)): int(value) for field, value in raw.items()}


async def login(http: httpx.AsyncClient) -> dict:
    response = await http.post("/auth/login", json={"username": "camille", "site": "Lille Fives"})
    assert response.status_code == 200
    return response.json()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_auth_service_login_and_refresh_slide(http, clock, redis_client, prefix):
    session = await login(http)
    assert session["expires_at"] == clock.now + 600

    clock.now += 300
    response = await http.post("/auth/refresh", headers=bearer(session["access_token"]))

    assert response.status_code == 200
    assert response.json()["expires_at"] == clock.now + 600
    assert response.json()["expires_in"] == 600
    counts = totals(redis_client, prefix)
    assert counts[("started", "Lille Fives")] == 1
    assert counts[("success", "Lille Fives")] == 1


async def test_auth_service_refresh_after_expiry_while_active(http, clock, redis_client, prefix):
    session = await login(http)
    clock.now += 600 + 120

    response = await http.post("/auth/refresh", headers=bearer(session["access_token"]))

    assert response.status_code == 200
    assert not any(key[0] == "forced" for key in totals(redis_client, prefix))


async def test_auth_service_inactive_refused_and_forced(http, clock, redis_client, prefix):
    session = await login(http)
    clock.now += 15 * 60 + 1

    response = await http.post("/auth/refresh", headers=bearer(session["access_token"]))

    assert response.status_code == 401
    assert response.json() == {"detail": {"reason": "inactive"}}
    counts = totals(redis_client, prefix)
    assert counts[("failure", "Lille Fives", "inactive", "server")] == 1
    assert counts[("forced", "Lille Fives", "inactive")] == 1


async def test_auth_service_ping_keeps_session_active(http, clock):
    session = await login(http)
    clock.now += 9 * 60
    assert (await http.get("/api/ping", headers=bearer(session["access_token"]))).status_code == 200
    clock.now += 9 * 60

    response = await http.post("/auth/refresh", headers=bearer(session["access_token"]))

    assert response.status_code == 200


async def test_auth_service_rotation_grace_then_revoked(http, clock):
    session = await login(http)
    old = bearer(session["access_token"])
    first = await http.post("/auth/refresh", headers=old)
    clock.now += 5
    racing = await http.post("/auth/refresh", headers=old)
    clock.now += 60
    replay = await http.post("/auth/refresh", headers=old)

    assert racing.status_code == 200
    assert racing.json()["expires_at"] == first.json()["expires_at"]
    assert replay.status_code == 401
    assert replay.json() == {"detail": {"reason": "revoked"}}


@pytest.mark.parametrize(("header", "reason"), [
    ({}, "invalid"), ({"Authorization": "Bearer not-a-jwt"}, "invalid"),
    ({"Authorization": "Basic abc"}, "invalid"),
])
async def test_auth_service_refresh_rejects_bad_tokens(http, header, reason):
    response = await http.post("/auth/refresh", headers=header)

    assert response.status_code == 401
    assert response.json() == {"detail": {"reason": reason}}


@pytest.mark.parametrize(("mode", "status", "reason"), [
    ("refuse", 401, "revoked"), ("error", 503, "server_error"),
])
async def test_auth_service_chaos_modes(http, redis_client, prefix, mode, status, reason):
    session = await login(http)
    assert (await http.post("/demo/chaos", json={"refresh": mode})).json() == {"refresh": mode}

    response = await http.post("/auth/refresh", headers=bearer(session["access_token"]))

    assert response.status_code == status
    assert response.json() == {"detail": {"reason": reason}}
    assert totals(redis_client, prefix)[("failure", "Lille Fives", reason, "server")] == 1


async def test_auth_service_chaos_rejects_unknown_mode(http):
    response = await http.post("/demo/chaos", json={"refresh": "explode"})

    assert response.status_code == 422


async def test_auth_service_logout_ends_session(http, redis_client, prefix):
    session = await login(http)
    logout = await http.post("/auth/logout", headers=bearer(session["access_token"]))
    refresh = await http.post("/auth/refresh", headers=bearer(session["access_token"]))

    assert logout.status_code == 204
    assert refresh.json() == {"detail": {"reason": "revoked"}}
    assert totals(redis_client, prefix)[("ended", "Lille Fives")] == 1


async def test_auth_service_serves_pages_and_banner(http):
    for path in ("/", "/login", "/banner/index.js", "/static/cashier.js"):
        assert (await http.get(path)).status_code == 200, path


def test_auth_service_settings_reject_bad_values():
    with pytest.raises(ValueError, match="token_expiration_minutes must be positive, got 0"):
        DemoSettings(token_expiration_minutes=0)
