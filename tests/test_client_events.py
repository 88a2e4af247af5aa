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
    assert response.json() == {"accepted": 3, "duplicates": 0, "rejected": []}
    assert client_failures(redis_client, prefix) == 3


def test_client_events_resend_not_counted_twice(client, redis_client, prefix):
    body = batch(event(1), event(2), event(2))
    first = post(client, body)
    second = post(client, body)

    assert first.json() == {"accepted": 2, "duplicates": 1, "rejected": []}
    assert second.json() == {"accepted": 0, "duplicates": 3, "rejected": []}
    assert client_failures(redis_client, prefix) == 2


def test_client_events_same_id_other_session_counts(client, redis_client, prefix):
    post(client, batch(event(1)), session="session-a")
    response = post(client, batch(event(1)), session="session-b")

    assert response.json() == {"accepted": 1, "duplicates": 0, "rejected": []}
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
        (batch(event(1, occurred_at=str(NOW - 30))), 422,
         "events[0].occurred_at: Input should be a valid number"),
        (batch(event(1, occurred_at=True)), 422,
         "events[0].occurred_at: Input should be a valid number"),
        ({"events": [event(1)], "sent_at": str(NOW)}, 422,
         "sent_at: Input should be a valid number"),
        ({"events": [event(1)], "sent_at": True}, 422,
         "sent_at: Input should be a valid number"),
        (json.dumps(batch(event(1, occurred_at=float("nan")))).encode(), 422,
         "events[0].occurred_at: Input should be a finite number"),
        (json.dumps({"events": [event(1)], "sent_at": float("inf")}).encode(), 422,
         "sent_at: Input should be a finite number"),
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


def seen_markers(redis_client: redis.Redis, prefix: str) -> list[str]:
    return list(redis_client.scan_iter(match=f"{{{prefix}}}:client:seen:*"))


def range_error(occurred_at: float, sent_at: float) -> str:
    return (f"occurred_at: {occurred_at} must be at most 86400 s before sent_at ({sent_at}) "
            "and not after it")


@pytest.mark.parametrize("offset", [-86400 - 1, 60], ids=["too-old", "after-sent-at"])
def test_client_events_out_of_range_event_reported(client, redis_client, prefix, offset):
    sent_at = time.time()
    late = event(4, occurred_at=sent_at + offset)
    response = post(client, batch(event(1), event(2), event(3), late, sent_at=sent_at))

    assert response.status_code == 200, response.text
    assert response.json() == {
        "accepted": 3, "duplicates": 0,
        "rejected": [{"index": 3, "id": "event-0004",
                      "error": range_error(sent_at + offset, sent_at)}],
    }
    assert client_failures(redis_client, prefix) == 3
    assert len(seen_markers(redis_client, prefix)) == 3


def test_client_events_range_bounds_inclusive(client, redis_client, prefix):
    sent_at = time.time()
    body = batch(event(1, occurred_at=sent_at - 86400), event(2, occurred_at=sent_at),
                 sent_at=sent_at)
    response = post(client, body)

    assert response.json() == {"accepted": 2, "duplicates": 0, "rejected": []}
    assert client_failures(redis_client, prefix) == 2


def test_client_events_all_rejected_counts_nothing(client, redis_client, prefix):
    sent_at = time.time()
    body = batch(event(1, occurred_at=sent_at - 2 * 86400),
                 event(2, occurred_at=sent_at + 1), sent_at=sent_at)
    response = post(client, body)

    assert response.status_code == 200, response.text
    assert response.json()["accepted"] == 0
    assert response.json()["duplicates"] == 0
    assert [item["index"] for item in response.json()["rejected"]] == [0, 1]
    assert client_failures(redis_client, prefix) == 0
    assert seen_markers(redis_client, prefix) == []


def test_client_events_rejected_event_not_marked_seen(client, redis_client, prefix):
    sent_at = time.time()
    rejected = post(client, batch(event(1, occurred_at=sent_at + 60), sent_at=sent_at))
    # The same id with a time in range: counted, not a duplicate of the rejected event.
    counted = post(client, batch(event(1)))

    assert len(rejected.json()["rejected"]) == 1
    assert counted.json() == {"accepted": 1, "duplicates": 0, "rejected": []}
    assert client_failures(redis_client, prefix) == 1


def test_client_events_resend_reports_rejected_again(client, redis_client, prefix):
    sent_at = time.time()
    body = batch(event(1), event(2, occurred_at=sent_at - 90_000), sent_at=sent_at)
    first = post(client, body)
    second = post(client, body)

    assert first.json()["accepted"] == 1
    assert second.json()["accepted"] == 0
    assert second.json()["duplicates"] == 1
    assert second.json()["rejected"] == first.json()["rejected"]
    assert client_failures(redis_client, prefix) == 1


@pytest.mark.parametrize(("sent_at", "occurred_at"), [
    (1_900_000_000, 1_899_999_970), (1_900_000_000.25, 1_899_999_970.5),
], ids=["int", "float"])
def test_client_events_timestamps_int_or_float(metrics, redis_client, prefix, sent_at,
                                               occurred_at):
    app = FastAPI()
    app.include_router(client_events_router(metrics, authenticate=authenticate,
                                            max_clock_skew_seconds=10 ** 10))
    body = json.dumps(batch(event(1, occurred_at=occurred_at), sent_at=sent_at))
    assert type(json.loads(body)["sent_at"]) is type(sent_at)
    with TestClient(app) as http:
        response = http.post(PATH, content=body, headers={"X-Session": "session-a"})

    assert response.status_code == 200, response.text
    assert response.json() == {"accepted": 1, "duplicates": 0, "rejected": []}
    assert client_failures(redis_client, prefix) == 1


def test_client_events_dropped_with_rejected_event(client, metrics, redis_client, prefix):
    sent_at = time.time()
    body = batch(event(1), event(2, occurred_at=sent_at + 60), event(3), sent_at=sent_at)
    metrics.breaker.record_failure()  # open: the recorder skips Redis for its cooldown
    dropped = post(client, body)

    assert dropped.status_code == 503
    assert dropped.json()["detail"] == "2 of 2 events not recorded; send the events again later"
    assert seen_markers(redis_client, prefix) == []

    metrics.breaker.record_success()
    resent = post(client, body)

    assert resent.json()["accepted"] == 2
    assert [item["index"] for item in resent.json()["rejected"]] == [1]
    assert client_failures(redis_client, prefix) == 2


def test_client_events_openapi_documents_rejected(client):
    document = client.get("/openapi.json").json()
    operation = document["paths"][PATH]["post"]
    answer = operation["responses"]["200"]
    model = document["components"]["schemas"]["ClientEventsAccepted"]
    request_body = operation["requestBody"]["content"]["application/json"]["schema"]
    timestamp = request_body["properties"]["sent_at"]

    assert "rejected" in answer["description"]
    assert model["required"] == ["accepted", "duplicates", "rejected"]
    assert model["examples"][0]["rejected"][0]["index"] == 3
    assert timestamp["type"] == "number"


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

    assert resent.json() == {"accepted": 2, "duplicates": 0, "rejected": []}
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

    assert first.json() == {"accepted": 2, "duplicates": 0, "rejected": []}
    assert second.json() == {"accepted": 0, "duplicates": 2, "rejected": []}
    assert client_failures(redis_client, prefix) == 2
