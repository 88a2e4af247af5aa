"""A private Prometheus server for tests, and `promtool check metrics`.

`PrometheusServer` writes its own config (loopback targets, 1 s scrape interval), keeps its
TSDB in a temporary folder and listens on a free loopback port. It reads and writes nothing
outside the test.
"""

from __future__ import annotations

import contextlib
import subprocess
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import httpx
import yaml

from .servers import HttpServerProcess

PROMETHEUS_BINARY = "/usr/bin/prometheus"
PROMTOOL_BINARY = "/usr/bin/promtool"


def promtool_check_metrics(exposition: str) -> subprocess.CompletedProcess[str]:
    """Run `promtool check metrics` on a text exposition (format 0.0.4, not OpenMetrics).

    promtool prints one line per lint problem and exits non-zero when it finds any.
    """
    return subprocess.run(
        [PROMTOOL_BINARY, "check", "metrics"], input=exposition, capture_output=True,
        text=True, timeout=30, check=False,
    )


class PrometheusServer(HttpServerProcess):
    """Run /usr/bin/prometheus scraping `targets` (host:port, loopback) every `scrape_interval`.

    `rule_files` are copied into the generated config as they are; `extra_config` is merged
    into the top level of the config (for example an `alerting` section).
    """

    def __init__(
        self,
        targets: Sequence[str],
        *,
        job: str = "sessionwatch",
        scrape_interval: str = "1s",
        metrics_path: str = "/metrics",
        rule_files: Sequence[str | Path] = (),
        extra_config: dict[str, Any] | None = None,
    ) -> None:
        super().__init__("prometheus", PROMETHEUS_BINARY, package="prometheus")
        self.config_path = self.workdir / "prometheus.yml"
        config: dict[str, Any] = {
            "global": {"scrape_interval": scrape_interval, "evaluation_interval": scrape_interval},
            "scrape_configs": [{
                "job_name": job,
                "metrics_path": metrics_path,
                "scrape_timeout": scrape_interval,
                "static_configs": [{"targets": list(targets)}],
            }],
        }
        if rule_files:
            config["rule_files"] = [str(path) for path in rule_files]
        config.update(extra_config or {})
        self.config_path.write_text(yaml.safe_dump(config), "utf-8")

    @property
    def command(self) -> list[str]:
        return [PROMETHEUS_BINARY, f"--config.file={self.config_path}",
                f"--storage.tsdb.path={self.workdir / 'data'}",
                f"--web.listen-address=127.0.0.1:{self.port}", "--log.level=warn"]

    def query(self, expr: str) -> list[dict[str, Any]]:
        """Run an instant query and return its result vector (an error status raises)."""
        response = httpx.get(f"{self.url}/api/v1/query", params={"query": expr}, timeout=10)
        body = response.json()
        if body.get("status") != "success":
            raise RuntimeError(f"query {expr!r} failed: {body}")
        result: list[dict[str, Any]] = body["data"]["result"]
        return result

    def wait_for(
        self,
        expr: str,
        condition: Callable[[list[dict[str, Any]]], bool],
        timeout: float = 30.0,
    ) -> list[dict[str, Any]]:
        """Poll `expr` until `condition(result)` holds; raise TimeoutError with the last result."""
        deadline = time.monotonic() + timeout
        result: list[dict[str, Any]] = []
        while time.monotonic() < deadline:
            result = self.query(expr)
            if condition(result):
                return result
            time.sleep(0.25)
        raise TimeoutError(f"{expr!r} never met the condition in {timeout} s; last: {result}")

    def targets(self) -> list[dict[str, Any]]:
        response = httpx.get(f"{self.url}/api/v1/targets", timeout=10)
        active: list[dict[str, Any]] = response.json()["data"]["activeTargets"]
        return active


@contextlib.contextmanager
def prometheus_server(targets: Sequence[str], **options: Any) -> Iterator[PrometheusServer]:
    server = PrometheusServer(targets, **options).start()
    try:
        yield server
    finally:
        server.stop()
