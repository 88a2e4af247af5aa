"""Steady refresh traffic against the demo auth service, from a process of its own.

    python -m tests.support.load_client http://127.0.0.1:PORT --rate 40 --duration 90 \\
        --out results.json

Logs `--sessions` users in, then sends refreshes at `--rate` requests per second for
`--duration` seconds (at most rate x duration requests), cycling through the sessions and
always presenting each session's newest token. Every `--invalid-every`-th request presents
a token that is not a JWT, which the service refuses (401, reason `invalid`). The requests go
one at a time on one keep-alive connection; when one is late, the next goes at once.

The output file holds one record per request: `[sent_at, latency_s, kind, status]`, where
`sent_at` is Unix time, `kind` is `login`, `refresh` or `invalid`, and `status` the HTTP
status or the name of the exception that replaced it.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

SITES = ("Lyon", "Paris", "Grenoble Centre")
Record = tuple[float, float, str, int | str]


@dataclass
class LoadPlan:
    base_url: str
    rate: float
    duration: float
    sessions: int = 20
    invalid_every: int = 10


def _send(http: httpx.Client, kind: str, path: str,
          **options: object) -> tuple[Record, dict[str, object]]:
    sent_at = time.time()
    started = time.perf_counter()
    try:
        response = http.post(path, **options)  # type: ignore[arg-type]
    except httpx.HTTPError as exc:
        return (sent_at, time.perf_counter() - started, kind, type(exc).__name__), {}
    latency = time.perf_counter() - started
    body = response.json() if response.headers.get("content-type", "").startswith(
        "application/json") else {}
    return (sent_at, latency, kind, response.status_code), body


def run(plan: LoadPlan) -> list[Record]:
    """Send the planned traffic and return one record per request."""
    records: list[Record] = []
    tokens: list[str] = []
    with httpx.Client(base_url=plan.base_url, timeout=10) as http:
        for number in range(plan.sessions):
            record, body = _send(http, "login", "/auth/login",
                                 json={"username": f"cashier-{number}",
                                       "site": SITES[number % len(SITES)]})
            records.append(record)
            tokens.append(str(body.get("access_token", "")))

        start = time.monotonic()
        for number in range(int(plan.rate * plan.duration)):
            delay = start + number / plan.rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            if number % plan.invalid_every == plan.invalid_every - 1:
                record, _ = _send(http, "invalid", "/auth/refresh",
                                  headers={"Authorization": "Bearer not-a-jwt"})
            else:
                session = number % plan.sessions
                record, body = _send(http, "refresh", "/auth/refresh",
                                     headers={"Authorization": f"Bearer {tokens[session]}"})
                tokens[session] = str(body.get("access_token", tokens[session]))
            records.append(record)
    return records


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("base_url", help="URL of the demo auth service")
    parser.add_argument("--rate", type=float, required=True, help="refreshes per second")
    parser.add_argument("--duration", type=float, required=True, help="seconds of traffic")
    parser.add_argument("--sessions", type=int, default=20, help="users logged in first")
    parser.add_argument("--invalid-every", type=int, default=10,
                        help="every Nth request presents an invalid token")
    parser.add_argument("--out", type=Path, required=True, help="JSON file of the records")
    args = parser.parse_args()
    records = run(LoadPlan(args.base_url, args.rate, args.duration, args.sessions,
                           args.invalid_every))
    args.out.write_text(json.dumps(records), "utf-8")


if __name__ == "__main__":
    main()
