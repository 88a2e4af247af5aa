"""In-process aggregate of session events for buffered recording.

A recorder call in buffered mode only adds one to a counter keyed by its raw arguments and the
local second (the caller builds that key), under a lock; normalising, planning and writing
happen later in the flusher, once per distinct key instead of once per event. The aggregate
is bounded: past `max_keys` distinct counters or `max_sessions` pending session updates, new
events are dropped and counted in `dropped`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

# Event kinds, first element of every counter key.
STARTED = 0
SUCCESS = 1
FAILURE = 2
FORCED = 3
ENDED = 4

# Session operations, first element of every pending session update.
TOUCH = 0
END = 1

NO_UPDATE = -1

CounterKey = tuple[Any, ...]
SessionUpdate = tuple[int, Any, Any, int]
"""(operation, expires_at as given, site as given, local second)."""


class EventBuffer:
    """Counters and session updates gathered since the last flush."""

    def __init__(self, max_keys: int = 50_000, max_sessions: int = 100_000,
                 clock: Callable[[], float] = time.time) -> None:
        if max_keys < 1 or max_sessions < 1:
            raise ValueError(
                f"buffer bounds must be positive, got max_keys={max_keys}, "
                f"max_sessions={max_sessions}"
            )
        self.max_keys = max_keys
        self.max_sessions = max_sessions
        self.clock = clock
        self._lock = threading.Lock()
        self._counts: dict[CounterKey, int] = {}
        self._sessions: dict[Any, SessionUpdate] = {}
        self.dropped = 0

    def reset_after_fork(self) -> None:
        """Forget what the parent process buffered (it flushes it) and renew the lock."""
        self._lock = threading.Lock()
        self._counts = {}
        self._sessions = {}
        self.dropped = 0

    def add(self, key: CounterKey, second: int, session_id: Any = None,
            operation: int = NO_UPDATE, expires_at: Any = None, site: Any = None) -> bool:
        """Count one event under `key` (which ends with the local `second` from `clock`);
        return False if it was dropped.

        With an `operation`, also record the latest update of `session_id` (last one wins).
        """
        with self._lock:
            counts = self._counts
            current = counts.get(key)
            if current is None:
                if len(counts) >= self.max_keys:
                    self.dropped += 1
                    return False
                counts[key] = 1
            else:
                counts[key] = current + 1
            if operation != NO_UPDATE:
                sessions = self._sessions
                if len(sessions) >= self.max_sessions and session_id not in sessions:
                    # The count is kept; only the active-set update is lost.
                    self.dropped += 1
                    return False
                sessions[session_id] = (operation, expires_at, site, second)
        return True

    def take(self) -> tuple[dict[CounterKey, int], dict[Any, SessionUpdate]]:
        """Return and clear everything gathered so far."""
        with self._lock:
            counts, self._counts = self._counts, {}
            sessions, self._sessions = self._sessions, {}
        return counts, sessions

    def __len__(self) -> int:
        return len(self._counts) + len(self._sessions)
