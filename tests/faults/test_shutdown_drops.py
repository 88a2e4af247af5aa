"""Buffered events still unwritten when the recorder closes are counted, not only logged."""

from __future__ import annotations

import logging

import pytest
import redis
import redis.asyncio
from prometheus_client import REGISTRY
from sessionwatch.api_hooks import AsyncSessionMetrics, RecorderConfig, SessionMetrics
from sessionwatch.api_hooks.buffered import BufferConfig

from ..support.servers import free_port

BUFFER = BufferConfig(flush_interval=60, shutdown_timeout=0.5)


def dropped(prefix: str, cause: str) -> float:
    value = REGISTRY.get_sample_value("sessionwatch_events_dropped_total",
                                      {"prefix": prefix, "cause": cause})
    return value or 0.0


def closing_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [record.getMessage() for record in caplog.records
            if "closed with" in record.getMessage()]


def test_shutdown_unwritten_events_counted(prefix: str,
                                           caplog: pytest.LogCaptureFixture) -> None:
    nothing_listens = redis.Redis(host="127.0.0.1", port=free_port(), socket_timeout=0.2,
                                  socket_connect_timeout=0.2)
    recorder = SessionMetrics(nothing_listens, config=RecorderConfig(prefix=prefix),
                              buffered=True, buffer_config=BUFFER)
    for number in range(25):
        recorder.refresh_succeeded(f"s{number}", site="Lyon")
        recorder.refresh_failed("network", site="Lyon")

    with caplog.at_level(logging.WARNING):
        recorder.close()

    assert dropped(prefix, "shutdown") == 50
    assert closing_warnings(caplog) == ["sessionwatch closed with 50 events not written to Redis"]


async def test_shutdown_unwritten_events_counted_async(
    prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    nothing_listens = redis.asyncio.Redis(host="127.0.0.1", port=free_port(),
                                          socket_timeout=0.2, socket_connect_timeout=0.2)
    recorder = AsyncSessionMetrics(nothing_listens, config=RecorderConfig(prefix=prefix),
                                   buffer_config=BUFFER)
    for number in range(30):
        await recorder.session_started(f"s{number}", site="Lyon")

    with caplog.at_level(logging.WARNING):
        await recorder.aclose()

    assert dropped(prefix, "shutdown") == 30
    assert closing_warnings(caplog) == ["sessionwatch closed with 30 events not written to Redis"]


def test_shutdown_after_clean_flush_counts_nothing(redis_url: str, prefix: str) -> None:
    recorder = SessionMetrics.from_url(
        redis_url, config=RecorderConfig(prefix=prefix, socket_timeout=2, connect_timeout=2),
        buffered=True, buffer_config=BUFFER)
    recorder.refresh_succeeded("s1", site="Lyon")

    recorder.close()

    assert dropped(prefix, "shutdown") == 0
    assert recorder.pending_events == 0
