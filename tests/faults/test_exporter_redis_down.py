"""The exporter and the CLI with Redis stopped, hung or a black hole, at their default timeouts.

`/metrics` responds within 1 s with `sessionwatch_redis_up 0`, the admin endpoints return
503, and `session-stats` exits with status 1 and one line on stderr.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator

import pytest
import redis
from sessionwatch.api_hooks import RecorderConfig, SessionMetrics
from sessionwatch.exporter.cli import main

from ..support.exporter import ADMIN_TOKEN, served_exporter
from ..support.exposition import parse_samples, sample_value
from ..support.faults import BlackHoleServer
from ..support.servers import RedisServer

ADMIN_PATHS = ("/metrics", "/top-errors", "/timeseries")


@contextlib.contextmanager
def broken_redis(fault: str, prefix: str) -> Iterator[tuple[str, Callable[[], None]]]:
    """Yield a Redis URL that worked a moment ago (stopped, hung) or never did (black hole),
    and a callable that breaks it."""
    if fault == "black-hole":
        with BlackHoleServer() as hole:
            yield hole.url, lambda: None
        return
    server = RedisServer(extra_args=("--enable-debug-command", "yes")).start()
    with SessionMetrics.from_url(server.url, config=RecorderConfig(
            prefix=prefix, socket_timeout=2, connect_timeout=2)) as recorder:
        recorder.refresh_succeeded("s1", site="Lyon")

    def hang() -> None:
        sleeper = server.client(socket_timeout=60)

        def sleep() -> None:
            with contextlib.suppress(redis.RedisError):  # killed at teardown
                sleeper.execute_command("DEBUG", "SLEEP", "20")

        threading.Thread(target=sleep, daemon=True).start()
        time.sleep(0.3)

    try:
        yield server.url, server.stop if fault == "stopped" else hang
    finally:
        server.kill()


@pytest.mark.parametrize("fault", ["stopped", "hung", "black-hole"])
def test_exporter_redis_down_answers_quickly(
    fault: str, prefix: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with broken_redis(fault, prefix) as (url, break_redis):
        with served_exporter(url, prefix) as exporter:
            exporter.http.get("/metrics")  # opens the pooled connection while Redis works
            break_redis()
            started = time.monotonic()
            scrape = exporter.http.get("/metrics")
            scrape_seconds = time.monotonic() - started
            admin = {path: exporter.admin(path) for path in ADMIN_PATHS}
            health = exporter.http.get("/healthz")
        with pytest.raises(SystemExit) as exited:
            main(["--redis-url", url, "--prefix", prefix, "summary"])
        cli = capsys.readouterr()
    print(f"/metrics with Redis {fault}: {scrape_seconds * 1000:.0f} ms")

    assert scrape.status_code == 200
    assert scrape_seconds < 1.0
    samples = parse_samples(scrape.text)
    assert sample_value(samples, "sessionwatch_redis_up") == 0
    assert sample_value(samples, "session_refresh_success_total", site="Lyon") is None
    for path, response in admin.items():
        assert response.status_code == 503, path
        assert response.json()["detail"].startswith("Redis unavailable ("), path
        assert ADMIN_TOKEN not in response.text
    assert health.status_code == 200
    assert exited.value.code == 1
    assert cli.out == ""
    assert len(cli.err.splitlines()) == 1, cli.err
    assert cli.err.startswith("Error: cannot read Redis at redis://127.0.0.1:")
    assert "Traceback" not in cli.err
