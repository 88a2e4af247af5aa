"""JSON documents of the admin API and `session-stats --json`, built from the reader."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from .reader import RankingPage, SessionStatsReader
from .windows import Window

SUMMARY_TOP = 5


def _generated_at() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def ranking_items(page: RankingPage) -> list[dict[str, Any]]:
    return [{"key": key, "count": count} for key, count in page.items]


def summary(reader: SessionStatsReader, window: Window, alert_threshold: float) -> dict[str, Any]:
    """Return the admin widget's summary of `window`: active sessions, refreshes, rankings."""
    now = reader.now()
    counts = reader.window_counts(window, now)
    active = reader.active(now)
    top = {
        dimension: ranking_items(reader.top_errors(dimension, window, 0, SUMMARY_TOP, now))
        for dimension in ("ip", "site", "reason")
    }
    by_site = sorted(active.by_site.items(), key=lambda item: (-item[1], item[0]))
    return {
        "window": window.name,
        "generated_at": _generated_at(),
        "window_start": window.start(now),
        "window_end": int(now),
        "alert_threshold": alert_threshold,
        "active": {
            "total": active.total,
            "by_site": [{"site": site, "count": count} for site, count in by_site],
        },
        "refresh": {
            "success": counts.success_total,
            "failure": counts.failure_total,
            "failure_ratio": counts.failure_ratio(),
            "failures_by_reason": counts.failures_by_reason(),
        },
        "forced_logouts": {
            "total": counts.forced_total,
            "by_reason": counts.forced_by_reason(),
        },
        "top_errors": top,
    }


def top_errors(reader: SessionStatsReader, dimension: str, window: Window, offset: int,
               limit: int) -> dict[str, Any]:
    page = reader.top_errors(dimension, window, offset, limit)
    return {
        "by": dimension,
        "window": window.name,
        "items": ranking_items(page),
        "total": page.total,
        "offset": offset,
        "limit": limit,
        "next_offset": page.next_offset,
        "generated_at": _generated_at(),
    }


def timeseries(reader: SessionStatsReader, window: Window) -> dict[str, Any]:
    points = [
        {
            "start": point.start,
            "success": point.counts.success_total,
            "failure": point.counts.failure_total,
            "failures_by_reason": {
                reason: count
                for reason, count in point.counts.failures_by_reason().items() if count
            },
            "forced_logouts": point.counts.forced_total,
        }
        for point in reader.timeseries(window)
    ]
    return {
        "window": window.name,
        "step_seconds": window.step,
        "points": points,
        "generated_at": _generated_at(),
    }


def active(reader: SessionStatsReader) -> dict[str, Any]:
    sessions = reader.active()
    by_site = sorted(sessions.by_site.items(), key=lambda item: (-item[1], item[0]))
    return {
        "total": sessions.total,
        "by_site": [{"site": site, "count": count} for site, count in by_site],
        "generated_at": _generated_at(),
    }
