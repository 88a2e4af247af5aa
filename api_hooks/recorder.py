"""The recorder that auth handlers call: `SessionMetrics` (blocking) and its shared core."""

from __future__ import annotations

import atexit
import dataclasses
import logging
import os
import threading
import time
import weakref
from collections.abc import Callable
from typing import Any

import redis
from redis.exceptions import RedisError

from . import health
from .breaker import CircuitBreaker
from .buffered import BufferConfig, BufferedState
from .clock import ServerClock
from .config import RecorderConfig
from .connection import redis_from_url
from .keys import KeySchema
from .logs import RateLimitedLog, events_log
from .normalize import (
    hash_session_id,
    normalize_expiry,
    normalize_reason,
    normalize_site,
    normalize_source,
    normalize_user_id,
)
from .plan import EventPlanner, WriteBatch
from .scripts import batch_calls, run_calls, sync_clock

_log = logging.getLogger(__name__)


class RecorderCore:
    """Normalises events into write batches, and tracks the recorder's health.

    Subclasses decide how a batch reaches Redis. Every public call of a subclass returns
    normally whatever Redis does: errors are counted, logged at a limited rate and turn the
    circuit breaker open.
    """

    def __init__(self, config: RecorderConfig, local_clock: Callable[[], float]) -> None:
        self.config = config
        self.schema = KeySchema(config.prefix, config.active_shards)
        self.planner = EventPlanner(self.schema, config.retention, config.ranking_cap)
        self.clock = ServerClock(local_clock)
        self.local_clock = local_clock  # called directly by buffered mode, once per event
        self.breaker = CircuitBreaker(config.breaker_cooldown, config.breaker_max_cooldown)
        self.ip_policy = config.ip_policy()
        self._error_log = RateLimitedLog(_log, config.error_log_interval)
        self._health = health.RecorderHealth(config.prefix)

    # Planning: one method per event kind, each returning the writes it implies

    def plan_started(self, session_id: Any, user_id: Any, site: Any, ip: Any,
                     expires_at: Any) -> WriteBatch:
        return self._plan_session_event("started", session_id, user_id, site, ip, expires_at)

    def plan_refresh_succeeded(self, session_id: Any, user_id: Any, site: Any, ip: Any,
                               expires_at: Any) -> WriteBatch:
        return self._plan_session_event("success", session_id, user_id, site, ip, expires_at)

    def _plan_session_event(self, kind: str, session_id: Any, user_id: Any, site: Any, ip: Any,
                            expires_at: Any) -> WriteBatch:
        now = self.clock.now()
        site_name = normalize_site(site, self.config.max_site_length)
        session_hash = hash_session_id(session_id)
        batch = WriteBatch(events=1)
        self.planner.count(batch, now, (kind, site_name))
        if session_hash is not None:
            expiry = normalize_expiry(expires_at, now, self.config.default_session_ttl)
            self.planner.touch(batch, session_hash, expiry, site_name)
        if events_log.isEnabledFor(logging.DEBUG):
            event = "session_started" if kind == "started" else "refresh_succeeded"
            self._log_event(logging.DEBUG, event, None, site_name, user_id,
                            self.ip_policy.apply(ip), session_hash)
        return batch

    def plan_refresh_failed(self, reason: Any, session_id: Any, user_id: Any, site: Any,
                            ip: Any, source: Any) -> WriteBatch:
        now = self.clock.now()
        reason_name = normalize_reason(reason)
        site_name = normalize_site(site, self.config.max_site_length)
        stored_ip = self.ip_policy.apply(ip)
        batch = WriteBatch(events=1)
        self.planner.failure(batch, now, site_name, reason_name, normalize_source(source),
                             stored_ip)
        if events_log.isEnabledFor(logging.INFO):
            self._log_event(logging.INFO, "refresh_failed", reason_name, site_name, user_id,
                            stored_ip, hash_session_id(session_id))
        return batch

    def plan_ended(self, session_id: Any, forced: bool, reason: Any, user_id: Any, site: Any,
                   ip: Any) -> WriteBatch:
        now = self.clock.now()
        site_name = normalize_site(site, self.config.max_site_length)
        session_hash = hash_session_id(session_id)
        batch = WriteBatch(events=1)
        if forced:
            reason_name = normalize_reason(reason)
            self.planner.count(batch, now, ("forced", site_name, reason_name))
        else:
            reason_name = None
            self.planner.count(batch, now, ("ended", site_name))
        if session_hash is not None:
            self.planner.end(batch, session_hash)
        level = logging.INFO if forced else logging.DEBUG
        if events_log.isEnabledFor(level):
            event = "logout_forced" if forced else "session_ended"
            self._log_event(level, event, reason_name, site_name, user_id,
                            self.ip_policy.apply(ip), session_hash)
        return batch

    def _log_event(self, level: int, event: str, reason: str | None, site: str, user_id: Any,
                   stored_ip: str | None, session_hash: str | None) -> None:
        events_log.log(
            level,
            "%s reason=%s site=%r",
            event,
            reason,
            site,
            extra={
                "event": event,
                "reason": reason,
                "site": site,
                "user_id": normalize_user_id(user_id),
                "ip": stored_ip,
                "session": session_hash[:12] if session_hash else None,
            },
        )

    # Health bookkeeping shared by the blocking and asyncio recorders

    def report_error(self, exc: BaseException, events: int, where: str) -> None:
        """Count a failed write that lost `events` events (0 when kept for retry) and open
        the breaker."""
        self._health.errors.inc()
        if events:
            self._health.dropped("redis_error").inc(events)
        if self.breaker.record_failure():
            self._error_log.log(
                logging.WARNING, "outage",
                "Redis unreachable while %s (%s: %s); skipping Redis until a probe succeeds",
                where, type(exc).__name__, exc,
            )

    def report_success(self) -> None:
        if self.breaker.record_success():
            _log.info("Redis reachable again; recording resumed")

    def report_skipped(self, events: int) -> None:
        self._health.dropped("breaker_open").inc(events)

    def report_unwritten_at_close(self, events: int) -> None:
        """Count and log the buffered events that closing the recorder could not write."""
        if events:
            self._health.dropped("shutdown").inc(events)
            _log.warning("sessionwatch closed with %d events not written to Redis", events)

    def report_dropped(self, events: int) -> None:
        """Count events dropped because the buffer was full, and log them at a limited rate."""
        if events:
            self._health.dropped("buffer_full").inc(events)
            self._error_log.log(
                logging.WARNING, "buffer_full",
                "sessionwatch buffer full: dropped %d events (raise the buffer bounds or "
                "check Redis)", events,
            )

    def log_buffered(self, level: int, event: str, reason: Any, site: Any, user_id: Any,
                     ip: Any, session_id: Any) -> None:
        """Write the per-event record of a buffered call (only called when enabled)."""
        self._log_event(
            level, event, None if reason is None else normalize_reason(reason),
            normalize_site(site, self.config.max_site_length), user_id,
            self.ip_policy.apply(ip), hash_session_id(session_id),
        )

    def report_bug(self, exc: BaseException) -> None:
        """Log an unexpected exception from our own code, which must not reach the caller."""
        self._health.errors.inc()
        self._error_log.log(
            logging.ERROR, f"bug:{type(exc).__name__}",
            "sessionwatch recorder failed on an event (%s: %s); event not recorded",
            type(exc).__name__, exc,
        )


class SessionMetrics(RecorderCore):
    """Record session events into Redis from blocking code.

    Build it once per process from a client or a URL and share it between threads::

        metrics = SessionMetrics.from_url("redis://localhost:6379/0", buffered=True)
        metrics.refresh_failed("expired", session_id=sid, site="Lyon", ip=client_ip)

    Direct mode (the default here) writes each event before the call returns, in one round
    trip. Buffered mode only adds the event to an in-process aggregate that a background
    thread writes every `BufferConfig.flush_interval` seconds, so a call costs about a
    microsecond; `flush()` and `close()` write what is pending, and so does process exit.

    No call raises: with Redis slow or down, a direct call costs at most the socket timeouts,
    and once a call has failed the circuit breaker skips Redis (in microseconds) until a
    probe succeeds. A client passed in is used as it is, so give it short timeouts yourself.
    Each event method returns True when it wrote the event (direct mode) or queued all of it
    (buffered mode), and False when it dropped the event or a part of it, such as a session
    update past `BufferConfig.max_sessions`. Every drop is also counted.
    """

    def __init__(
        self,
        client: redis.Redis,
        *,
        prefix: str | None = None,
        config: RecorderConfig | None = None,
        buffered: bool = False,
        buffer_config: BufferConfig | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        config = config or RecorderConfig()
        if prefix is not None:
            config = dataclasses.replace(config, prefix=prefix)
        super().__init__(config, clock)
        self.client = client
        self._buffered = BufferedState(self, buffer_config or BufferConfig()) if buffered else None
        self._flusher: threading.Thread | None = None
        self._stop = threading.Event()
        self._flush_lock = threading.Lock()
        self._closed = False
        if self._buffered is not None:
            _register_exit_hooks(self)

    @classmethod
    def from_url(cls, url: str, *, prefix: str | None = None,
                 config: RecorderConfig | None = None, buffered: bool = False,
                 buffer_config: BufferConfig | None = None, **kwargs: Any) -> SessionMetrics:
        """Connect to `url` with the config's short timeouts and no client-side retries."""
        config = config or RecorderConfig()
        client = redis_from_url(url, config.socket_timeout,
                                socket_connect_timeout=config.connect_timeout, **kwargs)
        return cls(client, prefix=prefix, config=config, buffered=buffered,
                   buffer_config=buffer_config)

    @property
    def buffered(self) -> bool:
        return self._buffered is not None

    # NOTE: each event method repeats its buffered branch, here and in AsyncSessionMetrics,
    # on purpose. One shared helper for the four branches made a buffered call 25 % slower
    # with one thread and 3 to 6 times slower with eight (python -m bench --only per-event).

    def session_started(self, session_id: Any, *, user_id: Any = None, site: Any = None,
                        ip: Any = None, expires_at: Any = None) -> bool:
        """Count a new session and add it to the active set until `expires_at` (Unix s)."""
        state = self._buffered
        if state is None:
            return self._record(self.plan_started, session_id, user_id, site, ip, expires_at)
        try:
            if self._flusher is None:
                self._start_flusher()
            queued = state.add_started(session_id, site, expires_at)
            if events_log.isEnabledFor(logging.DEBUG):
                self.log_buffered(logging.DEBUG, "session_started", None, site, user_id, ip,
                                  session_id)
        except Exception as exc:  # noqa: BLE001 - the caller is an auth handler
            self.report_bug(exc)
            return False
        return queued

    def refresh_succeeded(self, session_id: Any, *, user_id: Any = None, site: Any = None,
                          ip: Any = None, expires_at: Any = None) -> bool:
        """Count a successful refresh and extend the session to `expires_at` (Unix s)."""
        state = self._buffered
        if state is None:
            return self._record(self.plan_refresh_succeeded, session_id, user_id, site, ip,
                                expires_at)
        try:
            if self._flusher is None:
                self._start_flusher()
            queued = state.add_success(session_id, site, expires_at)
            if events_log.isEnabledFor(logging.DEBUG):
                self.log_buffered(logging.DEBUG, "refresh_succeeded", None, site, user_id, ip,
                                  session_id)
        except Exception as exc:  # noqa: BLE001 - the caller is an auth handler
            self.report_bug(exc)
            return False
        return queued

    def refresh_failed(self, reason: Any, *, session_id: Any = None, user_id: Any = None,
                       site: Any = None, ip: Any = None, source: Any = "server") -> bool:
        """Count a failed refresh and rank it by client IP, site and reason."""
        state = self._buffered
        if state is None:
            return self._record(self.plan_refresh_failed, reason, session_id, user_id, site, ip,
                                source)
        try:
            if self._flusher is None:
                self._start_flusher()
            queued = state.add_failure(reason, site, ip, source)
            if events_log.isEnabledFor(logging.INFO):
                self.log_buffered(logging.INFO, "refresh_failed", reason, site, user_id, ip,
                                  session_id)
        except Exception as exc:  # noqa: BLE001 - the caller is an auth handler
            self.report_bug(exc)
            return False
        return queued

    def session_ended(self, session_id: Any, *, forced: bool = False, reason: Any = "logout",
                      user_id: Any = None, site: Any = None, ip: Any = None) -> bool:
        """Remove a session from the active set; `forced=True` counts a forced logout."""
        state = self._buffered
        if state is None:
            return self._record(self.plan_ended, session_id, forced, reason, user_id, site, ip)
        try:
            if self._flusher is None:
                self._start_flusher()
            queued = state.add_ended(session_id, forced, reason, site)
            level = logging.INFO if forced else logging.DEBUG
            if events_log.isEnabledFor(level):
                self.log_buffered(level, "logout_forced" if forced else "session_ended",
                                  reason if forced else None, site, user_id, ip, session_id)
        except Exception as exc:  # noqa: BLE001 - the caller is an auth handler
            self.report_bug(exc)
            return False
        return queued

    def _record(self, plan: Callable[..., WriteBatch], *args: Any) -> bool:
        try:
            if not self.breaker.allow():
                self.report_skipped(1)
                return False
            if self.clock.needs_sync():
                sync_clock(self.client, self.clock)
            batch = plan(*args)
            # No TIME in the pipeline: the sync above keeps the clock within a minute of
            # Redis time, and one command less per call is a cheaper direct mode.
            run_calls(self.client, batch_calls(self.planner, batch, self.clock.now(),
                                               self.config.trim_limit), None)
        except RedisError as exc:
            # NOTE: a reply that timed out, or a connection dropped after sending, counts the
            # event as dropped although Redis may have applied the write. Direct mode does
            # not retry, so such an event is counted once or not at all, never twice.
            self.report_error(exc, 1, "recording an event")
            return False
        except Exception as exc:  # noqa: BLE001 - the caller is an auth handler
            self.report_bug(exc)
            return False
        self.report_success()
        return True

    # Buffered mode: the flusher thread

    def _start_flusher(self) -> None:
        with self._flush_lock:
            if self._flusher is not None or self._closed:
                return
            self._stop.clear()
            thread = threading.Thread(target=self._flush_loop, name="sessionwatch-flusher",
                                      daemon=True)
            thread.start()
            self._flusher = thread

    def _flush_loop(self) -> None:
        assert self._buffered is not None
        interval = self._buffered.config.flush_interval
        while not self._stop.wait(interval):
            self.flush()

    def flush(self) -> bool:
        """Write everything buffered so far; return True if nothing is left pending.

        Does nothing in direct mode. While the breaker is open, keeps the events for the next
        attempt instead of waiting on Redis.
        """
        state = self._buffered
        if state is None:
            return True
        with self._flush_lock:
            if not self.clock.synced:
                self._first_clock_sync()
            try:
                dropped = state.prepare_flush()
            except Exception as exc:  # noqa: BLE001 - keep the flusher thread alive
                # NOTE: the events taken from the buffer for this flush are lost uncounted;
                # only a bug in planning gets here, the normalisers accept any value.
                self.report_bug(exc)
                return False
            self.report_dropped(dropped)
            if not state.pending:
                return True
            if not self.breaker.allow():
                return False
            try:
                if self.clock.needs_sync():
                    sync_clock(self.client, self.clock)
                while state.pending:
                    write_id, batch = state.pending[0]
                    calls = batch_calls(self.planner, batch, self.clock.now(),
                                        self.config.trim_limit, write_id)
                    run_calls(self.client, calls, self.clock)
                    state.written()
            except RedisError as exc:
                self.report_error(exc, 0, "flushing buffered events")
                return False
            except Exception as exc:  # noqa: BLE001 - keep the flusher thread alive
                self.report_bug(exc)
                return False
            self.report_success()
            return True

    def _first_clock_sync(self) -> None:
        """Measure the offset to Redis time before the first events are planned.

        Planning stamps each event with its local second plus the offset, so without this
        the first flush of a host whose clock is off would land in the wrong buckets.
        """
        state = self._buffered
        if state is None or not state.buffer or not self.breaker.allow():
            return
        try:
            sync_clock(self.client, self.clock)
        except RedisError as exc:
            # NOTE: the events are then planned on the local clock, the best estimate left.
            # A host that has not reached Redis since it started stamps them with its skew.
            self.report_error(exc, 0, "reading the Redis clock")

    @property
    def pending_events(self) -> int:
        """Events accepted but not yet written to Redis (0 in direct mode)."""
        return 0 if self._buffered is None else self._buffered.pending_events

    def _after_fork_in_child(self) -> None:
        # The parent keeps and flushes what it buffered; the child starts empty and starts
        # its own flusher on its first event (threads do not survive fork).
        if self._buffered is not None:
            self._buffered.reset_after_fork()
        self._flush_lock = threading.Lock()
        self._stop = threading.Event()
        self._flusher = None

    def close(self) -> None:
        """Stop the flusher, write what is pending (bounded in time), close the client."""
        if self._closed:
            return
        self._closed = True
        self._stop.set()
        if self._flusher is not None:
            self._flusher.join(timeout=self._buffered.config.shutdown_timeout
                               if self._buffered else None)
        if self._buffered is not None and not self.flush():
            self.report_unwritten_at_close(self._buffered.pending_events)
        self.client.close()

    def __enter__(self) -> SessionMetrics:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _register_exit_hooks(recorder: SessionMetrics) -> None:
    """Flush at interpreter exit and reset in forked children, without keeping it alive."""
    reference = weakref.ref(recorder)

    def flush_at_exit() -> None:
        target = reference()
        if target is not None:
            target.close()

    def reset_in_child() -> None:
        target = reference()
        if target is not None:
            target._after_fork_in_child()

    atexit.register(flush_at_exit)
    os.register_at_fork(after_in_child=reset_in_child)
