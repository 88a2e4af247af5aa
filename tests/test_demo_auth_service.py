"""Demo auth service: tokens, sliding session, rotation grace, chaos, recorder calls."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import jwt
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


class HeldSleep:
    """Replaces the slow chaos mode's sleep: each call waits until the test releases it."""

    def __init__(self) -> None:
        self.held: list[asyncio.Event] = []

    async def __call__(self, seconds: float) -> None:
        release = asyncio.Event()
        self.held.append(release)
        await release.wait()

    async def wait_for_held(self, count: int) -> None:
        """Wait until `count` requests in all have reached the sleep."""
        for _ in range(1000):
            if len(self.held) >= count:
                return
            await asyncio.sleep(0.001)
        raise AssertionError(f"{len(self.held)} requests reached the slow sleep, expected {count}")


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def held_sleep() -> HeldSleep:
    return HeldSleep()


@pytest.fixture
async def http(metrics: SessionMetrics, redis_url: str, prefix: str,
               clock: Clock, held_sleep: HeldSleep) -> AsyncIterator[httpx.AsyncClient]:
    settings = DemoSettings(redis_url=redis_url, prefix=prefix, token_expiration_minutes=10,
                            activity_threshold=15, clock=clock, sleep=held_sleep)
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


def generation(response: httpx.Response) -> int:
    """Return the generation claim of the access token in a login or refresh response."""
    claims: dict[str, Any] = jwt.decode(response.json()["access_token"],
                                        options={"verify_signature": False})
    return int(claims["gen"])


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


async def test_auth_service_previous_token_in_grace(http, clock):
    session = await login(http)
    old = bearer(session["access_token"])
    first = await http.post("/auth/refresh", headers=old)
    # The client used the new token, but a second tab still sends the old one.
    assert (await http.get("/api/ping", headers=bearer(first.json()["access_token"]))).is_success
    clock.now += 29
    racing = await http.post("/auth/refresh", headers=old)

    assert racing.status_code == 200
    assert generation(racing) == generation(first) == 2
    assert racing.json()["expires_at"] == first.json()["expires_at"]


async def test_auth_service_used_token_revokes_previous(http, clock):
    session = await login(http)
    old = bearer(session["access_token"])
    first = await http.post("/auth/refresh", headers=old)
    assert (await http.get("/api/ping", headers=bearer(first.json()["access_token"]))).is_success
    clock.now += 31
    refresh = await http.post("/auth/refresh", headers=old)
    ping = await http.get("/api/ping", headers=old)

    assert refresh.status_code == 401
    assert refresh.json() == {"detail": {"reason": "revoked"}}
    assert ping.status_code == 401
    assert ping.json() == {"detail": {"reason": "revoked"}}


async def test_auth_service_two_rotations_revoke_oldest(http, clock):
    session = await login(http)
    first = await http.post("/auth/refresh", headers=bearer(session["access_token"]))
    second = await http.post("/auth/refresh", headers=bearer(first.json()["access_token"]))
    clock.now += 31
    # Generation 1 is two behind. Generation 2 is the previous one, past its grace but still
    # accepted because no request has used generation 3.
    oldest = await http.post("/auth/refresh", headers=bearer(session["access_token"]))
    previous = await http.post("/auth/refresh", headers=bearer(first.json()["access_token"]))

    assert generation(second) == 3
    assert oldest.json() == {"detail": {"reason": "revoked"}}
    assert previous.status_code == 200
    assert generation(previous) == 3


async def test_auth_service_unused_rotation_keeps_previous(http, clock, redis_client, prefix):
    session = await login(http)
    old = bearer(session["access_token"])
    lost = await http.post("/auth/refresh", headers=old)  # the client never receives it
    clock.now += 300
    replay = await http.post("/auth/refresh", headers=old)
    assert (await http.get("/api/ping", headers=bearer(replay.json()["access_token"]))).is_success
    clock.now += 31
    after_use = await http.post("/auth/refresh", headers=old)

    assert replay.status_code == 200
    assert generation(replay) == generation(lost) == 2
    assert replay.json()["expires_at"] == lost.json()["expires_at"]
    assert after_use.json() == {"detail": {"reason": "revoked"}}
    assert totals(redis_client, prefix)[("success", "Lille Fives")] == 1


async def test_auth_service_replay_after_expiry_gets_live_token(http, clock):
    session = await login(http)
    old = bearer(session["access_token"])
    await http.post("/auth/refresh", headers=old)  # rotated; the client never receives it
    await http.get("/api/ping", headers=old)  # the cashier is active meanwhile
    clock.now += 10 * 60 + 1  # the lost token has expired too
    replay = await http.post("/auth/refresh", headers=old)

    assert replay.status_code == 200
    assert generation(replay) == 3
    assert replay.json()["expires_in"] == 10 * 60
    assert (await http.get("/api/ping", headers=bearer(replay.json()["access_token"]))).is_success


async def test_auth_service_previous_token_refused_when_idle(http, clock, redis_client, prefix):
    session = await login(http)
    old = bearer(session["access_token"])
    await http.post("/auth/refresh", headers=old)
    clock.now += 15 * 60 + 1
    response = await http.post("/auth/refresh", headers=old)

    assert response.json() == {"detail": {"reason": "inactive"}}
    assert totals(redis_client, prefix)[("forced", "Lille Fives", "inactive")] == 1


async def abandon(request: asyncio.Task[httpx.Response], held_sleep: HeldSleep, count: int,
                  clock: Clock) -> None:
    """Play a client timeout: the request reaches the slow sleep, the client gives up after
    15 s, and the server sends its response 5 s later (20 s in all) to a closed request."""
    await held_sleep.wait_for_held(count)
    clock.now += 20
    held_sleep.held[count - 1].set()
    await request


async def test_auth_service_slow_timeouts_keep_token(http, clock, held_sleep, redis_client,
                                                     prefix):
    session = await login(http)
    token = bearer(session["access_token"])
    await http.post("/demo/chaos", json={"refresh": "slow"})

    for attempt in range(1, 4):
        request = asyncio.create_task(http.post("/auth/refresh", headers=token))
        await abandon(request, held_sleep, attempt, clock)
        clock.now += 2  # the keeper's backoff before the next attempt

    await http.post("/demo/chaos", json={"refresh": "ok"})
    recovered = await http.post("/auth/refresh", headers=token)
    assert recovered.status_code == 200, recovered.text
    new_token = bearer(recovered.json()["access_token"])
    ping = await http.get("/api/ping", headers=new_token)
    next_refresh = await http.post("/auth/refresh", headers=new_token)

    assert generation(recovered) == 2
    assert ping.status_code == 200
    assert next_refresh.status_code == 200
    assert generation(next_refresh) == 3
    assert totals(redis_client, prefix)[("success", "Lille Fives")] == 2
    assert not any(key[0] == "failure" for key in totals(redis_client, prefix))


async def test_auth_service_refresh_during_slow_refresh(http, clock, held_sleep):
    session = await login(http)
    token = bearer(session["access_token"])
    await http.post("/demo/chaos", json={"refresh": "slow"})
    first = asyncio.create_task(http.post("/auth/refresh", headers=token))
    await held_sleep.wait_for_held(1)
    second = asyncio.create_task(http.post("/auth/refresh", headers=token))  # another tab
    await held_sleep.wait_for_held(2)

    held_sleep.held[0].set()
    first_response = await first
    new_token = bearer(first_response.json()["access_token"])
    assert (await http.get("/api/ping", headers=new_token)).is_success
    # The second response is sent after the grace period, once the new token has been used.
    clock.now += 60
    held_sleep.held[1].set()
    second_response = await second

    assert first_response.status_code == 200
    assert second_response.status_code == 200, second_response.text
    assert generation(first_response) == generation(second_response) == 2
    assert (await http.get("/api/ping", headers=new_token)).status_code == 200


async def test_auth_service_slow_refresh_after_logout(http, held_sleep):
    session = await login(http)
    token = bearer(session["access_token"])
    await http.post("/demo/chaos", json={"refresh": "slow"})
    request = asyncio.create_task(http.post("/auth/refresh", headers=token))
    await held_sleep.wait_for_held(1)
    assert (await http.post("/auth/logout", headers=token)).status_code == 204
    held_sleep.held[0].set()
    response = await request

    assert response.status_code == 401
    assert response.json() == {"detail": {"reason": "revoked"}}


MISSING_HEADER = ("missing Authorization header; send 'Authorization: Bearer <access_token>' "
                  "with the token from login")
NOT_BEARER = ("Authorization header is not a bearer token; "
              "send 'Authorization: Bearer <access_token>'")


@pytest.mark.parametrize(("header", "detail"), [
    ({}, {"reason": "invalid", "message": MISSING_HEADER}),
    ({"Authorization": "Bearer not-a-jwt"}, {"reason": "invalid"}),
    ({"Authorization": "Basic abc"}, {"reason": "invalid", "message": NOT_BEARER}),
], ids=["missing", "not-a-jwt", "basic"])
async def test_auth_service_refresh_rejects_bad_tokens(http, header, detail):
    response = await http.post("/auth/refresh", headers=header)

    assert response.status_code == 401
    assert response.json() == {"detail": detail}
    assert response.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize(("method", "path"), [
    ("GET", "/api/ping"), ("POST", "/v1/sessions/client-events"),
])
async def test_auth_service_missing_header_named(http, method, path):
    response = await http.request(method, path, json={})

    assert response.status_code == 401
    assert response.json() == {"detail": {"reason": "invalid", "message": MISSING_HEADER}}
    assert response.headers["www-authenticate"] == "Bearer"


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


async def test_auth_service_session_chaos_spares_others(http):
    person = await login(http)
    tablet = await login(http)
    own = await http.post("/demo/chaos", json={"refresh": "refuse"},
                          headers=bearer(person["access_token"]))
    refused = await http.post("/auth/refresh", headers=bearer(person["access_token"]))
    spared = await http.post("/auth/refresh", headers=bearer(tablet["access_token"]))

    assert own.json() == {"refresh": "refuse"}
    assert refused.status_code == 401
    assert spared.status_code == 200
    assert (await http.get("/demo/chaos")).json() == {"refresh": "ok"}

    # A global mode (the traffic's hiccups) leaves a session's own choice in place.
    await http.post("/demo/chaos", json={"refresh": "error"})
    mine = await http.get("/demo/chaos", headers=bearer(person["access_token"]))
    assert mine.json() == {"refresh": "refuse"}
    tablet_token = spared.json()["access_token"]
    assert (await http.post("/auth/refresh", headers=bearer(tablet_token))).status_code == 503


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
