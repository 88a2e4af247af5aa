"""`session-stats`: exact output, --json everywhere, and the documented exit statuses."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from sessionwatch.api_hooks import RecorderConfig, SessionMetrics
from sessionwatch.exporter.cli import main

from .support.faults import BlackHoleServer
from .support.servers import free_port

SESSION_STATS = Path(sys.executable).parent / "session-stats"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """Run `main(argv)`; return the exit status, stdout and stderr."""
    with pytest.raises(SystemExit) as exited:
        main(list(argv))
    captured = capsys.readouterr()
    code = exited.value.code
    return (code if isinstance(code, int) else 1), captured.out, captured.err


@pytest.fixture
def stats(redis_url: str, prefix: str) -> list[str]:
    """The connection options of every invocation."""
    return ["--redis-url", redis_url, "--prefix", prefix]


def record_mix(metrics: SessionMetrics) -> None:
    metrics.session_started("s1", site="Lyon")
    metrics.session_started("s2", site="Paris")
    for _ in range(3):
        metrics.refresh_succeeded("s1", site="Lyon")
    metrics.refresh_failed("expired", site="Lyon", ip="203.0.113.77")
    metrics.session_ended("s3", forced=True, reason="revoked", site="Paris")


def test_cli_summary_text(
    capsys: pytest.CaptureFixture[str], metrics: SessionMetrics, stats: list[str]
) -> None:
    record_mix(metrics)

    code, out, err = run(capsys, *stats, "summary")

    assert (code, err) == (0, "")
    first, rest = out.split("\n", 1)
    assert re.fullmatch(r"Window 15m: \d{4}-\d\d-\d\d \d\d:\d\d UTC to "
                        r"\d{4}-\d\d-\d\d \d\d:\d\d UTC", first)
    assert rest == (
        "Active sessions   2\n"
        "  Lyon: 1\n"
        "  Paris: 1\n"
        "Refreshes         4 (3 succeeded, 1 failed)\n"
        "Failure ratio     25.0 %, alert threshold 5.0 %\n"
        "Forced logouts    1\n"
        "Top errors by reason:\n"
        "    1. expired  1\n"
        "Top errors by site:\n"
        "    1. Lyon  1\n"
        "Top errors by ip:\n"
        "    1. 203.0.113.0/24  1\n"
    )


@pytest.mark.parametrize("position", ["before", "after"])
def test_cli_summary_json(
    capsys: pytest.CaptureFixture[str], metrics: SessionMetrics, stats: list[str], position: str
) -> None:
    record_mix(metrics)
    argv = [*stats, "--json", "summary"] if position == "before" else [*stats, "summary", "--json"]

    code, out, err = run(capsys, *argv)

    assert (code, err) == (0, "")
    doc = json.loads(out)
    assert doc["window"] == "15m"
    assert doc["active"] == {"total": 2, "by_site": [{"site": "Lyon", "count": 1},
                                                     {"site": "Paris", "count": 1}]}
    assert doc["refresh"]["success"] == 3
    assert doc["refresh"]["failure"] == 1
    assert doc["refresh"]["failure_ratio"] == 0.25
    assert doc["forced_logouts"] == {"total": 1, "by_reason": {"revoked": 1}}
    assert doc["top_errors"]["ip"] == [{"key": "203.0.113.0/24", "count": 1}]


def test_cli_summary_without_traffic(capsys: pytest.CaptureFixture[str], stats: list[str]) -> None:
    code, out, _ = run(capsys, *stats, "summary", "--window", "1h")

    assert code == 0
    assert out.startswith("Window 1h: ")
    assert "Failure ratio     n/a, alert threshold 5.0 %\n" in out
    assert out.endswith("Top errors by ip:\n  (none)\n")


@pytest.fixture
def ranked(redis_url: str, prefix: str) -> None:
    """45 failing /24 networks: 10.<n>.0.0/24 failed 45 - n times, so the order is known."""
    recorder = SessionMetrics.from_url(
        redis_url, config=RecorderConfig(prefix=prefix, socket_timeout=2, connect_timeout=2))
    for number in range(45):
        for _ in range(45 - number):
            recorder.refresh_failed("expired", site="Lyon", ip=f"10.{number}.0.9")
    recorder.close()


@pytest.mark.usefixtures("ranked")
def test_cli_top_errors_pages(capsys: pytest.CaptureFixture[str], stats: list[str]) -> None:
    code, first, _ = run(capsys, *stats, "top-errors", "--by", "ip", "--limit", "20")
    _, second, _ = run(capsys, *stats, "top-errors", "--limit", "20", "--offset", "20")
    _, last, _ = run(capsys, *stats, "top-errors", "--limit", "20", "--offset", "40")

    assert code == 0
    assert first.splitlines()[0] == "Failures by ip over 15m: 45 distinct, showing 1-20"
    assert first.splitlines()[1] == "    1. 10.0.0.0/24   45"
    assert first.splitlines()[10] == "   10. 10.9.0.0/24   36"
    assert first.splitlines()[-1] == "Next page: --offset 20"
    assert second.splitlines()[0] == "Failures by ip over 15m: 45 distinct, showing 21-40"
    assert second.splitlines()[1] == "   21. 10.20.0.0/24  25"
    assert second.splitlines()[-1] == "Next page: --offset 40"
    assert last == (
        "Failures by ip over 15m: 45 distinct, showing 41-45\n"
        "   41. 10.40.0.0/24  5\n"
        "   42. 10.41.0.0/24  4\n"
        "   43. 10.42.0.0/24  3\n"
        "   44. 10.43.0.0/24  2\n"
        "   45. 10.44.0.0/24  1\n"
    )


@pytest.mark.usefixtures("ranked")
def test_cli_top_errors_json_pages_cover_all(
    capsys: pytest.CaptureFixture[str], stats: list[str]
) -> None:
    seen: list[dict[str, Any]] = []
    offset: int | None = 0
    while offset is not None:
        code, out, _ = run(capsys, *stats, "top-errors", "--json", "--limit", "20",
                           "--offset", str(offset))
        assert code == 0
        page = json.loads(out)
        seen.extend(page["items"])
        offset = page["next_offset"]

    assert [item["key"] for item in seen] == [f"10.{n}.0.0/24" for n in range(45)]
    assert [item["count"] for item in seen] == list(range(45, 0, -1))


def test_cli_top_errors_empty(capsys: pytest.CaptureFixture[str], stats: list[str]) -> None:
    code, out, _ = run(capsys, *stats, "top-errors", "--by", "reason", "--window", "7d")

    assert code == 0
    assert out == "Failures by reason over 7d: 0 distinct, none on this page\n  (none)\n"


def test_cli_active_text_and_json(
    capsys: pytest.CaptureFixture[str], metrics: SessionMetrics, stats: list[str]
) -> None:
    record_mix(metrics)
    metrics.session_started("s4", site="Paris")

    code, out, _ = run(capsys, *stats, "active")
    _, as_json, _ = run(capsys, *stats, "active", "--json")

    assert code == 0
    assert out == "Active sessions: 3\n  Paris: 2\n  Lyon: 1\n"
    doc = json.loads(as_json)
    assert doc["total"] == 3
    assert doc["by_site"] == [{"site": "Paris", "count": 2}, {"site": "Lyon", "count": 1}]


def test_cli_check_breached_exits_2(
    capsys: pytest.CaptureFixture[str], metrics: SessionMetrics, stats: list[str]
) -> None:
    record_mix(metrics)

    code, out, err = run(capsys, *stats, "check")
    json_code, as_json, _ = run(capsys, *stats, "check", "--json")

    assert (code, err) == (2, "")
    assert out == ("BREACHED: failure ratio 25.0 % (1 of 4 refreshes) over 15m, "
                   "limit 5.0 %\n")
    assert json_code == 2
    assert json.loads(as_json) == {
        "window": "15m", "refreshes": 4, "failures": 1, "failure_ratio": 0.25,
        "max_failure_ratio": 0.05, "min_refreshes": 0, "breached": True,
    }


@pytest.mark.parametrize("options", [
    pytest.param(["--max-failure-ratio", "0.25"], id="at-limit"),
    pytest.param(["--max-failure-ratio", "0.5", "--window", "1h"], id="below-limit"),
    pytest.param(["--min-refreshes", "10"], id="too-few-refreshes"),
])
def test_cli_check_ok_exits_0(
    capsys: pytest.CaptureFixture[str], metrics: SessionMetrics, stats: list[str],
    options: list[str],
) -> None:
    record_mix(metrics)

    code, out, _ = run(capsys, *stats, "check", *options)

    assert code == 0
    assert out.startswith("OK: failure ratio 25.0 % (1 of 4 refreshes) over ")


def test_cli_check_without_traffic_is_ok(
    capsys: pytest.CaptureFixture[str], stats: list[str]
) -> None:
    code, out, err = run(capsys, *stats, "check")

    assert code == 0
    assert out == "OK: no refresh over 15m, nothing to check (limit 5.0 %)\n"
    assert "no session data under prefix" in err


def test_cli_check_below_min_refreshes_says_why(
    capsys: pytest.CaptureFixture[str], stats: list[str], metrics: SessionMetrics
) -> None:
    metrics.refresh_failed("network", site="Lyon")
    metrics.refresh_succeeded("s1", site="Lyon")

    code, out, err = run(capsys, *stats, "check", "--min-refreshes", "100")

    assert code == 0
    assert out.endswith("; passes because fewer than --min-refreshes 100\n")
    assert err == ""


@pytest.mark.parametrize(("argv", "message"), [
    (["--bogus", "summary"], "Error: No such option '--bogus'. Try 'session-stats --help'."),
    (["summary", "--window", "3m"],
     "Error: Invalid value for '--window': '3m' is not one of '5m', '15m', '1h', '24h', '7d'. "
     "Try 'session-stats summary --help'."),
    (["top-errors", "--by", "user"],
     "Error: Invalid value for '--by': 'user' is not one of 'ip', 'site', 'reason'. "
     "Try 'session-stats top-errors --help'."),
    (["top-errors", "--limit", "0"],
     "Error: Invalid value for '--limit': 0 is not in the range 1<=x<=500. "
     "Try 'session-stats top-errors --help'."),
    (["check", "--max-failure-ratio", "2"],
     "Error: Invalid value for '--max-failure-ratio': 2.0 is not in the range 0<=x<=1. "
     "Try 'session-stats check --help'."),
    (["--prefix", "a{b", "active"],
     "Error: Invalid value for '--prefix': invalid key prefix 'a{b': use 1 to 64 characters "
     "among letters, digits, '_', '.', ':' and '-'. Try 'session-stats --help'."),
    (["--redis-url", "localhost:6379", "active"],
     "Error: Invalid value for '--redis-url': Redis URL must specify one of the following "
     "schemes (redis://, rediss://, unix://). Try 'session-stats active --help'."),
    (["frobnicate"], "Error: No such command 'frobnicate'. Try 'session-stats --help'."),
])
def test_cli_usage_error_one_line_exit_64(
    capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    code, out, err = run(capsys, *argv)

    assert code == 64
    assert out == ""
    assert err == message + "\n"


def test_cli_redis_down_one_line_exit_1(capsys: pytest.CaptureFixture[str]) -> None:
    port = free_port()

    for command in (["summary"], ["top-errors"], ["active"], ["check"], ["--json", "summary"]):
        code, out, err = run(capsys, "--redis-url", f"redis://127.0.0.1:{port}/0", *command)

        assert code == 1, command
        assert out == "", command
        assert err == (f"Error: cannot read Redis at redis://127.0.0.1:{port}/0: "
                       f"ConnectionError: Error 111 connecting to 127.0.0.1:{port}. "
                       "Connection refused.\n"), command


def test_cli_redis_down_hides_password(capsys: pytest.CaptureFixture[str]) -> None:
    port = free_port()

    code, _, err = run(capsys, "--redis-url", f"redis://app:s3cret-pw@127.0.0.1:{port}/0",
                       "active")

    assert code == 1
    assert "s3cret-pw" not in err
    assert f"redis://app:***@127.0.0.1:{port}/0" in err


def test_cli_entry_point_redis_down_no_traceback() -> None:
    port = free_port()

    result = subprocess.run(
        [str(SESSION_STATS), "--redis-url", f"redis://127.0.0.1:{port}/0", "--timeout", "1",
         "summary"], capture_output=True, text=True, timeout=60, check=False)

    assert result.returncode == 1
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    assert len(result.stderr.splitlines()) == 1


def test_cli_entry_point_redis_hung_times_out(prefix: str) -> None:
    with BlackHoleServer() as hole:
        result = subprocess.run(
            [str(SESSION_STATS), "--redis-url", hole.url, "--prefix", prefix, "--timeout",
             "0.5", "active"], capture_output=True, text=True, timeout=60, check=False)

    assert result.returncode == 1
    assert result.stderr.startswith(f"Error: cannot read Redis at {hole.url}: TimeoutError: ")
    assert len(result.stderr.splitlines()) == 1


def test_cli_help_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--help")

    assert code == 0
    assert out.startswith("Usage: session-stats [OPTIONS] COMMAND [ARGS]...")
    for command in ("summary", "top-errors", "active", "check"):
        assert f"  {command} " in out
