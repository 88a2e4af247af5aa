"""FastAPI router that receives refresh failures seen only by the browser.

A refresh that failed for lack of network never reached the server, so the session keeper in
the browser queues it and posts it here once the network is back. Each accepted event is
counted as ``refresh_failed(reason="network", source="client")``.

The endpoint requires the session's authentication, through a dependency of the host. It caps
the body size and the number of events, and checks every timestamp. An event whose
`occurred_at` is out of range is reported in the response and not counted, while the other
events of its batch are. It counts an event id once per session, so a resend after a lost
response is not counted twice, and rate-limits each session.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import logging
import math
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from redis.exceptions import RedisError
from starlette.concurrency import run_in_threadpool

from .async_recorder import AsyncSessionMetrics
from .normalize import hash_session_id
from .recorder import SessionMetrics

_log = logging.getLogger(__name__)

DEFAULT_PATH = "/v1/sessions/client-events"
RATE_WINDOW_SECONDS = 60
# The rate key covers one minute; it lives one more so a slow request still finds it.
RATE_KEY_TTL_SECONDS = 2 * RATE_WINDOW_SECONDS


@dataclass(frozen=True)
class ClientIdentity:
    """Identity of the poster, as returned by the host's `authenticate` dependency."""

    session_id: str
    user_id: str | None = None
    site: str | None = None


def _timestamp_field() -> Any:
    """Return the field of a Unix-seconds timestamp: a finite JSON number, integer or not.

    Strict mode rejects strings such as "1796..." and booleans, which lax mode would convert.
    A strict float field still accepts an int (pydantic 2.14; a test posts both).
    """
    return Field(strict=True, allow_inf_nan=False)


class ClientEvent(BaseModel):
    """One refresh failure the browser saw; `occurred_at` is Unix seconds on the browser clock."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=r"^[A-Za-z0-9-]{8,64}$")
    type: Literal["refresh_failed"]
    reason: Literal["network"]
    detail: Literal["offline", "fetch_error", "timeout"] | None = None
    occurred_at: float = _timestamp_field()


class ClientEventBatch(BaseModel):
    """Request body; `sent_at` (Unix seconds, browser clock) anchors the events' ages."""

    model_config = ConfigDict(extra="forbid")

    events: list[ClientEvent]
    sent_at: float = _timestamp_field()


class RejectedClientEvent(BaseModel):
    """An event of an accepted batch that was not counted because its time is out of range."""

    index: int = Field(description="Position of the event in the request's `events`.")
    id: str = Field(description="The event's `id`.")
    error: str = Field(description="What is wrong with the event.")


class ClientEventsAccepted(BaseModel):
    """Response body of an accepted batch."""

    model_config = ConfigDict(json_schema_extra={"examples": [{
        "accepted": 3,
        "duplicates": 0,
        "rejected": [{
            "index": 3,
            "id": "4b9f0c2e-5d1a-4e8b-9a6f-3c7d2e1b0a95",
            "error": "occurred_at: 1733200000.5 must be at most 86400 s before sent_at "
                     "(1733300123.2) and not after it",
        }],
    }]})

    accepted: int = Field(description="Events counted by this request.")
    duplicates: int = Field(description="Events already counted by an earlier request.")
    rejected: list[RejectedClientEvent] = Field(
        description="Events not counted because their `occurred_at` is out of range; "
                    "empty when every event was counted or is a duplicate. Sending them "
                    "again fails the same way.")


class ClientEventsError(BaseModel):
    """Response body of a rejected batch: what is wrong and what to do next."""

    detail: str


class ClientEventsInvalid(BaseModel):
    """Response body of a 422: a sentence from this router, or FastAPI's list of errors when
    a parameter of the host's `authenticate` dependency is invalid."""

    detail: str | list[dict[str, Any]]


def _inline_refs(schema: Any, definitions: dict[str, Any]) -> Any:
    """Replace every ``{"$ref": "#/$defs/Name"}`` in a pydantic JSON schema by its definition."""
    if isinstance(schema, dict):
        reference = schema.get("$ref")
        if isinstance(reference, str) and reference.startswith("#/$defs/"):
            return _inline_refs(definitions[reference.removeprefix("#/$defs/")], definitions)
        return {key: _inline_refs(value, definitions) for key, value in schema.items()}
    if isinstance(schema, list):
        return [_inline_refs(item, definitions) for item in schema]
    return schema


def _openapi_extra(max_events: int) -> dict[str, Any]:
    """Return the request body that the OpenAPI document declares for the endpoint.

    The route reads the raw body itself (to cap its size before parsing), so FastAPI cannot
    derive the schema from a parameter.
    """
    schema = ClientEventBatch.model_json_schema()
    body = _inline_refs(schema, schema.pop("$defs", {}))
    body["properties"]["events"].update(minItems=1, maxItems=max_events)
    return {"requestBody": {"required": True,
                            "content": {"application/json": {"schema": body}}}}


def _responses() -> dict[int | str, dict[str, Any]]:
    error = {"model": ClientEventsError}
    return {
        200: {"description": "Events counted. An event whose `occurred_at` is out of range is "
                             "listed in `rejected` and not counted; the other events are."},
        400: {**error, "description": "The body is not JSON."},
        401: {"description": "Rejected by the host's `authenticate` dependency.",
              "content": {"application/json": {"schema": {"type": "object"}}}},
        413: {**error, "description": "The body is larger than `max_body_bytes`."},
        422: {"model": ClientEventsInvalid,
              "description": "The body breaks the schema or the event cap, or `sent_at` is "
                             "too far from the server clock."},
        429: {**error, "description": "Too many requests from this session; see Retry-After."},
        503: {**error, "description": "Redis unavailable; send the events again later."},
    }


class _BadRequest(Exception):
    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers


def identity_of(value: Any) -> ClientIdentity:
    """Read session_id, user_id and site from what `authenticate` returned (object or mapping)."""
    if isinstance(value, ClientIdentity):
        return value

    def field(name: str) -> Any:
        if isinstance(value, Mapping):
            return value.get(name)
        return getattr(value, name, None)

    session_id = field("session_id")
    if not session_id:
        raise TypeError(
            "authenticate must return an object or mapping with a non-empty session_id, "
            f"got {type(value).__name__}"
        )
    user_id, site = field("user_id"), field("site")
    return ClientIdentity(
        str(session_id),
        None if user_id is None else str(user_id),
        None if site is None else str(site),
    )


def event_digest(session_hash: str, event_id: str) -> str:
    """Return the digest naming one event of one session in the dedupe key."""
    text = f"{session_hash}:{event_id}".encode()
    return hashlib.blake2b(text, digest_size=12, person=b"sw-client-ev").hexdigest()


def _format_location(loc: tuple[Any, ...]) -> str:
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        elif path:
            path += f".{part}"
        else:
            path = str(part)
    return path or "body"


def _validation_message(error: ValidationError) -> str:
    problems = [f"{_format_location(e['loc'])}: {e['msg']}" for e in error.errors()[:5]]
    more = error.error_count() - len(problems)
    suffix = f" (and {more} more)" if more > 0 else ""
    return "invalid body: " + "; ".join(problems) + suffix


class _EventStore:
    """Rate-limit counters and dedupe markers in the recorder's Redis, sync or asyncio."""

    def __init__(self, metrics: SessionMetrics | AsyncSessionMetrics) -> None:
        if not isinstance(metrics, SessionMetrics | AsyncSessionMetrics):
            raise TypeError("metrics must be a SessionMetrics or AsyncSessionMetrics, "
                            f"got {type(metrics).__name__}")
        self.async_client = metrics.client if isinstance(metrics, AsyncSessionMetrics) else None
        self.sync_client = metrics.client if isinstance(metrics, SessionMetrics) else None

    async def _run(self, build: Callable[[Any], None]) -> list[Any]:
        if self.async_client is not None:
            async with self.async_client.pipeline(transaction=True) as pipe:
                build(pipe)
                return list(await pipe.execute())
        client = self.sync_client
        assert client is not None

        def run_sync() -> list[Any]:
            with client.pipeline(transaction=True) as pipe:
                build(pipe)
                return list(pipe.execute())

        return await run_in_threadpool(run_sync)

    async def hit(self, key: str) -> int:
        """Count one request on a rate key; the expiry is set in the same transaction."""

        def build(pipe: Any) -> None:
            pipe.incr(key)
            pipe.expire(key, RATE_KEY_TTL_SECONDS)

        return int((await self._run(build))[0])

    async def mark_new(self, keys: list[str], ttl: int) -> list[bool]:
        """Set each dedupe marker unless it exists; True for the markers this call created."""

        def build(pipe: Any) -> None:
            for key in keys:
                pipe.set(key, 1, nx=True, ex=ttl)

        return [bool(result) for result in await self._run(build)]

    async def forget(self, keys: list[str]) -> None:
        """Delete dedupe markers (they share the prefix's hash slot)."""
        await self._run(lambda pipe: pipe.delete(*keys))


async def _call(method: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    result = method(*args, **kwargs)
    if inspect.isawaitable(result):
        return await result
    return result


def client_events_router(
    metrics: SessionMetrics | AsyncSessionMetrics,
    *,
    authenticate: Callable[..., Any] | Callable[..., Awaitable[Any]],
    path: str = DEFAULT_PATH,
    max_body_bytes: int = 16_384,
    max_events: int = 50,
    max_event_age_seconds: float = 86_400,
    max_clock_skew_seconds: float = 86_400,
    max_requests_per_minute: int = 30,
    client_ip: Callable[[Request], str | None] | None = None,
) -> APIRouter:
    """Build the router serving ``POST {path}``.

    `authenticate` is a FastAPI dependency of the host that validates the session's
    credentials (raising 401 itself) and returns a `ClientIdentity`, or any object or mapping
    with `session_id`, `user_id` and `site`. A batch is accepted when `sent_at` is within
    `max_clock_skew_seconds` of the server clock. An event in it is counted when its
    `occurred_at` is at most `max_event_age_seconds` before `sent_at` and not after it;
    otherwise it is listed in the response's `rejected` and not marked as seen. Each session
    may post `max_requests_per_minute` requests per clock minute. `client_ip` resolves the
    address recorded with the failures (for example `ClientIPResolver(...).from_request`).

    Responses: 200 ``{"accepted": n, "duplicates": m, "rejected": [{"index", "id",
    "error"}, ...]}``; 400 for a body that is not JSON; 413 above `max_body_bytes`; 422 for a
    body that breaks the schema or the event cap, or whose `sent_at` is out of range; 429 with
    Retry-After past the rate limit; 503 when Redis cannot be reached or the recorder dropped
    an event (the browser keeps its events and sends them again later, and an event counted
    before is then a duplicate).
    """
    for name, value in (("max_body_bytes", max_body_bytes), ("max_events", max_events),
                        ("max_requests_per_minute", max_requests_per_minute)):
        if value < 1:
            raise ValueError(f"{name} must be at least 1, got {value}")
    store = _EventStore(metrics)
    schema = metrics.schema
    # A marker must outlive every moment its event could still be accepted.
    dedupe_ttl = math.ceil(max_event_age_seconds + 2 * max_clock_skew_seconds + RATE_WINDOW_SECONDS)
    router = APIRouter()

    async def read_body(request: Request) -> bytes:
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > max_body_bytes:
            raise _BadRequest(413, f"body too large: {declared} bytes, at most {max_body_bytes}")
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > max_body_bytes:
                raise _BadRequest(413, f"body too large: more than {max_body_bytes} bytes")
        return bytes(body)

    def parse(body: bytes, now: float) -> ClientEventBatch:
        try:
            raw = json.loads(body)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise _BadRequest(400, f"invalid JSON body: {exc}") from None
        except RecursionError:
            # A few kilobytes of brackets exceed the parser's nesting limit.
            raise _BadRequest(400, "invalid JSON body: nested too deeply") from None
        except ValueError:
            # An integer longer than sys.get_int_max_str_digits() (4300 by default).
            raise _BadRequest(400, "invalid JSON body: a number has too many digits") from None
        try:
            batch = ClientEventBatch.model_validate(raw)
        except ValidationError as exc:
            raise _BadRequest(422, _validation_message(exc)) from None
        count = len(batch.events)
        if not 1 <= count <= max_events:
            raise _BadRequest(422, f"events: got {count} events, expected 1 to {max_events}")
        check_sent_at(batch, now)
        return batch

    def check_sent_at(batch: ClientEventBatch, now: float) -> None:
        # The schema already rejects NaN and infinities.
        if abs(batch.sent_at - now) > max_clock_skew_seconds:
            raise _BadRequest(
                422,
                f"sent_at: {batch.sent_at} is more than {max_clock_skew_seconds:g} s away from "
                f"the server clock ({now:.0f}); check the device clock",
            )

    def out_of_range(batch: ClientEventBatch) -> list[RejectedClientEvent]:
        """Return the events whose `occurred_at` is too old or after `sent_at`."""
        rejected = []
        for index, event in enumerate(batch.events):
            age = batch.sent_at - event.occurred_at
            if not 0 <= age <= max_event_age_seconds:
                error = (f"occurred_at: {event.occurred_at} must be at most "
                         f"{max_event_age_seconds:g} s before sent_at ({batch.sent_at}) "
                         "and not after it")
                rejected.append(RejectedClientEvent(index=index, id=event.id, error=error))
        return rejected

    async def check_rate(session_hash: str, now: float) -> None:
        minute = int(now // RATE_WINDOW_SECONDS)
        count = await store.hit(schema.client_rate(session_hash, minute))
        if count > max_requests_per_minute:
            retry_after = max(1, math.ceil((minute + 1) * RATE_WINDOW_SECONDS - now))
            raise _BadRequest(
                429,
                f"rate limit exceeded: at most {max_requests_per_minute} requests per minute "
                f"per session; retry after {retry_after} s",
                headers={"Retry-After": str(retry_after)},
            )

    @router.post(path, summary="Report refresh failures that only the browser saw",
                 response_model=ClientEventsAccepted, responses=_responses(),
                 openapi_extra=_openapi_extra(max_events))
    async def post_client_events(
        request: Request,
        # A default, not Annotated[...]: postponed annotations cannot see this local name.
        auth: Any = Depends(authenticate),  # noqa: B008
    ) -> JSONResponse:
        identity = identity_of(auth)
        session_hash = hash_session_id(identity.session_id) or ""
        now = metrics.clock.now()
        try:
            body = await read_body(request)
            await check_rate(session_hash, now)
            batch = parse(body, now)
            rejected = out_of_range(batch)
            rejected_indexes = {event.index for event in rejected}
            keys = [schema.client_event_seen(event_digest(session_hash, event.id))
                    for index, event in enumerate(batch.events)
                    if index not in rejected_indexes]
            fresh = await store.mark_new(keys, dedupe_ttl) if keys else []
        except _BadRequest as exc:
            raise HTTPException(exc.status, exc.message, headers=exc.headers) from None
        except RedisError as exc:
            _log.warning("client events not stored: Redis unavailable (%s: %s)",
                         type(exc).__name__, exc)
            raise HTTPException(503, "event store unavailable; send the events again later",
                                headers={"Retry-After": "30"}) from None

        if rejected:
            _log.info("client events not counted: %d of %d out of range, first: %s",
                      len(rejected), len(batch.events), rejected[0].error)
        ip = client_ip(request) if client_ip else None
        accepted = 0
        unrecorded: list[str] = []
        for key, is_new in zip(keys, fresh, strict=True):
            if not is_new:
                continue
            recorded = await _call(
                metrics.refresh_failed, "network", session_id=identity.session_id,
                user_id=identity.user_id, site=identity.site, ip=ip, source="client")
            if recorded:
                accepted += 1
            else:
                unrecorded.append(key)
        if unrecorded:
            # The recorder dropped these events (Redis failed or the circuit breaker is
            # open): forget their markers so that the browser's next send counts them. The
            # events it recorded keep their markers and count as duplicates then.
            await forget_markers(unrecorded)
            raise HTTPException(503, f"{len(unrecorded)} of {len(keys)} events not recorded; "
                                "send the events again later", headers={"Retry-After": "30"})
        response = ClientEventsAccepted(accepted=accepted, duplicates=len(fresh) - accepted,
                                        rejected=rejected)
        return JSONResponse(response.model_dump())

    async def forget_markers(keys: list[str]) -> None:
        try:
            await store.forget(keys)
        except RedisError as exc:
            # NOTE: these events stay marked as seen until the markers expire, so a resend
            # within that time does not count them. They are lost, never counted twice.
            _log.warning("client events lost: %d dedupe markers not removed (%s: %s)",
                         len(keys), type(exc).__name__, exc)

    return router
