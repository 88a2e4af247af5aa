"""The asyncio recorder: exact counts under gather, outages, and an event loop left free."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Coroutine, Iterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from prometheus_client import REGISTRY
from sessionwatch.api_hooks import AsyncSessionMetrics, RecorderConfig
from sessionwatch.api_hooks.buffered import BufferConfig
from sessionwatch.api_hooks.keys import KeySchema
from sessionwatch.exporter.reader import SessionStatsReader
from sessionwatch.exporter.windows import parse_window

from .support.faults import BlackHoleServer, SlowProxy
from .support.servers import RedisServer, UvicornThread


def dropped(prefix: str, cause: str) -> float:
    value = REGISTRY.get_sample_value("sessionwatch_events_dropped_total",
                                      {"prefix": prefix, "cause": cause})
    return value or 0.0


@pytest.fixture
def reader(redis_server: RedisServer, prefix: str) -> Iterator[SessionStatsReader]:
    client = redis_server.client()
    yield SessionStatsReader(client, KeySchema(prefix))
    client.close()


def mixed_calls(recorder: AsyncSessionMetrics, count: int) -> list[Coroutine[Any, Any, bool]]:
    """Return `count` recorder calls: 1/5 failures, 1/5 logins, 3/5 successful refreshes."""
    calls = []
    for number in range(count):
        if number % 5 == 0:
            calls.append(recorder.refresh_failed("revoked", session_id=f"s{number}",
                                                 site="Lyon", ip="203.0.113.9"))
        elif number % 5 == 1:
            calls.append(recorder.session_started(f"s{number}", site="Paris"))
        else:
            calls.append(recorder.refresh_succeeded(f"s{number}", site="Lyon"))
    return calls


# Direct mode uses one connection per call in flight, so this test sizes the pool for the burst.
@pytest.mark.parametrize(("buffered", "pool"), [
    pytest.param(False, {"max_connections": 1000}, id="direct", marks=pytest.mark.slow),
    pytest.param(True, {}, id="buffered"),
])
async def test_async_recorder_gather_exact_totals(
    redis_url: str, prefix: str, reader: SessionStatsReader, buffered: bool,
    pool: dict[str, int],
) -> None:
    config = RecorderConfig(prefix=prefix, socket_timeout=5, connect_timeout=5)
    async with AsyncSessionMetrics.from_url(redis_url, config=config, buffered=buffered,
                                            **pool) as recorder:
        results = await asyncio.gather(*mixed_calls(recorder, 1000))

    assert set(results) == {True}
    totals = reader.totals()
    assert totals.failure_total == 200
    assert totals.started == {"Paris": 200}
    assert totals.success == {"Lyon": 600}
    assert reader.window_counts(parse_window("15m")).success_total == 600
    assert reader.active().total == 800
    assert reader.top_errors("ip", parse_window("15m")).items == [("203.0.113.0/24", 200)]
    assert dropped(prefix, "redis_error") == 0


async def test_async_recorder_burst_beyond_pool_counts_every_loss(
    redis_url: str, prefix: str, reader: SessionStatsReader
) -> None:
    """With the default pool and timeouts a 1000-call burst in direct mode may lose events,
    but every lost event is counted in sessionwatch_events_dropped_total.

    A write whose reply timed out counts as dropped although Redis applied it, so the
    recorded and dropped counts may add up to more than the calls, never to fewer.
    """
    async with AsyncSessionMetrics.from_url(redis_url, config=RecorderConfig(prefix=prefix),
                                            buffered=False) as recorder:
        await asyncio.gather(*mixed_calls(recorder, 1000))

    totals = reader.totals()
    recorded = totals.failure_total + totals.success_total + sum(totals.started.values())
    lost = dropped(prefix, "redis_error") + dropped(prefix, "breaker_open")
    assert recorded <= 1000
    assert recorded + lost >= 1000


@pytest.mark.parametrize("buffered", [False, True], ids=["direct", "buffered"])
async def test_async_recorder_forced_logout_ends_session(
    redis_url: str, prefix: str, reader: SessionStatsReader, buffered: bool
) -> None:
    config = RecorderConfig(prefix=prefix, socket_timeout=5, connect_timeout=5)
    async with AsyncSessionMetrics.from_url(redis_url, config=config,
                                            buffered=buffered) as recorder:
        await recorder.session_started("s1", site="Lyon")
        await recorder.session_started("s2", site="Lyon")
        await recorder.flush()
        await recorder.session_ended("s1", forced=True, reason="revoked", site="Lyon")
        await recorder.session_ended("s2", site="Lyon")

    assert reader.active().total == 0
    assert reader.totals().forced == {("Lyon", "revoked"): 1}
    assert reader.totals().ended == {"Lyon": 1}


async def test_async_recorder_black_hole_capped_then_skipped(prefix: str) -> None:
    with BlackHoleServer() as hole:
        recorder = AsyncSessionMetrics.from_url(hole.url, config=RecorderConfig(prefix=prefix),
                                                buffered=False)
        started = time.monotonic()
        await asyncio.gather(*(recorder.refresh_failed("network", site="Lyon")
                               for _ in range(200)))
        for _ in range(800):
            await recorder.refresh_succeeded("s1", site="Lyon")
        elapsed = time.monotonic() - started
        await recorder.aclose()

    assert elapsed < 5.0
    assert recorder.breaker.is_open
    assert dropped(prefix, "redis_error") + dropped(prefix, "breaker_open") == 1000
    assert dropped(prefix, "breaker_open") >= 800


async def test_async_recorder_buffered_black_hole_bounded(prefix: str) -> None:
    with BlackHoleServer() as hole:
        recorder = AsyncSessionMetrics.from_url(
            hole.url, config=RecorderConfig(prefix=prefix),
            buffer_config=BufferConfig(flush_interval=0.05, shutdown_timeout=0.5),
        )
        started = time.monotonic()
        for number in range(1000):
            await recorder.refresh_failed("network", session_id=f"s{number}", site="Lyon")
        calls_elapsed = time.monotonic() - started
        await asyncio.sleep(0.3)
        closing = time.monotonic()
        await recorder.aclose()
        close_elapsed = time.monotonic() - closing

    assert calls_elapsed < 5.0
    assert close_elapsed < 3.0
    assert recorder.breaker.is_open
    assert recorder.pending_events == 1000


def slow_redis_app(url: str, prefix: str, buffered: bool) -> FastAPI:
    """A host API whose refresh route records through the async recorder."""
    holder: dict[str, AsyncSessionMetrics] = {}

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        config = RecorderConfig(prefix=prefix, socket_timeout=5, connect_timeout=5)
        holder["metrics"] = AsyncSessionMetrics.from_url(url, config=config, buffered=buffered)
        yield
        await holder["metrics"].aclose()

    app = FastAPI(lifespan=lifespan)

    @app.post("/refresh/{session_id}")
    async def refresh(session_id: str) -> dict[str, str]:
        await holder["metrics"].refresh_succeeded(session_id, site="Lyon")
        return {"status": "refreshed"}

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app


@pytest.mark.slow
@pytest.mark.parametrize("buffered", [False, True], ids=["direct", "buffered"])
def test_async_recorder_slow_redis_leaves_loop_free(
    redis_server: RedisServer, prefix: str, reader: SessionStatsReader, buffered: bool
) -> None:
    probe_durations: list[float] = []
    statuses: list[int] = []
    stop_probing = threading.Event()

    def probe(base_url: str) -> None:
        with httpx.Client(base_url=base_url, timeout=10) as client:
            while not stop_probing.is_set():
                started = time.monotonic()
                client.get("/healthz").raise_for_status()
                probe_durations.append(time.monotonic() - started)
                time.sleep(0.1)

    async def refresh_all(base_url: str) -> None:
        limits = httpx.Limits(max_connections=60)
        async with httpx.AsyncClient(base_url=base_url, timeout=30, limits=limits) as client:
            responses = await asyncio.gather(*(client.post(f"/refresh/s{number}")
                                               for number in range(50)))
        statuses.extend(response.status_code for response in responses)

    with SlowProxy(redis_server.port, delay=1.0) as proxy, \
            UvicornThread(slow_redis_app(proxy.url, prefix, buffered)) as server:
        prober = threading.Thread(target=probe, args=(server.url,))
        prober.start()
        started = time.monotonic()
        try:
            asyncio.run(refresh_all(server.url))
            recorded = wait_for_successes(reader, 50, timeout=20)
        finally:
            stop_probing.set()
            prober.join(10)
        elapsed = time.monotonic() - started

    assert statuses == [200] * 50
    assert recorded == 50
    assert elapsed >= 1.0  # the proxy really delayed Redis
    assert len(probe_durations) >= 5
    assert max(probe_durations) < 0.5


def wait_for_successes(reader: SessionStatsReader, expected: int, timeout: float) -> int:
    """Poll the totals until `expected` successes are recorded; return the last count."""
    deadline = time.monotonic() + timeout
    count: int = reader.totals().success_total
    while count < expected and time.monotonic() < deadline:
        time.sleep(0.1)
        count = reader.totals().success_total
    return count
