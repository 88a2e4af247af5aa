"""Clock that follows Redis server time, so hosts with drifting clocks agree on buckets."""

from __future__ import annotations

import time
from collections.abc import Callable


class ServerClock:
    """Local clock corrected by the offset to Redis server time.

    The offset is measured from a TIME reply and the local instants around the request; the
    error is at most half the round trip. Until the first measurement, `synced` is False and
    `now()` is the local clock.
    """

    def __init__(self, local: Callable[[], float] = time.time, resync_after: float = 60.0) -> None:
        self._local = local
        self._resync_after = resync_after
        self.offset = 0.0
        self.synced = False
        self._synced_at = float("-inf")

    def local(self) -> float:
        return self._local()

    def now(self) -> float:
        return self._local() + self.offset

    def needs_sync(self) -> bool:
        return not self.synced or self._local() - self._synced_at > self._resync_after

    def observe(self, server_time: tuple[int, int], sent_at: float, received_at: float) -> None:
        """Update the offset from a TIME reply (seconds, microseconds) and its local bracket."""
        seconds, micros = server_time
        server = seconds + micros / 1_000_000
        self.offset = server - (sent_at + received_at) / 2
        self.synced = True
        self._synced_at = received_at
