"""Benchmark 4: Redis memory after a simulated week, and under IP spraying.

Week: 200,000 refresh events a day (180,000 successes over 50 sites, 20,000 failures each
from a client network not seen before, so 20,000 distinct networks a day), 5,000 sessions
active at the end; default retention, so the last 7 days of hour buckets and the last hour
of minute buckets remain. Spraying: the same week, then 1,000,000 failures from distinct
networks within the last hour, written one simulated second per batch like the flusher does;
rankings keep the top `ranking_cap` members per bucket. Memory is redis-server's
`used_memory` minus that of the empty server.
"""

from __future__ import annotations

import random
import time
from collections import Counter

import redis
from sessionwatch.api_hooks import RecorderConfig
from sessionwatch.api_hooks.keys import HOUR, MINUTE

from tests.support.servers import RedisServer

from .report import Section
from .seeding import Seeder, address

PREFIX = "bench-memory"
SITES = [f"site-{n:02d}" for n in range(50)]
FAILURE_REASONS = ["expired", "network", "invalid", "revoked", "inactive", "server_error"]
REFRESHES_PER_DAY = 200_000
FAILURES_PER_DAY = 20_000
ACTIVE_SESSIONS = 5_000
SPRAYED_NETWORKS = 1_000_000
WEEK_TARGET_MB = 20
SPRAY_TARGET_MB = 50


def simulate_week(seeder: Seeder, now: float, chooser: random.Random) -> int:
    """Write a week of traffic ending `now`, aggregated per minute; return the events."""
    successes_per_minute = (REFRESHES_PER_DAY - FAILURES_PER_DAY) / (24 * 60)
    failures_per_minute = FAILURES_PER_DAY / (24 * 60)
    network = 0
    events = 0
    for minute in range(7 * 24 * 60):
        at = now - minute * MINUTE
        successes = Counter(chooser.choice(SITES) for _ in range(round(successes_per_minute)))
        for site, amount in successes.items():
            seeder.count(at, ("success", site), amount)
        for _ in range(chooser.choice((13, 14, 14, 15))):
            seeder.failure(at, chooser.choice(SITES), chooser.choice(FAILURE_REASONS),
                           address(network))
            network += 1
        events += round(successes_per_minute) + round(failures_per_minute)
    for number in range(ACTIVE_SESSIONS):
        seeder.touch(f"session-{number}", now + chooser.uniform(60, 8 * HOUR),
                     chooser.choice(SITES))
    seeder.send()
    return events


def spray(seeder: Seeder, now: float, chooser: random.Random, count: int) -> None:
    """Write `count` failures from distinct networks over the hour before `now`."""
    per_second = count / HOUR
    first = 2**23  # far from the networks of the simulated week
    written = 0
    for second in range(HOUR):
        target = round((second + 1) * per_second)
        at = now - HOUR + second
        for number in range(written, target):
            seeder.failure(at, chooser.choice(SITES), "invalid", address(first + number))
        written = target
        seeder.send()


def used_mib(client: redis.Redis, baseline: int) -> float:
    return float(client.info("memory")["used_memory"] - baseline) / 2**20


def key_families(client: redis.Redis) -> dict[str, tuple[int, float]]:
    """Return key count and MiB (MEMORY USAGE, exact) per key family of the prefix."""
    families: dict[str, tuple[int, float]] = {}
    for key in client.scan_iter(match=f"{{{PREFIX}*", count=1000):
        name = key.decode()
        family = ("ranking ip" if name.endswith(":top:ip") else
                  "ranking site/reason" if ":top:" in name else
                  "counters" if name.endswith("counts") or name.endswith("totals") else
                  "active sessions")
        size = client.memory_usage(key, samples=0) or 0
        keys, total = families.get(family, (0, 0.0))
        families[family] = (keys + 1, total + size / 2**20)
    return families


def run(quick: bool) -> Section:
    section = Section("memory", "4. Redis memory: a simulated week, then IP spraying",
                      ["Scenario", "Events", "Keys", "used_memory", "Bound", "Largest families"])
    sprayed = SPRAYED_NETWORKS // 4 if quick else SPRAYED_NETWORKS
    server = RedisServer().start()
    try:
        client = server.client()
        baseline = int(client.info("memory")["used_memory"])
        chooser = random.Random(11)
        now = time.time()
        seeder = Seeder(client, RecorderConfig(prefix=PREFIX))
        events = simulate_week(seeder, now, chooser)
        week = used_mib(client, baseline)
        add_row(section, "one week, default retention", events, client, week, WEEK_TARGET_MB)
        spray(seeder, time.time(), chooser, sprayed)
        sprayed_mib = used_mib(client, baseline)
        add_row(section, f"week + {sprayed:,} sprayed networks in 1 h", events + sprayed,
                client, sprayed_mib, SPRAY_TARGET_MB)
        client.close()
    finally:
        server.stop()
    section.check("one week", f"{week:.1f} MiB", f"≤ {WEEK_TARGET_MB} MB",
                  week * 2**20 <= WEEK_TARGET_MB * 1e6)
    section.check("week + spraying", f"{sprayed_mib:.1f} MiB", f"≤ {SPRAY_TARGET_MB} MB",
                  sprayed_mib * 2**20 <= SPRAY_TARGET_MB * 1e6)
    section.notes += [
        f"Week: {REFRESHES_PER_DAY:,} refreshes a day, of which {FAILURES_PER_DAY:,} failures "
        "each from a client network not seen before (the worst case for the IP rankings: "
        f"{FAILURES_PER_DAY:,} distinct networks a day), {len(SITES)} sites, "
        f"{ACTIVE_SESSIONS:,} sessions active at the end.",
        "Events are aggregated per simulated minute (week) or second (spraying) and written "
        "through the recorder's own planner and Lua scripts, with the default RecorderConfig "
        "(ranking cap 1,000 per bucket, default retention) and redis-server's default "
        "encodings.",
    ]
    if quick:
        section.notes.append(f"--quick sprays {sprayed:,} networks instead of "
                             f"{SPRAYED_NETWORKS:,}.")
    return section


def add_row(section: Section, scenario: str, events: int, client: redis.Redis, mib: float,
            bound: int) -> None:
    families = key_families(client)
    keys = sum(count for count, _ in families.values())
    largest = sorted(families.items(), key=lambda item: -item[1][1])[:3]
    described = ", ".join(f"{name} {size:.1f} MiB ({count} keys)"
                          for name, (count, size) in largest)
    section.add_row(scenario, f"{events:,}", f"{keys:,}", f"{mib:.1f} MiB", f"≤ {bound} MB",
                    described)
