"""Simulated cashier tablets that log in, refresh, ping and fail now and then.

Times in `Behaviour` are demo seconds, which the generator divides by the speed factor. The
demo divides the service's token lifetime and activity threshold by the same factor, so the
whole shop runs faster in step.

In a few three-hour demo runs (12 tablets, speed 60), 3 to 5 % of refreshes failed overall.
The failures are idle cashiers rejected as `inactive`, stale or corrupt tokens rejected as
`revoked` or `invalid`, and short server hiccups (`server_error`). On the flaky-Wi-Fi site come
bursts of `network` failures, which the tablets report through the client-events endpoint once
they are back online. NOTE: that these bursts push short windows past the 5 % alert line is
an estimate from their size, not a measurement.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import random
import unicodedata
from collections import Counter
from dataclasses import dataclass, field

import httpx

from .tablet import Tablet

_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Behaviour:
    """Cashier behaviour: probabilities per refresh, durations in demo seconds."""

    refresh_at: float = 0.8
    start_spread: float = 120.0
    ping_interval: tuple[float, float] = (20.0, 90.0)
    logout: float = 0.02
    stale_tab_after_logout: float = 0.25
    idle: float = 0.012
    invalid_token: float = 0.005
    stale_token: float = 0.005
    break_after_logout: tuple[float, float] = (60.0, 300.0)
    network_retry: float = 15.0
    server_error_retry: float = 15.0
    wifi_outage_every: float = 1500.0
    wifi_outage_length: tuple[float, float] = (20.0, 60.0)
    server_hiccup_every: float = 2700.0
    server_hiccup_length: float = 10.0


@dataclass(frozen=True)
class TrafficConfig:
    """Sites, tablets and timings to simulate, and the service they talk to.

    `token_lifetime` and `activity_threshold` are the service's settings in real seconds.
    `forwarded_ips` sends one X-Forwarded-For address per tablet; enable it only when the
    service trusts the loopback proxy, or the header is ignored anyway.
    """

    base_url: str
    sites: tuple[str, ...]
    cashiers_per_site: int
    speed: float
    token_lifetime: float
    activity_threshold: float
    flaky_sites: tuple[str, ...] = ()
    client_events_path: str | None = "/v1/sessions/client-events"
    forwarded_ips: bool = True
    seed: int | None = None
    request_timeout: float = 5.0
    behaviour: Behaviour = field(default_factory=Behaviour)

    def __post_init__(self) -> None:
        if not self.sites:
            raise ValueError("at least one site is needed")
        if self.cashiers_per_site < 1:
            raise ValueError(f"cashiers_per_site must be at least 1, got {self.cashiers_per_site}")
        if not self.speed > 0:
            raise ValueError(f"speed must be positive, got {self.speed}")


@dataclass
class TrafficStats:
    """Outcomes as the tablets saw them (the server's figures are in Redis)."""

    logins: int = 0
    logouts: int = 0
    pings: int = 0
    refresh_ok: int = 0
    refresh_failed: Counter[str] = field(default_factory=Counter)
    network_reported: int = 0
    unexpected: int = 0

    @property
    def failures(self) -> int:
        return sum(self.refresh_failed.values())

    def failure_ratio(self) -> float | None:
        attempts = self.refresh_ok + self.failures
        return None if attempts == 0 else self.failures / attempts

    def summary(self) -> str:
        ratio = self.failure_ratio()
        shown = "n/a" if ratio is None else f"{ratio * 100:.1f} %"
        reasons = ", ".join(f"{reason} {count}"
                            for reason, count in sorted(self.refresh_failed.items()))
        text = (f"traffic: {self.refresh_ok + self.failures} refreshes, {self.failures} failed "
                f"({shown}{': ' + reasons if reasons else ''}); {self.logins} logins, "
                f"{self.logouts} logouts, {self.pings} pings")
        if self.network_reported:
            text += f"; {self.network_reported} network failures reported by tablets"
        if self.unexpected:
            text += f"; {self.unexpected} unexpected responses"
        return text


class Clock:
    """Demo time: sleeps are given in demo seconds and last `1 / speed` as long."""

    def __init__(self, speed: float) -> None:
        self.speed = speed

    def real(self, demo_seconds: float) -> float:
        return demo_seconds / self.speed

    async def sleep(self, demo_seconds: float) -> None:
        await asyncio.sleep(max(0.0, demo_seconds / self.speed))


class Wifi:
    """Network state of one site; the flaky one goes down now and then."""

    def __init__(self) -> None:
        self.up = True
        self.outages = 0

    async def flap(self, clock: Clock, behaviour: Behaviour, rng: random.Random) -> None:
        while True:
            await clock.sleep(rng.expovariate(1 / behaviour.wifi_outage_every))
            self.up = False
            self.outages += 1
            await clock.sleep(rng.uniform(*behaviour.wifi_outage_length))
            self.up = True


def site_slug(site: str) -> str:
    """Return an ASCII, lowercase form of a site name for user names."""
    ascii_name = unicodedata.normalize("NFKD", site).encode("ascii", "ignore").decode()
    return "-".join(part for part in ascii_name.lower().replace("_", "-").split("-") if part)


def tablet_ip(site_index: int, number: int) -> str:
    """Return a distinct address in 10.0.0.0/8 per tablet: one /24 per site, up to 240 tablets."""
    return str(ipaddress.IPv4Address((10 << 24) + ((site_index + 1) << 8) + 10 + number % 240))


class TrafficGenerator:
    """Run every tablet, the Wi-Fi of flaky sites and server hiccups until cancelled."""

    def __init__(self, config: TrafficConfig) -> None:
        self.config = config
        self.behaviour = config.behaviour
        self.clock = Clock(config.speed)
        self.rng = random.Random(config.seed)
        self.stats = TrafficStats()
        self.wifi = {site: Wifi() for site in config.sites}
        self._reported: set[tuple[str, int]] = set()

    def note_unexpected(self, response: httpx.Response) -> None:
        """Count a response the simulation did not expect, and log the first of each kind."""
        self.stats.unexpected += 1
        kind = (response.request.url.path, response.status_code)
        if kind not in self._reported:
            self._reported.add(kind)
            _log.warning("unexpected response from the auth service: %s %s -> HTTP %d %s",
                         response.request.method, kind[0], kind[1], response.text[:200])

    def tablets(self, client: httpx.AsyncClient) -> list[Tablet]:
        tablets = []
        for site_index, site in enumerate(self.config.sites):
            for number in range(1, self.config.cashiers_per_site + 1):
                tablets.append(Tablet(
                    generator=self,
                    client=client,
                    site=site,
                    username=f"{site_slug(site) or 'site'}-caisse{number}",
                    ip=tablet_ip(site_index, number) if self.config.forwarded_ips else None,
                    rng=random.Random(self.rng.random()),
                ))
        return tablets

    def note_broken_answer(self, username: str, error: Exception) -> None:
        """Count a response body the tablets could not read, and log the first of each kind."""
        self.stats.unexpected += 1
        kind = (type(error).__name__, 0)
        if kind not in self._reported:
            self._reported.add(kind)
            _log.warning("unreadable response from the auth service to %s: %s: %s", username,
                         type(error).__name__, error)

    async def run(self) -> None:
        """Simulate until the task running this is cancelled."""
        limits = httpx.Limits(max_connections=100, max_keepalive_connections=50)
        async with httpx.AsyncClient(base_url=self.config.base_url, limits=limits,
                                     timeout=self.config.request_timeout,
                                     headers={"User-Agent": "sessionwatch-demo-tablet"}) as client:
            tasks = [asyncio.create_task(tablet.run(), name=f"tablet {tablet.username}")
                     for tablet in self.tablets(client)]
            for site in self.config.flaky_sites:
                wifi_rng = random.Random(self.rng.random())
                flapping = self.wifi[site].flap(self.clock, self.behaviour, wifi_rng)
                tasks.append(asyncio.create_task(flapping, name=f"wifi {site}"))
            tasks.append(asyncio.create_task(self.server_hiccups(client), name="hiccups"))
            try:
                await asyncio.gather(*tasks)
            finally:
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)

    async def server_hiccups(self, client: httpx.AsyncClient) -> None:
        """Make every refresh fail with a server error for a few demo seconds, now and then.

        It sets the global switch, which spares sessions that chose their own mode on the
        cashier page. It is skipped while the global switch is not "ok" (a test or another
        client set it), and put back only if it still shows this hiccup.
        """
        while True:
            await self.clock.sleep(self.rng.expovariate(1 / self.behaviour.server_hiccup_every))
            with contextlib.suppress(httpx.HTTPError):
                current = await client.get("/demo/chaos")
                if current.status_code != 200 or current.json().get("refresh") != "ok":
                    continue
                await client.post("/demo/chaos", json={"refresh": "error"})
                try:
                    await self.clock.sleep(self.behaviour.server_hiccup_length)
                finally:
                    current = await client.get("/demo/chaos")
                    if current.status_code == 200 and current.json().get("refresh") == "error":
                        await client.post("/demo/chaos", json={"refresh": "ok"})
