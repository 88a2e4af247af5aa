"""Run the refresh service and the load client as separate processes on loopback."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from .load_client import Record
from .servers import free_port, wait_for_port

REPO_ROOT = Path(__file__).resolve().parents[2]


@dataclass
class ServiceProcess:
    """A running refresh service: its URL, process and the file its stderr goes to."""

    url: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def recorder(self) -> dict[str, Any]:
        """Return the recorder health that ``GET /test/recorder`` reports."""
        health: dict[str, Any] = httpx.get(f"{self.url}/test/recorder", timeout=10).json()
        return health

    def log_lines(self) -> list[str]:
        return self.log_path.read_text("utf-8", "replace").splitlines()


@contextmanager
def refresh_service(redis_url: str, prefix: str, log_path: Path, *, buffered: bool = True,
                    timeout_ms: float = 50, breaker_max_cooldown: float = 30,
                    max_pending_updates: int = 500_000) -> Iterator[ServiceProcess]:
    """Serve tests.support.refresh_service with uvicorn in a child process; stop it with
    SIGTERM (a graceful shutdown, which closes the recorder) when the block ends."""
    port = free_port()
    env = {
        **os.environ,
        "SWTEST_REDIS_URL": redis_url,
        "SWTEST_BUFFERED": "1" if buffered else "0",
        "SWTEST_BREAKER_MAX_COOLDOWN": str(breaker_max_cooldown),
        "SWTEST_MAX_PENDING_UPDATES": str(max_pending_updates),
        "SESSIONWATCH_PREFIX": prefix,
        "SESSIONWATCH_REDIS_TIMEOUT_MS": str(timeout_ms),
    }
    command = [sys.executable, "-m", "uvicorn", "--factory",
               "tests.support.refresh_service:app_from_env", "--host", "127.0.0.1",
               "--port", str(port), "--no-access-log", "--log-level", "warning"]
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, cwd=REPO_ROOT, env=env, stdout=log, stderr=log)
    try:
        wait_for_port(port, timeout=30)
        yield ServiceProcess(f"http://127.0.0.1:{port}", process, log_path)
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)


def start_load_client(url: str, out: Path, *, rate: float, duration: float,
                      sessions: int = 20, invalid_every: int = 10) -> subprocess.Popen[bytes]:
    """Start tests.support.load_client in a child process; read its records with
    `load_records` once it has exited."""
    command = [sys.executable, "-m", "tests.support.load_client", url, "--rate", str(rate),
               "--duration", str(duration), "--sessions", str(sessions),
               "--invalid-every", str(invalid_every), "--out", str(out)]
    return subprocess.Popen(command, cwd=REPO_ROOT)


def load_records(out: Path) -> list[Record]:
    return [tuple(record) for record in json.loads(out.read_text("utf-8"))]  # type: ignore[misc]
