"""End to end: recorder → Redis → exporter → Prometheus rules → Alertmanager → e-mail.

Prometheus loads the e2e profile of the rules (a 1-minute window and 10-second `for:` made
from the same template as the shipped rules), Alertmanager uses the shipped configuration with
only the SMTP relay and the grouping delays changed, and an SMTP sink on loopback receives
the mail.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sessionwatch.api_hooks import RecorderConfig, SessionMetrics
from sessionwatch.exporter.app import create_app
from sessionwatch.exporter.settings import ExporterSettings

from ..support.alertmanager import AlertmanagerServer, SMTPSink, shipped_config_for_sink
from ..support.prometheus import PrometheusServer
from ..support.servers import RedisServer, UvicornThread
from .tools import output_of, run_generator

pytestmark = [pytest.mark.slow, pytest.mark.prometheus]

ALERT = "SessionRefreshFailureRateHigh"


def alertmanager_test_config(smtp_port: int) -> dict[str, Any]:
    """Return the shipped Alertmanager config sending to the sink, never repeating a mail."""
    config = shipped_config_for_sink(smtp_port)
    config["route"]["repeat_interval"] = "1h"
    for route in config["route"]["routes"]:
        route["repeat_interval"] = "1h"
    return config


class Traffic:
    """Record refreshes on one site in a thread: 100 a second, `failure_share` of them failed."""

    def __init__(self, metrics: SessionMetrics) -> None:
        self.metrics = metrics
        self.failure_share = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        sent = 0
        while not self._stop.wait(0.1):
            for _ in range(10):
                sent += 1
                if sent % 100 < self.failure_share * 100:
                    self.metrics.refresh_failed("network", site="Lyon", ip="203.0.113.5")
                else:
                    self.metrics.refresh_succeeded(f"s{sent % 50}", site="Lyon")

    def __enter__(self) -> Traffic:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join(5)


def wait_for_mail(smtp: SMTPSink, matches: Callable[[str], bool], timeout: float,
                  what: str, prometheus: PrometheusServer) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for message in smtp.received():
            subject = str(message["Subject"])
            if matches(subject):
                return subject
        time.sleep(0.5)
    subjects = [str(message["Subject"]) for message in smtp.received()]
    alerts = prometheus.query("ALERTS")
    raise AssertionError(f"no {what} e-mail in {timeout} s; subjects: {subjects}; ALERTS: {alerts}")


@pytest.fixture
def e2e_rules(tmp_path: Path) -> Path:
    path = tmp_path / "sessionwatch.e2e.rules.yml"
    result = run_generator("--profile", "e2e", "--out", str(path))
    assert result.returncode == 0, output_of(result)
    return path


@pytest.fixture
def pipeline(redis_server: RedisServer, prefix: str, e2e_rules: Path
             ) -> Iterator[tuple[SessionMetrics, SMTPSink, PrometheusServer]]:
    metrics = SessionMetrics.from_url(
        redis_server.url, config=RecorderConfig(prefix=prefix, socket_timeout=2,
                                                connect_timeout=2),
    )
    settings = ExporterSettings(redis_url=redis_server.url, prefix=prefix)
    with SMTPSink() as smtp, \
            AlertmanagerServer(alertmanager_test_config(smtp.port)) as alertmanager, \
            UvicornThread(create_app(settings)) as exporter:
        prometheus = PrometheusServer(
            [f"127.0.0.1:{exporter.port}"],
            scrape_interval="1s",
            rule_files=[e2e_rules],
            extra_config={"alerting": {"alertmanagers": [
                {"static_configs": [{"targets": [f"127.0.0.1:{alertmanager.port}"]}]}
            ]}},
        )
        with prometheus:
            yield metrics, smtp, prometheus
    metrics.close()


def test_failure_rate_alert_mails_then_resolves(
    pipeline: tuple[SessionMetrics, SMTPSink, PrometheusServer],
) -> None:
    metrics, smtp, prometheus = pipeline

    with Traffic(metrics) as traffic:
        traffic.failure_share = 0.10
        firing = wait_for_mail(smtp, lambda s: s.startswith("[ALERTE") and s.endswith(ALERT),
                               150, "firing", prometheus)
        assert firing.startswith("[ALERTE critical]"), firing

        traffic.failure_share = 0.0
        resolved = wait_for_mail(smtp, lambda s: s.startswith("[RÉSOLU]") and s.endswith(ALERT),
                                 180, "resolved", prometheus)
        assert resolved.startswith("[RÉSOLU]"), resolved

    bodies = []
    for message in smtp.received():
        part = message.get_body(preferencelist=("plain",))
        if str(message["Subject"]).endswith(ALERT) and part is not None:
            bodies.append(part.get_content())
    assert any("#sessionrefreshfailureratehigh" in body for body in bodies), bodies
