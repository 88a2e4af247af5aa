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
from collections.abc import Generator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

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

# Keys or sessions planned between two pauses of `plan_steps`: about a millisecond of work.
PLAN_STEP = 256
T = TypeVar("T")


def run_to_end(steps: Generator[None, None, T]) -> T:
    """Run a generator of steps without pausing and return its result."""
    while True:
        try:
            next(steps)
        except StopIteration as done:
            return done.value  # type: ignore[no-any-return]


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
        self.buffer = EventBuffer(config.max_keys, config.max_sessions, core.local_clock)
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
        return run_to_end(self.prepare_flush_steps())

    def prepare_flush_steps(self) -> Generator[None, None, int]:
        """Do what `prepare_flush` does, pausing (yielding) every `PLAN_STEP` keys, so that an
        event loop can serve requests between the steps."""
        counts, sessions = self.buffer.take()
        dropped, self.buffer.dropped = self.buffer.dropped, 0
        if counts or sessions:
            batch = yield from self.plan_steps(counts, sessions)
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
        return run_to_end(self.plan_steps(counts, sessions))

    def plan_steps(self, counts: dict[tuple[Any, ...], int],
                   sessions: dict[Any, tuple[int, Any, Any, int]]
                   ) -> Generator[None, None, WriteBatch]:
        """Do what `plan` does, yielding every `PLAN_STEP` keys or sessions."""
        core = self.core
        planner, config, offset = core.planner, core.config, core.clock.offset
        sites: dict[Any, str] = {}
        addresses: dict[Any, str | None] = {}

        def site_name(raw: Any) -> str:
            try:
                return sites[raw]
            except KeyError:
                name = sites[raw] = normalize_site(raw, config.max_site_length)
                return name

        def stored_address(raw: Any) -> str | None:
            # Parsing an address costs microseconds, and one address often has many keys.
            try:
                return addresses[raw]
            except KeyError:
                stored = addresses[raw] = core.ip_policy.apply(raw)
                return stored

        batch = WriteBatch()
        for number, (key, amount) in enumerate(counts.items(), 1):
            if number % PLAN_STEP == 0:
                yield
            kind, at = key[0], key[-1] + offset
            site = site_name(key[1])
            if kind == SUCCESS:
                planner.count(batch, at, ("success", site), amount)
            elif kind == FAILURE:
                _, _, reason, source, ip, _ = key
                planner.failure(batch, at, site, normalize_reason(reason),
                                normalize_source(source), stored_address(ip), amount)
            elif kind == STARTED:
                planner.count(batch, at, ("started", site), amount)
            elif kind == FORCED:
                planner.count(batch, at, ("forced", site, normalize_reason(key[2])), amount)
            elif kind == ENDED:
                planner.count(batch, at, ("ended", site), amount)
            batch.events += amount
        for number, (session_id, (operation, expires_at, site_raw, second)) in enumerate(
                sessions.items(), 1):
            if number % PLAN_STEP == 0:
                yield
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

    # The per-call cost of buffered mode: one tuple and one dict update under a lock. Each
    # method builds its counter key itself, ending with the local second.

    def add_started(self, session_id: Any, site: Any, expires_at: Any) -> bool:
        buffer = self.buffer
        second = int(buffer.clock())
        if session_id is None:
            return buffer.add((STARTED, site, second), second)
        return buffer.add((STARTED, site, second), second, session_id, TOUCH, expires_at, site)

    def add_success(self, session_id: Any, site: Any, expires_at: Any) -> bool:
        buffer = self.buffer
        second = int(buffer.clock())
        if session_id is None:
            return buffer.add((SUCCESS, site, second), second)
        return buffer.add((SUCCESS, site, second), second, session_id, TOUCH, expires_at, site)

    def add_failure(self, reason: Any, site: Any, ip: Any, source: Any) -> bool:
        second = int(self.buffer.clock())
        return self.buffer.add((FAILURE, site, reason, source, ip, second), second)

    def add_ended(self, session_id: Any, forced: bool, reason: Any, site: Any) -> bool:
        buffer = self.buffer
        second = int(buffer.clock())
        key = (FORCED, site, reason, second) if forced else (ENDED, site, second)
        if session_id is None:
            return buffer.add(key, second)
        return buffer.add(key, second, session_id, END)
