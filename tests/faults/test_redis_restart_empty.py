"""Redis restarts with no data: the exporter keeps serving, counters restart from zero, the
recorder carries on, and no missing key makes anything fail.

Prometheus sees the drop to zero as a counter reset; the alerting tests' "counter reset"
case checks that the failure-ratio rules handle it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator

import pytest
from sessionwatch.api_hooks import RecorderConfig, SessionMetrics
from sessionwatch.api_hooks.buffered import BufferConfig
from sessionwatch.api_hooks.keys import KeySchema
from sessionwatch.exporter.cli import main
from sessionwatch.exporter.reader import SessionStatsReader

from ..support.exporter import ServedExporter, served_exporter
from ..support.exposition import sample_value
from ..support.servers import RedisServer

CLI_COMMANDS = (["summary"], ["top-errors", "--by", "site"], ["active"], ["--json", "summary"],
                ["check", "--window", "5m"])


@pytest.fixture
def restartable_redis() -> Iterator[RedisServer]:
    server = RedisServer().start()
    yield server
    server.stop()


def record_traffic(recorder: SessionMetrics, successes: int, failures: int) -> None:
    for number in range(successes):
        recorder.session_started(f"s{number}", site="Lyon", expires_at=time.time() + 600)
        recorder.refresh_succeeded(f"s{number}", site="Lyon", expires_at=time.time() + 600)
    for number in range(failures):
        recorder.refresh_failed("expired", site="Lyon", ip=f"198.51.100.{number}")
    assert recorder.flush()


def wait_for_recording(recorder: SessionMetrics, server: RedisServer, prefix: str) -> None:
    """Record probe events until one reaches Redis: the first write after the restart may
    fail on a connection the old server closed, and the breaker then waits a cooldown."""
    reader = SessionStatsReader(server.client(), KeySchema(prefix))
    deadline = time.monotonic() + 10
    while not reader.totals().started.get("probe"):
        assert time.monotonic() < deadline, "recording did not resume after the restart"
        recorder.session_started("probe", site="probe", expires_at=time.time() + 600)
        recorder.flush()
        time.sleep(0.1)
    reader.client.close()


def admin_documents(exporter: ServedExporter) -> dict[str, dict[str, object]]:
    documents = {}
    for path, params in (("/metrics", {}), ("/top-errors", {"by": "site"}),
                         ("/timeseries", {"window": "5m"})):
        response = exporter.admin(path, **params)
        assert response.status_code == 200, (path, response.text)
        documents[path] = response.json()
    return documents


def run_cli(url: str, prefix: str, capsys: pytest.CaptureFixture[str]) -> list[int | None]:
    codes = []
    for argv in CLI_COMMANDS:
        with pytest.raises(SystemExit) as exited:
            main(["--redis-url", url, "--prefix", prefix, *argv])
        codes.append(exited.value.code)
        assert "Traceback" not in capsys.readouterr().err
    return codes


@pytest.mark.parametrize("buffered", [False, True], ids=["direct", "buffered"])
def test_restart_empty_exporter_and_recorder_carry_on(
    restartable_redis: RedisServer, prefix: str, buffered: bool,
    capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture,
) -> None:
    config = RecorderConfig(prefix=prefix, socket_timeout=2, connect_timeout=2,
                            breaker_cooldown=0.05, breaker_max_cooldown=0.1)
    recorder = SessionMetrics.from_url(restartable_redis.url, config=config, buffered=buffered,
                                       buffer_config=BufferConfig(flush_interval=60))
    caplog.set_level(logging.INFO)
    with served_exporter(restartable_redis.url, prefix) as exporter:
        record_traffic(recorder, successes=5, failures=2)
        before = exporter.scrape()
        admin_documents(exporter)

        restartable_redis.stop()
        restartable_redis.start()
        empty = exporter.scrape()
        empty_documents = admin_documents(exporter)
        empty_cli = run_cli(restartable_redis.url, prefix, capsys)

        wait_for_recording(recorder, restartable_redis, prefix)
        record_traffic(recorder, successes=3, failures=1)
        after = exporter.scrape()
        after_documents = admin_documents(exporter)
    recorder.close()

    assert sample_value(before, "session_refresh_success_total", site="Lyon") == 5
    # Empty Redis: the exporter answers, every figure is zero.
    assert sample_value(empty, "sessionwatch_redis_up") == 1
    assert sample_value(empty, "session_refresh_success_total", site="Lyon") is None
    assert sample_value(empty, "session_active") == 0
    assert empty_documents["/metrics"]["refresh"] == {
        "success": 0, "failure": 0, "failure_ratio": None,
        "failures_by_reason": dict.fromkeys(
            ("network", "expired", "revoked", "invalid", "inactive", "server_error",
             "rate_limited", "other"), 0)}
    assert empty_documents["/top-errors"]["items"] == []
    assert empty_cli == [0, 0, 0, 0, 0]
    # Counters restart from zero, then count only what came after the restart.
    assert sample_value(after, "sessionwatch_redis_up") == 1
    assert sample_value(after, "session_refresh_success_total", site="Lyon") == 3
    assert sample_value(after, "session_refresh_failure_total", site="Lyon", reason="expired",
                        source="server") == 1
    assert sample_value(after, "session_active_by_site", site="Lyon") == 3
    assert after_documents["/top-errors"]["items"] == [{"key": "Lyon", "count": 1}]
    # The restart cost Redis errors, never an unexpected exception.
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text
    assert "recorder failed on an event" not in caplog.text
