"""Several API worker processes recording into one Redis, read by one exporter."""

from __future__ import annotations

import multiprocessing
import time
from collections.abc import Callable

import pytest

from .support import workers
from .support.exporter import served_exporter
from .support.exposition import sample_value, series_of
from .support.servers import RedisServer

SPAWN = multiprocessing.get_context("spawn")


def run_to_end(target: Callable[..., None], *args: object) -> None:
    process = SPAWN.Process(target=target, args=args)
    process.start()
    process.join(60)
    assert process.exitcode == 0


@pytest.mark.slow
def test_workers_forced_logout_by_other_worker_ends_session(
    redis_server: RedisServer, prefix: str
) -> None:
    url = redis_server.url
    expires_at = redis_server.client().time()[0] + 3600
    run_to_end(workers.start_session, url, prefix, "session-S", "Lyon", expires_at)
    run_to_end(workers.start_session, url, prefix, "session-T", "Paris", expires_at)

    with served_exporter(url, prefix) as exporter:
        before = exporter.scrape()
        done = SPAWN.Event()
        worker_b = SPAWN.Process(target=workers.force_logout_then_hang,
                                 args=(url, prefix, "session-S", "Lyon", done))
        worker_b.start()
        try:
            assert done.wait(60)
        finally:
            worker_b.kill()
            worker_b.join(10)
        after = exporter.scrape()

    assert sample_value(before, "session_active") == 2
    assert sample_value(before, "session_active_by_site", site="Lyon") == 1
    assert sample_value(after, "session_active") == 1
    assert sample_value(after, "session_active_by_site", site="Lyon") in (None, 0)
    assert sample_value(after, "session_active_by_site", site="Paris") == 1
    assert sample_value(after, "session_logout_forced_total", site="Lyon", reason="revoked") == 1


@pytest.mark.slow
def test_workers_success_counter_never_decreases(redis_server: RedisServer, prefix: str) -> None:
    start = SPAWN.Barrier(5)
    processes = [SPAWN.Process(target=workers.record_successes,
                               args=(redis_server.url, prefix, 25, 0.04, start))
                 for _ in range(4)]
    for process in processes:
        process.start()

    values = []
    with served_exporter(redis_server.url, prefix) as exporter:
        start.wait(60)
        for _ in range(19):
            total = series_of(exporter.scrape(), "session_refresh_success_total")
            values.append(sum(total.values()))
            time.sleep(0.03)
        for process in processes:
            process.join(60)
        final = exporter.scrape()
        values.append(sum(series_of(final, "session_refresh_success_total").values()))

    assert [process.exitcode for process in processes] == [0, 0, 0, 0]
    assert values == sorted(values)
    assert any(0 < value < 100 for value in values), values  # scraped while recording
    assert values[-1] == 100
    assert sample_value(final, "session_refresh_success_total", site="Lyon") == 100
