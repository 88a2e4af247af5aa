"""A private Prometheus that scrapes the demo's exporter, with sessionwatch's alert rules."""

from __future__ import annotations

import json
import logging
import shutil
import subprocess
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable
from pathlib import Path

from .processes import LOOPBACK, ChildProcess, wait_until

_log = logging.getLogger(__name__)

PROMETHEUS_BINARY = Path("/usr/bin/prometheus")
JOB_NAME = "sessionwatch"
SCRAPE_INTERVAL_SECONDS = 5
RULES_DIR = Path(__file__).resolve().parent.parent / "alerting" / "rules"

FAILURE_RATIO_QUERY = (
    f'sum(rate(session_refresh_failure_total{{job="{JOB_NAME}"}}[2m])) / '
    f'sum(rate({{__name__=~"session_refresh_(success|failure)_total",job="{JOB_NAME}"}}[2m]))'
)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


class PrometheusError(RuntimeError):
    """Raised when Prometheus does not start."""


def render_config(exporter_port: int, rule_files: Iterable[Path]) -> str:
    """Return prometheus.yml (as JSON, which is valid YAML) scraping the exporter."""
    config = {
        "global": {
            "scrape_interval": f"{SCRAPE_INTERVAL_SECONDS}s",
            "evaluation_interval": "15s",
        },
        "rule_files": [str(path) for path in rule_files],
        "scrape_configs": [
            {
                "job_name": JOB_NAME,
                "scrape_interval": f"{SCRAPE_INTERVAL_SECONDS}s",
                "static_configs": [{"targets": [f"{LOOPBACK}:{exporter_port}"]}],
            }
        ],
    }
    return json.dumps(config, indent=2) + "\n"


def valid_rule_files(rules_dir: Path = RULES_DIR) -> tuple[list[Path], list[str]]:
    """Return the rule files that promtool accepts, and a warning for each one it rejects.

    A rule file that Prometheus cannot load stops it from starting, so a broken file is left
    out rather than taking the whole demo down. Without promtool, files are taken unchecked.
    """
    files = sorted(rules_dir.glob("*.rules.yml")) if rules_dir.is_dir() else []
    promtool = shutil.which("promtool")
    if promtool is None:
        return files, []
    kept: list[Path] = []
    warnings: list[str] = []
    for path in files:
        result = subprocess.run([promtool, "check", "rules", str(path)], capture_output=True,
                                text=True, check=False, timeout=60)
        if result.returncode == 0:
            kept.append(path)
        else:
            reason = (result.stderr or result.stdout).strip().splitlines()[-1:]
            warnings.append(f"rule file {path} left out, promtool rejects it: {' '.join(reason)}")
    return kept, warnings


class PrometheusServer:
    """Prometheus on a loopback port, with its config and data in `workdir`."""

    def __init__(self, port: int, exporter_port: int, workdir: Path,
                 rule_files: Iterable[Path] = (), binary: Path = PROMETHEUS_BINARY) -> None:
        self.port = port
        self.exporter_port = exporter_port
        self.workdir = workdir
        self.rule_files = list(rule_files)
        self.binary = binary
        self.process: ChildProcess | None = None
        self.graph_path = "/graph"

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    @property
    def alerts_url(self) -> str:
        return self.url + self.graph_path.removesuffix("graph") + "alerts"

    def graph_url(self, query: str = FAILURE_RATIO_QUERY, range_input: str = "10m") -> str:
        """Return the URL of Prometheus' graph page with `query` ready to run."""
        params = {"g0.expr": query, "g0.tab": "0", "g0.range_input": range_input}
        return f"{self.url}{self.graph_path}?{urllib.parse.urlencode(params)}"

    def start(self, timeout: float = 30.0) -> PrometheusServer:
        self.workdir.mkdir(parents=True, exist_ok=True)
        config_path = self.workdir / "prometheus.yml"
        config_path.write_text(render_config(self.exporter_port, self.rule_files), "utf-8")
        argv = [
            str(self.binary),
            f"--config.file={config_path}",
            f"--storage.tsdb.path={self.workdir / 'data'}",
            f"--web.listen-address={LOOPBACK}:{self.port}",
            "--log.level=warn",
        ]
        self.process = ChildProcess("prometheus", argv, self.workdir / "prometheus.log").start()
        process = self.process
        if not wait_until(lambda: self._ready() or not process.running(), timeout, 0.2):
            self.stop()
            raise PrometheusError(f"Prometheus was not ready on {self.url} after {timeout:.0f} s")
        if not process.running():
            tail = process.log_tail()
            self.stop()
            raise PrometheusError(f"Prometheus exited at start:\n{tail}")
        self.graph_path = self._find_graph_path()
        return self

    def _find_graph_path(self) -> str:
        """Return the path of the graph page, which `/` redirects to.

        Debian's build ships only the classic UI, under /classic/graph; upstream builds serve
        the newer one under /graph.
        """
        request = urllib.request.Request(f"{self.url}/", method="GET")
        opener = urllib.request.build_opener(_NoRedirect)
        try:
            with opener.open(request, timeout=2):
                return "/graph"
        except urllib.error.HTTPError as exc:
            location = urllib.parse.urlsplit(exc.headers.get("Location", "")).path
            return location if location.endswith("/graph") else "/graph"
        except (urllib.error.URLError, OSError):
            return "/graph"

    def _ready(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/-/ready", timeout=1) as response:
                return bool(response.status == 200)
        except (urllib.error.URLError, OSError):
            return False

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()
            self.process = None
