"""Benchmark 5: how many events one worker aggregates and flushes per second.

One buffered `SessionMetrics`, one thread: record a burst of events, then `flush()` them to a
private Redis; the figure is events / (record time + flush time). Two mixes: a typical one
(85 % refresh successes over 20,000 sessions, 10 % failures over 5,000 networks, 3 % logins,
2 % logouts) and a worst case where every event updates a session not seen in the burst.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from functools import partial

from sessionwatch.api_hooks import RecorderConfig, SessionMetrics
from sessionwatch.api_hooks.buffered import BufferConfig

from tests.support.servers import RedisServer

from .report import Section
from .stats import Rounds, median

TARGET_EVENTS_PER_SECOND = 100_000
SITES = [f"site-{n:02d}" for n in range(20)]
Call = Callable[[], None]


def typical_mix(recorder: SessionMetrics, count: int, burst: int) -> list[Call]:
    chooser = random.Random(burst)
    expires_at = time.time() + 3600
    calls: list[Call] = []
    for _ in range(count):
        roll = chooser.random()
        session = f"session-{chooser.randrange(20_000)}"
        site = chooser.choice(SITES)
        if roll < 0.85:
            calls.append(partial(recorder.refresh_succeeded, session, site=site,
                                 expires_at=expires_at))
        elif roll < 0.95:
            ip = f"198.{chooser.randrange(20)}.{chooser.randrange(250)}.9"
            calls.append(partial(recorder.refresh_failed, "expired", site=site, ip=ip))
        elif roll < 0.98:
            calls.append(partial(recorder.session_started, session, site=site,
                                 expires_at=expires_at))
        else:
            calls.append(partial(recorder.session_ended, session, site=site))
    return calls


def distinct_sessions(recorder: SessionMetrics, count: int, burst: int) -> list[Call]:
    expires_at = time.time() + 3600
    return [partial(recorder.refresh_succeeded, f"burst{burst}-{n}", site=SITES[n % len(SITES)],
                    expires_at=expires_at) for n in range(count)]


MIXES = {"typical mix": typical_mix, "every event a new session": distinct_sessions}


def one_burst(recorder: SessionMetrics, calls: list[Call]) -> tuple[float, float]:
    """Record `calls`, flush them; return (record seconds, flush seconds)."""
    began = time.perf_counter()
    for call in calls:
        call()
    recorded = time.perf_counter()
    if not recorder.flush():
        raise RuntimeError("flush failed during the flush benchmark")
    return recorded - began, time.perf_counter() - recorded


def run(quick: bool) -> Section:
    rounds, count = (3, 50_000) if quick else (7, 100_000)
    section = Section("flush", "5. Flush throughput of one worker",
                      ["Mix", "Events per burst", "Median record", "Median flush",
                       "Events/s (record + flush)", "Min - max events/s"])
    server = RedisServer().start()
    recorder = SessionMetrics.from_url(
        server.url, config=RecorderConfig(prefix="bench-flush", socket_timeout=5,
                                          connect_timeout=5),
        buffered=True, buffer_config=BufferConfig(flush_interval=60),
    )
    try:
        for mix, build in MIXES.items():
            rates = Rounds()
            for burst in range(rounds):
                calls = build(recorder, count, burst)
                record_seconds, flush_seconds = one_burst(recorder, calls)
                rates.add("record", record_seconds)
                rates.add("flush", flush_seconds)
                rates.add("rate", count / (record_seconds + flush_seconds))
            low, high = rates.spread("rate")
            rate = rates.median("rate")
            section.add_row(mix, f"{count:,}", f"{median(rates.samples['record']):.3f} s",
                            f"{median(rates.samples['flush']):.3f} s", f"{rate:,.0f}",
                            f"{low:,.0f} - {high:,.0f}")
            section.check(f"{mix}: events/s", f"{rate:,.0f}",
                          f"≥ {TARGET_EVENTS_PER_SECOND:,}", rate >= TARGET_EVENTS_PER_SECOND)
    finally:
        recorder.close()
        server.stop()
    section.notes.append(f"{rounds} bursts per mix; " + (__doc__ or "").split("Two mixes: ")[1]
                         .replace("\n", " ").strip())
    return section
