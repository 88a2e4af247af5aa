"""Servers the benchmarks start in processes of their own, on free loopback ports."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

from tests.support.servers import free_port, wait_for_port

REPO_ROOT = Path(__file__).resolve().parent.parent


def pin_to(cpus: set[int] | None) -> Callable[[], None] | None:
    """Return a `preexec_fn` that keeps a child process (and its threads) on `cpus`."""
    if cpus is None:
        return None
    return lambda: os.sched_setaffinity(0, cpus)


def split_cpus() -> tuple[set[int], set[int]] | None:
    """Return (CPUs for the server under test, CPUs for the load and Redis), or None when
    the machine has a single CPU."""
    available = sorted(os.sched_getaffinity(0))
    if len(available) < 2:
        return None
    return {available[-1]}, set(available[:-1])


class UvicornProcess:
    """Serve an app factory (``module:function``) with uvicorn in a child process."""

    def __init__(self, factory: str, env: dict[str, str], cpus: set[int] | None = None) -> None:
        self.factory = factory
        self.env = env
        self.cpus = cpus
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        if self.process is None:
            raise RuntimeError("the server process is not running")
        return self.process.pid

    def __enter__(self) -> UvicornProcess:
        command = [sys.executable, "-m", "uvicorn", "--factory", self.factory,
                   "--host", "127.0.0.1", "--port", str(self.port),
                   "--log-level", "warning", "--no-access-log"]
        env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), **self.env}
        self.process = subprocess.Popen(command, env=env, cwd=REPO_ROOT,
                                        preexec_fn=pin_to(self.cpus))
        try:
            wait_for_port(self.port, timeout=30)
        except TimeoutError:
            self.stop()
            raise
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.stop()

    def stop(self) -> None:
        """Stop with SIGINT, as a terminal would, so the app's lifespan shutdown runs."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)
