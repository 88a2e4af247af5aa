"""Buffered recording against real private Redis servers: exact totals, shutdown, outages, fork.

Recorders here use a long flush interval unless a test is about the flusher itself, so that
nothing reaches Redis before the test flushes or stops the process.
"""

from __future__ import annotations

import asyncio
import logging
import os
import subprocess
import sys
import textwrap
import threading
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
import redis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from prometheus_client import REGISTRY, generate_latest
from sessionwatch.api_hooks import AsyncSessionMetrics, RecorderConfig, SessionMetrics
from sessionwatch.api_hooks import recorder as recorder_module
from sessionwatch.api_hooks.buffered import BufferConfig
from sessionwatch.api_hooks.keys import KeySchema
from sessionwatch.api_hooks.plan import WriteBatch
from sessionwatch.api_hooks.scripts import batch_calls, run_calls
from sessionwatch.exporter.reader import EventCounts, SessionStatsReader
from sessionwatch.exporter.windows import WINDOWS

from .support.servers import RedisServer

REPO_ROOT = Path(__file__).resolve().parent.parent
# Long enough that the flusher thread never fires during a test that flushes by hand.
MANUAL_FLUSH = BufferConfig(flush_interval=60)


def config(prefix: str, **changes: Any) -> RecorderConfig:
    """A recorder config with timeouts generous enough for a busy CI machine."""
    return RecorderConfig(prefix=prefix, **{"socket_timeout": 2, "connect_timeout": 2, **changes})


def buffered_recorder(url: str, prefix: str, buffer: BufferConfig = MANUAL_FLUSH,
                      **changes: Any) -> SessionMetrics:
    return SessionMetrics.from_url(url, config=config(prefix, **changes), buffered=True,
                                   buffer_config=buffer)


def stats(url: str, prefix: str) -> SessionStatsReader:
    return SessionStatsReader(redis.Redis.from_url(url), KeySchema(prefix))


def totals(url: str, prefix: str) -> EventCounts:
    reader = stats(url, prefix)
    try:
        return reader.totals()
    finally:
        reader.client.close()


def dropped(prefix: str, cause: str) -> float:
    value = REGISTRY.get_sample_value("sessionwatch_events_dropped_total",
                                      {"prefix": prefix, "cause": cause})
    return value or 0.0


def recorder_errors(prefix: str) -> float:
    value = REGISTRY.get_sample_value("sessionwatch_recorder_errors_total", {"prefix": prefix})
    return value or 0.0


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll `condition` until it is true, and fail the test naming `what` after `timeout` s."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.05)


@pytest.fixture
def dedicated_redis() -> Iterator[RedisServer]:
    """A Redis of this test's own, which the test may stop and restart on the same port."""
    server = RedisServer().start()
    yield server
    server.stop()


# Exact totals


def record_mixed(recorder: SessionMetrics, thread: int, rounds: int) -> None:
    """Record `rounds` starts, refreshes and failures; end a quarter and force out a quarter."""
    site = f"site-{thread % 3}"
    for i in range(rounds):
        session = f"t{thread}-s{i}"
        recorder.session_started(session, site=site, expires_at=time.time() + 3600)
        recorder.refresh_succeeded(session, site=site, expires_at=time.time() + 7200)
        recorder.refresh_failed("expired" if i % 2 else "network", site=site,
                                ip=f"198.51.{i % 7}.{thread}")
        if i % 4 == 0:
            recorder.session_ended(session, site=site)
        elif i % 4 == 1:
            recorder.session_ended(session, site=site, forced=True, reason="revoked")


def test_buffered_eight_threads_exact_totals(redis_url: str, prefix: str) -> None:
    threads, rounds = 8, 400
    recorder = buffered_recorder(redis_url, prefix)
    workers = [threading.Thread(target=record_mixed, args=(recorder, t, rounds))
               for t in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()

    events_per_thread = rounds * 3 + rounds // 4 + rounds // 4
    assert recorder.pending_events == threads * events_per_thread
    assert totals(redis_url, prefix).success_total == 0

    assert recorder.flush()
    assert recorder.pending_events == 0
    counts = totals(redis_url, prefix)
    per_site = Counter(f"site-{t % 3}" for t in range(threads))
    assert counts.started == Counter({site: n * rounds for site, n in per_site.items()})
    assert counts.success == Counter({site: n * rounds for site, n in per_site.items()})
    assert counts.ended == Counter({site: n * rounds // 4 for site, n in per_site.items()})
    assert counts.forced_total == threads * rounds // 4
    assert counts.failures_by_reason()["expired"] == threads * rounds // 2
    assert counts.failures_by_reason()["network"] == threads * rounds // 2

    reader = stats(redis_url, prefix)
    assert reader.active().total == threads * (rounds - rounds // 2)
    top_ip = reader.top_errors("ip", WINDOWS["15m"], 0, 100)
    assert top_ip.total == 7
    assert sum(count for _, count in top_ip.items) == threads * rounds
    reader.client.close()
    recorder.close()


async def test_buffered_async_concurrent_tasks_exact_totals(redis_url: str, prefix: str) -> None:
    recorder = AsyncSessionMetrics.from_url(redis_url, config=config(prefix),
                                            buffer_config=MANUAL_FLUSH)
    assert recorder.buffered

    async def one_task(task: int) -> None:
        for i in range(250):
            await recorder.refresh_succeeded(f"a{task}-{i}", site="Lyon")
            await recorder.refresh_failed("invalid", site="Lyon", ip=f"203.0.113.{task}")
            if i % 10 == 0:
                await asyncio.sleep(0)

    await asyncio.gather(*(one_task(task) for task in range(8)))
    assert recorder.pending_events == 8 * 500
    assert await recorder.flush()
    await recorder.aclose()

    counts = totals(redis_url, prefix)
    assert counts.success == Counter({"Lyon": 2000})
    assert counts.failures_by_reason()["invalid"] == 2000


async def test_buffered_async_flush_cancelled_midway_loses_nothing(redis_url: str,
                                                                  prefix: str) -> None:
    recorder = AsyncSessionMetrics.from_url(redis_url, config=config(prefix),
                                            buffer_config=MANUAL_FLUSH)
    for i in range(2000):
        await recorder.refresh_succeeded(f"s{i}", site="Lyon", expires_at=time.time() + 600)

    flush = asyncio.create_task(recorder.flush())
    await asyncio.sleep(0)
    await asyncio.sleep(0)  # the flush has taken the buffer and paused between two steps
    flush.cancel()
    with pytest.raises(asyncio.CancelledError):
        await flush
    assert recorder.pending_events == 2000
    await recorder.aclose()

    assert totals(redis_url, prefix).success == Counter({"Lyon": 2000})
    reader = stats(redis_url, prefix)
    assert reader.active().total == 2000
    reader.client.close()


def test_buffered_flusher_thread_writes_on_its_own(redis_url: str, prefix: str) -> None:
    recorder = buffered_recorder(redis_url, prefix, BufferConfig(flush_interval=0.05))
    for i in range(50):
        recorder.refresh_succeeded(f"s{i}", site="Nantes")

    wait_until(lambda: recorder.pending_events == 0, 30, "the flusher thread to write")
    assert totals(redis_url, prefix).success == Counter({"Nantes": 50})
    recorder.close()


def test_direct_mode_writes_before_return(redis_url: str, prefix: str) -> None:
    recorder = SessionMetrics.from_url(redis_url, config=config(prefix))
    assert not recorder.buffered

    written = recorder.refresh_failed("revoked", site="Lyon", ip="192.0.2.1")

    assert written is True
    assert recorder.pending_events == 0
    assert totals(redis_url, prefix).failures_by_reason()["revoked"] == 1
    recorder.close()


# Flush on shutdown


def test_buffered_close_writes_pending_events(redis_url: str, prefix: str) -> None:
    recorder = buffered_recorder(redis_url, prefix)
    for i in range(30):
        recorder.refresh_succeeded(f"s{i}", site="Paris")

    recorder.close()

    assert totals(redis_url, prefix).success == Counter({"Paris": 30})


def refresh_app(recorder: SessionMetrics | AsyncSessionMetrics) -> FastAPI:
    """A tiny app that records one refresh per request and closes the recorder on shutdown."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        if isinstance(recorder, AsyncSessionMetrics):
            await recorder.aclose()
        else:
            recorder.close()

    app = FastAPI(lifespan=lifespan)

    @app.post("/refresh")
    async def refresh() -> dict[str, bool]:
        if isinstance(recorder, AsyncSessionMetrics):
            await recorder.refresh_succeeded("session", site="Lyon")
        else:
            recorder.refresh_succeeded("session", site="Lyon")
        return {"ok": True}

    return app


@pytest.mark.parametrize("kind", ["async", "blocking"])
def test_buffered_lifespan_shutdown_flushes(redis_url: str, prefix: str, kind: str) -> None:
    recorder: SessionMetrics | AsyncSessionMetrics
    if kind == "async":
        recorder = AsyncSessionMetrics.from_url(redis_url, config=config(prefix),
                                                buffer_config=MANUAL_FLUSH)
    else:
        recorder = buffered_recorder(redis_url, prefix)

    with TestClient(refresh_app(recorder)) as client:
        for _ in range(25):
            assert client.post("/refresh").status_code == 200
        assert recorder.pending_events == 25

    assert recorder.pending_events == 0
    assert totals(redis_url, prefix).success == Counter({"Lyon": 25})


def run_script(source: str, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run a Python script in a fresh interpreter; fail the test with its output if it fails."""
    script = tmp_path / "script.py"
    script.write_text(textwrap.dedent(source), "utf-8")
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    result = subprocess.run([sys.executable, str(script), *args], capture_output=True,
                            text=True, timeout=120, env=env, cwd=tmp_path)
    assert result.returncode == 0, f"script failed:\n{result.stdout}\n{result.stderr}"
    return result


ATEXIT_SCRIPT = """
    import sys
    from sessionwatch.api_hooks import RecorderConfig, SessionMetrics
    from sessionwatch.api_hooks.buffered import BufferConfig

    url, prefix = sys.argv[1], sys.argv[2]
    metrics = SessionMetrics.from_url(
        url, config=RecorderConfig(prefix=prefix, socket_timeout=2, connect_timeout=2),
        buffered=True, buffer_config=BufferConfig(flush_interval=60))
    for i in range(40):
        metrics.refresh_succeeded(f"s{i}", site="Rennes")
    metrics.refresh_failed("network", site="Rennes", ip="192.0.2.7")
    print("pending", metrics.pending_events)
    # No close(): the interpreter exits and the atexit hook must write the events.
"""


def test_buffered_atexit_flushes_at_interpreter_exit(redis_url: str, prefix: str,
                                                     tmp_path: Path) -> None:
    result = run_script(ATEXIT_SCRIPT, tmp_path, redis_url, prefix)

    assert "pending 41" in result.stdout
    counts = totals(redis_url, prefix)
    assert counts.success == Counter({"Rennes": 40})
    assert counts.failures_by_reason()["network"] == 1


# Fork safety

FORK_SCRIPT = """
    import os
    import sys
    import time
    from sessionwatch.api_hooks import RecorderConfig, SessionMetrics
    from sessionwatch.api_hooks.buffered import BufferConfig

    url, prefix, interval = sys.argv[1], sys.argv[2], float(sys.argv[3])
    # Like gunicorn with --preload: the recorder exists, and its flusher runs, before the fork.
    metrics = SessionMetrics.from_url(
        url, config=RecorderConfig(prefix=prefix, socket_timeout=2, connect_timeout=2),
        buffered=True, buffer_config=BufferConfig(flush_interval=interval))
    for i in range(100):
        metrics.refresh_succeeded(f"parent-{i}", site="parent")

    children = []
    for child in range(3):
        pid = os.fork()
        if pid == 0:
            assert metrics.pending_events == 0, "a child inherited the parent's events"
            for i in range(10 * (child + 1)):
                metrics.refresh_succeeded(f"child{child}-{i}", site=f"child{child}")
            if child == 2 and interval < 1:
                # This child relies on its own flusher thread, then skips atexit entirely.
                deadline = time.monotonic() + 60
                while metrics.pending_events and time.monotonic() < deadline:
                    time.sleep(0.05)
                os._exit(0 if metrics.pending_events == 0 else 3)
            sys.exit(0)  # Normal exit: the atexit hook writes this child's events.
        children.append(pid)

    for pid in children:
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0, f"child {pid} failed: {status}"
    for i in range(5):
        metrics.refresh_succeeded(f"parent-late-{i}", site="parent")
    print("parent pending", metrics.pending_events)
"""


@pytest.mark.parametrize("interval", ["60", "0.05"], ids=["manual", "running-flusher"])
def test_buffered_fork_each_process_writes_its_own(redis_url: str, prefix: str,
                                                   tmp_path: Path, interval: str) -> None:
    run_script(FORK_SCRIPT, tmp_path, redis_url, prefix, interval)

    counts = totals(redis_url, prefix)
    assert counts.success == Counter({"parent": 105, "child0": 10, "child1": 20, "child2": 30})
    reader = stats(redis_url, prefix)
    assert reader.active().by_site == {"parent": 105, "child0": 10, "child1": 20, "child2": 30}
    reader.client.close()


# Outages and retries


def test_buffered_failed_flush_keeps_events(dedicated_redis: RedisServer, prefix: str) -> None:
    url = dedicated_redis.url
    recorder = buffered_recorder(url, prefix, breaker_cooldown=0.05, breaker_max_cooldown=0.1)
    dedicated_redis.stop()
    for i in range(20):
        recorder.refresh_failed("server_error", site="Lyon", ip=f"192.0.2.{i}")

    assert not recorder.flush()
    assert recorder.pending_events == 20
    assert recorder_errors(prefix) >= 1

    dedicated_redis.start()
    wait_until(recorder.flush, 30, "a flush to succeed once Redis is back")
    assert recorder.pending_events == 0
    assert totals(url, prefix).failures_by_reason()["server_error"] == 20
    assert dropped(prefix, "redis_error") == 0
    recorder.close()


@pytest.mark.slow
def test_buffered_ten_second_outage_loses_nothing(dedicated_redis: RedisServer,
                                                  prefix: str) -> None:
    url = dedicated_redis.url
    recorder = buffered_recorder(url, prefix, BufferConfig(flush_interval=0.2))
    for i in range(50):
        recorder.refresh_succeeded(f"before-{i}", site="Lyon", expires_at=time.time() + 3600)
    wait_until(lambda: recorder.pending_events == 0, 30, "the events before the outage")
    assert totals(url, prefix).success == Counter({"Lyon": 50})
    errors_before = recorder_errors(prefix)

    # The restarted server starts empty, so afterwards Redis holds exactly the outage's events.
    dedicated_redis.stop()
    outage_end = time.monotonic() + 10
    during = 0
    while time.monotonic() < outage_end:
        recorder.refresh_succeeded(f"during-{during}", site="Lyon",
                                   expires_at=time.time() + 3600)
        recorder.refresh_failed("network", site="Lyon", ip=f"198.51.{during % 200}.1")
        during += 1
        time.sleep(0.01)
    assert recorder.pending_events == 2 * during
    assert recorder_errors(prefix) > errors_before
    dedicated_redis.start()

    wait_until(lambda: recorder.pending_events == 0, 60, "the flusher to catch up")
    counts = totals(url, prefix)
    assert counts.success == Counter({"Lyon": during})
    assert counts.failures_by_reason()["network"] == during
    reader = stats(url, prefix)
    assert reader.active().total == during
    assert reader.top_errors("ip", WINDOWS["15m"], 0, 500).total == min(during, 200)
    reader.client.close()
    for cause in ("buffer_full", "redis_error", "breaker_open"):
        assert dropped(prefix, cause) == 0
    recorder.close()


def test_buffered_retry_after_lost_reply_counts_once(
    redis_url: str, prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    recorder = buffered_recorder(redis_url, prefix, breaker_cooldown=0.05,
                                 breaker_max_cooldown=0.1)
    applied_then_lost: list[int] = []

    def apply_then_lose_reply(client: Any, calls: Any, clock: Any) -> None:
        run_calls(client, calls, clock)
        if not applied_then_lost:
            applied_then_lost.append(len(calls))
            raise redis.ConnectionError("connection reset after the writes were applied")

    monkeypatch.setattr(recorder_module, "run_calls", apply_then_lose_reply)
    for i in range(30):
        recorder.refresh_failed("expired", site="Lyon", ip=f"192.0.{i % 3}.1")

    assert not recorder.flush()
    assert applied_then_lost
    assert recorder.pending_events == 30
    wait_until(recorder.flush, 30, "the retry to succeed")

    assert totals(redis_url, prefix).failures_by_reason()["expired"] == 30
    reader = stats(redis_url, prefix)
    top_ip = reader.top_errors("ip", WINDOWS["15m"], 0, 10)
    assert sorted(count for _, count in top_ip.items) == [10, 10, 10]
    reader.client.close()
    recorder.close()


def test_apply_counts_skips_repeated_write_id(redis_url: str, prefix: str) -> None:
    recorder = buffered_recorder(redis_url, prefix)
    batch = WriteBatch(events=2)
    recorder.planner.failure(batch, time.time(), "Lyon", "invalid", "server", "192.0.2.0/24", 2)
    calls = batch_calls(recorder.planner, batch, time.time(), write_id="0123456789abcdef")
    client = redis.Redis.from_url(redis_url)

    run_calls(client, calls, None)
    run_calls(client, calls, None)

    assert totals(redis_url, prefix).failures_by_reason()["invalid"] == 2
    replies = [client.evalsha(call.script.sha, len(call.keys), *call.keys, *call.args)
               for call in calls]
    assert replies == [0] * len(calls)
    client.close()
    recorder.close()


# Bounds


def test_buffered_drops_counted_past_max_keys(
    redis_url: str, prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    # A frozen local clock keeps every event in the same second, so each address is one key.
    recorder = SessionMetrics(
        redis.Redis.from_url(redis_url), config=config(prefix), buffered=True,
        buffer_config=BufferConfig(flush_interval=60, max_keys=10), clock=lambda: 1.7e9,
    )
    caplog.set_level(logging.WARNING, logger="sessionwatch.api_hooks.recorder")
    queued = [recorder.refresh_failed("invalid", site="Lyon", ip=f"192.0.{i}.1")
              for i in range(25)]
    for i in range(5):
        recorder.refresh_failed("invalid", site="Lyon", ip=f"192.0.{i}.1")

    assert queued == [True] * 10 + [False] * 15

    assert recorder.flush()
    assert dropped(prefix, "buffer_full") == 15
    assert totals(redis_url, prefix).failures_by_reason()["invalid"] == 15

    for i in range(12):
        recorder.refresh_failed("invalid", site="Paris", ip=f"198.51.{i}.1")
    assert recorder.flush()
    assert dropped(prefix, "buffer_full") == 17

    exposition = generate_latest(REGISTRY).decode()
    line = f'sessionwatch_events_dropped_total{{cause="buffer_full",prefix="{prefix}"}} 17.0'
    assert line in exposition
    warnings = [r for r in caplog.records if "buffer full" in r.getMessage()]
    assert len(warnings) == 1, "a second drop within the interval must not log again"
    assert "dropped 15 events" in warnings[0].getMessage()
    recorder.close()


def test_buffered_drops_counted_past_max_sessions(redis_url: str, prefix: str) -> None:
    recorder = buffered_recorder(redis_url, prefix,
                                 BufferConfig(flush_interval=60, max_sessions=5))
    for i in range(8):
        recorder.refresh_succeeded(f"s{i}", site="Lyon", expires_at=time.time() + 600)
    recorder.refresh_succeeded("s0", site="Lyon", expires_at=time.time() + 900)

    assert recorder.flush()

    # Only the active-set updates past the bound are lost; every refresh is counted.
    assert dropped(prefix, "buffer_full") == 3
    assert totals(redis_url, prefix).success == Counter({"Lyon": 9})
    reader = stats(redis_url, prefix)
    assert reader.active().total == 5
    reader.client.close()
    recorder.close()


def test_buffered_drops_counted_past_max_pending_updates(
    dedicated_redis: RedisServer, prefix: str
) -> None:
    url = dedicated_redis.url
    # One refresh with a session implies 4 updates: totals, minute and hour counts, active set.
    recorder = buffered_recorder(url, prefix, BufferConfig(flush_interval=60,
                                                           max_pending_updates=10))
    dedicated_redis.stop()
    for round_number in range(3):
        recorder.refresh_succeeded(f"s{round_number}", site="Lyon")
        recorder.flush()

    assert dropped(prefix, "buffer_full") == 1
    assert recorder.pending_events == 2

    dedicated_redis.start()
    wait_until(recorder.flush, 60, "a flush to succeed once Redis is back")
    assert totals(url, prefix).success == Counter({"Lyon": 2})
    recorder.close()


def test_buffer_config_rejects_invalid_values() -> None:
    with pytest.raises(ValueError, match="flush_interval"):
        BufferConfig(flush_interval=0)
    with pytest.raises(ValueError, match="positive"):
        BufferConfig(max_keys=0)
