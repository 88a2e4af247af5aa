"""A known session history, recorded through `SessionMetrics`, and the numbers it must produce.

Events are spread over the past by swapping the recorder's clock for one that follows Redis
server time like the real one but reports `lag` seconds earlier. Ages keep clear of window
edges (recent events at most 10 minutes old, older ones 2 hours to 5 days old), so a test
that runs a few minutes later still finds the same totals in each window.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from ipaddress import ip_network

from sessionwatch.api_hooks import RecorderConfig, SessionMetrics
from sessionwatch.api_hooks.clock import ServerClock
from sessionwatch.api_hooks.connection import redis_from_url

ACTIVE_BY_SITE = {"Lyon": 5, "Paris": 4, "Nantes": 3}
SITES = tuple(ACTIVE_BY_SITE)
FAILURE_REASONS = ("network", "expired", "network", "invalid", "revoked")
FAILING_IPS = tuple(
    [f"198.18.{n}.9" for n in range(40)] + [f"2001:db8:{n:x}::1" for n in range(1, 6)]
)
RECENT_SUCCESS_PER_MINUTE = (150, 170, 160, 185, 175, 190, 165, 180, 170, 160, 195)
RECENT_FORCED = (("revoked", "Lyon"), ("revoked", "Paris"), ("inactive", "Nantes"))
HOUR = 3600
DAY = 24 * HOUR


def stored_ip(address: str) -> str:
    """Return the key an address ranks under with the default privacy mode (/24, /48)."""
    prefix = 24 if ":" not in address else 48
    return str(ip_network(f"{address}/{prefix}", strict=False))


@dataclass
class WindowTotals:
    """What one window must show, summed from the events recorded inside it."""

    success: int = 0
    failure: int = 0
    failures_by_reason: Counter[str] = field(default_factory=Counter)
    forced_by_reason: Counter[str] = field(default_factory=Counter)
    by_ip: Counter[str] = field(default_factory=Counter)
    by_site: Counter[str] = field(default_factory=Counter)

    @property
    def ratio(self) -> float | None:
        attempts = self.success + self.failure
        return self.failure / attempts if attempts else None


@dataclass
class SeededHistory:
    active_by_site: dict[str, int]
    windows: dict[str, WindowTotals]

    @property
    def active_total(self) -> int:
        return sum(self.active_by_site.values())


class _LaggingClock(ServerClock):
    """Redis-synced clock that reports `lag` seconds in the past, to backdate recorded events."""

    def __init__(self) -> None:
        super().__init__()
        self.lag = 0.0

    def now(self) -> float:
        return super().now() - self.lag


def _windows_for(age: float) -> tuple[str, ...]:
    if age <= 10 * 60:
        return ("15m", "1h", "24h", "7d")
    if 2 * HOUR <= age <= 20 * HOUR:
        return ("24h", "7d")
    if 3 * DAY <= age <= 5 * DAY:
        return ("7d",)
    raise ValueError(f"age {age} s is too close to a window edge for a stable test")


def seed_history(redis_url: str, prefix: str) -> SeededHistory:
    """Record the history under `prefix` and return the numbers every window must show."""
    clock = _LaggingClock()
    client = redis_from_url(redis_url, 2.0, socket_connect_timeout=2.0)
    recorder = SessionMetrics(client, config=RecorderConfig(prefix=prefix, socket_timeout=2,
                                                            connect_timeout=2))
    recorder.clock = clock
    windows = {name: WindowTotals() for name in ("15m", "1h", "24h", "7d")}
    try:
        _record_sessions(recorder)
        for age, event in _timeline():
            clock.lag = age
            _record(recorder, event, [windows[name] for name in _windows_for(age)])
    finally:
        recorder.close()
    return SeededHistory(dict(ACTIVE_BY_SITE), windows)


def _record_sessions(recorder: SessionMetrics) -> None:
    """Start the active sessions (the first call also syncs the recorder's clock)."""
    expires_at = time.time() + HOUR
    for site, count in ACTIVE_BY_SITE.items():
        for n in range(count):
            recorder.session_started(f"active-{site}-{n}", site=site, expires_at=expires_at)
    # Expired and ended sessions must not count as active.
    recorder.session_started("expired-1", site="Lyon", expires_at=time.time() - 120)
    recorder.session_started("expired-2", site="Paris", expires_at=time.time() - 60)
    recorder.session_started("ended-1", site="Nantes", expires_at=expires_at)
    recorder.session_ended("ended-1", site="Nantes")


def _timeline() -> list[tuple[float, tuple[str, ...]]]:
    """Return (age in seconds, event) pairs, oldest first."""
    events: list[tuple[float, tuple[str, ...]]] = []
    for minute, count in enumerate(RECENT_SUCCESS_PER_MINUTE):
        for n in range(count):
            events.append((minute * 55 + 5 + n % 40, ("success", SITES[n % 3])))
    failure_number = 0
    for index, address in enumerate(FAILING_IPS):
        for _ in range(1 + index % 4):
            reason = FAILURE_REASONS[failure_number % len(FAILURE_REASONS)]
            age = 20 + (failure_number * 37) % 560
            events.append((age, ("failure", reason, SITES[failure_number % 3], address)))
            failure_number += 1
    for n, (reason, site) in enumerate(RECENT_FORCED):
        events.append((60 + n * 90, ("forced", reason, site)))
    for n in range(2400):
        events.append((2 * HOUR + (n * 97) % (18 * HOUR), ("success", SITES[n % 3])))
    for n in range(30):
        events.append((3 * HOUR + n * 1800, ("failure", "network", "Paris", FAILING_IPS[n])))
    for n in range(1200):
        events.append((3 * DAY + (n * 211) % (2 * DAY), ("success", SITES[n % 3])))
    for n in range(20):
        events.append((4 * DAY + n * 600, ("failure", "server_error", "Lyon", FAILING_IPS[n])))
    return sorted(events, key=lambda item: -item[0])


def _record(recorder: SessionMetrics, event: tuple[str, ...],
            windows: list[WindowTotals]) -> None:
    kind = event[0]
    if kind == "success":
        recorder.refresh_succeeded(None, site=event[1])
        for totals in windows:
            totals.success += 1
    elif kind == "failure":
        _, reason, site, address = event
        recorder.refresh_failed(reason, site=site, ip=address)
        for totals in windows:
            totals.failure += 1
            totals.failures_by_reason[reason] += 1
            totals.by_site[site] += 1
            totals.by_ip[stored_ip(address)] += 1
    elif kind == "forced":
        _, reason, site = event
        session_id = f"forced-{reason}-{site}"
        recorder.session_started(session_id, site=site, expires_at=time.time() + HOUR)
        recorder.session_ended(session_id, forced=True, reason=reason, site=site)
        for totals in windows:
            totals.forced_by_reason[reason] += 1
