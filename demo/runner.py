"""Start the demo's pieces in order, run the traffic, and stop everything on a signal.

Order: Redis, Prometheus (a child process, so it is forked before any thread exists), the
auth service and the exporter (uvicorn, each in a thread of this process), then the traffic
generator on the main thread's event loop. Stopping runs in reverse and removes the work
directory.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import shutil
import signal
import tempfile
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import uvicorn
from sessionwatch.api_hooks import AsyncSessionMetrics, IPMode, RecorderConfig
from sessionwatch.exporter.app import create_app as create_exporter_app
from sessionwatch.exporter.settings import ExporterSettings

from .auth_service import DemoSettings
from .auth_service import create_app as create_auth_app
from .banner import DemoInfo, banner_text
from .processes import LOOPBACK, choose_port, wait_until
from .prometheus_launcher import (
    PROMETHEUS_BINARY,
    PrometheusError,
    PrometheusServer,
    valid_rule_files,
)
from .redis_launcher import RedisMode, RedisTarget, connect_redis
from .traffic import TrafficConfig, TrafficGenerator

_log = logging.getLogger(__name__)

# Demo minutes at speed 1: short enough that refreshes and idle refusals happen often.
TOKEN_LIFETIME_MINUTES = 5.0
ACTIVITY_THRESHOLD_MINUTES = 10.0
# Real seconds, not demo time: the browser's timeouts and storage lease (20 s) do not speed up.
ROTATION_GRACE_SECONDS = 30.0
TRUSTED_PROXIES = ("127.0.0.1/32", "::1/128")


class DemoError(RuntimeError):
    """Raised when a piece of the demo cannot start; the message includes the next step."""


@dataclass(frozen=True)
class DemoOptions:
    """The command line, validated."""

    redis_url: str | None
    redis_mode: RedisMode
    prefix: str
    auth_port: int | None
    exporter_port: int | None
    prometheus_port: int | None
    sites: tuple[str, ...]
    cashiers: int
    speed: float
    prometheus: bool
    duration: float | None
    seed: int | None
    status_interval: float


class ServerThread:
    """Serve an ASGI app with uvicorn on its own event loop in a daemon thread."""

    def __init__(self, name: str, app: Any, port: int,
                 on_stop: Callable[[], Awaitable[None]] | None = None) -> None:
        self.name = name
        self.port = port
        self.on_stop = on_stop
        config = uvicorn.Config(app, host=LOOPBACK, port=port, log_level="warning",
                                access_log=False, timeout_graceful_shutdown=5)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self._run, name=name, daemon=True)

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    def _run(self) -> None:
        # uvicorn exits with SystemExit when it cannot bind; start() reports that.
        with contextlib.suppress(SystemExit):
            asyncio.run(self._serve())

    async def _serve(self) -> None:
        try:
            await self.server.serve()
        finally:
            if self.on_stop is not None:
                await self.on_stop()

    def start(self, timeout: float = 20.0) -> ServerThread:
        self.thread.start()
        wait_until(lambda: self.server.started or not self.thread.is_alive(), timeout, 0.05)
        if not self.server.started:
            raise DemoError(f"the {self.name} did not start on {self.url}; is the port taken?")
        return self

    def stop(self, timeout: float = 15.0) -> None:
        if self.thread.is_alive():
            self.server.should_exit = True
            self.thread.join(timeout)
            if self.thread.is_alive():
                _log.warning("the %s did not stop within %.0f s", self.name, timeout)


class Demo:
    """Everything the demo started, so `stop` can undo it whatever failed halfway."""

    def __init__(self, options: DemoOptions) -> None:
        self.options = options
        self.workdir = Path(tempfile.mkdtemp(prefix="sessionwatch-demo-"))
        self.redis: RedisTarget | None = None
        self.prometheus: PrometheusServer | None = None
        self.servers: list[ServerThread] = []
        self.admin_token = secrets.token_urlsafe(24)
        self.warnings: list[str] = []

    def start(self) -> DemoInfo:
        options = self.options
        auth_port = choose_port(options.auth_port, 8000, "--auth-port")
        exporter_port = choose_port(options.exporter_port, 9465, "--exporter-port")
        self.redis = connect_redis(options.redis_mode, options.redis_url, self.workdir / "redis")
        prometheus_note = self._start_prometheus(exporter_port)
        self.servers.append(self._auth_service(auth_port).start())
        exporter_settings = ExporterSettings(redis_url=self.redis.url, prefix=options.prefix,
                                             port=exporter_port, admin_token=self.admin_token)
        self.servers.append(
            ServerThread("exporter", create_exporter_app(exporter_settings), exporter_port).start()
        )
        return DemoInfo(
            auth_url=f"http://{LOOPBACK}:{auth_port}",
            exporter_url=f"http://{LOOPBACK}:{exporter_port}",
            admin_token=self.admin_token,
            redis=self.redis,
            prefix=options.prefix,
            prometheus=self.prometheus,
            prometheus_note=prometheus_note,
            workdir=self.workdir,
            sites=options.sites,
            cashiers=options.cashiers,
            speed=options.speed,
            token_lifetime=self.token_lifetime,
            activity_threshold=self.activity_threshold,
            warnings=tuple(self.warnings),
        )

    @property
    def token_lifetime(self) -> float:
        """Token lifetime in real seconds."""
        return TOKEN_LIFETIME_MINUTES * 60 / self.options.speed

    @property
    def activity_threshold(self) -> float:
        """Idle time after which a refresh is refused, in real seconds."""
        return ACTIVITY_THRESHOLD_MINUTES * 60 / self.options.speed

    def _auth_service(self, port: int) -> ServerThread:
        options = self.options
        assert self.redis is not None
        settings = DemoSettings(
            redis_url=self.redis.url,
            prefix=options.prefix,
            token_expiration_minutes=TOKEN_LIFETIME_MINUTES / options.speed,
            activity_threshold=ACTIVITY_THRESHOLD_MINUTES / options.speed,
            trusted_proxies=TRUSTED_PROXIES,
            rotation_grace_seconds=ROTATION_GRACE_SECONDS,
            sites=options.sites,
        )
        # Full addresses make the per-tablet ranking readable; they are made-up private ones.
        # The timeouts are longer than the recorder's defaults because the demo shares two
        # cores with Prometheus and the traffic.
        config = RecorderConfig(prefix=options.prefix, ip_mode=IPMode.FULL,
                                socket_timeout=0.5, connect_timeout=0.5)
        metrics = AsyncSessionMetrics.from_url(self.redis.url, config=config)
        return ServerThread("auth service", create_auth_app(settings, metrics=metrics), port,
                            on_stop=metrics.aclose)

    def _start_prometheus(self, exporter_port: int) -> str:
        """Start Prometheus if wanted and installed; return a note on its state."""
        if not self.options.prometheus:
            return "off (--no-prometheus)"
        if not PROMETHEUS_BINARY.is_file():
            return f"not installed ({PROMETHEUS_BINARY} missing: apt-get install prometheus)"
        port = choose_port(self.options.prometheus_port, 9090, "--prometheus-port")
        rule_files, warnings = valid_rule_files()
        self.warnings.extend(warnings)
        server = PrometheusServer(port, exporter_port, self.workdir / "prometheus", rule_files)
        try:
            self.prometheus = server.start()
        except PrometheusError as exc:
            self.warnings.append(f"Prometheus did not start: {exc}")
            return "failed to start (see the warning above)"
        count = len(rule_files)
        return f"scrapes the exporter every 5 s, {count} rule file{'s' if count != 1 else ''}"

    def traffic_config(self, base_url: str) -> TrafficConfig:
        options = self.options
        return TrafficConfig(
            base_url=base_url,
            sites=options.sites,
            cashiers_per_site=options.cashiers,
            speed=options.speed,
            token_lifetime=self.token_lifetime,
            activity_threshold=self.activity_threshold,
            # The last site plays the shop with flaky Wi-Fi.
            flaky_sites=options.sites[-1:],
            client_events_path=DemoSettings.client_events_path,
            forwarded_ips=True,
            seed=options.seed,
        )

    def stop(self) -> None:
        """Stop whatever runs, in reverse order of start; safe to call more than once."""
        if self.prometheus is not None:
            self.prometheus.stop()
            self.prometheus = None
        for server in reversed(self.servers):
            server.stop()
        self.servers.clear()
        if self.redis is not None:
            self.redis.stop()
            self.redis = None
        shutil.rmtree(self.workdir, ignore_errors=True)


async def run_traffic(generator: TrafficGenerator, duration: float | None,
                      status_interval: float) -> None:
    """Run the traffic until SIGINT, SIGTERM or `duration` seconds, printing its status."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    traffic = asyncio.create_task(generator.run(), name="traffic")
    status = asyncio.create_task(_print_status(generator, status_interval), name="status")
    try:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(_first(stop.wait(), traffic), duration)
    finally:
        for task in (traffic, status):
            task.cancel()
        await asyncio.gather(traffic, status, return_exceptions=True)
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)
    if traffic.done() and not traffic.cancelled() and traffic.exception() is not None:
        raise DemoError(f"the traffic generator failed: {traffic.exception()!r}")


async def _first(waiter: Awaitable[Any], task: asyncio.Task[None]) -> None:
    waiting = asyncio.ensure_future(waiter)
    try:
        await asyncio.wait({waiting, task}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        waiting.cancel()


async def _print_status(generator: TrafficGenerator, interval: float) -> None:
    if interval <= 0:
        return
    while True:
        await asyncio.sleep(interval)
        print(generator.stats.summary(), flush=True)


def run_demo(options: DemoOptions) -> None:
    """Start the demo, print where to look, run until stopped, then clean up."""
    demo = Demo(options)
    generator: TrafficGenerator | None = None
    previous = signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)
    try:
        info = demo.start()
        print(banner_text(info), flush=True)
        generator = TrafficGenerator(demo.traffic_config(info.auth_url))
        asyncio.run(run_traffic(generator, options.duration, options.status_interval))
    except KeyboardInterrupt:
        pass
    finally:
        # A second Ctrl-C must not cut the cleanup short and leave children behind.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        if generator is not None:
            print(generator.stats.summary(), flush=True)
        print("Stopping the demo ...", flush=True)
        demo.stop()
        signal.signal(signal.SIGTERM, previous)
        signal.signal(signal.SIGINT, signal.default_int_handler)
    print("sessionwatch demo stopped.", flush=True)


def _raise_keyboard_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt
