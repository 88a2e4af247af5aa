"""The recorder's own health counters, exposed by the host process through prometheus_client.

Session counts never live here: they come from Redis through the exporter, so that several
API workers add up. These counters say what the recorder of *this* process failed to write.
"""

from __future__ import annotations

from prometheus_client import REGISTRY, CollectorRegistry, Counter


def _counter(name: str, documentation: str, labels: tuple[str, ...],
             registry: CollectorRegistry = REGISTRY) -> Counter:
    """Create a counter, or return the one already registered (module reloads, tests)."""
    try:
        return Counter(name, documentation, labels, registry=registry)
    except ValueError:
        existing = registry._names_to_collectors.get(name.removesuffix("_total"))
        if not isinstance(existing, Counter):
            raise
        return existing


RECORDER_ERRORS = _counter(
    "sessionwatch_recorder_errors_total",
    "Redis errors and unexpected failures met by the recorder of this process.",
    ("prefix",),
)
EVENTS_DROPPED = _counter(
    "sessionwatch_events_dropped_total",
    "Session events this process could not write to Redis, by cause.",
    ("prefix", "cause"),
)

DROP_CAUSES = ("redis_error", "breaker_open", "buffer_full", "shutdown")
"""Why events were lost: a write failed (`redis_error`), the breaker skipped Redis
(`breaker_open`), a buffer bound was reached (`buffer_full`), or buffered events were still
unwritten when the recorder closed (`shutdown`)."""


class RecorderHealth:
    """Label-bound handles on the health counters for one key prefix."""

    def __init__(self, prefix: str) -> None:
        self.errors = RECORDER_ERRORS.labels(prefix)
        self._dropped = {cause: EVENTS_DROPPED.labels(prefix, cause) for cause in DROP_CAUSES}

    def dropped(self, cause: str) -> Counter:
        return self._dropped[cause]

    def dropped_total(self) -> float:
        return float(sum(counter._value.get() for counter in self._dropped.values()))
