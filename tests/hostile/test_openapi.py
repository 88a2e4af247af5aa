"""schemathesis against the OpenAPI documents of the exporter and of the client-events router.

Each operation gets generated requests (valid and invalid ones), run in-process against the
ASGI app: no response is a 5xx, and every response has a documented status, content type
and body schema. The examples are bounded so the whole file runs in well under a minute.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI, Header, HTTPException
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from sessionwatch.api_hooks import RecorderConfig, SessionMetrics
from sessionwatch.api_hooks.client_events import ClientIdentity, client_events_router
from sessionwatch.exporter import summaries
from sessionwatch.exporter.app import create_app
from sessionwatch.exporter.settings import ExporterSettings
from sessionwatch.exporter.windows import parse_window

from ..support.exporter import ADMIN_TOKEN

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance]
EXAMPLES = settings(max_examples=50, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow,
                                           HealthCheck.function_scoped_fixture])


def seed(redis_url: str, prefix: str) -> SessionMetrics:
    recorder = SessionMetrics.from_url(
        redis_url, config=RecorderConfig(prefix=prefix, socket_timeout=2, connect_timeout=2))
    for number in range(30):
        recorder.session_started(f"s{number}", site=("Lyon", "Paris", 'a"b')[number % 3])
        recorder.refresh_succeeded(f"s{number}", site="Lyon")
        recorder.refresh_failed(("expired", "revoked", "bogus")[number % 3], site="Paris",
                                ip=f"198.51.100.{number}")
    return recorder


@pytest.fixture
def exporter_schema(redis_url: str, prefix: str) -> Any:
    seed(redis_url, prefix).close()
    app = create_app(ExporterSettings(redis_url=redis_url, prefix=prefix,
                                      admin_token=ADMIN_TOKEN))
    return schemathesis.openapi.from_asgi("/openapi.json", app)


def authenticate(x_session: str | None = Header(default=None)) -> ClientIdentity:
    if not x_session:
        raise HTTPException(401, "missing session")
    return ClientIdentity(session_id=x_session, user_id="camille", site="Lyon")


@pytest.fixture
def client_events_schema(redis_url: str, prefix: str) -> Iterator[Any]:
    recorder = seed(redis_url, prefix)
    app = FastAPI(title="client events")
    app.include_router(client_events_router(recorder, authenticate=authenticate,
                                            max_requests_per_minute=1_000_000))
    yield schemathesis.openapi.from_asgi("/openapi.json", app)
    recorder.close()


def run_operations(schema: Any, headers: dict[str, str] | None = None) -> list[str]:
    """Run every operation of `schema` with valid and invalid generated requests; return the
    labels of the operations run."""
    labels = []
    for result in schema.get_all_operations():
        operation = result.ok()
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @given(case=operation.as_strategy(generation_mode=mode))
            @EXAMPLES
            def call(case: Any) -> None:
                case.call_and_validate(headers=headers, checks=CHECKS)

            call()
        labels.append(operation.label)
    return labels


def test_openapi_exporter_conforms(exporter_schema: Any) -> None:
    labels = run_operations(exporter_schema, {"Authorization": f"Bearer {ADMIN_TOKEN}"})

    assert sorted(labels) == ["GET /v1/admin/sessions/metrics",
                              "GET /v1/admin/sessions/timeseries",
                              "GET /v1/admin/sessions/top-errors"]


def test_openapi_client_events_conform(client_events_schema: Any) -> None:
    labels = run_operations(client_events_schema)

    assert labels == ["POST /v1/sessions/client-events"]


TIME_FIELDS = ("generated_at", "window_start", "window_end")


def without_time(document: dict[str, Any]) -> dict[str, Any]:
    """Return `document` without the fields that move with the clock between two reads."""
    return {key: value for key, value in document.items() if key not in TIME_FIELDS}


def test_openapi_models_keep_admin_json(redis_url: str, prefix: str) -> None:
    seed(redis_url, prefix).close()
    app = create_app(ExporterSettings(redis_url=redis_url, prefix=prefix,
                                      admin_token=ADMIN_TOKEN))
    reader = app.state.reader
    window = parse_window("15m")
    expected = {
        "/metrics": summaries.summary(reader, window, 0.05),
        "/top-errors": summaries.top_errors(reader, "site", window, 0, 20),
        "/timeseries": summaries.timeseries(reader, window),
    }

    with TestClient(app) as client:
        answers = {path: client.get(f"/v1/admin/sessions{path}",
                                    params={"window": "15m", "by": "site"},
                                    headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}).json()
                   for path in expected}

    for path, document in expected.items():
        assert json.dumps(without_time(answers[path])) == json.dumps(without_time(document))
        assert list(answers[path]) == list(document), path
    assert 0 <= answers["/metrics"]["window_end"] - expected["/metrics"]["window_end"] <= 5
