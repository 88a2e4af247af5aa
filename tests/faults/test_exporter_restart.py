"""Exporter processes restarted while recorders write: no session counter ever goes down.

Five sites with `--max-sites 3` make the exporter fold two of them into `site="other"`; the
choice lives in Redis, so every restarted process labels the same way. The exporter's own
process counters (`sessionwatch_scrape_errors_total`, `process_*`) restart from zero with the
process, like any process counter, and are left out.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest
from sessionwatch.api_hooks import RecorderConfig, SessionMetrics

from ..support.exposition import Samples, parse_samples
from ..support.servers import free_port, wait_for_port

SITES = ("Lyon", "Paris", "Nantes", "Lille", "Brest")
RESTARTS = 3


@contextmanager
def exporter_process(redis_url: str, prefix: str, port: int) -> Iterator[subprocess.Popen[bytes]]:
    """Run `python -m sessionwatch.exporter` on `port`; stop it with SIGTERM."""
    command = [sys.executable, "-m", "sessionwatch.exporter", "--redis-url", redis_url,
               "--prefix", prefix, "--port", str(port), "--max-sites", "3",
               "--log-level", "warning"]
    env = {**os.environ, "SESSIONWATCH_ADMIN_TOKEN": "restart-test-token-0123456789"}
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL)
    try:
        wait_for_port(port, timeout=30)
        yield process
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(20)


def write_until(stop: threading.Event, redis_url: str, prefix: str) -> None:
    config = RecorderConfig(prefix=prefix, socket_timeout=2, connect_timeout=2)
    with SessionMetrics.from_url(redis_url, config=config) as recorder:
        number = 0
        while not stop.is_set():
            site = SITES[number % len(SITES)]
            recorder.refresh_succeeded(f"s{number % 50}", site=site)
            if number % 3 == 0:
                recorder.refresh_failed("expired", site=site, ip="198.51.100.7")
            if number % 7 == 0:
                recorder.session_ended(f"s{number % 50}", forced=True, reason="revoked",
                                       site=site)
            number += 1
            time.sleep(0.002)


def session_counters(samples: Samples) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {key: value for key, value in samples.items()
            if key[0].startswith("session_") and key[0].endswith("_total")}


@pytest.mark.timeout(180)
def test_exporter_restart_no_counter_goes_down(redis_url: str, prefix: str) -> None:
    port = free_port()
    stop = threading.Event()
    writer = threading.Thread(target=write_until, args=(stop, redis_url, prefix))
    writer.start()
    scrapes: list[tuple[int, Samples]] = []
    try:
        for generation in range(RESTARTS + 1):
            with exporter_process(redis_url, prefix, port), \
                    httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as http:
                for _ in range(10):
                    response = http.get("/metrics")
                    assert response.status_code == 200
                    scrapes.append((generation, parse_samples(response.text)))
                    time.sleep(0.1)
    finally:
        stop.set()
        writer.join(30)

    previous: dict[tuple[str, frozenset[tuple[str, str]]], float] = {}
    for generation, samples in scrapes:
        counters = session_counters(samples)
        assert set(previous) <= set(counters), f"series vanished in exporter {generation}"
        for key, value in counters.items():
            assert value >= previous.get(key, 0.0), (generation, key, previous[key], value)
        previous = counters
    sites = {dict(labels).get("site") for _, labels in previous}
    assert len(sites) == 3
    assert "other" in sites
    assert {generation for generation, _ in scrapes} == set(range(RESTARTS + 1))
    assert sum(value for (name, _), value in previous.items()
               if name == "session_refresh_success_total") > 100
