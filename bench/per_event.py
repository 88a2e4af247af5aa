"""Benchmark 1: what one recorder call costs the caller, next to other ways of counting.

Sides, all fed the same precomputed arguments in the same rounds:
prometheus_client `Counter.labels(site, outcome).inc()`, a plain deque-plus-lock collector,
the buffered recorder (a refresh success with its session, and a refresh failure with its
address), and the direct recorder (one round trip to a private Redis per call).
"""

from __future__ import annotations

import collections
import threading
import time
from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter
from sessionwatch.api_hooks import RecorderConfig, SessionMetrics
from sessionwatch.api_hooks.buffered import BufferConfig
from sessionwatch.api_hooks.keys import KeySchema

from tests.support.servers import RedisServer

from .report import Section
from .stats import Rounds, format_ns, format_ratio, run_interleaved

SITES = [f"site-{n:02d}" for n in range(20)]
REASONS = ["expired", "network", "invalid", "revoked"]
BUFFERED_PREFIX = "bench-per-event"
Arguments = tuple[str, str, str, str]  # (session id, site, reason, client address)


def arguments(count: int) -> list[Arguments]:
    return [(f"session-{n % 1000}", SITES[n % len(SITES)], REASONS[n % len(REASONS)],
             f"198.51.{n % 256}.{n % 7}") for n in range(count)]


class Sides:
    """The functions under test; each runs its call once per element of an argument list."""

    def __init__(self, redis_url: str) -> None:
        registry = CollectorRegistry()
        self.counter = Counter("bench_refresh_total", "Refreshes.", ["site", "outcome"],
                               registry=registry)
        self.lock = threading.Lock()
        self.events: collections.deque[tuple[float, str, str]] = collections.deque()
        config = RecorderConfig(prefix=BUFFERED_PREFIX, socket_timeout=2, connect_timeout=2)
        self.buffered = SessionMetrics.from_url(redis_url, config=config, buffered=True,
                                                buffer_config=BufferConfig())
        self.direct = SessionMetrics.from_url(redis_url, config=config, prefix="bench-direct")
        self.expires_at = time.time() + 3600
        self.accepted = 0

    def table(self) -> dict[str, Callable[[list[Arguments]], None]]:
        return {
            "prometheus_client": self.prometheus,
            "deque + lock": self.deque_lock,
            "buffered success": self.buffered_success,
            "buffered failure": self.buffered_failure,
            "direct success": self.direct_success,
        }

    def prometheus(self, calls: list[Arguments]) -> None:
        labels = self.counter.labels
        for _, site, reason, _ in calls:
            labels(site, reason).inc()

    def deque_lock(self, calls: list[Arguments]) -> None:
        lock, append, clock = self.lock, self.events.append, time.time
        for _, site, reason, _ in calls:
            with lock:
                append((clock(), site, reason))

    def buffered_success(self, calls: list[Arguments]) -> None:
        record, expires_at = self.buffered.refresh_succeeded, self.expires_at
        for session, site, _, _ in calls:
            record(session, site=site, expires_at=expires_at)

    def buffered_failure(self, calls: list[Arguments]) -> None:
        record = self.buffered.refresh_failed
        for _, site, reason, address in calls:
            record(reason, site=site, ip=address)

    def direct_success(self, calls: list[Arguments]) -> None:
        record, expires_at = self.direct.refresh_succeeded, self.expires_at
        for session, site, _, _ in calls:
            record(session, site=site, expires_at=expires_at)

    def close(self) -> None:
        self.buffered.close()
        self.direct.close()


def share_of(calls: list[Arguments], threads: int) -> int:
    return len(calls) // threads


def timed_threads(work: Callable[[list[Arguments]], None], calls: list[Arguments],
                  threads: int) -> float:
    """Run `work` on `threads` threads that share `calls`; return the wall time per call (ns)."""
    share = share_of(calls, threads)
    start = threading.Barrier(threads + 1)

    def worker(index: int) -> None:
        part = calls[index * share:(index + 1) * share]
        start.wait()
        work(part)

    workers = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
    for thread in workers:
        thread.start()
    start.wait()
    began = time.perf_counter()
    for thread in workers:
        thread.join()
    return (time.perf_counter() - began) / (share * threads) * 1e9


def run(quick: bool) -> Section:
    rounds = 5 if quick else 15
    fast_calls = arguments(20_000 if quick else 40_000)
    direct_calls = arguments(400)
    section = Section(
        "per-event", "1. Per-event cost of one call",
        ["Threads", "Side", "Median per call", "Min - max of rounds", "Ratio to prometheus_client"],
    )
    server = RedisServer().start()
    sides = Sides(server.url)
    table = sides.table()
    try:
        for threads in (1, 8):
            def measure(side: str, threads: int = threads) -> float:
                calls = direct_calls if side == "direct success" else fast_calls
                if side == "deque + lock":
                    sides.events.clear()
                if side.startswith("buffered"):
                    sides.accepted += share_of(calls, threads) * threads
                return timed_threads(table[side], calls, threads)

            results = run_interleaved(list(table), rounds, measure)
            add_rows(section, results, threads)
        written = count_written(sides, server)
    finally:
        sides.close()
        server.stop()
    section.notes += [
        f"{rounds} rounds; in each round every side runs {len(fast_calls):,} calls "
        f"(the direct recorder {len(direct_calls)}), in rotating order, split evenly over the "
        "threads. Ratio = median over rounds of (side / prometheus_client) within a round.",
        "The buffered recorder runs with its default 1 s flusher against a private "
        "redis-server, so the flush work of the process is part of what is measured.",
        f"After the runs, Redis held {written:,} of the {sides.accepted:,} events the "
        "buffered recorder accepted.",
    ]
    return section


def add_rows(section: Section, results: Rounds, threads: int) -> None:
    for side in results.samples:
        low, high = results.spread(side)
        ratio = results.paired_ratio(side, "prometheus_client")
        section.add_row(threads, side, format_ns(results.median(side)),
                        f"{format_ns(low)} - {format_ns(high)}", format_ratio(ratio))
        if side.startswith("buffered"):
            section.check(f"{side}, {threads} thread(s), ratio to prometheus_client",
                          format_ratio(ratio), "≤ 1.00x", ratio <= 1.0)


def count_written(sides: Sides, server: RedisServer) -> int:
    """Flush the buffered recorder and return how many events Redis counted for it."""
    sides.buffered.flush()
    client = server.client()
    try:
        values: dict[bytes, bytes] = client.hgetall(  # type: ignore[assignment]
            KeySchema(BUFFERED_PREFIX).totals())
    finally:
        client.close()
    counted = 0
    for field, value in values.items():
        if field.startswith((b'["success"', b'["failure"')):
            counted += int(value)
    return counted
