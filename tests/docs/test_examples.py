"""The files under examples/ behave as the docs describe: apps, a request body, configs, a
unit.

The apps are loaded fresh for each test with the environment set first, because they read
SESSIONWATCH_* at import time, as a deployed app would.
"""

from __future__ import annotations

import configparser
import contextlib
import json
import os
import re
import shutil
import subprocess
import time
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
import yaml
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sessionwatch.api_hooks import SessionMetrics
from sessionwatch.api_hooks.client_events import ClientIdentity, client_events_router
from sessionwatch.api_hooks.keys import KeySchema, counter_field

from ..support.exporter import ServedExporter
from ..support.prometheus import PROMETHEUS_BINARY, PROMTOOL_BINARY
from ..support.servers import free_port
from .example_apps import EXAMPLES, load_example
from .markdown import REPO
from .shell import VENV_BIN, probe_exporter, stop_process

UNIT = EXAMPLES / "systemd" / "sessionwatch-exporter.service"
ENV_FILE = EXAMPLES / "systemd" / "sessionwatch-exporter.env"
PROMETHEUS_YML = EXAMPLES / "prometheus" / "prometheus.yml"
BATCH_JSON = EXAMPLES / "client_events" / "batch.json"
PRODUCTION_VENV_BIN = "/opt/sessionwatch/venv/bin/"
TOKEN = "example-admin-token-0123456789"


def totals(redis_client: redis.Redis, prefix: str) -> dict[str, int]:
    raw = redis_client.hgetall(KeySchema(prefix).totals())
    return {field: int(value) for field, value in raw.items()}


class FakeTime:
    """Stands in for the `time` module inside an example: `time()` moves only on `advance`."""

    def __init__(self) -> None:
        self.now = time.time()

    def time(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


# ---- examples/fastapi_app.py ---------------------------------------------------------------


def test_fastapi_app_records_a_session_over_http(example_env: str, redis_url: str,
                                                 redis_client: redis.Redis) -> None:
    port = free_port()
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    # The command of the example's docstring, on a free port.
    process = subprocess.Popen(
        [str(VENV_BIN / "uvicorn"), "examples.fastapi_app:app", "--port", str(port)],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True,
    )
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as http:
            wait_until_up(http, process)
            login = http.post("/auth/login", params={"user": "camille", "site": "Lyon"})
            token = login.json()["access_token"]
            assert http.get("/api/ping", headers=bearer(token)).status_code == 200
            refreshed = http.post("/auth/refresh", headers=bearer(token))
            new_token = refreshed.json()["access_token"]
            assert http.post("/auth/refresh", headers=bearer(token)).status_code == 401
            assert http.post("/auth/logout", headers=bearer(new_token)).status_code == 204
    finally:
        stop_process(process)  # SIGTERM: the lifespan flushes the buffered recorder

    assert login.status_code == 200
    assert 479 * 60 < login.json()["expires_in"] <= 480 * 60
    assert refreshed.status_code == 200
    counts = totals(redis_client, example_env)
    assert counts[counter_field("started", "Lyon")] == 1
    assert counts[counter_field("success", "Lyon")] == 1
    assert counts[counter_field("failure", "unknown", "invalid", "server")] == 1
    assert counts[counter_field("ended", "Lyon")] == 1


def wait_until_up(http: httpx.Client, process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 30
    while True:
        assert process.poll() is None, process.stdout.read() if process.stdout else ""
        try:
            http.get("/docs")
            return
        except httpx.TransportError:
            assert time.monotonic() < deadline, "examples.fastapi_app did not start"
            time.sleep(0.1)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_fastapi_app_refuses_idle_session(example_env: str, redis_client: redis.Redis,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    app_module = load_example("fastapi_app")
    clock = FakeTime()
    monkeypatch.setattr(app_module, "time", clock)
    threshold = app_module.ACTIVITY_THRESHOLD_MINUTES * 60

    with TestClient(app_module.app) as client:
        busy = client.post("/auth/login", params={"user": "camille", "site": "Lyon"}).json()
        idle = client.post("/auth/login", params={"user": "sacha", "site": "Lyon"}).json()
        clock.advance(threshold - 60)
        client.get("/api/ping", headers=bearer(busy["access_token"]))
        clock.advance(120)
        renewed = client.post("/auth/refresh", headers=bearer(busy["access_token"]))
        refused = client.post("/auth/refresh", headers=bearer(idle["access_token"]))

    assert renewed.status_code == 200
    assert refused.status_code == 401
    assert refused.json() == {"detail": {"reason": "inactive"}}
    counts = totals(redis_client, example_env)
    assert counts[counter_field("success", "Lyon")] == 1
    assert counts[counter_field("failure", "Lyon", "inactive", "server")] == 1
    assert counts[counter_field("forced", "Lyon", "inactive")] == 1


# ---- examples/client_events_app.py and examples/client_events/batch.json -------------------


def test_client_events_app_counts_client_failures(example_env: str,
                                                  redis_client: redis.Redis) -> None:
    app_module = load_example("client_events_app")
    app_module.SESSIONS["tablet-token"] = ClientIdentity("session-1", "camille", "Lyon")
    now = time.time()
    batch = {"events": [{"id": "event-0001", "type": "refresh_failed", "reason": "network",
                         "detail": "offline", "occurred_at": now - 30}], "sent_at": now}

    with TestClient(app_module.app) as client:
        anonymous = client.post("/v1/sessions/client-events", json=batch)
        accepted = client.post("/v1/sessions/client-events", json=batch,
                               headers=bearer("tablet-token"))
        again = client.post("/v1/sessions/client-events", json=batch,
                            headers=bearer("tablet-token"))

    assert anonymous.status_code == 401
    assert accepted.json() == {"accepted": 1, "duplicates": 0, "rejected": []}
    assert again.json() == {"accepted": 0, "duplicates": 1, "rejected": []}
    counts = totals(redis_client, example_env)
    assert counts[counter_field("failure", "Lyon", "network", "client")] == 1


def test_client_events_batch_accepted(redis_server: Any, prefix: str,
                                      redis_client: redis.Redis) -> None:
    body = json.loads(BATCH_JSON.read_text("utf-8"))
    # The example's timestamps are fixed, so the recorder's clock starts at its sent_at.
    metrics = SessionMetrics(redis_server.client(socket_timeout=2), prefix=prefix,
                             clock=lambda: body["sent_at"] + 1)
    app = FastAPI()
    app.include_router(client_events_router(
        metrics, authenticate=lambda: ClientIdentity("session-1", "camille", "Lyon")))

    with TestClient(app) as client:
        response = client.post("/v1/sessions/client-events",
                               content=BATCH_JSON.read_bytes(),
                               headers={"Content-Type": "application/json"})
    metrics.close()

    assert response.status_code == 200, response.text
    assert response.json() == {"accepted": 1, "duplicates": 0, "rejected": []}
    counts = totals(redis_client, prefix)
    assert counts[counter_field("failure", "Lyon", "network", "client")] == 1


# ---- examples/admin_router_app.py ----------------------------------------------------------


def test_admin_router_app_requires_admin_cookie(example_env: str, redis_url: str) -> None:
    recorder = SessionMetrics.from_url(redis_url, prefix=example_env)
    recorder.session_started("session-1", site="Lyon", expires_at=time.time() + 3600)
    recorder.refresh_succeeded("session-1", site="Lyon", expires_at=time.time() + 3600)
    recorder.close()
    app_module = load_example("admin_router_app")
    app_module.ADMIN_SESSIONS.add("admin-cookie")

    with TestClient(app_module.app) as client:
        anonymous = client.get("/v1/admin/sessions/metrics")
        client.cookies.set("admin_session", "admin-cookie")
        admin = client.get("/v1/admin/sessions/metrics", params={"window": "15m"})
        widget = client.get("/static/widget/index.js")

    assert anonymous.status_code == 403
    assert admin.status_code == 200
    assert admin.json()["active"]["total"] == 1
    assert admin.json()["refresh"]["success"] == 1
    assert widget.status_code == 200


# ---- examples/prometheus/prometheus.yml ----------------------------------------------------


def test_prometheus_example_passes_promtool() -> None:
    result = subprocess.run([PROMTOOL_BINARY, "check", "config", str(PROMETHEUS_YML)],
                            capture_output=True, text=True, timeout=60, check=False)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS: 1 rule files found" in result.stdout
    config = yaml.safe_load(PROMETHEUS_YML.read_text("utf-8"))
    assert [job["job_name"] for job in config["scrape_configs"]] == ["sessionwatch"]
    assert (EXAMPLES / "prometheus" / "rules").resolve() == REPO / "alerting" / "rules"


@pytest.mark.prometheus
def test_prometheus_example_scrapes_exporter(doc_exporter: ServedExporter,
                                             tmp_path: Path) -> None:
    """Run Prometheus on the example, with only its targets moved to the test's servers."""
    config = yaml.safe_load(PROMETHEUS_YML.read_text("utf-8"))
    exporter_address = doc_exporter.url.removeprefix("http://")
    config["scrape_configs"][0]["static_configs"] = [{"targets": [exporter_address]}]
    config["scrape_configs"][0]["scrape_interval"] = "1s"
    config["alerting"]["alertmanagers"][0]["static_configs"] = [
        {"targets": [f"127.0.0.1:{free_port()}"]}]
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config), "utf-8")
    shutil.copytree(REPO / "alerting" / "rules", tmp_path / "rules")
    port = free_port()

    with running([PROMETHEUS_BINARY, f"--config.file={tmp_path / 'prometheus.yml'}",
                  f"--storage.tsdb.path={tmp_path / 'data'}",
                  f"--web.listen-address=127.0.0.1:{port}", "--log.level=warn"]) as process:
        url = f"http://127.0.0.1:{port}"
        targets = poll_json(process, f"{url}/api/v1/targets", lambda body: any(
            target["health"] == "up" for target in body["data"]["activeTargets"]))
        rules = poll_json(process, f"{url}/api/v1/rules", lambda body: body["data"]["groups"])

    [target] = targets["data"]["activeTargets"]
    assert target["labels"]["job"] == "sessionwatch"
    alerts = {rule["name"] for group in rules["data"]["groups"] for rule in group["rules"]
              if rule["type"] == "alerting"}
    assert alerts == {"SessionRefreshFailureRateHigh", "SessionRefreshFailureRateHighForSite",
                      "SessionExporterDown", "SessionRedisDown"}


@contextlib.contextmanager
def running(command: list[str], **options: Any) -> Iterator[subprocess.Popen[str]]:
    """Run a command in its own session; stop it and its children on exit."""
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True, start_new_session=True, **options)
    try:
        yield process
    finally:
        stop_process(process)


def poll_json(process: subprocess.Popen[str], url: str, done: Any,
              timeout: float = 30.0) -> dict[str, Any]:
    """GET `url` until `done(body)` is true; fail with the process output if it exits."""
    deadline = time.monotonic() + timeout
    body: dict[str, Any] = {}
    while time.monotonic() < deadline:
        assert process.poll() is None, process.stdout.read() if process.stdout else ""
        try:
            body = httpx.get(url, timeout=2).json()
            if done(body):
                return body
        except (httpx.HTTPError, ValueError):
            pass
        time.sleep(0.2)
    raise AssertionError(f"{url} never met the condition in {timeout} s; last: {body}")


# ---- examples/systemd/ ---------------------------------------------------------------------


def unit_sections() -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string(UNIT.read_text("utf-8"))
    return parser


def local_unit_text() -> str:
    """Return the unit with the production virtual environment moved to this checkout's."""
    return UNIT.read_text("utf-8").replace(PRODUCTION_VENV_BIN, f"{VENV_BIN}/")


def test_systemd_unit_verifies(tmp_path: Path) -> None:
    unit = unit_sections()
    assert unit.sections() == ["Unit", "Service", "Install"]
    command = unit["Service"]["ExecStart"].split()
    assert command[0].startswith(PRODUCTION_VENV_BIN)
    scripts = tomllib.loads((REPO / "pyproject.toml").read_text("utf-8"))["project"]["scripts"]
    assert Path(command[0]).name in scripts
    help_text = subprocess.run([str(VENV_BIN / Path(command[0]).name), "--help"],
                               capture_output=True, text=True, timeout=30, check=True).stdout
    for option in (word for word in command if word.startswith("--")):
        assert option in help_text

    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        # NOTE: without systemd-analyze only the checks above run.
        return
    local = tmp_path / UNIT.name
    local.write_text(local_unit_text(), "utf-8")
    result = subprocess.run([analyze, "verify", str(local)], capture_output=True, text=True,
                            timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip() == "", result.stderr


def read_env_file(path: Path) -> dict[str, str]:
    """Parse an EnvironmentFile= as systemd does for these lines: KEY=value, # comments."""
    values = {}
    for line in path.read_text("utf-8").splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            values[key.strip()] = value.strip()
    return values


def test_systemd_env_file_names_exporter_variables() -> None:
    sources = "".join((REPO / "exporter" / name).read_text("utf-8")
                      for name in ("settings.py", "__main__.py"))

    variables = read_env_file(ENV_FILE)

    assert variables["SESSIONWATCH_PORT"] == "9465"
    for name in variables:
        assert re.search(rf"\b{name}\b", sources), f"the exporter never reads {name}"


def test_systemd_unit_starts_exporter(doc_redis: Any, tmp_path: Path) -> None:
    """Start ExecStart as systemd would: the env file, then the credential directory."""
    credentials = tmp_path / "credentials"
    credentials.mkdir()
    (credentials / "admin-token").write_text(TOKEN + "\n", "utf-8")
    port = free_port()
    env = {key: value for key, value in os.environ.items()
           if not key.startswith("SESSIONWATCH_")}
    env.update(read_env_file(ENV_FILE))
    env.update(SESSIONWATCH_REDIS_URL=doc_redis.url, SESSIONWATCH_PORT=str(port),
               CREDENTIALS_DIRECTORY=str(credentials))
    exec_start = re.search(r"^ExecStart=(.+)$", local_unit_text(), re.M)
    assert exec_start is not None
    command = exec_start[1].replace("${CREDENTIALS_DIRECTORY}", str(credentials)).split()

    with running(command, env=env) as process:
        metrics = probe_exporter(process, f"http://127.0.0.1:{port}", "the unit's ExecStart")
        url = f"http://127.0.0.1:{port}/v1/admin/sessions/metrics"
        with_token = httpx.get(url, headers=bearer(TOKEN), timeout=10)
        without = httpx.get(url, timeout=10)

    assert "sessionwatch_redis_up 1.0" in metrics
    assert with_token.status_code == 200
    assert with_token.json()["active"]["total"] > 0
    assert without.status_code == 401
