"""A direct-mode recorder paced at a fixed event rate, timing each call; run as a process.

    python -m bench.recorder_load REDIS_URL PREFIX EVENTS_PER_SECOND SECONDS RANKING_CAP

prints one JSON line: calls, p50_ms, p99_ms, max_ms, and the calls that did not reach Redis
(`failed`: errors, or skipped while the circuit breaker was open). Nine calls in ten are refresh
successes, one in ten a failure from one of 200 networks. Direct mode is the one whose calls
wait on Redis, so it shows any time Redis spends on something else.
"""

from __future__ import annotations

import json
import sys
import time

from sessionwatch.api_hooks import RecorderConfig, SessionMetrics

from .stats import percentile


def run(url: str, prefix: str, rate: float, seconds: float, ranking_cap: int
        ) -> dict[str, float]:
    # Timeouts long enough that a call waits for a busy Redis instead of being skipped.
    config = RecorderConfig(prefix=prefix, socket_timeout=120, connect_timeout=10,
                            ranking_cap=ranking_cap)
    latencies: list[float] = []
    with SessionMetrics.from_url(url, config=config) as recorder:
        recorder.refresh_succeeded("warm-up", site="bench")
        expires_at = time.time() + 3600
        began = time.perf_counter()
        for number in range(int(rate * seconds)):
            due = began + number / rate
            pause = due - time.perf_counter()
            if pause > 0:
                time.sleep(pause)
            if number % 10:
                recorder.refresh_succeeded(f"load-{number % 5000}", site="bench",
                                           expires_at=expires_at)
            else:
                recorder.refresh_failed("invalid", site="bench",
                                        ip=f"203.0.{number % 200}.1")
            # Timed from when the call was due, not from when it started: a call that waited
            # behind a stalled one counts its wait too (no coordinated omission).
            latencies.append(time.perf_counter() - due)
        failed = recorder._health.dropped_total()
    return {
        "calls": len(latencies),
        "p50_ms": percentile(latencies, 0.5) * 1000,
        "p99_ms": percentile(latencies, 0.99) * 1000,
        "max_ms": max(latencies) * 1000,
        "failed": failed,
    }


if __name__ == "__main__":
    redis_url, key_prefix, events_per_second, duration, cap = sys.argv[1:6]
    print(json.dumps(run(redis_url, key_prefix, float(events_per_second), float(duration),
                         int(cap))))
