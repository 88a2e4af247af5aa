"""The text the demo prints once everything runs: where to look and what to type."""

from __future__ import annotations

import shlex
import sys
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from .prometheus_launcher import PrometheusServer
from .redis_launcher import RedisTarget

ADMIN_JSON_PATH = "/v1/admin/sessions/metrics?window=15m"


@dataclass(frozen=True)
class DemoInfo:
    """Addresses and settings of the running demo, with durations in real seconds."""

    auth_url: str
    exporter_url: str
    admin_token: str
    redis: RedisTarget
    prefix: str
    prometheus: PrometheusServer | None
    prometheus_note: str
    workdir: Path
    sites: tuple[str, ...]
    cashiers: int
    speed: float
    token_lifetime: float
    activity_threshold: float
    warnings: tuple[str, ...] = ()


def session_stats_command() -> str:
    """Return how to call session-stats: the script next to this Python if it exists."""
    script = Path(sys.executable).parent / "session-stats"
    return shlex.quote(str(script)) if script.is_file() else "session-stats"


def _redis_url_argument(url: str) -> str:
    # A URL with a password is not printed; the user's own variable carries it.
    if urlsplit(url).password:
        return '"$SESSIONWATCH_REDIS_URL"'
    return shlex.quote(url)


def banner_text(info: DemoInfo) -> str:
    admin_json = info.exporter_url + ADMIN_JSON_PATH
    stats = (f"{session_stats_command()} --redis-url {_redis_url_argument(info.redis.url)} "
             f"--prefix {shlex.quote(info.prefix)}")
    speed = f"{info.speed:g}"
    lines = [f"WARNING: {warning}" for warning in info.warnings]
    lines += [
        "",
        f"sessionwatch demo: {len(info.sites)} sites x {info.cashiers} cashier tablets "
        f"({', '.join(info.sites)}), time x{speed}: tokens last {info.token_lifetime:g} s, "
        f"idle limit {info.activity_threshold:g} s",
        "",
        f"  Cashier page    {info.auth_url}/",
        f"  Metrics         {info.exporter_url}/metrics",
        f"  Admin page      {info.exporter_url}/admin",
        f"  Admin JSON      {admin_json}",
        f"  Admin token     {info.admin_token}",
    ]
    if info.prometheus is not None:
        lines += [
            f"  Prometheus      {info.prometheus.graph_url()}",
            f"  Alerts          {info.prometheus.alerts_url}",
            f"  Prometheus API  {info.prometheus.url}/api/v1/query",
        ]
    else:
        lines.append(f"  Prometheus      {info.prometheus_note}")
    lines += [
        f"  Redis           {info.redis.describe()}",
        f"  Key prefix      {info.prefix}",
        f"  Work dir        {info.workdir} (removed on exit)",
        "",
        "Try:",
        f"  curl -s -H 'Authorization: Bearer {info.admin_token}' '{admin_json}'",
        f"  {stats} summary",
        f"  {stats} top-errors --by ip",
        f"  {stats} check --max-failure-ratio 0.05",
        "",
        "Press Ctrl-C to stop.",
    ]
    return "\n".join(lines)
