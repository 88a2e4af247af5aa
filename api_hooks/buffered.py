"""Buffered recording: events gathered in memory, planned and written once per flush.

`BufferedState` belongs to one recorder. Its `add_*` methods are the whole cost of a call in
buffered mode. `prepare_flush` turns what was gathered into a `WriteBatch` with an id and
queues it; the recorder's flusher (a thread or an asyncio task) writes the queue in order and
calls `written` for each batch that reached Redis. A batch that failed stays queued and is
retried with the same id, so the Lua marker skips whatever part of it was already applied.
"""

from __future__ import annotations

import logging
import secrets
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .buffer import END, ENDED, FAILURE, FORCED, STARTED, SUCCESS, TOUCH, EventBuffer
from .normalize import (
    hash_session_id,
    normalize_expiry,
    normalize_reason,
    normalize_site,
    normalize_source,
)
from .plan import WriteBatch

if TYPE_CHECKING:
    from .recorder import RecorderCore

_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BufferConfig:
    """Bounds and cadence of buffered mode.

    `max_keys` bounds distinct counters gathered between flushes (raw site, reason, address
    and second), `max_sessions` the pending active-set updates, and `max_pending_updates` the
    key updates kept for retry while Redis is down. The interval is in seconds.
    """

    flush_interval: float = 1.0
    max_keys: int = 50_000
    max_sessions: int = 100_000
    max_pending_updates: int = 500_000
    shutdown_timeout: float = 2.0

    def __post_init__(self) -> None:
        if not 0.01 <= self.flush_interval <= 60:
            raise ValueError(
                f"flush_interval must be between 0.01 and 60 seconds, got {self.flush_interval}"
            )
        if min(self.max_keys, self.max_sessions, self.max_pending_updates) < 1:
            raise ValueError("buffer bounds must be positive")


class BufferedState:
    """The buffer, the retry queue and the planning of one buffered recorder."""

    def __init__(self, core: RecorderCore, config: BufferConfig) -> None:
        self.core = core
        self.config = config
        self.buffer = EventBuffer(config.max_keys, config.max_sessions, core.clock.local)
        self.pending: deque[tuple[str, WriteBatch]] = deque()
        self._pending_updates = 0

    def reset_after_fork(self) -> None:
        self.buffer.reset_after_fork()
        self.pending.clear()
        self._pending_updates = 0

    @property
    def pending_events(self) -> int:
        """Events gathered or queued but not yet written to Redis."""
        return sum(self.buffer._counts.values()) + sum(b.events for _, b in self.pending)

    def prepare_flush(self) -> int:
        """Move the buffer into the retry queue; return the number of events dropped so far."""
        counts, sessions = self.buffer.take()
        dropped, self.buffer.dropped = self.buffer.dropped, 0
        if counts or sessions:
            batch = self.plan(counts, sessions)
            size = len(batch.updates) + len(batch.active)
            if self._pending_updates + size > self.config.max_pending_updates:
                dropped += batch.events
            else:
                self.pending.append((secrets.token_hex(8), batch))
                self._pending_updates += size
        return dropped

    def written(self) -> None:
        """Forget the oldest queued batch, which reached Redis."""
        _, batch = self.pending.popleft()
        self._pending_updates -= len(batch.updates) + len(batch.active)

    def plan(self, counts: dict[tuple[Any, ...], int],
             sessions: dict[Any, tuple[int, Any, Any, int]]) -> WriteBatch:
        """Normalise and plan the gathered events, once per distinct counter key."""
        core = self.core
        planner, config, offset = core.planner, core.config, core.clock.offset
        sites: dict[Any, str] = {}

        def site_name(raw: Any) -> str:
            try:
                return sites[raw]
            except KeyError:
                name = sites[raw] = normalize_site(raw, config.max_site_length)
                return name

        batch = WriteBatch()
        for key, amount in counts.items():
            kind, at = key[0], key[-1] + offset
            site = site_name(key[1])
            if kind == SUCCESS:
                planner.count(batch, at, ("success", site), amount)
            elif kind == FAILURE:
                _, _, reason, source, ip, _ = key
                planner.failure(batch, at, site, normalize_reason(reason),
                                normalize_source(source), core.ip_policy.apply(ip), amount)
            elif kind == STARTED:
                planner.count(batch, at, ("started", site), amount)
            elif kind == FORCED:
                planner.count(batch, at, ("forced", site, normalize_reason(key[2])), amount)
            elif kind == ENDED:
                planner.count(batch, at, ("ended", site), amount)
            batch.events += amount
        for session_id, (operation, expires_at, site_raw, second) in sessions.items():
            session_hash = hash_session_id(session_id)
            if session_hash is None:
                continue
            if operation == TOUCH:
                expiry = normalize_expiry(expires_at, second + offset,
                                          config.default_session_ttl)
                planner.touch(batch, session_hash, expiry, site_name(site_raw))
            elif operation == END:
                planner.end(batch, session_hash)
        return batch

    # The per-call cost of buffered mode: one tuple and one dict update under a lock

    def add_started(self, session_id: Any, site: Any, expires_at: Any) -> bool:
        operation = TOUCH if session_id is not None else -1
        return self.buffer.add((STARTED, site), session_id, operation, expires_at, site)

    def add_success(self, session_id: Any, site: Any, expires_at: Any) -> bool:
        operation = TOUCH if session_id is not None else -1
        return self.buffer.add((SUCCESS, site), session_id, operation, expires_at, site)

    def add_failure(self, reason: Any, site: Any, ip: Any, source: Any) -> bool:
        return self.buffer.add((FAILURE, site, reason, source, ip))

    def add_ended(self, session_id: Any, forced: bool, reason: Any, site: Any) -> bool:
        head = (FORCED, site, reason) if forced else (ENDED, site)
        operation = END if session_id is not None else -1
        return self.buffer.add(head, session_id, operation)
