"""Measure what one Redis shard absorbs and what the recorder's keys cost in memory.

Usage (from the repository root, with the project's venv)::

    .venv/bin/python bench/scaling.py              # everything, about 3 minutes
    .venv/bin/python bench/scaling.py --only throughput --seconds 5
    .venv/bin/python bench/scaling.py --only memory --sessions 1000000 --events 1000000

Throughput: writer processes record a traffic mix for a fixed time, direct or buffered,
against one standalone Redis and a 3-master Redis Cluster started for the run. The mix is
90 % refreshes of random sessions out of a pool, 8 % failures from random client networks,
and 2 % logins and logouts. The figures are the events the writers recorded per second
(checked against the totals read back) and the Redis CPU time per event on the busiest node
(INFO cpu). One full core divided by that time estimates what one shard absorbs.

Memory: INFO used_memory and MEMORY USAGE after loading active sessions and after writing
a million events spread over one hour of buckets.

Every server runs on a free loopback port (tests/support/cluster.py); nothing touches the
Redis on port 6379. The results go to stdout as Markdown tables, and to --json if given.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import platform
import random
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import redis  # noqa: E402
from sessionwatch.api_hooks import RecorderConfig, SessionMetrics  # noqa: E402
from sessionwatch.api_hooks.buffered import BufferConfig  # noqa: E402
from sessionwatch.api_hooks.connection import redis_from_url  # noqa: E402
from sessionwatch.api_hooks.keys import HOUR, KeySchema, RetentionConfig  # noqa: E402
from sessionwatch.api_hooks.normalize import IPMode, hash_session_id  # noqa: E402
from sessionwatch.api_hooks.plan import EventPlanner, WriteBatch  # noqa: E402
from sessionwatch.api_hooks.scripts import batch_calls, run_calls  # noqa: E402
from sessionwatch.exporter.reader import SessionStatsReader  # noqa: E402

from tests.support.cluster import LocalCluster, Node  # noqa: E402
from tests.support.servers import RedisServer  # noqa: E402

PREFIX = "bench"
SITES = [f"site{number:02d}" for number in range(20)]
REASONS = ["expired", "network", "revoked", "invalid", "server_error"]
NETWORKS = 5000


# Traffic: one writer process


def record_traffic(url: str, buffered: bool, shards: int, seconds: float, sessions: int,
                   rate: float, seed: int) -> int:
    """Record the traffic mix for `seconds`, at most `rate` events per second (0: as fast as
    the process can); return the number of events recorded."""
    rng = random.Random(seed)
    config = RecorderConfig(prefix=PREFIX, active_shards=shards, socket_timeout=2,
                            connect_timeout=2)
    buffer_config = BufferConfig(max_keys=1_000_000, max_sessions=2_000_000,
                                 max_pending_updates=5_000_000)
    metrics = SessionMetrics.from_url(url, config=config, buffered=buffered,
                                      buffer_config=buffer_config)
    expires_at = time.time() + 8 * HOUR
    events = 0
    started = time.monotonic()
    deadline = started + seconds
    while time.monotonic() < deadline:
        if rate:
            time.sleep(max(0.0, started + events / rate - time.monotonic()))
        for _ in range(100):
            roll = rng.random()
            session = f"session-{rng.randrange(sessions)}"
            site = SITES[rng.randrange(len(SITES))]
            if roll < 0.90:
                metrics.refresh_succeeded(session, site=site, expires_at=expires_at)
            elif roll < 0.98:
                metrics.refresh_failed(REASONS[rng.randrange(len(REASONS))], site=site,
                                       ip=f"10.{rng.randrange(NETWORKS) % 250}."
                                          f"{rng.randrange(NETWORKS) // 250}.1")
            elif roll < 0.99:
                metrics.session_started(session, site=site, expires_at=expires_at)
            else:
                metrics.session_ended(session, site=site)
            events += 1
    metrics.close()
    return events


@dataclass
class ThroughputResult:
    target: str
    mode: str
    active_shards: int
    writers: int
    rate_per_writer: int
    seconds: float
    events: int
    events_per_second: float
    redis_cpu_us_per_event_busiest: float
    redis_cpu_share_busiest: float
    shard_capacity_events_per_second: float


def cpu_seconds(client: redis.Redis) -> float:
    info = client.info("cpu")
    return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])


def run_throughput(target: str, url: str, nodes: list[redis.Redis], buffered: bool,
                   shards: int, writers: int, seconds: float, sessions: int,
                   rate: float) -> ThroughputResult:
    for node in nodes:
        node.flushall()
    context = multiprocessing.get_context("spawn")
    with context.Pool(writers) as pool:
        pool.starmap(time.sleep, [(0,)] * writers)  # workers started and imported
        cpu_before = [cpu_seconds(node) for node in nodes]
        started = time.monotonic()
        counts = pool.starmap(record_traffic, [
            (url, buffered, shards, seconds, sessions, rate, seed) for seed in range(writers)
        ])
        elapsed = time.monotonic() - started
    cpu = [cpu_seconds(node) - before for node, before in zip(nodes, cpu_before, strict=True)]
    events = sum(counts)

    client = redis_from_url(url, 5.0)
    totals = SessionStatsReader(client, KeySchema(PREFIX, shards)).totals()
    client.close()
    recorded = (totals.success_total + totals.failure_total + totals.forced_total
                + sum(totals.started.values()) + sum(totals.ended.values()))
    if recorded != events:
        raise RuntimeError(f"{target} {buffered=}: sent {events} events, Redis counted "
                           f"{recorded}")
    busiest = max(cpu)
    per_event = busiest / events * 1e6
    return ThroughputResult(
        target, "buffered" if buffered else "direct", shards, writers, int(rate),
        round(seconds, 1),
        events, round(events / seconds), round(per_event, 2), round(busiest / elapsed, 2),
        round(1e6 / per_event),
    )


# Memory


@dataclass
class MemoryResult:
    what: str
    count: int
    used_memory_bytes: int
    bytes_each: float
    by_key_family: dict[str, int]


def used_memory(client: redis.Redis) -> int:
    return int(client.info("memory")["used_memory"])


def key_family(name: str) -> str:
    """Name the family of a key: `{P}:totals` -> totals, `{P:h1}:m2:top:ip` -> minute top:ip."""
    tail = name.split("}", 1)[1]
    if tail.startswith(":m"):
        return "minute " + tail.split(":", 2)[2]
    if name.startswith(f"{{{PREFIX}:h"):
        return "hour " + tail.lstrip(":")
    if name.startswith(f"{{{PREFIX}:a"):
        return "active " + tail.lstrip(":").split(":")[0]
    return tail.lstrip(":")


def memory_by_family(client: redis.Redis) -> dict[str, int]:
    families: Counter[str] = Counter()
    for name in client.scan_iter(match=f"{{{PREFIX}*", count=1000):
        text = name.decode() if isinstance(name, bytes) else name
        families[key_family(text)] += int(client.memory_usage(name, samples=0) or 0)
    return dict(sorted(families.items()))


def load_sessions(url: str, client: redis.Redis, sessions: int) -> MemoryResult:
    """Touch `sessions` sessions on 20 sites through the recorder's own script calls."""
    client.flushall()
    before = used_memory(client)
    planner = EventPlanner(KeySchema(PREFIX), RetentionConfig(), 1000)
    writer = redis_from_url(url, 30.0)
    now = time.time()
    for first in range(0, sessions, 20_000):
        batch = WriteBatch()
        for number in range(first, min(first + 20_000, sessions)):
            digest = hash_session_id(f"session-{number}")
            assert digest is not None
            planner.touch(batch, digest, now + 8 * HOUR, SITES[number % len(SITES)])
        run_calls(writer, batch_calls(planner, batch, now), None)
    writer.close()
    grown = used_memory(client) - before
    return MemoryResult("active sessions", sessions, grown, round(grown / sessions, 1),
                        memory_by_family(client))


def write_events(url: str, client: redis.Redis, events: int) -> MemoryResult:
    """Write `events` events of the traffic mix, spread evenly over one hour of buckets."""
    client.flushall()
    before = used_memory(client)
    rng = random.Random(7)
    config = RecorderConfig(prefix=PREFIX, ip_mode=IPMode.TRUNCATE)
    planner = EventPlanner(KeySchema(PREFIX), config.retention, config.ranking_cap)
    policy = config.ip_policy()
    start = int(time.time() // HOUR) * HOUR
    writer = redis_from_url(url, 30.0)
    per_minute = events // 60

    for minute in range(60):
        counts: Counter[tuple[str, ...]] = Counter()
        for _ in range(per_minute):
            roll = rng.random()
            site = SITES[rng.randrange(len(SITES))]
            if roll < 0.90:
                counts[("success", site)] += 1
            elif roll < 0.98:
                network = rng.randrange(NETWORKS)
                counts[("failure", site, REASONS[rng.randrange(len(REASONS))],
                        f"10.{network % 250}.{network // 250}.1")] += 1
            elif roll < 0.99:
                counts[("started", site)] += 1
            else:
                counts[("ended", site)] += 1

        batch = WriteBatch()
        at = start + minute * 60 + 30
        for parts, amount in counts.items():
            if parts[0] == "failure":
                _, site, reason, ip = parts
                planner.failure(batch, at, site, reason, "server", policy.apply(ip), amount)
            else:
                planner.count(batch, at, parts, amount)
        run_calls(writer, batch_calls(planner, batch, time.time()), None)
    writer.close()

    written = per_minute * 60
    grown = used_memory(client) - before
    return MemoryResult("events over one hour", written, grown,
                        round(grown / written, 3), memory_by_family(client))


# Servers


@contextmanager
def standalone() -> Iterator[tuple[str, list[redis.Redis]]]:
    server = RedisServer().start()
    node = server.client()
    try:
        yield server.url, [node]
    finally:
        node.close()
        server.stop()


@contextmanager
def cluster() -> Iterator[tuple[str, list[redis.Redis]]]:
    local = LocalCluster().start()
    nodes = [Node.client(node) for node in local.nodes]
    try:
        yield local.url, nodes
    finally:
        for node in nodes:
            node.close()
        local.stop()


# Report


def table(rows: list[dict[str, Any]]) -> str:
    header = list(rows[0])
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(row[name]) for name in header) + " |" for row in rows]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", choices=["throughput", "memory"], help="run one part only")
    parser.add_argument("--seconds", type=float, default=5.0, help="length of each run, in s")
    parser.add_argument("--writers", type=int, default=2, help="writer processes per run")
    parser.add_argument("--pool", type=int, default=1_000_000,
                        help="distinct sessions the traffic refreshes")
    parser.add_argument("--rate", type=float, default=5000,
                        help="events per second of each buffered writer (0: unpaced); "
                             "direct writers always run unpaced")
    parser.add_argument("--sessions", type=int, default=1_000_000,
                        help="active sessions loaded for the memory figure")
    parser.add_argument("--events", type=int, default=1_000_000,
                        help="events written for the memory figure")
    parser.add_argument("--json", type=Path, help="also write the results to this file")
    args = parser.parse_args()

    results: dict[str, Any] = {
        "machine": f"{os.cpu_count()} CPUs, {platform.platform()}, Python "
                   f"{platform.python_version()}",
        "redis": subprocess.run(["redis-server", "--version"], capture_output=True,
                                text=True, check=True).stdout.strip(),
    }
    if args.only in (None, "throughput"):
        runs: list[ThroughputResult] = []
        plans = [("standalone", standalone, [(False, 1), (True, 1)]),
                 ("cluster", cluster, [(False, 1), (True, 1), (True, 6)])]
        for target, start, modes in plans:
            with start() as (url, nodes):
                for buffered, shards in modes:
                    rate = args.rate if buffered else 0
                    runs.append(run_throughput(target, url, nodes, buffered, shards,
                                               args.writers, args.seconds, args.pool, rate))
                    print(f"done: {target} buffered={buffered} shards={shards}",
                          file=sys.stderr)
        results["throughput"] = [asdict(run) for run in runs]
        print(table(results["throughput"]), end="\n\n")
    if args.only in (None, "memory"):
        with standalone() as (url, nodes):
            memory = [load_sessions(url, nodes[0], args.sessions),
                      write_events(url, nodes[0], args.events)]
        results["memory"] = [asdict(item) for item in memory]
        for item in memory:
            print(f"{item.what}: {item.count} -> {item.used_memory_bytes} bytes "
                  f"({item.bytes_each} each)")
            print(table([{"key family": name, "bytes": size}
                         for name, size in item.by_key_family.items()]), end="\n\n")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n", "utf-8")


if __name__ == "__main__":
    main()
