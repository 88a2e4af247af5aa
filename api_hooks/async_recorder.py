"""`AsyncSessionMetrics`: the recorder for asyncio handlers (redis.asyncio)."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from typing import Any

import redis.asyncio
from redis.exceptions import RedisError

from .config import RecorderConfig
from .connection import async_redis_from_url
from .plan import WriteBatch
from .recorder import RecorderCore
from .scripts import batch_calls, run_calls_async, sync_clock_async


class AsyncSessionMetrics(RecorderCore):
    """Record session events into Redis from asyncio code; the calls are coroutines.

    Same contract as `SessionMetrics`: no call raises, a slow or absent Redis costs at most
    the socket timeouts, then the circuit breaker skips Redis until a probe succeeds.
    """

    def __init__(
        self,
        client: redis.asyncio.Redis,
        *,
        prefix: str | None = None,
        config: RecorderConfig | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        config = config or RecorderConfig()
        if prefix is not None:
            config = dataclasses.replace(config, prefix=prefix)
        super().__init__(config, clock)
        self.client = client

    @classmethod
    def from_url(cls, url: str, *, prefix: str | None = None,
                 config: RecorderConfig | None = None, **kwargs: Any) -> AsyncSessionMetrics:
        """Connect to `url` with the config's short timeouts and no client-side retries."""
        config = config or RecorderConfig()
        client = async_redis_from_url(url, config.socket_timeout,
                                      socket_connect_timeout=config.connect_timeout, **kwargs)
        return cls(client, prefix=prefix, config=config)

    async def session_started(self, session_id: Any, *, user_id: Any = None, site: Any = None,
                              ip: Any = None, expires_at: Any = None) -> None:
        """Count a new session and add it to the active set until `expires_at` (Unix s)."""
        await self._record(self.plan_started, session_id, user_id, site, ip, expires_at)

    async def refresh_succeeded(self, session_id: Any, *, user_id: Any = None,
                                site: Any = None, ip: Any = None,
                                expires_at: Any = None) -> None:
        """Count a successful refresh and extend the session to `expires_at` (Unix s)."""
        await self._record(self.plan_refresh_succeeded, session_id, user_id, site, ip,
                           expires_at)

    async def refresh_failed(self, reason: Any, *, session_id: Any = None, user_id: Any = None,
                             site: Any = None, ip: Any = None, source: Any = "server") -> None:
        """Count a failed refresh and rank it by client IP, site and reason."""
        await self._record(self.plan_refresh_failed, reason, session_id, user_id, site, ip,
                           source)

    async def session_ended(self, session_id: Any, *, forced: bool = False,
                            reason: Any = "logout", user_id: Any = None, site: Any = None,
                            ip: Any = None) -> None:
        """Remove a session from the active set; `forced=True` counts a forced logout."""
        await self._record(self.plan_ended, session_id, forced, reason, user_id, site, ip)

    async def _record(self, plan: Callable[..., WriteBatch], *args: Any) -> None:
        try:
            if not self.breaker.allow():
                self.report_skipped(1)
                return
            if self.clock.needs_sync():
                await sync_clock_async(self.client, self.clock)
            batch = plan(*args)
            calls = batch_calls(self.planner, batch, self.clock.now(), self.config.trim_limit)
            await run_calls_async(self.client, calls, self.clock)
        except RedisError as exc:
            self.report_error(exc, 1, "recording an event")
        except Exception as exc:
            self.report_bug(exc)
        else:
            self.report_success()

    async def aclose(self) -> None:
        await self.client.aclose()

    async def __aenter__(self) -> AsyncSessionMetrics:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()
