"""Drive an HTTP endpoint with wrk (Debian package `wrk`) and read its figures back."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

# wrk runs this Lua: each request takes the next token of the list, and `done` prints one JSON
# line (latencies in microseconds) that `run_wrk` parses.
SCRIPT_TEMPLATE = """
local tokens = {%(tokens)s}
local next_token = 0
request = function()
  next_token = next_token %% #tokens + 1
  return wrk.format("POST", nil, {["Authorization"] = "Bearer " .. tokens[next_token]}, "")
end
done = function(summary, latency, requests)
  local errors = summary.errors
  io.write(string.format(
    'BENCH {"requests": %%d, "duration_us": %%d, "p50_us": %%d, "p99_us": %%d, ' ..
    '"socket_errors": %%d, "bad_status": %%d}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    errors.connect + errors.read + errors.write + errors.timeout, errors.status))
end
"""


class WrkMissingError(RuntimeError):
    """Raised when wrk is not installed and cannot be installed here."""


def ensure_wrk() -> str:
    """Return the path of wrk, installing the Debian package first when running as root."""
    path = shutil.which("wrk")
    if path:
        return path
    if os.geteuid() == 0 and shutil.which("apt-get"):
        for command in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "wrk"]):
            subprocess.run(command, check=False, capture_output=True, timeout=600,
                           env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})
        path = shutil.which("wrk")
        if path:
            return path
    raise WrkMissingError(
        "wrk is not installed and could not be installed: run `apt-get install wrk` as root "
        "(Debian package wrk), then run the benchmark again"
    )


@dataclass(frozen=True)
class WrkResult:
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    socket_errors: int
    bad_status: int

    @property
    def rps(self) -> float:
        return self.requests / self.seconds


def write_script(tokens: list[str], directory: Path) -> Path:
    path = directory / "refresh.lua"
    quoted = ", ".join(f'"{token}"' for token in tokens)
    path.write_text(SCRIPT_TEMPLATE % {"tokens": quoted}, "utf-8")
    return path


def run_wrk(url: str, script: Path, seconds: float, connections: int = 16,
            threads: int = 1, cpus: set[int] | None = None) -> WrkResult:
    """Load `url` for `seconds` with `connections` keep-alive connections; parse the figures."""
    command = [ensure_wrk(), f"-t{threads}", f"-c{connections}", f"-d{seconds:g}s",
               "--timeout", "5s", "-s", str(script), url]
    pin = (lambda: os.sched_setaffinity(0, cpus)) if cpus else None
    completed = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60,
                               check=False, preexec_fn=pin)
    for line in completed.stdout.splitlines():
        if line.startswith("BENCH "):
            data = json.loads(line[len("BENCH "):])
            return WrkResult(data["requests"], data["duration_us"] / 1e6, data["p50_us"] / 1e3,
                             data["p99_us"] / 1e3, data["socket_errors"], data["bad_status"])
    raise RuntimeError(f"wrk printed no figures (exit {completed.returncode}):\n"
                       f"{completed.stdout}\n{completed.stderr}")


def scratch_directory() -> Path:
    return Path(tempfile.mkdtemp(prefix="sessionwatch-bench-"))
