"""The hostile corpus through every entry point: recorder calls (direct and buffered), the
admin API's query strings, the client-events bodies and the CLI's options.

Nothing raises into a caller, nothing unbounded lands in Redis, and every bad request gets a
4xx (or a usage error) that names the parameter at fault.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote, quote_from_bytes

import pytest
import redis
from fastapi import FastAPI, Header, HTTPException
from fastapi.testclient import TestClient
from prometheus_client import REGISTRY
from sessionwatch.api_hooks import RecorderConfig, SessionMetrics
from sessionwatch.api_hooks.buffered import BufferConfig
from sessionwatch.api_hooks.client_events import ClientIdentity, client_events_router
from sessionwatch.api_hooks.keys import KeySchema
from sessionwatch.exporter.app import create_app
from sessionwatch.exporter.cli import main
from sessionwatch.exporter.models import SummaryResponse, TimeseriesResponse, TopErrorsResponse
from sessionwatch.exporter.reader import SessionStatsReader
from sessionwatch.exporter.settings import ExporterSettings
from sessionwatch.exporter.windows import WINDOW_NAMES

from ..support.exporter import ADMIN_TOKEN
from ..support.prometheus import promtool_check_metrics
from ..support.redis_dump import StoredKey, dump_prefix
from ..support.servers import RedisServer
from .corpus import RAW_BODIES, VALUES

MAX_KEY_BYTES = 128
MAX_MEMBER_BYTES = 512
MAX_VALUE_BYTES = 64
CLIENT_EVENTS = "/v1/sessions/client-events"

# Values that break a recorder call before it can be counted: a truth test that raises (as
# `forced`), and in buffered mode anything unhashable, because the buffer keys its counters
# by the raw arguments. Each is counted in sessionwatch_recorder_errors_total and logged;
# none raises into the caller.
UNRECORDABLE = {"falsy-raises"}
UNHASHABLE = {"empty-list", "list", "empty-dict", "dict", "set", "unhashable", "nested-list",
              "bytearray"}


def ids(pairs: list[tuple[str, Any]]) -> list[str]:
    return [name for name, _ in pairs]


def recorder_errors(prefix: str) -> float:
    value = REGISTRY.get_sample_value("sessionwatch_recorder_errors_total", {"prefix": prefix})
    return value or 0.0


def record_everywhere(recorder: SessionMetrics, value: Any) -> list[str]:
    """Pass `value` as every argument of every recorder call; return what was raised."""
    calls = (
        lambda: recorder.session_started(value, user_id=value, site=value, ip=value,
                                         expires_at=value),
        lambda: recorder.refresh_succeeded(value, user_id=value, site=value, ip=value,
                                           expires_at=value),
        lambda: recorder.refresh_failed(value, session_id=value, user_id=value, site=value,
                                        ip=value, source=value),
        lambda: recorder.session_ended(value, forced=True, reason=value, user_id=value,
                                       site=value, ip=value),
        lambda: recorder.session_ended(value, forced=value, site=value),
    )
    raised = []
    for call in calls:
        try:
            result = call()
        except BaseException as exc:  # noqa: BLE001 - the test reports whatever escapes
            raised.append(f"{type(exc).__name__}: {exc}")
        else:
            assert isinstance(result, bool), repr(result)
    return raised


def assert_bounded(stored: list[StoredKey], schema: KeySchema) -> None:
    families = re.compile(
        re.escape(f"{{{schema.prefix}") + r"(\}:(totals|labelled_sites|client:(seen|rate):.+"
        r"|done:[0-9a-f]+)"
        r"|:h\d+\}:((m\d+:)?(counts|top:(ip|site|reason)|done:[0-9a-f]+)|versions)"
        r"|:a\d+\}:(expiry|site_of|sites|site:.+|done:[0-9a-f]+))"
    )
    for key in stored:
        name = key.name.decode("utf-8", "replace")
        assert len(key.name) <= MAX_KEY_BYTES, key.name[:80]
        assert families.fullmatch(name), name
        for member in key.fields:
            assert len(member) <= MAX_MEMBER_BYTES, (key.name, member[:80])
        for value in key.values:
            assert len(value) <= MAX_VALUE_BYTES, (key.name, value[:80])
    buckets = [key for key in stored if b":h" in key.name and b":done:" not in key.name]
    # Two minutes and two hours at most (a boundary may pass), four keys each.
    assert len(buckets) <= 16, [key.name for key in buckets]


@pytest.fixture
def raw_client(redis_server: RedisServer) -> Iterator[redis.Redis]:
    client = redis_server.client()
    yield client
    client.close()


# Recorder calls


@pytest.mark.parametrize("buffered", [False, True], ids=["direct", "buffered"])
def test_corpus_recorder_calls_never_raise(
    redis_url: str, prefix: str, raw_client: redis.Redis, buffered: bool,
    caplog: pytest.LogCaptureFixture,
) -> None:
    recorder = SessionMetrics.from_url(
        redis_url, config=RecorderConfig(prefix=prefix, socket_timeout=2, connect_timeout=2),
        buffered=buffered, buffer_config=BufferConfig(flush_interval=60),
    )
    expected_errors = UNRECORDABLE | (UNHASHABLE if buffered else set())
    raised: dict[str, list[str]] = {}
    failing: set[str] = set()
    with caplog.at_level(logging.DEBUG, logger="sessionwatch.events"):
        for name, value in VALUES:
            errors_before = recorder_errors(prefix)
            raised[name] = record_everywhere(recorder, value)
            if recorder_errors(prefix) > errors_before:
                failing.add(name)
        assert recorder.flush()
    recorder.close()
    stored = dump_prefix(raw_client, prefix)
    exposition = create_app_exposition(redis_url, prefix)

    assert {name: errors for name, errors in raised.items() if errors} == {}
    assert failing == expected_errors
    assert_bounded(stored, KeySchema(prefix))
    for record in caplog.records:
        message = record.getMessage()
        assert "\n" not in message, message[:200]
        assert "\r" not in message, message[:200]
        assert len(message) < 1000
    result = promtool_check_metrics(exposition)
    assert (result.returncode, result.stderr) == (0, "")


def create_app_exposition(redis_url: str, prefix: str) -> str:
    app = create_app(ExporterSettings(redis_url=redis_url, prefix=prefix))
    with TestClient(app) as client:
        response = client.get("/metrics", headers={"Accept": "text/plain"})
    assert response.status_code == 200
    return response.text


# Admin API query strings


def query_bytes(value: Any) -> bytes:
    """Return the bytes a client would put in a query string for `value`."""
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value)
    try:
        text = value if isinstance(value, str) else str(value)
    except RuntimeError:
        text = "<unprintable>"
    return text.encode("utf-8", "surrogatepass")


# httpx rejects URLs longer than 64 KiB ("URL too long"); HTTP servers cap request lines too.
MAX_QUERY_BYTES = 60_000
ADMIN_PARAMETERS = [("/metrics", "window"), ("/timeseries", "window"),
                    ("/top-errors", "window"), ("/top-errors", "by"),
                    ("/top-errors", "limit"), ("/top-errors", "offset")]
MODELS = {"/metrics": SummaryResponse, "/top-errors": TopErrorsResponse,
          "/timeseries": TimeseriesResponse}


@pytest.fixture
def admin_client(redis_url: str, prefix: str) -> Iterator[TestClient]:
    config = RecorderConfig(prefix=prefix, socket_timeout=2, connect_timeout=2)
    with SessionMetrics.from_url(redis_url, config=config) as recorder:
        recorder.refresh_failed("expired", site="Lyon", ip="203.0.113.7")
        recorder.refresh_succeeded("s1", site="Lyon")
    app = create_app(ExporterSettings(redis_url=redis_url, prefix=prefix,
                                      admin_token=ADMIN_TOKEN))
    with TestClient(app, raise_server_exceptions=False) as client:
        client.headers["Authorization"] = f"Bearer {ADMIN_TOKEN}"
        yield client


def accepted_value(parameter: str, body: dict[str, Any], raw: bytes) -> bool:
    """Return True if a 200 response is right for the value sent as `parameter`."""
    text = raw.decode("utf-8", "replace")
    if parameter == "window":
        return text in WINDOW_NAMES and body["window"] == text
    if parameter == "by":
        return text in ("ip", "site", "reason") and body["by"] == text
    bounds = {"limit": (1, 500), "offset": (0, 10_000_000)}[parameter]
    return bounds[0] <= body[parameter] <= bounds[1]


def test_corpus_admin_queries_name_parameter(admin_client: TestClient,
                                                             prefix: str,
                                                             raw_client: redis.Redis) -> None:
    wrong: list[tuple[str, str, str, int, str]] = []
    rejected = 0
    for name, value in VALUES:
        raw = query_bytes(value)[:MAX_QUERY_BYTES // 3]  # percent-encoding triples a byte
        for path, parameter in ADMIN_PARAMETERS:
            url = f"/v1/admin/sessions{path}?{parameter}={quote_from_bytes(raw, safe='')}"
            response = admin_client.get(url)
            status, text = response.status_code, response.text
            if status == 200:
                body = MODELS[path].model_validate_json(text).model_dump()
                ok = accepted_value(parameter, body, raw)
            else:
                ok = status == 422 and parameter in text and len(text) < 2000
                rejected += 1
            if not ok:
                wrong.append((name, path, parameter, status, text[:200]))

    assert wrong == []
    assert rejected > 5 * len(VALUES)
    assert_bounded(dump_prefix(raw_client, prefix), KeySchema(prefix))


# Client-events bodies


def authenticate(x_session: str | None = Header(default=None)) -> ClientIdentity:
    if not x_session:
        raise HTTPException(401, "missing session")
    return ClientIdentity(session_id=x_session, user_id="camille", site="Lyon")


@pytest.fixture
def events_client(redis_url: str, prefix: str) -> Iterator[TestClient]:
    config = RecorderConfig(prefix=prefix, socket_timeout=2, connect_timeout=2)
    recorder = SessionMetrics.from_url(redis_url, config=config)
    app = FastAPI()
    app.include_router(client_events_router(recorder, authenticate=authenticate,
                                            max_requests_per_minute=1_000_000))
    with TestClient(app, raise_server_exceptions=False) as client:
        client.headers["X-Session"] = "session-corpus"
        yield client
    recorder.close()


FIELDS = ("events[0].id", "events[0].type", "events[0].reason", "events[0].detail",
          "events[0].occurred_at", "sent_at", "events", "events[0]")
PLACEHOLDER = "__HOSTILE__"


def json_fragment(value: Any) -> bytes:
    """Return `value` as it would appear in a JSON body; bytes go in raw, inside quotes."""
    if isinstance(value, bytes | bytearray | memoryview):
        return b'"' + bytes(value) + b'"'
    try:
        return json.dumps(value, allow_nan=True).encode("utf-8", "surrogatepass")
    except (TypeError, ValueError):
        pass
    try:
        return json.dumps(str(value)).encode("utf-8", "surrogatepass")
    except RuntimeError:
        return b'"<unprintable>"'


def body_with(field: str, value: Any, number: int) -> bytes:
    now = time.time()
    event: dict[str, Any] = {"id": f"corpus-{number:08d}", "type": "refresh_failed",
                             "reason": "network", "detail": "offline", "occurred_at": now - 30}
    body: dict[str, Any] = {"events": [event], "sent_at": now}
    if field == "events":
        body["events"] = PLACEHOLDER
    elif field == "events[0]":
        body["events"] = [PLACEHOLDER]
    elif field == "sent_at":
        body["sent_at"] = PLACEHOLDER
    else:
        event[field.removeprefix("events[0].")] = PLACEHOLDER
    return json.dumps(body).encode().replace(f'"{PLACEHOLDER}"'.encode(), json_fragment(value))


def rejection_names_problem(status: int, detail: Any, field: str) -> bool:
    if not isinstance(detail, str) or not detail:
        return False
    if status == 400:
        return detail.startswith("invalid JSON body")
    if status == 413:
        return detail.startswith("body too large")
    return status == 422 and field in detail


def test_corpus_client_event_fields_named(
    events_client: TestClient, redis_url: str, prefix: str, raw_client: redis.Redis
) -> None:
    wrong: list[tuple[str, str, int, str]] = []
    accepted = 0
    number = 0
    for name, value in VALUES:
        for field in FIELDS:
            number += 1
            response = events_client.post(CLIENT_EVENTS, content=body_with(field, value, number),
                                          headers={"Content-Type": "application/json"})
            if response.status_code == 200:
                accepted += response.json()["accepted"]
                continue
            if not rejection_names_problem(response.status_code, response.json()["detail"],
                                           field):
                wrong.append((name, field, response.status_code, response.text[:200]))

    assert wrong == []
    totals = SessionStatsReader(raw_client, KeySchema(prefix)).totals()
    assert totals.failures_by_reason()["network"] == accepted
    stored = dump_prefix(raw_client, prefix)
    assert_bounded(stored, KeySchema(prefix))
    seen = [key for key in stored if b":client:seen:" in key.name]
    assert len(seen) == accepted
    assert all(key.ttl > 0 for key in stored if b":client:" in key.name)


def now_filled(body: bytes) -> bytes:
    now = time.time()
    return (body.replace(b'"__NOW_MINUS_30__"', str(now - 30).encode())
            .replace(b'"__NOW__"', str(now).encode()))


EXPECTED_RAW = {
    "nested-8000": (400, "invalid JSON body: nested too deeply"),
    "nested-objects": (400, "invalid JSON body: nested too deeply"),
    "1mb-body": (413, "body too large"),
    "empty": (400, "invalid JSON body"),
    "truncated": (400, "invalid JSON body"),
    "list": (422, "invalid body: body: Input should be a valid dictionary"),
    "duplicate-keys": (422, "events: got 0 events"),
    "huge-int-sent-at": (400, "invalid JSON body: a number has too many digits"),
}


@pytest.mark.parametrize(("name", "body"), RAW_BODIES, ids=ids(RAW_BODIES))
def test_corpus_client_event_raw_bodies_rejected_or_counted(
    events_client: TestClient, name: str, body: bytes
) -> None:
    response = events_client.post(CLIENT_EVENTS, content=now_filled(body),
                                  headers={"Content-Type": "application/json"})
    detail = response.json().get("detail")

    assert response.status_code in (200, 400, 413, 422), response.text[:200]
    if response.status_code != 200:
        assert isinstance(detail, str)
        assert 10 < len(detail) < 1000
    if name in EXPECTED_RAW:
        status, start = EXPECTED_RAW[name]
        assert (response.status_code, detail[: len(start)]) == (status, start)


def test_corpus_duplicated_event_ids_counted_once(events_client: TestClient,
                                                  raw_client: redis.Redis, prefix: str) -> None:
    body = now_filled(dict(RAW_BODIES)["duplicated-event-ids"])
    headers = {"Content-Type": "application/json"}

    first = events_client.post(CLIENT_EVENTS, content=body, headers=headers)
    second = events_client.post(CLIENT_EVENTS, content=body, headers=headers)

    assert first.json() == {"accepted": 1, "duplicates": 49, "rejected": []}
    assert second.json() == {"accepted": 0, "duplicates": 50, "rejected": []}
    totals = SessionStatsReader(raw_client, KeySchema(prefix)).totals()
    assert totals.failures_by_reason()["network"] == 1


# CLI options


def argv_text(value: Any) -> str:
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).decode("utf-8", "surrogateescape")
    try:
        return value if isinstance(value, str) else str(value)
    except RuntimeError:
        return "<unprintable>"


def cli_invocations(url: str, prefix: str, text: str, number: int) -> list[tuple[str, list[str]]]:
    """Return (option, argv) pairs that pass `text` to each option of session-stats."""
    base = ["--redis-url", url, "--prefix", prefix]
    password = quote(f"pw{number}-{text}", safe="", errors="surrogatepass")
    # The hostile text only ever goes into the password or database of a loopback URL.
    host = url.removeprefix("redis://").split("/")[0]
    return [
        ("--window", [*base, "summary", "--window", text]),
        ("--by", [*base, "top-errors", "--by", text]),
        ("--limit", [*base, "top-errors", "--limit", text]),
        ("--offset", [*base, "top-errors", "--offset", text]),
        ("--prefix", ["--redis-url", url, "--prefix", text, "active"]),
        ("--active-shards", [*base, "--active-shards", text, "active"]),
        ("--timeout", [*base, "--timeout", text, "active"]),
        ("--max-failure-ratio", [*base, "check", "--max-failure-ratio", text]),
        ("--min-refreshes", [*base, "check", "--min-refreshes", text]),
        ("--redis-url", ["--redis-url", f"redis://:{password}@{host}/0", "--prefix", prefix,
                         "active"]),
        ("--redis-url", ["--redis-url",
                         f"redis://{host}/{quote(text, safe='', errors='surrogatepass')}",
                         "--prefix", prefix, "active"]),
    ]


def test_corpus_cli_options_fail_in_one_line(
    redis_url: str, prefix: str, capsys: pytest.CaptureFixture[str]
) -> None:
    wrong: list[tuple[str, str, Any, str]] = []
    codes: dict[Any, int] = {}
    for number, (name, value) in enumerate(VALUES):
        text = argv_text(value)
        for option, argv in cli_invocations(redis_url, prefix, text, number):
            with pytest.raises(SystemExit) as exited:
                main(argv)
            output = capsys.readouterr()
            code = exited.value.code
            codes[code] = codes.get(code, 0) + 1
            lines = output.err.splitlines()
            ok = code in (0, 1, 2, 64) and "Traceback" not in output.err
            if code == 64:
                ok = ok and len(lines) == 1 and option in lines[0]
            elif code == 1:
                ok = ok and len(lines) == 1 and f"pw{number}-" not in output.err
            if not ok:
                wrong.append((name, option, code, output.err[:300]))

    assert wrong == []
    assert codes.get(64, 0) > 5 * len(VALUES)
