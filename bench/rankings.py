"""Benchmark 6: top-errors pages over big rankings while a recorder writes at 500 events/s.

96 hour buckets of the IP ranking hold M members each: M = 1,000 is what the default
`ranking_cap` keeps, M = 100,000 needs a raised cap. A direct-mode recorder process writes
500 events/s, first alone (baseline), then while this process requests page 1 (20 items) of
the 7d top-errors JSON by IP 20 times. Figures: the recorder's call latency, the request
times, and the entries Redis adds to its SLOWLOG (commands of 10 ms or more).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import redis
from sessionwatch.api_hooks.keys import DAY, HOUR, KeySchema
from sessionwatch.api_hooks.scripts import APPLY_COUNTS, UPDATE_ACTIVE, UPDATE_ACTIVE_MANY

from tests.support.servers import RedisServer

from .exporter_scrape import exporter
from .processes import REPO_ROOT
from .report import Section
from .stats import format_ms, median

PREFIX = "bench-rankings"
BUCKETS = 96
RATE = 500
REQUESTS = 20
SLOWLOG_MICROSECONDS = 10_000
SEED_SCRIPT = (Path(__file__).parent / "seed_ranking.lua").read_text("utf-8")


RECORDER_SCRIPTS = {script.sha for script in (APPLY_COUNTS, UPDATE_ACTIVE, UPDATE_ACTIVE_MANY)}


@dataclass(frozen=True)
class Phase:
    recorder: dict[str, float]
    request_seconds: list[float]
    request_errors: int
    slowlog: list[tuple[float, str]]  # (milliseconds, command) of the exporter's commands
    recorder_slowlog: list[float]  # milliseconds, of the recorder's own scripts

    def slowlog_text(self) -> str:
        """Return the entry count and the three longest entries (a script's inner commands
        are logged too)."""
        if not self.slowlog:
            return "0"
        longest = ", ".join(f"{command} {duration:,.0f} ms"
                            for duration, command in sorted(self.slowlog, reverse=True)[:3])
        return f"{len(self.slowlog)} ({longest})"


def seed(client: redis.Redis, members: int) -> None:
    schema = KeySchema(PREFIX)
    current = int(time.time() // HOUR)
    for offset in range(BUCKETS):
        hour = current - offset
        client.eval(SEED_SCRIPT, 1, schema.hour_ranking("ip", hour), members,
                    offset * members // 2, (hour + 1) * HOUR + 7 * DAY)


def recorder_process(url: str, seconds: float, cap: int) -> subprocess.Popen[str]:
    command = [sys.executable, "-m", "bench.recorder_load", url, PREFIX, str(RATE),
               str(seconds), str(cap)]
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    return subprocess.Popen(command, stdout=subprocess.PIPE, text=True, cwd=REPO_ROOT, env=env)


def wait_until_idle(server: RedisServer) -> None:
    """Return once Redis answers, that is once a script that outlived its caller has ended."""
    client = server.client(socket_timeout=600)
    client.ping()
    client.close()


def command_words(command: bytes | str) -> list[str]:
    text = command.decode("utf-8", "replace") if isinstance(command, bytes) else command
    return text.split(" ", 2)


def run_phase(server: RedisServer, http: httpx.Client | None, seconds: float,
              requests: int, cap: int) -> Phase:
    """Run the recorder for `seconds`, with `requests` top-errors requests spread over it."""
    client = server.client()
    client.slowlog_reset()
    process = recorder_process(server.url, seconds, cap)
    timings: list[float] = []
    errors = 0
    if http is not None:
        time.sleep(min(1.0, seconds / 10))
        spacing = (seconds - 2) / requests
        for _ in range(requests):
            began = time.perf_counter()
            response = http.get("/v1/admin/sessions/top-errors?by=ip&window=7d&limit=20")
            timings.append(time.perf_counter() - began)
            errors += response.status_code != 200
            time.sleep(max(0.0, spacing - timings[-1]))
    output, _ = process.communicate(timeout=seconds + 600)
    exporter_entries: list[tuple[float, str]] = []
    recorder_entries: list[float] = []
    for entry in client.slowlog_get(128):
        words = command_words(entry["command"])
        milliseconds = entry["duration"] / 1000
        if words[0].upper() == "EVALSHA" and len(words) > 1 and words[1] in RECORDER_SCRIPTS:
            recorder_entries.append(milliseconds)
        else:
            exporter_entries.append((milliseconds, words[0].upper()))
    client.close()
    return Phase(json.loads(output.strip().splitlines()[-1]), timings, errors,
                 exporter_entries, recorder_entries)


def run(quick: bool) -> Section:
    seconds = 8.0 if quick else 15.0
    section = Section(
        "rankings", "6. Top-errors pages on big rankings while the recorder writes",
        ["Members per bucket", "Phase", "Recorder p50", "Recorder p99", "Recorder max",
         "Recorder calls failed", "Page 1 (7d) median", "Page 1 max",
         "Exporter commands in SLOWLOG (≥ 10 ms)"],
    )
    # A raised cap takes the reader past its cache bound, so every request merges inside
    # Redis for tens of seconds: one request shows it, more would only lengthen the run.
    scenarios = [(1_000, REQUESTS), (20_000 if quick else 100_000, 1)]
    first_requests: list[tuple[int, float]] = []
    recorder_slow_counts: list[int] = []
    for members, requests in scenarios:
        server = RedisServer().start()
        try:
            client = server.client()
            client.config_set("slowlog-log-slower-than", SLOWLOG_MICROSECONDS)
            seed(client, members)
            client.close()
            with exporter(server.url, PREFIX) as http:
                if members <= 1_000:
                    began = time.perf_counter()
                    http.get("/v1/admin/sessions/top-errors?by=ip&window=7d&limit=20")
                    first_requests.append((members, time.perf_counter() - began))
                cap = max(members, 1000)
                wait_until_idle(server)
                baseline = run_phase(server, None, seconds, 0, cap)
                loaded = run_phase(server, http, seconds, requests, cap)
        finally:
            server.stop()
        add_rows(section, members, baseline, loaded, requests)
        recorder_slow_counts.extend((len(baseline.recorder_slowlog),
                                     len(loaded.recorder_slowlog)))
    section.notes += [
        f"Each phase lasts {seconds:g} s at {RATE} recorder calls/s (direct mode, a separate "
        "process, same prefix, its ranking cap set to the members per bucket). The "
        "recorder's p99 'does not move' when it stays within max(+20 %, +1 ms) of the "
        "baseline measured just before on the same server. Each latency counts from the "
        "moment the call was due, so calls queued behind a stalled one count their wait.",
        f"With {scenarios[1][0]:,} members per bucket the page is requested once instead of "
        "20 times, because each request keeps Redis busy for seconds.",
        "The SLOWLOG also logs the commands a script runs, as from client '?:0'; they count "
        "with the exporter's.",
        "The exporter answers 503 once its Redis timeout (1 s by default) passes, but Redis "
        "still runs the script to the end.",
        "Before the phases, one page request warms the exporter's cache of closed buckets "
        "(before the slowlog is reset): " + ", ".join(
            f"{format_ms(seconds)} with {members:,} members" for members, seconds in
            first_requests) + ". With a raised cap the cache is bypassed (too many members), "
        "so there is nothing to warm.",
        "The SLOWLOG column counts the exporter's commands; the recorder's own scripts "
        "reached it " + ", ".join(str(count) for count in recorder_slow_counts) + " times in "
        "the phases above, in order, which on this machine happens when other processes "
        "take the CPU away from redis-server in the middle of a script.",
    ]
    return section


def add_rows(section: Section, members: int, baseline: Phase, loaded: Phase,
             requests: int) -> None:
    for name, phase in (("recorder alone", baseline),
                        (f"+ {requests} page request{'s' if requests > 1 else ''}", loaded)):
        timings = phase.request_seconds
        requests_median = format_ms(median(timings)) if timings else "-"
        requests_max = format_ms(max(timings)) if timings else "-"
        if phase.request_errors:
            requests_max += f" ({phase.request_errors} errors)"
        section.add_row(f"{members:,}", name, f"{phase.recorder['p50_ms']:.2f} ms",
                        f"{phase.recorder['p99_ms']:.2f} ms", f"{phase.recorder['max_ms']:.1f} ms",
                        f"{phase.recorder['failed']:.0f}", requests_median, requests_max,
                        phase.slowlog_text())
    limit = max(baseline.recorder["p99_ms"] * 1.2, baseline.recorder["p99_ms"] + 1)
    section.check(f"{members:,} members: recorder p99 with requests",
                  f"{loaded.recorder['p99_ms']:.2f} ms",
                  f"≤ {limit:.2f} ms (baseline {baseline.recorder['p99_ms']:.2f} ms)",
                  loaded.recorder["p99_ms"] <= limit)
    section.check(f"{members:,} members: SLOWLOG entries of the page requests",
                  str(len(loaded.slowlog)), "0", not loaded.slowlog)
