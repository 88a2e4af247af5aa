"""One small day of traffic, recorded the same way against every Redis deployment.

40 sessions start on two sites and refresh once; six end (one of them forced); five refreshes
fail from four client networks. `check_scenario` asserts what any reader must then return.
"""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

from sessionwatch.api_hooks import AsyncSessionMetrics, SessionMetrics
from sessionwatch.exporter.reader import SessionStatsReader
from sessionwatch.exporter.windows import parse_window

SESSIONS = 40
SITES = ("Lyon", "Paris")
FAILURES = (
    ("expired", "Lyon", "203.0.113.7"),
    ("expired", "Lyon", "203.0.113.8"),
    ("revoked", "Paris", "198.51.100.1"),
    ("network", "Paris", "192.0.2.1"),
    ("server_error", "Lyon", "2001:db8::1"),
)
ENDED = ("s0", "s1", "s2", "s3", "s4")
FORCED = "s5"


def site_of(number: int) -> str:
    return SITES[number % 2]


def _session_calls(expires_at: float) -> list[tuple[str, tuple[Any, ...], dict[str, Any]]]:
    calls: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = []
    for number in range(SESSIONS):
        site = site_of(number)
        calls.append(("session_started", (f"s{number}",),
                      {"user_id": f"u{number}", "site": site, "expires_at": expires_at}))
        calls.append(("refresh_succeeded", (f"s{number}",),
                      {"site": site, "expires_at": expires_at}))
    for reason, site, ip in FAILURES:
        calls.append(("refresh_failed", (reason,), {"site": site, "ip": ip}))
    for session in ENDED:
        calls.append(("session_ended", (session,), {"site": site_of(int(session[1:]))}))
    calls.append(("session_ended", (FORCED,),
                  {"forced": True, "reason": "revoked", "site": site_of(int(FORCED[1:]))}))
    return calls


def record_scenario(metrics: SessionMetrics) -> None:
    """Record the scenario through a blocking recorder and write what it buffered."""
    for method, args, kwargs in _session_calls(time.time() + 3600):
        getattr(metrics, method)(*args, **kwargs)
    assert metrics.flush()


async def record_scenario_async(metrics: AsyncSessionMetrics) -> None:
    """Record the scenario through an asyncio recorder and write what it buffered."""
    for method, args, kwargs in _session_calls(time.time() + 3600):
        await getattr(metrics, method)(*args, **kwargs)
    assert await metrics.flush()


EXPECTED_STARTED = Counter({"Lyon": 20, "Paris": 20})
EXPECTED_FAILURE = Counter({
    ("Lyon", "expired", "server"): 2,
    ("Paris", "revoked", "server"): 1,
    ("Paris", "network", "server"): 1,
    ("Lyon", "server_error", "server"): 1,
})
EXPECTED_ENDED = Counter({"Lyon": 3, "Paris": 2})
EXPECTED_FORCED = Counter({("Paris", "revoked"): 1})
EXPECTED_ACTIVE_BY_SITE = {"Lyon": 17, "Paris": 17}
EXPECTED_TOP_IP = [("203.0.113.0/24", 2), ("2001:db8::/48", 1), ("198.51.100.0/24", 1),
                   ("192.0.2.0/24", 1)]


def check_scenario(reader: SessionStatsReader) -> None:
    """Assert everything `reader` must return once the scenario has been recorded."""
    totals = reader.totals()
    assert totals.started == EXPECTED_STARTED
    assert totals.success == EXPECTED_STARTED
    assert totals.failure == EXPECTED_FAILURE
    assert totals.ended == EXPECTED_ENDED
    assert totals.forced == EXPECTED_FORCED

    for window in ("15m", "24h", "7d"):
        counts = reader.window_counts(parse_window(window))
        assert counts.success == EXPECTED_STARTED, window
        assert counts.failure == EXPECTED_FAILURE, window
        assert counts.forced == EXPECTED_FORCED, window

    active = reader.active()
    assert active.total == sum(EXPECTED_ACTIVE_BY_SITE.values())
    assert active.by_site == EXPECTED_ACTIVE_BY_SITE

    ranking = reader.top_errors("ip", parse_window("15m"))
    assert ranking.items == EXPECTED_TOP_IP
    assert ranking.total == len(EXPECTED_TOP_IP)
