"""Real servers for tests on free loopback ports: private redis-server processes, uvicorn apps
and server binaries such as Prometheus that report readiness over HTTP."""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Self

import httpx
import redis
import uvicorn


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, host: str = "127.0.0.1", timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.2):
            return
        time.sleep(0.02)
    raise TimeoutError(f"nothing listens on {host}:{port} after {timeout} s")


class RedisServer:
    """A private `redis-server` on a free loopback port, with nothing on disk."""

    def __init__(self, port: int | None = None, extra_args: tuple[str, ...] = ()) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is not installed (Debian package redis-server)")
        self.binary = binary
        self.port = port or free_port()
        self.extra_args = extra_args
        self.workdir = Path(tempfile.mkdtemp(prefix="sessionwatch-redis-"))
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.workdir), *self.extra_args],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with contextlib.suppress(redis.ConnectionError):
                if redis.Redis(port=self.port, socket_timeout=0.5).ping():
                    return self
            time.sleep(0.02)
        raise TimeoutError(f"redis-server did not start on port {self.port}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)
        self.process = None
        shutil.rmtree(self.workdir, ignore_errors=True)

    def stop_keeping_data(self) -> None:
        """Stop the server after it saves its data set, so `start()` brings it back intact.

        The default `stop()` loses everything, like a Redis without persistence.
        """
        if self.process is None or self.process.poll() is not None:
            return
        with contextlib.suppress(redis.ConnectionError):  # the server closes the connection
            redis.Redis(port=self.port, socket_timeout=10).shutdown(save=True)
        self.process.wait(10)
        self.process = None

    def kill(self) -> None:
        """Stop the server at once with SIGKILL (for a server stuck in DEBUG SLEEP)."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)
        self.process = None
        shutil.rmtree(self.workdir, ignore_errors=True)

    def client(self, **kwargs: Any) -> redis.Redis:
        return redis.Redis(port=self.port, **kwargs)


class UvicornThread:
    """Serve an ASGI app with uvicorn in a background thread on a free loopback port."""

    def __init__(self, app: Any, port: int | None = None, host: str = "127.0.0.1") -> None:
        self.host = host
        self.port = port or free_port()
        config = uvicorn.Config(app, host=host, port=self.port, log_level="warning",
                                lifespan="on")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def __enter__(self) -> UvicornThread:
        self.thread.start()
        deadline = time.monotonic() + 15
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise TimeoutError(f"uvicorn did not start on {self.url}")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.server.should_exit = True
        self.thread.join(15)


class HttpServerProcess:
    """A server binary on a free loopback port, run in its own temporary folder.

    Its output goes to `log_path` in that folder. `start` waits until `GET /-/ready` returns
    200, the readiness endpoint of Prometheus and Alertmanager. A subclass writes its config
    into `workdir` and returns the command line from `command`.
    """

    def __init__(self, name: str, binary: str, package: str) -> None:
        if shutil.which(binary) is None:
            raise RuntimeError(f"{Path(binary).name} is not installed (Debian package {package})")
        self.name = name
        self.port = free_port()
        self.workdir = Path(tempfile.mkdtemp(prefix=f"sessionwatch-{name}-"))
        self.log_path = self.workdir / f"{name}.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def command(self) -> list[str]:
        raise NotImplementedError

    def start(self, timeout: float = 30.0) -> Self:
        """Start the process and wait up to `timeout` seconds until it is ready.

        If it exits or is not ready in time, stop it, delete `workdir` and raise with the
        end of its log.
        """
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(self.command, stdout=log, stderr=subprocess.STDOUT)
        try:
            self._wait_until_ready(self.process, timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_until_ready(self, process: subprocess.Popen[bytes], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"{self.name} exited at startup: {self.log_tail()}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.url}/-/ready", timeout=1).status_code == 200:
                    return
            time.sleep(0.1)
        raise TimeoutError(f"{self.name} not ready after {timeout} s: {self.log_tail()}")

    def stop(self) -> None:
        """Stop the process with SIGTERM (SIGKILL after 15 s) and delete `workdir`."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        self.process = None
        shutil.rmtree(self.workdir, ignore_errors=True)

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text("utf-8", "replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


@contextlib.contextmanager
def redis_server(extra_args: tuple[str, ...] = ()) -> Iterator[RedisServer]:
    server = RedisServer(extra_args=extra_args).start()
    try:
        yield server
    finally:
        server.stop()
