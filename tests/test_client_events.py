"""Client-events router against a real Redis: counting, dedupe, validation, rate limit."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import redis
from fastapi import FastAPI, Header, HTTPException
from fastapi.testclient import TestClient
from sessionwatch.api_hooks import AsyncSessionMetrics, RecorderConfig, SessionMetrics
from sessionwatch.api_hooks.client_events import ClientIdentity, client_events_router
from sessionwatch.api_hooks.keys import KeySchema, counter_field

from .support.servers import free_port

PATH = "/v1/sessions/client-events"
SITE = "Grenoble Centre"


def authenticate(x_session: str | None = Header(default=None)) -> ClientIdentity:
    if not x_session:
        raise HTTPException(401, "missing session")
    return ClientIdentity(session_id=x_session, user_id="camille", site=SITE)


def make_client(metrics: SessionMetrics | AsyncSessionMetrics, **options: Any) -> TestClient:
    app = FastAPI()
    app.include_router(client_events_router(metrics, authenticate=authenticate, **options))
    return TestClient(app)


def event(number: int, occurred_at: float | None = None, **overrides: Any) -> dict[str, Any]:
    return {"id": f"event-{number:04d}", "type": "refresh_failed", "reason": "network",
            "detail": "offline", "occurred_at": occurred_at or time.time() - 30, **overrides}


def batch(*events: dict[str, Any], sent_at: float | None = None) -> dict[str, Any]:
    return {"events": list(events), "sent_at": sent_at or time.time()}


def client_failures(redis_client: redis.Redis, prefix: str) -> int:
    field = counter_field("failure", SITE, "network", "client")
    return int(redis_client.hget(KeySchema(prefix).totals(), field) or 0)


@pytest.fixture
def client(metrics: SessionMetrics) -> Iterator[TestClient]:
    with make_client(metrics, max_events=5, max_body_bytes=4096) as test_client:
        yield test_client


def post(client: TestClient, body: Any, session: str | None = "session-a") -> httpx.Response:
    headers = {"X-Session": session} if session else {}
    if isinstance(body, (dict, list)):
        return client.post(PATH, json=body, headers=headers)
    return client.post(PATH, content=body, headers=headers)


def test_client_events_counted_as_client_network_failures(client, redis_client, prefix):
    response = post(client, batch(event(1), event(2), event(3)))

    assert response.status_code == 200
    assert response.json() == {"accepted": 3, "duplicates": 0}
    assert client_failures(redis_client, prefix) == 3


def test_client_events_resend_not_counted_twice(client, redis_client, prefix):
    body = batch(event(1), event(2), event(2))
    first = post(client, body)
    second = post(client, body)

    assert first.json() == {"accepted": 2, "duplicates": 1}
    assert second.json() == {"accepted": 0, "duplicates": 3}
    assert client_failures(redis_client, prefix) == 2


def test_client_events_same_id_other_session_counts(client, redis_client, prefix):
    post(client, batch(event(1)), session="session-a")
    response = post(client, batch(event(1)), session="session-b")

    assert response.json() == {"accepted": 1, "duplicates": 0}
    assert client_failures(redis_client, prefix) == 2


def test_client_events_keys_expire(client, redis_client, prefix):
    post(client, batch(event(1)))

    keys = list(redis_client.scan_iter(match=f"{{{prefix}}}:client:*"))
    assert len(keys) == 2, keys
    for key in keys:
        assert redis_client.ttl(key) > 0, key


def test_client_events_require_authentication(client, redis_client, prefix):
    response = post(client, batch(event(1)), session=None)

    assert response.status_code == 401
    assert client_failures(redis_client, prefix) == 0


NOW = time.time()


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        (b"{not json", 400, "invalid JSON body"),
        ({"events": [event(1)]}, 422, "sent_at: Field required"),
        (batch(), 422, "events: got 0 events, expected 1 to 5"),
        (batch(*[event(n) for n in range(6)]), 422, "events: got 6 events, expected 1 to 5"),
        (batch(event(1, extra="x")), 422, "events[0].extra: Extra inputs are not permitted"),
        (batch(event(1, reason="expired")), 422, "events[0].reason: Input should be 'network'"),
        (batch(event(1, id="short")), 422, "events[0].id: String should match pattern"),
        (batch(event(1, occurred_at="soon")), 422,
         "events[0].occurred_at: Input should be a valid number"),
        (batch(event(1, occurred_at=NOW + 60), sent_at=NOW), 422,
         "events[0].occurred_at: 1"),
        (batch(event(1, occurred_at=NOW - 2 * 86400), sent_at=NOW), 422,
         "must be at most 86400 s before sent_at"),
        (batch(event(1), sent_at=NOW + 3 * 86400), 422, "sent_at: "),
        ({"events": [event(1)] * 40, "sent_at": NOW}, 413, "body too large"),
        ([event(1)], 422, "body: Input should be a valid dictionary"),
    ],
)
def test_client_events_reject_bad_input(client, redis_client, prefix, body, status, message):
    response = post(client, body)

    assert response.status_code == status, response.text
    assert message in response.json()["detail"]
    assert client_failures(redis_client, prefix) == 0


def test_client_events_rate_limited_per_session(metrics, redis_client, prefix):
    # Stay inside one rate window: start right after a minute boundary if it is close.
    seconds_into_minute = time.time() % 60
    if seconds_into_minute > 50:
        time.sleep(60.5 - seconds_into_minute)
    with make_client(metrics, max_requests_per_minute=3) as client:
        statuses = [post(client, batch(event(n))).status_code for n in range(4)]
        limited = post(client, batch(event(9)))
        other_session = post(client, batch(event(9)), session="session-b")

    assert statuses == [200, 200, 200, 429]
    expected = "rate limit exceeded: at most 3 requests per minute per session"
    assert expected in limited.json()["detail"]
    assert 1 <= int(limited.headers["retry-after"]) <= 60
    assert other_session.status_code == 200
    assert client_failures(redis_client, prefix) == 4


def test_client_events_redis_down_answers_503(prefix):
    dead = redis.Redis(port=free_port(), socket_timeout=0.2, socket_connect_timeout=0.2)
    with make_client(SessionMetrics(dead, prefix=prefix)) as client:
        response = post(client, batch(event(1)))

    assert response.status_code == 503
    assert response.headers["retry-after"] == "30"
    assert "send the events again later" in response.json()["detail"]


def test_client_events_dropped_by_recorder_counted_on_resend(client, metrics, redis_client,
                                                              prefix):
    body = batch(event(1), event(2))
    metrics.breaker.record_failure()  # open: the recorder skips Redis for its cooldown
    dropped = post(client, body)

    assert dropped.status_code == 503
    assert dropped.json()["detail"] == "2 of 2 events not recorded; send the events again later"
    assert dropped.headers["retry-after"] == "30"
    assert client_failures(redis_client, prefix) == 0

    metrics.breaker.record_success()
    resent = post(client, body)

    assert resent.json() == {"accepted": 2, "duplicates": 0}
    assert client_failures(redis_client, prefix) == 2


def test_client_events_router_rejects_bad_limits(metrics):
    with pytest.raises(ValueError, match="max_events must be at least 1, got 0"):
        client_events_router(metrics, authenticate=authenticate, max_events=0)


async def test_client_events_async_recorder(redis_url, redis_client, prefix):
    recorder = AsyncSessionMetrics.from_url(
        redis_url, config=RecorderConfig(prefix=prefix, socket_timeout=2, connect_timeout=2))
    app = FastAPI()
    app.include_router(client_events_router(recorder, authenticate=authenticate))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        body = json.dumps(batch(event(1), event(2)))
        headers = {"X-Session": "session-a", "Content-Type": "application/json"}
        first = await http.post(PATH, content=body, headers=headers)
        second = await http.post(PATH, content=body, headers=headers)
    await recorder.aclose()

    assert first.json() == {"accepted": 2, "duplicates": 0}
    assert second.json() == {"accepted": 0, "duplicates": 2}
    assert client_failures(redis_client, prefix) == 2
