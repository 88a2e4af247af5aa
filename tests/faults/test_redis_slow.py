"""Redis hangs (DEBUG SLEEP, CLIENT PAUSE): recorder calls and the refresh endpoint wait at
most one socket timeout, and only a few calls wait at all.

The recorders use the default config: 50 ms timeouts, breaker cooldown from 1 s.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import pytest
import redis
from prometheus_client import REGISTRY
from sessionwatch.api_hooks import AsyncSessionMetrics, RecorderConfig, SessionMetrics
from sessionwatch.api_hooks.keys import KeySchema
from sessionwatch.exporter.reader import SessionStatsReader

from ..support.servers import RedisServer
from ..support.service_process import load_records, refresh_service, start_load_client
from .timeline import LatencySummary, between

TIMEOUT_MS = 50
HANG_SECONDS = 3.0
# A call waited on Redis if it took more than half a timeout; the others skipped Redis.
WAITED_MS = TIMEOUT_MS / 2
# The first call, then one probe per cooldown (1 s, then 2 s) within the hang.
MAX_WAITING_CALLS = 4


@pytest.fixture
def debug_redis() -> Iterator[RedisServer]:
    server = RedisServer(extra_args=("--enable-debug-command", "yes")).start()
    yield server
    server.kill()


def hang(server: RedisServer, how: str, seconds: float) -> threading.Thread:
    """Make `server` stop answering for `seconds`, from a thread; return the thread."""
    admin = server.client(socket_timeout=seconds + 30)

    def run() -> None:
        with contextlib.suppress(redis.RedisError):
            if how == "debug-sleep":
                admin.execute_command("DEBUG", "SLEEP", str(seconds))
            else:
                admin.execute_command("CLIENT", "PAUSE", str(int(seconds * 1000)), "ALL")
        admin.close()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    time.sleep(0.2)  # let the server take the command before the calls start
    return thread


def dropped(prefix: str) -> float:
    return sum(REGISTRY.get_sample_value("sessionwatch_events_dropped_total",
                                         {"prefix": prefix, "cause": cause}) or 0.0
               for cause in ("redis_error", "breaker_open"))


def successes(server: RedisServer, prefix: str) -> int:
    client = server.client()
    try:
        return SessionStatsReader(client, KeySchema(prefix)).totals().success_total
    finally:
        client.close()


def time_calls_sync(call: Callable[[int], None], seconds: float) -> list[float]:
    """Call `call(n)` every 5 ms for `seconds`; return each call's duration in ms."""
    durations = []
    end = time.monotonic() + seconds
    number = 0
    while time.monotonic() < end:
        started = time.perf_counter()
        call(number)
        durations.append((time.perf_counter() - started) * 1000)
        number += 1
        time.sleep(0.005)
    return durations


async def time_calls_async(call: Callable[[int], Awaitable[None]], seconds: float
                           ) -> list[float]:
    durations = []
    end = time.monotonic() + seconds
    number = 0
    while time.monotonic() < end:
        started = time.perf_counter()
        await call(number)
        durations.append((time.perf_counter() - started) * 1000)
        number += 1
        await asyncio.sleep(0.005)
    return durations


def assert_bounded(durations: list[float], what: str) -> None:
    waited = [duration for duration in durations if duration > WAITED_MS]
    print(f"{what}: {len(durations)} calls, {len(waited)} waited on Redis, "
          f"max {max(durations):.1f} ms")
    assert len(durations) > 100
    assert 1 <= len(waited) <= MAX_WAITING_CALLS, waited
    # A waiting call costs one reply timeout, plus a connect when the probe reconnects.
    assert max(durations) <= 2 * TIMEOUT_MS + 50


@pytest.mark.parametrize("how", ["debug-sleep", "client-pause"])
def test_slow_redis_direct_calls_wait_one_timeout(debug_redis: RedisServer, prefix: str,
                                                  how: str) -> None:
    recorder = SessionMetrics.from_url(debug_redis.url, config=RecorderConfig(prefix=prefix))
    recorder.refresh_succeeded("warm-up", site="Lyon")
    before = dropped(prefix)

    sleeper = hang(debug_redis, how, HANG_SECONDS)
    durations = time_calls_sync(
        lambda n: recorder.refresh_succeeded(f"s{n}", site="Lyon"), HANG_SECONDS - 0.3)
    sleeper.join(HANG_SECONDS + 30)

    assert_bounded(durations, f"sync direct, {how}")
    assert dropped(prefix) - before >= len(durations) - MAX_WAITING_CALLS
    recorder.close()


@pytest.mark.parametrize("how", ["debug-sleep", "client-pause"])
async def test_slow_redis_async_direct_calls_wait_one_timeout(
    debug_redis: RedisServer, prefix: str, how: str
) -> None:
    recorder = AsyncSessionMetrics.from_url(debug_redis.url, config=RecorderConfig(prefix=prefix),
                                            buffered=False)
    await recorder.refresh_succeeded("warm-up", site="Lyon")

    sleeper = await asyncio.to_thread(hang, debug_redis, how, HANG_SECONDS)
    durations = await time_calls_async(
        lambda n: recorder.refresh_succeeded(f"s{n}", site="Lyon"), HANG_SECONDS - 0.3)
    await asyncio.to_thread(sleeper.join, HANG_SECONDS + 30)

    assert_bounded(durations, f"async direct, {how}")
    await recorder.aclose()


def test_slow_redis_recording_resumes_after_hang(debug_redis: RedisServer, prefix: str) -> None:
    config = RecorderConfig(prefix=prefix, breaker_cooldown=0.1, breaker_max_cooldown=0.2)
    recorder = SessionMetrics.from_url(debug_redis.url, config=config)
    recorder.refresh_succeeded("warm-up", site="Lyon")

    hang(debug_redis, "debug-sleep", 1.0).join(30)
    recorder.refresh_succeeded("during-or-after", site="Lyon")
    time.sleep(0.3)  # past the longest cooldown
    for number in range(10):
        recorder.refresh_succeeded(f"after-{number}", site="Lyon")

    assert not recorder.breaker.is_open
    assert successes(debug_redis, prefix) >= 11
    recorder.close()


@pytest.mark.slow
@pytest.mark.timeout(180)
@pytest.mark.parametrize("buffered", [True, False], ids=["buffered", "direct"])
def test_slow_redis_refresh_endpoint_not_slowed(
    debug_redis: RedisServer, prefix: str, tmp_path: Path, buffered: bool
) -> None:
    out = tmp_path / "records.json"
    with refresh_service(debug_redis.url, prefix, tmp_path / "service.log",
                         buffered=buffered, timeout_ms=TIMEOUT_MS) as service:
        client = start_load_client(service.url, out, rate=40, duration=12)
        time.sleep(3)
        hang_started = time.time()
        sleeper = hang(debug_redis, "debug-sleep", 5.0)
        sleeper.join(60)
        hang_ended = time.time()
        assert client.wait(60) == 0
    records = load_records(out)
    before = LatencySummary.of(between(records, 0, hang_started))
    during = LatencySummary.of(between(records, hang_started, hang_ended))
    print(f"endpoint under DEBUG SLEEP ({'buffered' if buffered else 'direct'}): "
          f"before={before} during={during}")

    assert {(kind, status) for _, _, kind, status in records} == {
        ("login", 200), ("refresh", 200), ("invalid", 401)}
    assert during.requests >= 150
    assert during.p99_ms <= before.p99_ms + TIMEOUT_MS + 50
    assert during.max_ms <= before.max_ms + 2 * TIMEOUT_MS + 50
