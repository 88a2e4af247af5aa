"""The blocking recorder against a real private Redis: counts, expiries, bounds and outages."""

from __future__ import annotations

import random
import re
import threading
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from prometheus_client import REGISTRY
from sessionwatch.api_hooks import RecorderConfig, RetentionConfig, SessionMetrics
from sessionwatch.api_hooks.buffered import BufferConfig
from sessionwatch.api_hooks.keys import KeySchema
from sessionwatch.api_hooks.normalize import REASONS
from sessionwatch.exporter.reader import SessionStatsReader
from sessionwatch.exporter.windows import parse_window

from .support.faults import BlackHoleServer
from .support.redis_dump import dump_prefix, may_lack_expiry
from .support.servers import RedisServer, free_port

BUCKET_KEY = re.compile(
    r"\{(?P<prefix>[^:}]+):h(?P<hour>\d+)\}:(?:m(?P<minute>\d+):)?(?P<kind>counts|versions|top:(?P<dim>\w+))"
)


def config(prefix: str, **changes: Any) -> RecorderConfig:
    """A recorder config with timeouts generous enough for a busy CI machine."""
    return RecorderConfig(prefix=prefix, **{"socket_timeout": 2, "connect_timeout": 2, **changes})


def dropped(prefix: str, cause: str) -> float:
    value = REGISTRY.get_sample_value("sessionwatch_events_dropped_total",
                                      {"prefix": prefix, "cause": cause})
    return value or 0.0


def recorder_errors(prefix: str) -> float:
    value = REGISTRY.get_sample_value("sessionwatch_recorder_errors_total", {"prefix": prefix})
    return value or 0.0


@pytest.fixture
def reader(redis_server: RedisServer, prefix: str) -> Iterator[SessionStatsReader]:
    client = redis_server.client()
    yield SessionStatsReader(client, KeySchema(prefix))
    client.close()


@pytest.fixture
def raw_client(redis_server: RedisServer) -> Iterator[redis.Redis]:
    client = redis_server.client()
    yield client
    client.close()


def test_recorder_failure_counted_in_totals_and_windows(
    metrics: SessionMetrics, reader: SessionStatsReader
) -> None:
    metrics.refresh_failed("expired", session_id="s1", site="Lyon", ip="203.0.113.77")
    metrics.refresh_failed("no-such-reason", site="Lyon", ip="203.0.113.78", source="client")
    metrics.refresh_failed("revoked", site="Paris", ip="198.51.100.1")
    expected = Counter({
        ("Lyon", "expired", "server"): 1,
        ("Lyon", "other", "client"): 1,
        ("Paris", "revoked", "server"): 1,
    })

    assert reader.totals().failure == expected
    for window in ("5m", "15m", "1h", "24h", "7d"):
        assert reader.window_counts(parse_window(window)).failure == expected, window


def test_recorder_failure_ranked_by_ip_site_reason(
    metrics: SessionMetrics, reader: SessionStatsReader
) -> None:
    metrics.refresh_failed("expired", site="Lyon", ip="203.0.113.77")
    metrics.refresh_failed("expired", site="Lyon", ip="203.0.113.78")
    metrics.refresh_failed("revoked", site="Paris", ip="198.51.100.1")
    metrics.refresh_failed("revoked", site="Paris", ip="not an address")

    for window in ("15m", "24h"):
        chosen = parse_window(window)
        ip = reader.top_errors("ip", chosen)
        site = reader.top_errors("site", chosen)
        reason = reader.top_errors("reason", chosen)
        assert ip.items == [("203.0.113.0/24", 2), ("198.51.100.0/24", 1)], window
        assert site.items == [("Paris", 2), ("Lyon", 2)], window
        assert reason.items == [("revoked", 2), ("expired", 2)], window


def test_recorder_success_started_ended_counted(
    metrics: SessionMetrics, reader: SessionStatsReader
) -> None:
    metrics.session_started("s1", site="Lyon")
    metrics.refresh_succeeded("s1", site="Lyon")
    metrics.refresh_succeeded("s1", site="Lyon")
    metrics.session_ended("s1", site="Lyon")
    metrics.session_ended("s2", forced=True, reason="revoked", site="Lyon")
    metrics.session_ended("s3", forced=True, reason="whatever", site="Lyon")

    totals = reader.totals()

    assert totals.started == Counter({"Lyon": 1})
    assert totals.success == Counter({"Lyon": 2})
    assert totals.ended == Counter({"Lyon": 1})
    assert totals.forced == Counter({("Lyon", "revoked"): 1, ("Lyon", "other"): 1})
    assert reader.window_counts(parse_window("5m")).forced_total == 2


def test_recorder_bucket_keys_expire_after_retention(
    metrics: SessionMetrics, raw_client: redis.Redis, prefix: str
) -> None:
    retention = RetentionConfig()
    metrics.refresh_failed("expired", site="Lyon", ip="203.0.113.77")
    metrics.refresh_succeeded("s1", site="Lyon")

    checked: Counter[tuple[bool, str]] = Counter()
    for name in raw_client.scan_iter(match=KeySchema(prefix).bucket_pattern()):
        match = BUCKET_KEY.fullmatch(name.decode())
        assert match is not None, name
        expire_at = raw_client.expiretime(name)
        if match["kind"] == "versions":
            end = int(match["hour"]) * 3600 + 3600
            expected = end + max(retention.hour_seconds, retention.ip_seconds)
        elif match["minute"] is not None:
            start, end = int(match["minute"]) * 60, int(match["minute"]) * 60 + 60
            expected = end + retention.minute_seconds
        else:
            start, end = int(match["hour"]) * 3600, int(match["hour"]) * 3600 + 3600
            expected = end + retention.hour_seconds
        if match["dim"] == "ip":
            expected = min(expected, start + retention.ip_seconds)
        assert expire_at == expected, name
        checked[(match["minute"] is not None, match["kind"])] += 1

    assert checked == {
        (True, "counts"): 1, (False, "counts"): 1,
        (True, "top:ip"): 1, (True, "top:site"): 1, (True, "top:reason"): 1,
        (False, "top:ip"): 1, (False, "top:site"): 1, (False, "top:reason"): 1,
        (False, "versions"): 1,
    }


@pytest.mark.slow
@pytest.mark.parametrize("buffered", [False, True], ids=["direct", "buffered"])
def test_recorder_concurrent_threads_exact_totals(
    redis_url: str, reader: SessionStatsReader, prefix: str, buffered: bool
) -> None:
    threads, per_thread = 8, 1000
    recorder = SessionMetrics.from_url(redis_url, config=config(prefix), buffered=buffered)
    start = threading.Barrier(threads)

    def work(number: int) -> None:
        start.wait()
        for i in range(per_thread):
            if i % 4 == 0:
                recorder.refresh_failed(REASONS[i // 4 % 5], site=f"site-{number % 2}",
                                        ip=f"198.51.{number}.{i % 250}")
            else:
                recorder.refresh_succeeded(f"t{number}-{i}", site=f"site-{number % 2}")

    workers = [threading.Thread(target=work, args=(n,)) for n in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(120)
    recorder.close()

    totals = reader.totals()
    recent = reader.window_counts(parse_window("15m"))
    assert totals.success_total == 6000
    assert totals.failure_total == 2000
    assert totals.success == Counter({"site-0": 3000, "site-1": 3000})
    assert recent.success_total == 6000
    assert recent.failure_total == 2000
    assert totals.failures_by_reason() == {reason: 400 if reason in REASONS[:5] else 0
                                           for reason in REASONS}
    assert sum(count for _, count in reader.top_errors("ip", parse_window("15m")).items) == 2000
    assert reader.active().total == 6000
    assert dropped(prefix, "redis_error") == 0
    assert dropped(prefix, "breaker_open") == 0


def test_recorder_active_sessions_follow_start_end_and_expiry(
    metrics: SessionMetrics, reader: SessionStatsReader
) -> None:
    now = reader.now()
    metrics.session_started("s1", site="Lyon", expires_at=now + 3600)
    metrics.session_started("s2", site="Lyon", expires_at=now + 3600)
    metrics.session_started("s3", site="Paris")
    metrics.session_started("s4", site="Paris", expires_at=now - 5)

    assert reader.active() == reader.active(reader.now())
    active = reader.active()
    assert active.total == 3
    assert active.by_site == {"Lyon": 2, "Paris": 1}

    metrics.session_ended("s1", site="Lyon")
    metrics.refresh_succeeded("s2", site="Paris", expires_at=now + 3600)

    active = reader.active()
    assert active.total == 2
    assert active.by_site == {"Paris": 2}


def test_recorder_expired_sessions_trimmed_from_index(
    metrics: SessionMetrics, reader: SessionStatsReader, raw_client: redis.Redis, prefix: str
) -> None:
    schema = KeySchema(prefix)
    now = reader.now()
    for number in range(5):
        metrics.session_started(f"old-{number}", site="Lyon", expires_at=now - 60)

    metrics.session_started("fresh", site="Paris", expires_at=now + 3600)

    assert raw_client.zcard(schema.active_expiry(0)) == 1
    assert raw_client.hlen(schema.active_site_of(0)) == 1
    assert raw_client.hkeys(schema.active_sites(0)) == [b"Paris"]
    assert not raw_client.exists(schema.active_site(0, "Lyon"))


def test_recorder_ranking_never_exceeds_cap(
    redis_url: str, prefix: str, raw_client: redis.Redis, reader: SessionStatsReader
) -> None:
    cap = 20
    recorder = SessionMetrics.from_url(redis_url, config=config(prefix, ranking_cap=cap,
                                                                ip_mode="full"))
    schema = KeySchema(prefix)
    largest = 0
    for number in range(400):
        recorder.refresh_failed("expired", site=f"site-{number}", ip=f"10.{number // 250}."
                                f"{number % 250}.1")
        if number % 4 == 0:
            recorder.refresh_failed("expired", site="busy", ip="192.0.2.1")
        if number % 25 == 0:
            sizes = [raw_client.zcard(key)
                     for key in raw_client.scan_iter(match=schema.bucket_pattern())
                     if b":top:" in key]
            largest = max(largest, *sizes)
    recorder.close()

    sizes = [raw_client.zcard(key) for key in raw_client.scan_iter(match=schema.bucket_pattern())
             if b":top:" in key]
    assert max(largest, *sizes) <= cap + cap // 10
    page = reader.top_errors("ip", parse_window("15m"))
    assert page.items[0] == ("192.0.2.1", 100)
    assert reader.top_errors("site", parse_window("24h")).items[0] == ("busy", 100)


class DroppingConnection(redis.Connection):
    """A connection that, on 1 % of sends, shuts its socket right after sending the command.

    Redis still runs the command, but the client sees a connection error instead of a reply.
    Closing (not shutting down) matters: after shutdown, Linux still delivers a reply that
    has already arrived.
    """

    chooser = random.Random(20240611)
    drop_rate = 0.01

    def send_packed_command(self, command: Any, check_health: bool = True) -> None:
        super().send_packed_command(command, check_health)
        if self.chooser.random() < self.drop_rate and self._sock is not None:
            self._sock.close()


class OftenDroppingConnection(DroppingConnection):
    drop_rate = 0.2


def _assert_every_bucket_expires(raw_client: redis.Redis, prefix: str) -> None:
    schema = KeySchema(prefix)
    stored = dump_prefix(raw_client, prefix)
    without_expiry = [key.name for key in stored
                      if key.ttl == -1 and not may_lack_expiry(schema, key.name)]
    assert len(stored) > 5
    assert without_expiry == []


def _record_mixed(recorder: SessionMetrics, count: int) -> None:
    for number in range(count):
        kind = number % 5
        if kind == 0:
            recorder.refresh_failed("expired", site=f"s{number % 7}", ip=f"198.51.100.{number % 9}")
        elif kind == 1:
            recorder.session_started(f"sess-{number}", site=f"s{number % 7}")
        elif kind == 2:
            recorder.session_ended(f"sess-{number - 1}", forced=True, reason="revoked")
        else:
            recorder.refresh_succeeded(f"sess-{number}", site=f"s{number % 7}")


@pytest.mark.slow
def test_recorder_dropped_connections_leave_no_key_without_expiry(
    redis_server: RedisServer, prefix: str, raw_client: redis.Redis
) -> None:
    pool = redis.ConnectionPool(connection_class=DroppingConnection, host="127.0.0.1",
                                port=redis_server.port, socket_timeout=2)
    recorder = SessionMetrics(redis.Redis(connection_pool=pool),
                              config=config(prefix, breaker_cooldown=1e-6,
                                            breaker_max_cooldown=1e-6))

    _record_mixed(recorder, 10_000)
    recorder.close()

    assert recorder_errors(prefix) >= 50
    _assert_every_bucket_expires(raw_client, prefix)


def test_recorder_buffered_lost_replies_count_once(
    redis_server: RedisServer, prefix: str, raw_client: redis.Redis, reader: SessionStatsReader
) -> None:
    pool = redis.ConnectionPool(connection_class=OftenDroppingConnection, host="127.0.0.1",
                                port=redis_server.port, socket_timeout=2)
    recorder = SessionMetrics(redis.Redis(connection_pool=pool),
                              config=config(prefix, breaker_cooldown=1e-6,
                                            breaker_max_cooldown=1e-6),
                              buffered=True, buffer_config=BufferConfig(flush_interval=0.01))

    for number in range(10_000):
        recorder.refresh_failed("expired", site=f"s{number % 7}", ip=f"198.51.100.{number % 9}")
        recorder.refresh_succeeded(f"sess-{number % 50}", site=f"s{number % 7}")
        if number % 50 == 0:
            recorder.flush()
    for _ in range(100):
        if recorder.flush():
            break
    recorder.close()

    totals = reader.totals()
    assert recorder_errors(prefix) >= 10
    assert totals.failure_total == 10_000
    assert totals.success_total == 10_000
    assert sum(count for _, count in reader.top_errors("site", parse_window("15m")).items) == 10_000
    _assert_every_bucket_expires(raw_client, prefix)


def test_recorder_client_kill_leaves_no_key_without_expiry(
    redis_url: str, prefix: str, raw_client: redis.Redis
) -> None:
    recorder = SessionMetrics.from_url(redis_url, client_name=f"victim-{prefix}",
                                       config=config(prefix, breaker_cooldown=1e-6,
                                                     breaker_max_cooldown=1e-6))
    stop = threading.Event()
    chooser = random.Random(7)

    def kill_at_random() -> None:
        killer = redis.Redis(connection_pool=raw_client.connection_pool)
        while not stop.is_set():
            time.sleep(chooser.uniform(0.0005, 0.005))
            for client in killer.client_list():
                if client["name"] == f"victim-{prefix}":
                    killer.client_kill_filter(_id=client["id"])

    killer_thread = threading.Thread(target=kill_at_random)
    killer_thread.start()
    try:
        _record_mixed(recorder, 3000)
    finally:
        stop.set()
        killer_thread.join(10)
        recorder.close()

    assert recorder_errors(prefix) >= 1
    _assert_every_bucket_expires(raw_client, prefix)


def test_recorder_clock_skew_buckets_follow_redis_time(
    redis_url: str, prefix: str, raw_client: redis.Redis, reader: SessionStatsReader
) -> None:
    clients = [redis.Redis.from_url(redis_url, socket_timeout=2) for _ in range(2)]
    ahead = SessionMetrics(clients[0], config=config(prefix), clock=lambda: time.time() + 90)
    behind = SessionMetrics(clients[1], config=config(prefix), clock=lambda: time.time() - 90)
    server_before = raw_client.time()[0]

    for number in range(1000):
        for recorder in (ahead, behind):
            recorder.refresh_failed("expired", site="Lyon", ip=f"198.51.100.{number % 200}")

    server_after = raw_client.time()[0]
    ahead.close()
    behind.close()
    minutes = set()
    for name in raw_client.scan_iter(match=KeySchema(prefix).bucket_pattern()):
        match = BUCKET_KEY.fullmatch(name.decode())
        if match is not None and match["minute"] is not None:
            minutes.add(int(match["minute"]))
    assert minutes
    assert min(minutes) >= server_before // 60
    assert max(minutes) <= server_after // 60
    assert ahead.clock.offset == pytest.approx(-90, abs=1)
    assert behind.clock.offset == pytest.approx(90, abs=1)
    for window in ("5m", "15m", "24h"):
        assert reader.window_counts(parse_window(window)).failure_total == 2000, window


def test_recorder_black_hole_capped_then_skipped(prefix: str) -> None:
    durations = []
    with BlackHoleServer() as hole:
        recorder = SessionMetrics.from_url(hole.url, config=RecorderConfig(prefix=prefix))
        started = time.monotonic()
        for number in range(1000):
            call_started = time.monotonic()
            recorder.refresh_failed("network", session_id=f"s{number}", site="Lyon",
                                    ip="203.0.113.7")
            durations.append(time.monotonic() - call_started)
        elapsed = time.monotonic() - started
        recorder.close()

    assert max(durations) < 1.0
    assert elapsed < 5.0
    assert recorder.breaker.is_open
    assert dropped(prefix, "redis_error") >= 1
    assert dropped(prefix, "redis_error") + dropped(prefix, "breaker_open") == 1000
    assert dropped(prefix, "breaker_open") >= 900


def test_recorder_refused_connection_never_raises(prefix: str) -> None:
    recorder = SessionMetrics.from_url(f"redis://127.0.0.1:{free_port()}/0",
                                       config=RecorderConfig(prefix=prefix))
    started = time.monotonic()

    results = set()
    for number in range(200):
        results.add(recorder.session_started(f"s{number}", site="Lyon"))
        results.add(recorder.refresh_succeeded(f"s{number}", site="Lyon"))
        results.add(recorder.refresh_failed("expired", site="Lyon"))
        results.add(recorder.session_ended(f"s{number}", forced=True, reason="revoked"))

    assert time.monotonic() - started < 5.0
    assert results == {False}
    assert dropped(prefix, "redis_error") + dropped(prefix, "breaker_open") == 800


def test_recorder_recovers_when_redis_returns(prefix: str) -> None:
    server = RedisServer().start()
    recorder = SessionMetrics.from_url(server.url, config=config(prefix, breaker_cooldown=0.05,
                                                                 breaker_max_cooldown=0.05))
    try:
        recorder.refresh_succeeded("s1", site="Lyon")
        server.stop()
        recorder.refresh_succeeded("s1", site="Lyon")
        assert recorder.breaker.is_open
        server = RedisServer(port=server.port).start()
        time.sleep(0.1)

        recorder.refresh_succeeded("s1", site="Lyon")
        recorder.refresh_succeeded("s1", site="Lyon")

        assert not recorder.breaker.is_open
        totals = SessionStatsReader(server.client(), KeySchema(prefix)).totals()
        assert totals.success_total == 2
    finally:
        recorder.close()
        server.stop()


@pytest.mark.parametrize("pool_class", [redis.BlockingConnectionPool, redis.ConnectionPool])
def test_recorder_small_pool_many_threads_never_raises(
    redis_server: RedisServer, prefix: str, reader: SessionStatsReader,
    pool_class: type[redis.ConnectionPool],
) -> None:
    options: dict[str, Any] = {"timeout": 10} if pool_class is redis.BlockingConnectionPool else {}
    pool = pool_class(host="127.0.0.1", port=redis_server.port, max_connections=10,
                      socket_timeout=2, **options)
    recorder = SessionMetrics(redis.Redis(connection_pool=pool), config=config(prefix))
    start = threading.Barrier(200)
    raised: list[BaseException] = []

    def call(number: int) -> None:
        start.wait()
        try:
            recorder.refresh_failed("expired", session_id=f"s{number}", site="Lyon",
                                    ip="203.0.113.7")
        except BaseException as exc:  # noqa: BLE001 - the test records whatever escapes
            raised.append(exc)

    threads = [threading.Thread(target=call, args=(n,)) for n in range(200)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    recorder.close()

    recorded = reader.totals().failure_total
    lost = dropped(prefix, "redis_error") + dropped(prefix, "breaker_open")
    assert raised == []
    assert recorded <= 200
    assert recorded + lost >= 200  # a reply lost to a timeout counts as dropped, yet written
    if pool_class is redis.BlockingConnectionPool:
        assert recorded == 200


class Unprintable:
    def __str__(self) -> str:
        raise RuntimeError("hostile __str__")


@pytest.mark.parametrize("buffered", [False, True], ids=["direct", "buffered"])
def test_recorder_hostile_object_counted_as_unknown(
    redis_url: str, reader: SessionStatsReader, prefix: str, buffered: bool
) -> None:
    recorder = SessionMetrics.from_url(redis_url, config=config(prefix), buffered=buffered,
                                       buffer_config=BufferConfig(flush_interval=0.05))
    hostile = Unprintable()

    recorder.refresh_failed(hostile, session_id=hostile, site=hostile, ip=hostile)
    recorder.session_started(hostile, user_id=hostile, site=hostile, expires_at=hostile)
    recorder.refresh_succeeded("s1", site="Lyon")
    deadline = time.monotonic() + 10
    while recorder.pending_events and time.monotonic() < deadline:
        time.sleep(0.05)  # the flusher thread must survive the hostile object

    totals = reader.totals()
    assert recorder.pending_events == 0
    assert recorder_errors(prefix) == 0
    assert totals.failure == Counter({("unknown", "other", "server"): 1})
    assert totals.started == Counter({"unknown": 1})
    assert totals.success_total == 1
    recorder.close()


def test_recorder_reloads_flushed_scripts(
    metrics: SessionMetrics, reader: SessionStatsReader, raw_client: redis.Redis
) -> None:
    metrics.refresh_succeeded("s1", site="Lyon")
    raw_client.script_flush()

    metrics.refresh_succeeded("s1", site="Lyon")
    metrics.session_started("s2", site="Lyon")

    assert reader.totals().success_total == 2
    assert reader.active().total == 2


def test_recorder_rejects_invalid_config() -> None:
    unused = redis.Redis(port=free_port())

    with pytest.raises(ValueError, match="socket_timeout"):
        RecorderConfig(socket_timeout=0)
    with pytest.raises(ValueError, match="invalid key prefix"):
        SessionMetrics(unused, prefix="a b")
    with pytest.raises(ValueError, match="ranking_cap"):
        SessionMetrics(unused, config=RecorderConfig(ranking_cap=0))
