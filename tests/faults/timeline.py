"""Slice the load client's records by time and summarise their latencies."""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..support.load_client import Record


def percentile(values: list[float], fraction: float) -> float:
    """Return the nearest-rank percentile (`fraction` in (0, 1]) of `values`."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


@dataclass(frozen=True)
class LatencySummary:
    """Request count and latencies of one phase, in milliseconds."""

    requests: int
    p50_ms: float
    p99_ms: float
    max_ms: float

    @classmethod
    def of(cls, records: list[Record]) -> LatencySummary:
        latencies = [record[1] * 1000 for record in records]
        return cls(len(latencies), round(percentile(latencies, 0.5), 1),
                   round(percentile(latencies, 0.99), 1), round(max(latencies), 1))


def between(records: list[Record], start: float, end: float) -> list[Record]:
    """Return the refresh requests sent in [start, end) (Unix time)."""
    return [record for record in records
            if record[2] != "login" and start <= record[0] < end]
