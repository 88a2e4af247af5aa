"""`AsyncSessionMetrics`: the recorder for asyncio handlers (redis.asyncio)."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from collections.abc import Callable
from typing import Any

import redis.asyncio
from redis.exceptions import RedisError

from .buffered import BufferConfig, BufferedState, run_to_end
from .config import RecorderConfig
from .connection import async_redis_from_url
from .logs import events_log
from .plan import WriteBatch
from .recorder import RecorderCore
from .scripts import batch_calls, run_calls_async, sync_clock_async

_log = logging.getLogger(__name__)


async def _prepare_flush(state: BufferedState) -> int:
    """Run `state.prepare_flush` in steps, letting the event loop serve requests in between
    (planning a second of heavy traffic takes milliseconds)."""
    steps = state.prepare_flush_steps()
    while True:
        try:
            next(steps)
        except StopIteration as done:
            return int(done.value)
        try:
            await asyncio.sleep(0)
        except asyncio.CancelledError:
            # The buffer is already taken: finish planning so the batch reaches the retry
            # queue, and the flush at close writes it.
            run_to_end(steps)
            raise


class AsyncSessionMetrics(RecorderCore):
    """Record session events into Redis from asyncio code; the calls are coroutines.

    Buffered by default: a call adds the event to an in-process aggregate and returns without
    waiting on Redis; a task on the running event loop writes the aggregate every
    `BufferConfig.flush_interval` seconds. Close it in the app's lifespan so the last events
    are written::

        metrics = AsyncSessionMetrics.from_url(url)

        @asynccontextmanager
        async def lifespan(app):
            yield
            await metrics.aclose()

    With `buffered=False` each call writes its event before returning, in one round trip.
    Same contract as `SessionMetrics`: no call raises, and each returns whether the event was
    written or queued. A slow or absent Redis costs at most the socket timeouts, then the
    circuit breaker skips Redis until a probe succeeds.
    """

    def __init__(
        self,
        client: redis.asyncio.Redis,
        *,
        prefix: str | None = None,
        config: RecorderConfig | None = None,
        buffered: bool = True,
        buffer_config: BufferConfig | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        config = config or RecorderConfig()
        if prefix is not None:
            config = dataclasses.replace(config, prefix=prefix)
        super().__init__(config, clock)
        self.client = client
        self._buffered = BufferedState(self, buffer_config or BufferConfig()) if buffered else None
        self._flusher: asyncio.Task[None] | None = None
        self._flush_lock: asyncio.Lock | None = None
        self._closed = False

    @classmethod
    def from_url(cls, url: str, *, prefix: str | None = None,
                 config: RecorderConfig | None = None, buffered: bool = True,
                 buffer_config: BufferConfig | None = None,
                 **kwargs: Any) -> AsyncSessionMetrics:
        """Connect to `url` with the config's short timeouts and no client-side retries."""
        config = config or RecorderConfig()
        client = async_redis_from_url(url, config.socket_timeout,
                                      socket_connect_timeout=config.connect_timeout, **kwargs)
        return cls(client, prefix=prefix, config=config, buffered=buffered,
                   buffer_config=buffer_config)

    @property
    def buffered(self) -> bool:
        return self._buffered is not None

    async def session_started(self, session_id: Any, *, user_id: Any = None, site: Any = None,
                              ip: Any = None, expires_at: Any = None) -> bool:
        """Count a new session and add it to the active set until `expires_at` (Unix s)."""
        state = self._buffered
        if state is None:
            return await self._record(self.plan_started, session_id, user_id, site, ip, expires_at)
        try:
            self._ensure_flusher()
            queued = state.add_started(session_id, site, expires_at)
            if events_log.isEnabledFor(logging.DEBUG):
                self.log_buffered(logging.DEBUG, "session_started", None, site, user_id, ip,
                                  session_id)
        except Exception as exc:  # noqa: BLE001 - the caller is an auth handler
            self.report_bug(exc)
            return False
        return queued

    async def refresh_succeeded(self, session_id: Any, *, user_id: Any = None,
                                site: Any = None, ip: Any = None,
                                expires_at: Any = None) -> bool:
        """Count a successful refresh and extend the session to `expires_at` (Unix s)."""
        state = self._buffered
        if state is None:
            return await self._record(self.plan_refresh_succeeded, session_id, user_id, site,
                                      ip, expires_at)
        try:
            self._ensure_flusher()
            queued = state.add_success(session_id, site, expires_at)
            if events_log.isEnabledFor(logging.DEBUG):
                self.log_buffered(logging.DEBUG, "refresh_succeeded", None, site, user_id, ip,
                                  session_id)
        except Exception as exc:  # noqa: BLE001 - the caller is an auth handler
            self.report_bug(exc)
            return False
        return queued

    async def refresh_failed(self, reason: Any, *, session_id: Any = None, user_id: Any = None,
                             site: Any = None, ip: Any = None, source: Any = "server") -> bool:
        """Count a failed refresh and rank it by client IP, site and reason."""
        state = self._buffered
        if state is None:
            return await self._record(self.plan_refresh_failed, reason, session_id, user_id,
                                      site, ip, source)
        try:
            self._ensure_flusher()
            queued = state.add_failure(reason, site, ip, source)
            if events_log.isEnabledFor(logging.INFO):
                self.log_buffered(logging.INFO, "refresh_failed", reason, site, user_id, ip,
                                  session_id)
        except Exception as exc:  # noqa: BLE001 - the caller is an auth handler
            self.report_bug(exc)
            return False
        return queued

    async def session_ended(self, session_id: Any, *, forced: bool = False,
                            reason: Any = "logout", user_id: Any = None, site: Any = None,
                            ip: Any = None) -> bool:
        """Remove a session from the active set; `forced=True` counts a forced logout."""
        state = self._buffered
        if state is None:
            return await self._record(self.plan_ended, session_id, forced, reason, user_id, site,
                                      ip)
        try:
            self._ensure_flusher()
            queued = state.add_ended(session_id, forced, reason, site)
            level = logging.INFO if forced else logging.DEBUG
            if events_log.isEnabledFor(level):
                self.log_buffered(level, "logout_forced" if forced else "session_ended",
                                  reason if forced else None, site, user_id, ip, session_id)
        except Exception as exc:  # noqa: BLE001 - the caller is an auth handler
            self.report_bug(exc)
            return False
        return queued

    async def _record(self, plan: Callable[..., WriteBatch], *args: Any) -> bool:
        try:
            if not self.breaker.allow():
                self.report_skipped(1)
                return False
            if self.clock.needs_sync():
                await sync_clock_async(self.client, self.clock)
            batch = plan(*args)
            calls = batch_calls(self.planner, batch, self.clock.now(), self.config.trim_limit)
            # No TIME in the pipeline: the sync above keeps the clock within a minute of
            # Redis time, and one command less per call is a cheaper direct mode.
            await run_calls_async(self.client, calls, None)
        except RedisError as exc:
            self.report_error(exc, 1, "recording an event")
            return False
        except Exception as exc:  # noqa: BLE001 - the caller is an auth handler
            self.report_bug(exc)
            return False
        self.report_success()
        return True

    # Buffered mode: the flusher task

    def _ensure_flusher(self) -> None:
        flusher = self._flusher
        if flusher is not None and not flusher.done():
            return
        if self._closed:
            return
        # A task belongs to one event loop; a new loop (tests, a restarted app) gets its own.
        self._flush_lock = asyncio.Lock()
        self._flusher = asyncio.get_running_loop().create_task(
            self._flush_loop(), name="sessionwatch-flusher"
        )

    async def _flush_loop(self) -> None:
        assert self._buffered is not None
        interval = self._buffered.config.flush_interval
        while True:
            await asyncio.sleep(interval)
            await self.flush()

    async def flush(self) -> bool:
        """Write everything buffered so far; return True if nothing is left pending."""
        state = self._buffered
        if state is None:
            return True
        if self._flush_lock is None:
            self._flush_lock = asyncio.Lock()
        async with self._flush_lock:
            if not self.clock.synced:
                await self._first_clock_sync()
            try:
                dropped = await _prepare_flush(state)
            except Exception as exc:  # noqa: BLE001 - keep the flusher task alive
                self.report_bug(exc)
                return False
            self.report_dropped(dropped)
            if not state.pending:
                return True
            if not self.breaker.allow():
                return False
            try:
                if self.clock.needs_sync():
                    await sync_clock_async(self.client, self.clock)
                while state.pending:
                    write_id, batch = state.pending[0]
                    calls = batch_calls(self.planner, batch, self.clock.now(),
                                        self.config.trim_limit, write_id)
                    await run_calls_async(self.client, calls, self.clock)
                    state.written()
            except RedisError as exc:
                self.report_error(exc, 0, "flushing buffered events")
                return False
            except Exception as exc:  # noqa: BLE001 - keep the flusher task alive
                self.report_bug(exc)
                return False
            self.report_success()
            return True

    async def _first_clock_sync(self) -> None:
        """Measure the offset to Redis time before the first events are planned, as
        `SessionMetrics._first_clock_sync` does."""
        state = self._buffered
        if state is None or not state.buffer or not self.breaker.allow():
            return
        try:
            await sync_clock_async(self.client, self.clock)
        except RedisError as exc:
            self.report_error(exc, 0, "reading the Redis clock")

    @property
    def pending_events(self) -> int:
        """Events accepted but not yet written to Redis (0 in direct mode)."""
        return 0 if self._buffered is None else self._buffered.pending_events

    async def aclose(self) -> None:
        """Stop the flusher, write what is pending (bounded in time), close the client."""
        if self._closed:
            return
        self._closed = True
        if self._flusher is not None:
            self._flusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._flusher
        if self._buffered is not None:
            timeout = self._buffered.config.shutdown_timeout
            try:
                done = await asyncio.wait_for(self.flush(), timeout)
            except TimeoutError:
                done = False
            if not done:
                self.report_unwritten_at_close(self._buffered.pending_events)
        await self.client.aclose()

    async def __aenter__(self) -> AsyncSessionMetrics:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()
