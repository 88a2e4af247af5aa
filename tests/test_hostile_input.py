"""Hostile caller values: nothing raises, keys stay bounded, every output stays valid."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from prometheus_client import REGISTRY
from sessionwatch.api_hooks import RecorderConfig, SessionMetrics
from sessionwatch.api_hooks.normalize import DEFAULT_MAX_SITE_LENGTH
from sessionwatch.exporter.cli import main

from .support.exporter import served_exporter
from .support.exposition import parse_samples, sample_value
from .support.prometheus import promtool_check_metrics
from .support.redis_dump import dump_prefix
from .support.servers import RedisServer

NAMED_SITES = ('a"b', "c\\", "line1\nline2", "тест ✓ 🙂")
LONG_SITE = "x" * 10_000
HOSTILE_SITES: tuple[Any, ...] = (
    *NAMED_SITES, LONG_SITE, b"\xff\xfe-bytes", "\ud800lone", "", None, "\x00", "a{b}:c*",
    "}" * 100, 12345,
)
HOSTILE_IPS: tuple[Any, ...] = (
    "203.0.113.77", "::ffff:203.0.113.5", "2001:db8::1", "999.1.1.1", "not an ip",
    "1" * 10_000, b"\xff", "", None, "203.0.113.7:443", "[2001:db8::2]", 42,
)
HOSTILE_REASONS: tuple[Any, ...] = ("expired", "EXPIRED", "bogus", "", None, "x" * 10_000,
                                    b"\xff", "revoked\n")

MAX_KEY_BYTES = 128
MAX_MEMBER_BYTES = 512
MAX_VALUE_BYTES = 64


def recorder_errors(prefix: str) -> float:
    value = REGISTRY.get_sample_value("sessionwatch_recorder_errors_total", {"prefix": prefix})
    return value or 0.0


def record_hostile(recorder: SessionMetrics) -> int:
    """Call every recorder method with hostile values; return the number of failures."""
    failures = 0
    for number, site in enumerate(HOSTILE_SITES):
        session: Any = (LONG_SITE, b"\xff", None)[number % 3]
        recorder.session_started(session, user_id=LONG_SITE, site=site, ip=HOSTILE_IPS[0],
                                 expires_at=float("nan") if number % 2 else 10**400)
        recorder.refresh_succeeded(session, user_id=None, site=site, ip=None, expires_at=None)
        for reason in HOSTILE_REASONS:
            for ip in HOSTILE_IPS:
                recorder.refresh_failed(reason, session_id=session, user_id=b"\xff", site=site,
                                        ip=ip, source=LONG_SITE)
                failures += 1
        recorder.session_ended(session, forced=True, reason=LONG_SITE, user_id=None, site=site,
                               ip=LONG_SITE)
        recorder.session_ended(session, site=site)
    return failures


@pytest.fixture(params=[False, True], ids=["direct", "buffered"])
def hostile_prefix(request: pytest.FixtureRequest, redis_url: str, prefix: str) -> str:
    """A prefix filled with hostile events by a direct or a buffered recorder."""
    recorder = SessionMetrics.from_url(
        redis_url, config=RecorderConfig(prefix=prefix, socket_timeout=2, connect_timeout=2),
        buffered=request.param,
    )
    record_hostile(recorder)
    recorder.close()
    assert recorder_errors(prefix) == 0
    return prefix


@pytest.fixture
def raw_client(redis_server: RedisServer) -> Iterator[redis.Redis]:
    client = redis_server.client()
    yield client
    client.close()


def test_hostile_input_keys_and_members_bounded(
    hostile_prefix: str, raw_client: redis.Redis
) -> None:
    stored = dump_prefix(raw_client, hostile_prefix)

    assert len(stored) >= 8
    for key in stored:
        assert len(key.name) <= MAX_KEY_BYTES, key.name
        for member in key.fields:
            assert len(member) <= MAX_MEMBER_BYTES, (key.name, member[:80])
        for value in key.values:
            assert len(value) <= MAX_VALUE_BYTES, (key.name, value[:80])


def test_hostile_input_counts_every_call(hostile_prefix: str, redis_url: str) -> None:
    with served_exporter(redis_url, hostile_prefix) as exporter:
        body = exporter.admin("/metrics", window="15m").json()

    calls = len(HOSTILE_SITES) * len(HOSTILE_REASONS) * len(HOSTILE_IPS)
    assert body["refresh"]["failure"] == calls
    assert body["refresh"]["success"] == len(HOSTILE_SITES)
    assert body["forced_logouts"]["total"] == len(HOSTILE_SITES)
    assert set(body["refresh"]["failures_by_reason"]) == {
        "network", "expired", "revoked", "invalid", "inactive", "server_error",
        "rate_limited", "other"}
    assert body["refresh"]["failures_by_reason"]["expired"] == calls * 2 // len(HOSTILE_REASONS)
    assert body["active"]["total"] == 0


def test_hostile_input_exposition_valid(hostile_prefix: str, redis_url: str) -> None:
    with served_exporter(redis_url, hostile_prefix) as exporter:
        exposition = exporter.exposition()

    result = promtool_check_metrics(exposition)
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")
    samples = parse_samples(exposition)
    per_site = len(HOSTILE_REASONS) * len(HOSTILE_IPS)
    for site in NAMED_SITES:
        assert sample_value(samples, "session_refresh_success_total", site=site) == 1, site
        assert sample_value(samples, "session_refresh_failure_total", site=site,
                            reason="other", source="server") is not None, site
    assert sample_value(samples, "session_refresh_success_total",
                        site=LONG_SITE[:DEFAULT_MAX_SITE_LENGTH]) == 1
    assert sample_value(samples, "session_refresh_success_total", site="\ufffd\ufffd-bytes") == 1
    assert sample_value(samples, "session_refresh_success_total", site="unknown") == 3
    assert sample_value(samples, "session_logout_forced_total", site='a"b', reason="other") == 1
    total = sum(value for (name, _), value in samples.items()
                if name == "session_refresh_failure_total")
    assert total == per_site * len(HOSTILE_SITES)


def test_hostile_input_json_rankings_round_trip(
    hostile_prefix: str, redis_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with served_exporter(redis_url, hostile_prefix) as exporter:
        api_sites = exporter.admin("/top-errors", by="site", limit=500).json()["items"]
        api_ips = exporter.admin("/top-errors", by="ip", limit=500).json()["items"]
    with pytest.raises(SystemExit) as exited:
        main(["--redis-url", redis_url, "--prefix", hostile_prefix, "--json", "top-errors",
              "--by", "site", "--limit", "500"])
    cli_sites = json.loads(capsys.readouterr().out)["items"]

    assert exited.value.code == 0
    assert cli_sites == api_sites
    keys = {item["key"] for item in api_sites}
    assert set(NAMED_SITES) <= keys
    assert LONG_SITE[:DEFAULT_MAX_SITE_LENGTH] in keys
    per_site = len(HOSTILE_REASONS) * len(HOSTILE_IPS)
    assert {item["key"]: item["count"] for item in api_sites}['a"b'] == per_site
    assert {item["key"] for item in api_ips} == {"203.0.113.0/24", "2001:db8::/48"}
    assert {item["key"]: item["count"] for item in api_ips}["203.0.113.0/24"] == (
        2 * len(HOSTILE_SITES) * len(HOSTILE_REASONS))


def test_hostile_input_cli_text_one_line_per_site(
    hostile_prefix: str, redis_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--redis-url", redis_url, "--prefix", hostile_prefix, "top-errors", "--by",
              "site", "--limit", "500"])
    lines = capsys.readouterr().out.splitlines()

    assert exited.value.code == 0
    assert lines[0].startswith("Failures by site over 15m: ")
    assert len(lines) == 1 + int(lines[0].split(": ")[1].split()[0])
    assert any("line1\\nline2" in line for line in lines)
    assert any('a"b' in line for line in lines)
    assert any("тест ✓ 🙂" in line for line in lines)
