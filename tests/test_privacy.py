"""No full client address anywhere: Redis, JSON API, CLI, exposition and event logs."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from sessionwatch.api_hooks import IPMode, RecorderConfig, RetentionConfig, SessionMetrics
from sessionwatch.exporter.cli import main

from .support.exporter import served_exporter
from .support.redis_dump import StoredKey, dump_prefix
from .support.servers import RedisServer

IPV4 = "203.0.113.77"
IPV6 = "2001:db8:1:2:3:4:5:6"
# Any text that still carries the host part of either address.
FULL_FORMS = (IPV4, IPV6, "2001:db8:1:2", "2001:0db8:0001:0002", "::ffff:203.0.113.77")
HASH_KEY = b"privacy-test-key-0123456789"


def record_from_addresses(recorder: SessionMetrics) -> None:
    for ip in (IPV4, IPV6, f"::ffff:{IPV4}"):
        recorder.session_started(f"session-{ip}", user_id="u1", site="Lyon", ip=ip)
        recorder.refresh_succeeded(f"session-{ip}", user_id="u1", site="Lyon", ip=ip)
        recorder.refresh_failed("expired", session_id=f"session-{ip}", user_id="u1",
                                site="Lyon", ip=ip)
        recorder.session_ended(f"session-{ip}", forced=True, reason="revoked", site="Lyon",
                               ip=ip)
        recorder.session_ended(f"other-{ip}", site="Lyon", ip=ip)


def assert_no_full_address(text: str, where: str) -> None:
    for form in FULL_FORMS:
        assert form not in text, f"{form} found in {where}"


def log_texts(records: list[logging.LogRecord]) -> list[str]:
    """Return each record's message and every attribute value, as text."""
    return [record.getMessage() + " " + repr(vars(record)) for record in records]


@pytest.fixture
def raw_client(redis_server: RedisServer) -> Iterator[redis.Redis]:
    client = redis_server.client()
    yield client
    client.close()


def address_keys(stored: list[StoredKey], *stored_forms: str) -> list[StoredKey]:
    return [key for key in stored
            if any(form.encode() in member for member in key.fields for form in stored_forms)]


@pytest.mark.parametrize("buffered", [False, True], ids=["direct", "buffered"])
def test_privacy_default_mode_keeps_no_full_address(
    redis_url: str, prefix: str, raw_client: redis.Redis, buffered: bool,
    caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str],
) -> None:
    recorder = SessionMetrics.from_url(
        redis_url, config=RecorderConfig(prefix=prefix, socket_timeout=2, connect_timeout=2),
        buffered=buffered,
    )
    with caplog.at_level(logging.DEBUG, logger="sessionwatch.events"):
        record_from_addresses(recorder)
        recorder.close()
    outputs: dict[str, str] = {}
    with served_exporter(redis_url, prefix) as exporter:
        outputs["exposition"] = exporter.exposition()
        outputs["summary"] = exporter.admin("/metrics").text
        outputs["ranking"] = exporter.admin("/top-errors", by="ip").text
        outputs["timeseries"] = exporter.admin("/timeseries").text
    for argv in (["summary"], ["--json", "summary"], ["top-errors"],
                 ["--json", "top-errors"], ["active"]):
        with pytest.raises(SystemExit):
            main(["--redis-url", redis_url, "--prefix", prefix, *argv])
        outputs[f"cli {argv}"] = capsys.readouterr().out
    stored = dump_prefix(raw_client, prefix)

    for where, text in outputs.items():
        assert_no_full_address(text, where)
    for key in stored:
        for text in key.texts():
            assert_no_full_address(text, f"Redis key {key.name!r}")
    event_records = [r for r in caplog.records if r.name == "sessionwatch.events"]
    assert len(event_records) == 15
    for text in log_texts(caplog.records):
        assert_no_full_address(text, "logs")
    ranking = json.loads(outputs["ranking"])["items"]
    assert ranking == [{"key": "203.0.113.0/24", "count": 2}, {"key": "2001:db8:1::/48",
                                                               "count": 1}]
    assert {r.__dict__["ip"] for r in event_records} == {"203.0.113.0/24", "2001:db8:1::/48"}


@pytest.mark.parametrize("ip_seconds", [3600, 7 * 86400])
def test_privacy_address_keys_expire_within_ip_retention(
    redis_url: str, prefix: str, raw_client: redis.Redis, ip_seconds: int
) -> None:
    config = RecorderConfig(prefix=prefix, socket_timeout=2, connect_timeout=2,
                            retention=RetentionConfig(ip_seconds=ip_seconds))
    with SessionMetrics.from_url(redis_url, config=config) as recorder:
        record_from_addresses(recorder)

    holders = address_keys(dump_prefix(raw_client, prefix), "203.0.113.0/24", "2001:db8:1::/48")

    assert len(holders) == 2  # the minute and the hour ranking by ip
    for key in holders:
        assert 0 < key.ttl <= ip_seconds, key.name


def test_privacy_hash_mode_keeps_no_network(
    redis_url: str, prefix: str, raw_client: redis.Redis, caplog: pytest.LogCaptureFixture
) -> None:
    config = RecorderConfig(prefix=prefix, socket_timeout=2, connect_timeout=2,
                            ip_mode=IPMode.HASH, ip_hash_key=HASH_KEY)
    with caplog.at_level(logging.DEBUG, logger="sessionwatch.events"), \
            SessionMetrics.from_url(redis_url, config=config) as recorder:
        record_from_addresses(recorder)

    stored = dump_prefix(raw_client, prefix)
    members: list[Any] = [member for key in stored for member in key.fields
                          if member.startswith(b"h:")]
    texts = [text for key in stored for text in key.texts()] + log_texts(caplog.records)
    assert len(set(members)) == 2
    for text in texts:
        assert "203.0.113" not in text
        assert "2001:db8" not in text
