"""Circuit breaker that lets the request path skip Redis while it is failing."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class CircuitBreaker:
    """Open after a failure, then let one probe through per cooldown until one succeeds.

    The cooldown doubles after each failed probe, up to `max_cooldown` seconds, so an outage
    costs one timeout per cooldown instead of one per request. Safe to share between threads
    and between coroutines of one event loop.
    """

    def __init__(
        self,
        cooldown: float = 1.0,
        max_cooldown: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if cooldown <= 0 or max_cooldown < cooldown:
            raise ValueError(
                f"breaker cooldowns must satisfy 0 < cooldown <= max_cooldown, "
                f"got {cooldown} and {max_cooldown}"
            )
        self._base = cooldown
        self._max = max_cooldown
        self._clock = clock
        self._lock = threading.Lock()
        self._open_until = 0.0
        self._current = cooldown
        self._failing = False
        self._probing = False

    @property
    def is_open(self) -> bool:
        """True while calls are being skipped (a probe may still be due)."""
        return self._failing

    def allow(self) -> bool:
        """Return True if a call may go to Redis now (always when closed; one probe when due)."""
        if not self._failing:
            return True
        with self._lock:
            now = self._clock()
            if now < self._open_until:
                return False
            # Let exactly one caller probe; the others keep skipping until it reports back.
            self._open_until = now + self._current
            self._probing = True
            return True

    def record_success(self) -> bool:
        """Close the breaker; return True if it was open (a recovery worth logging)."""
        if not self._failing:
            return False
        with self._lock:
            was_open = self._failing
            self._failing = False
            self._probing = False
            self._current = self._base
            self._open_until = 0.0
            return was_open

    def record_failure(self) -> bool:
        """Open the breaker (or extend it); return True if it was closed before.

        While open, only the failure of a probe doubles the cooldown: calls that were already
        in flight when the breaker opened report the same outage and change nothing.
        """
        with self._lock:
            was_closed = not self._failing
            if was_closed:
                self._current = self._base
            elif self._probing:
                self._current = min(self._current * 2, self._max)
            else:
                return False
            self._probing = False
            self._failing = True
            self._open_until = self._clock() + self._current
            return was_closed
