"""Benchmark 3: exporter response times on a large data set, and its Redis round trips.

Data: 100,000 active sessions over 50 sites, and a week of failures from 50,000 distinct
client networks a day (so 50,000 in the last 24 h), written by `Seeder`. The exporter runs
in its own uvicorn process; this process requests `/metrics` and page 1 (20 items) of the
top-errors JSON by IP for 15m, 24h and 7d, interleaved, over keep-alive connections.
"""

from __future__ import annotations

import os
import random
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import redis
from fastapi import FastAPI
from sessionwatch.api_hooks import RecorderConfig
from sessionwatch.api_hooks.keys import HOUR, KeySchema
from sessionwatch.exporter.app import create_app
from sessionwatch.exporter.collector import SessionCollector
from sessionwatch.exporter.reader import SessionStatsReader
from sessionwatch.exporter.settings import ExporterSettings
from sessionwatch.exporter.windows import WINDOWS

from tests.support.servers import RedisServer

from .processes import UvicornProcess
from .report import Section
from .seeding import Seeder, address
from .stats import Rounds, format_ms, percentile, run_interleaved

PREFIX = "bench-exporter"
ADMIN_TOKEN = "bench-admin-token-0123456789"
ACTIVE_SESSIONS = 100_000
FAILING_NETWORKS_PER_DAY = 50_000
DAYS = 7
SITES = [f"site-{n:02d}" for n in range(50)]
FAILURE_REASONS = ["expired", "network", "invalid", "revoked", "inactive", "server_error"]
TARGETS_MS = {"/metrics": 10.0, "top 15m": 20.0, "top 24h": 50.0, "top 7d": 200.0}


def app_from_env() -> FastAPI:
    """Build the exporter for `uvicorn --factory` from BENCH_REDIS_URL and BENCH_PREFIX."""
    app: FastAPI = create_app(ExporterSettings(redis_url=os.environ["BENCH_REDIS_URL"],
                                       prefix=os.environ["BENCH_PREFIX"],
                                       admin_token=ADMIN_TOKEN))
    return app


def seed(client: redis.Redis, config: RecorderConfig, now: float) -> None:
    """Write the active sessions and a week of failures (see the module docstring)."""
    chooser = random.Random(7)
    seeder = Seeder(client, config)
    for number in range(ACTIVE_SESSIONS):
        seeder.touch(f"active-{number}", now + chooser.uniform(600, 8 * HOUR),
                     chooser.choice(SITES))
    for day in range(DAYS):
        for number in range(FAILING_NETWORKS_PER_DAY):
            # The newest day ends now; each network fails once or twice at a random time.
            at = now - day * 24 * HOUR - chooser.uniform(0, 24 * HOUR - 1)
            seeder.failure(at, chooser.choice(SITES), chooser.choice(FAILURE_REASONS),
                           address(day * FAILING_NETWORKS_PER_DAY + number),
                           chooser.choice((1, 2)))
    for minute in range(24 * 60):
        seeder.count(now - minute * 60, ("success", chooser.choice(SITES)), 150)
    seeder.send()


class CountingConnection(redis.Connection):
    """A connection that counts what it sends: one count per command or pipeline."""

    sent = 0

    def send_packed_command(self, command: Any, check_health: bool = True) -> None:
        CountingConnection.sent += 1
        super().send_packed_command(command, check_health)  # type: ignore[no-untyped-call]


def seed_small(client: redis.Redis, config: RecorderConfig, now: float) -> None:
    """Write one active session and one failure: the small data set round trips compare to."""
    seeder = Seeder(client, config)
    seeder.touch("small-1", now + HOUR, SITES[0])
    seeder.failure(now, SITES[0], "expired", address(1))
    seeder.send()


def round_trips(redis_url: str, prefix: str) -> dict[str, int]:
    """Return the Redis round trips of one scrape and one top-errors page of each window,
    measured after a first pass (clock synced, scripts loaded, closed buckets cached)."""
    pool = redis.ConnectionPool.from_url(redis_url, connection_class=CountingConnection)
    reader = SessionStatsReader(redis.Redis(connection_pool=pool), KeySchema(prefix))
    collector = SessionCollector(reader)
    reader.now()
    list(collector.collect())
    for window in ("15m", "24h", "7d"):
        reader.top_errors("ip", WINDOWS[window], 0, 20)
    counts = {}
    CountingConnection.sent = 0
    list(collector.collect())
    counts["/metrics"] = CountingConnection.sent
    for window in ("15m", "24h", "7d"):
        CountingConnection.sent = 0
        reader.top_errors("ip", WINDOWS[window], 0, 20)
        counts[f"top {window}"] = CountingConnection.sent
    pool.disconnect()
    return counts


@contextmanager
def exporter(redis_url: str, prefix: str = PREFIX) -> Iterator[httpx.Client]:
    """Serve the exporter in a child process; yield a client with the admin token set."""
    env = {"BENCH_REDIS_URL": redis_url, "BENCH_PREFIX": prefix}
    with UvicornProcess("bench.exporter_scrape:app_from_env", env) as server, \
            httpx.Client(base_url=server.url, timeout=30,
                         headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}) as http:
        yield http


REQUESTS = {
    "/metrics": "/metrics",
    **{f"top {window}": f"/v1/admin/sessions/top-errors?by=ip&window={window}&limit=20"
       for window in ("15m", "24h", "7d")},
}


def run(quick: bool) -> Section:
    rounds = 30 if quick else 100
    section = Section(
        "exporter", "3. Exporter: /metrics and top-errors JSON on a large data set",
        ["Request", "Median", "p90", "Max", "Redis round trips (full / tiny data)", "Bound"],
    )
    server = RedisServer().start()
    try:
        client = server.client()
        started = time.perf_counter()
        seed(client, RecorderConfig(prefix=PREFIX), time.time())
        seeding_seconds = time.perf_counter() - started
        memory = client.info("memory")["used_memory"]
        seed_small(client, RecorderConfig(prefix="bench-small"), time.time())
        full_trips = round_trips(server.url, PREFIX)
        small_trips = round_trips(server.url, "bench-small")
        client.close()
        with exporter(server.url) as http:
            for path in REQUESTS.values():
                http.get(path).raise_for_status()  # warm-up, and clock sync

            def measure(name: str) -> float:
                began = time.perf_counter()
                response = http.get(REQUESTS[name])
                elapsed = time.perf_counter() - began
                response.raise_for_status()
                return elapsed

            timings = run_interleaved(list(REQUESTS), rounds, measure)
            sample = http.get("/v1/admin/sessions/top-errors?by=ip&window=24h&limit=1").json()
    finally:
        server.stop()
    add_rows(section, timings, full_trips, small_trips)
    section.notes += [
        f"{rounds} requests of each kind, interleaved, timed by the client (HTTP included).",
        f"Seeding took {seeding_seconds:.0f} s; Redis used {memory / 2**20:.0f} MiB; the 24h "
        f"ranking held {sample['total']:,} distinct networks (each hour bucket keeps the "
        "top 1,000 of its own, the default cap).",
        "Round trips are counted on the client connection of an in-process reader, after a "
        "first pass that syncs the clock and fills the ranking cache: each command or "
        "pipeline counts one. A cold cache reads the closed buckets once, about 4,000 members "
        "per round trip.",
    ]
    return section


def add_rows(section: Section, timings: Rounds, full: dict[str, int],
             small: dict[str, int]) -> None:
    for name, target in TARGETS_MS.items():
        values = timings.samples[name]
        median = timings.median(name)
        section.add_row(name, format_ms(median), format_ms(percentile(values, 0.9)),
                        format_ms(max(values)), f"{full[name]} / {small[name]}",
                        f"≤ {target:g} ms")
        section.check(f"{name} median", format_ms(median), f"≤ {target:g} ms",
                      median * 1000 <= target)
    bounded = all(full[name] == small[name] for name in TARGETS_MS)
    section.check("Redis round trips independent of data size",
                  f"{full['/metrics']} per scrape", "same as with one session and one failure",
                  bounded)
