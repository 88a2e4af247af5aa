"""Targets for worker processes (multiprocessing "spawn"), each with a recorder of its own.

They stand for separate API workers: nothing is shared with the test process but Redis.
"""

from __future__ import annotations

import os
import time
from typing import Any

import redis
from sessionwatch.api_hooks import RecorderConfig, SessionMetrics
from sessionwatch.api_hooks.buffered import BufferConfig


def _recorder(url: str, prefix: str) -> SessionMetrics:
    return SessionMetrics.from_url(
        url, config=RecorderConfig(prefix=prefix, socket_timeout=2, connect_timeout=2)
    )


def start_session(url: str, prefix: str, session_id: str, site: str, expires_at: float) -> None:
    with _recorder(url, prefix) as recorder:
        recorder.session_started(session_id, user_id="u1", site=site, expires_at=expires_at)


def force_logout_then_hang(url: str, prefix: str, session_id: str, site: str,
                           done: Any) -> None:
    """Record a forced logout, signal `done`, then wait to be killed."""
    recorder = _recorder(url, prefix)
    recorder.session_ended(session_id, forced=True, reason="revoked", site=site)
    done.set()
    time.sleep(3600)


def record_successes(url: str, prefix: str, count: int, pause: float, start: Any) -> None:
    """Wait at the `start` barrier, then record `count` successful refreshes `pause` s apart."""
    start.wait(30)
    with _recorder(url, prefix) as recorder:
        for number in range(count):
            recorder.refresh_succeeded(f"worker-{os.getpid()}-{number}", site="Lyon")
            time.sleep(pause)


def record_failures_skewed(url: str, prefix: str, site: str, skew: float, count: int,
                           buffered: bool, start: Any) -> None:
    """Wait at the `start` barrier, then record `count` failures of `site` from a recorder
    whose clock is `skew` seconds off, and close it (which flushes a buffered recorder)."""
    start.wait(30)
    client = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
    recorder = SessionMetrics(
        client, config=RecorderConfig(prefix=prefix, socket_timeout=2, connect_timeout=2),
        buffered=buffered, buffer_config=BufferConfig(flush_interval=0.2),
        clock=lambda: time.time() + skew,
    )
    for number in range(count):
        recorder.refresh_failed("expired", site=site, ip=f"198.51.100.{number % 200}")
        time.sleep(0.005)
    recorder.close()
