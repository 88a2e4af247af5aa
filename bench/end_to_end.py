"""Benchmark 2: a FastAPI refresh endpoint under wrk load, hooks off vs buffered vs direct.

Four uvicorn processes serve the same app (bench.refresh_app): hooks off, a second hooks-off
control, buffered and direct. A wrk process loads each in turn, rotating the order every
round, so all meet the same machine conditions. Each request presents one of 1,000 session
tokens.
"""

from __future__ import annotations

import os
import secrets
import time
from contextlib import ExitStack

import jwt
from sessionwatch.api_hooks.keys import KeySchema

from tests.support.servers import RedisServer

from .processes import UvicornProcess, split_cpus
from .report import Section
from .stats import Rounds, format_ratio, run_interleaved
from .wrk import WrkResult, ensure_wrk, run_wrk, scratch_directory, write_script

# Each server runs one hook mode; "off (control)" is a second hooks-off server, whose
# difference from "off" shows how much the machine alone moves the figures.
SERVERS = {"off": "off", "off (control)": "off", "buffered": "buffered", "direct": "direct"}
SESSIONS = 1000
CONNECTIONS = 16


def session_tokens(secret: bytes, count: int) -> list[str]:
    expires_at = int(time.time()) + 86400
    return [jwt.encode({"sub": f"cashier-{n}", "sid": f"bench-session-{n}",
                        "site": f"site-{n % 20:02d}", "exp": expires_at}, secret,
                       algorithm="HS256") for n in range(count)]


def run(quick: bool) -> Section:
    ensure_wrk()
    rounds, seconds = (3, 3.0) if quick else (5, 5.0)
    secret = secrets.token_bytes(32)
    script = write_script(session_tokens(secret, SESSIONS), scratch_directory())
    section = Section(
        "end-to-end", "2. End to end: refresh endpoint under wrk load",
        ["Hooks", "Median requests/s", "Min - max requests/s", "Median p99 latency",
         "Throughput vs off", "p99 vs off", "Server CPU per request", "CPU vs off"],
    )
    # The server under test gets a CPU of its own; wrk and Redis share the others, so every
    # server meets the same conditions whichever CPU the kernel would have picked.
    split = split_cpus()
    server_cpus, load_cpus = split if split else (None, None)
    redis_server = RedisServer().start()
    if load_cpus and redis_server.process is not None:
        os.sched_setaffinity(redis_server.process.pid, load_cpus)
    results: dict[str, list[WrkResult]] = {name: [] for name in SERVERS}
    cpu = Rounds()
    try:
        with ExitStack() as stack:
            servers = {
                name: stack.enter_context(UvicornProcess("bench.refresh_app:app_from_env", {
                    "BENCH_HOOKS": mode, "BENCH_REDIS_URL": redis_server.url,
                    "BENCH_PREFIX": f"bench-e2e-{mode}", "BENCH_JWT_SECRET": secret.hex(),
                }, server_cpus))
                for name, mode in SERVERS.items()
            }
            for server in servers.values():
                run_wrk(server.url + "/auth/refresh", script, 2, CONNECTIONS,
                        cpus=load_cpus)  # warm-up

            def measure(mode: str) -> float:
                cpu_before = cpu_seconds(servers[mode].pid)
                result = run_wrk(servers[mode].url + "/auth/refresh", script, seconds,
                                 CONNECTIONS, cpus=load_cpus)
                results[mode].append(result)
                cpu.add(mode, (cpu_seconds(servers[mode].pid) - cpu_before) / result.requests)
                return result.rps

            throughput = run_interleaved(list(SERVERS), rounds, measure)
        counted = {mode: success_total(redis_server, f"bench-e2e-{mode}")
                   for mode in ("buffered", "direct")}
    finally:
        redis_server.stop()

    latency = Rounds()
    for mode, runs in results.items():
        for result in runs:
            latency.add(mode, result.p99_ms)
    add_rows(section, throughput, latency, cpu)
    add_checks(section, throughput, latency)
    errors = sum(r.socket_errors + r.bad_status for runs in results.values() for r in runs)
    answered = {mode: sum(r.requests for r in results[mode]) for mode in results}
    section.notes += [
        f"{rounds} rounds of {seconds:g} s per mode after a 2 s warm-up; wrk 1 thread, "
        f"{CONNECTIONS} keep-alive connections, {SESSIONS} session tokens in turn; one uvicorn "
        "worker per mode (asyncio loop, h11), all on this machine's loopback. The servers "
        "run on the last CPU, wrk and redis-server on the others. The recorders "
        "use 1 s Redis timeouts instead of the default 50 ms, so that a loaded machine "
        "measures writes rather than skips.",
        "Ratios are medians over rounds of (mode / off) within a round; a loss is 1 - ratio "
        "for throughput and ratio - 1 for p99.",
        "Server CPU per request is the uvicorn process's user + system time (/proc) over the "
        "requests wrk saw: unlike throughput, it does not depend on how much CPU other "
        "processes of the machine took meanwhile. Redis's own CPU is not included.",
        f"Socket errors and non-2xx answers over all runs: {errors}.",
        f"Redis counted {counted['buffered']:,} refreshes from the buffered server "
        f"({answered['buffered']:,} answers seen by wrk, warm-up excluded) and "
        f"{counted['direct']:,} from the direct one ({answered['direct']:,}).",
    ]
    return section


def add_rows(section: Section, throughput: Rounds, latency: Rounds, cpu: Rounds) -> None:
    for mode in SERVERS:
        low, high = throughput.spread(mode)
        section.add_row(
            mode, f"{throughput.median(mode):,.0f}", f"{low:,.0f} - {high:,.0f}",
            f"{latency.median(mode):.1f} ms",
            format_ratio(throughput.paired_ratio(mode, "off")),
            format_ratio(latency.paired_ratio(mode, "off")),
            f"{cpu.median(mode) * 1e6:,.0f} µs", format_ratio(cpu.paired_ratio(mode, "off")),
        )


def add_checks(section: Section, throughput: Rounds, latency: Rounds) -> None:
    loss = 1 - throughput.paired_ratio("buffered", "off")
    section.check("buffered: throughput lost vs hooks off", f"{loss:+.1%}", "≤ 1 %",
                  loss <= 0.01)
    p99_growth = latency.paired_ratio("buffered", "off") - 1
    section.check("buffered: p99 latency added vs hooks off", f"{p99_growth:+.1%}", "≤ 1 %",
                  p99_growth <= 0.01)
    control_loss = 1 - throughput.paired_ratio("off (control)", "off")
    control_p99 = latency.paired_ratio("off (control)", "off") - 1
    section.notes.append(f"The control server (hooks off too) differed from 'off' by "
                         f"{control_loss:+.1%} in throughput and {control_p99:+.1%} in p99: "
                         "the measurement noise of this run.")
    direct_loss = 1 - throughput.paired_ratio("direct", "off")
    section.notes.append(f"Direct mode lost {direct_loss:.1%} of the throughput (no target; "
                         "a naive four-command pipeline per refresh lost about 45 % on this "
                         "kind of 2-core machine).")


def cpu_seconds(pid: int) -> float:
    """Return the user + system CPU time of process `pid` so far, in seconds."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def success_total(server: RedisServer, prefix: str) -> int:
    client = server.client()
    try:
        values: dict[bytes, bytes] = client.hgetall(  # type: ignore[assignment]
            KeySchema(prefix).totals())
    finally:
        client.close()
    return sum(int(value) for field, value in values.items()
               if field.startswith(b'["success"'))
