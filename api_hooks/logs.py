"""Loggers of sessionwatch: one for per-event records, and a rate limit for repeated errors."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

EVENTS_LOGGER_NAME = "sessionwatch.events"
events_log = logging.getLogger(EVENTS_LOGGER_NAME)
"""Per-event records (successes at DEBUG, failures and forced logouts at INFO).

Each record carries JSON-ready `extra` fields: event, reason, site, user_id, ip (after the
privacy transform) and session (a digest of the session id). Route or silence it like any
logger, for example ``logging.getLogger("sessionwatch.events").setLevel(logging.WARNING)``.
"""


class RateLimitedLog:
    """Log one message per key per interval, then report how many were suppressed."""

    def __init__(
        self,
        logger: logging.Logger,
        interval: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._logger = logger
        self._interval = interval
        self._clock = clock
        self._lock = threading.Lock()
        self._last: dict[str, float] = {}
        self._suppressed: dict[str, int] = {}

    def log(self, level: int, key: str, message: str, *args: object) -> bool:
        """Log `message % args` unless `key` was logged less than an interval ago."""
        now = self._clock()
        with self._lock:
            last = self._last.get(key)
            if last is not None and now - last < self._interval:
                self._suppressed[key] = self._suppressed.get(key, 0) + 1
                return False
            suppressed = self._suppressed.pop(key, 0)
            self._last[key] = now
        if suppressed:
            message += " (%d similar messages suppressed)"
            args = (*args, suppressed)
        self._logger.log(level, message, *args)
        return True
