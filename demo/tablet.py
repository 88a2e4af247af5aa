"""One simulated cashier tablet: login, pings, refreshes at 80 % of the token lifetime, logout.

The tablet behaves like the session banner in a browser. It refreshes before expiry and
retries after a network failure or a server error. It queues the network failures it saw and
posts them to the client-events endpoint once a refresh succeeds.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import random
import time
import uuid
from typing import TYPE_CHECKING, Any

import httpx

if TYPE_CHECKING:
    from .traffic import TrafficGenerator

_log = logging.getLogger(__name__)

MAX_QUEUED_EVENTS = 50


class Incident(enum.Enum):
    """Event that happens at a refresh besides the refresh itself."""

    NONE = "none"
    LOGOUT = "logout"
    IDLE = "idle"
    INVALID_TOKEN = "invalid_token"
    STALE_TOKEN = "stale_token"


class Tablet:
    """A cashier's tablet on one site, with its own address and random stream."""

    def __init__(self, generator: TrafficGenerator, client: httpx.AsyncClient, site: str,
                 username: str, ip: str | None, rng: random.Random) -> None:
        self.generator = generator
        self.behaviour = generator.behaviour
        self.clock = generator.clock
        self.stats = generator.stats
        self.client = client
        self.site = site
        self.username = username
        self.ip = ip
        self.rng = rng
        self.token: str | None = None
        self.previous_token: str | None = None
        self.expires_in = 0.0
        self.idle_until = 0.0
        self.queued_events: list[dict[str, Any]] = []

    # Requests

    def _headers(self, token: str | None = None) -> dict[str, str]:
        headers = {"X-Forwarded-For": self.ip} if self.ip else {}
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        return headers

    @property
    def online(self) -> bool:
        return self.generator.wifi[self.site].up

    @property
    def idle(self) -> bool:
        return time.monotonic() < self.idle_until

    async def run(self) -> None:
        await self.clock.sleep(self.rng.uniform(0, self.behaviour.start_spread))
        while True:
            try:
                await self.work_one_session()
            except (ValueError, KeyError, TypeError) as exc:
                # A malformed response body ends this session, not the whole simulation.
                self.generator.note_broken_answer(self.username, exc)
                self.token = None
                await self.clock.sleep(self.behaviour.network_retry)

    async def work_one_session(self) -> None:
        if not await self.login():
            await self.clock.sleep(self.behaviour.network_retry)
            return
        await self.work_until_session_ends()
        if self.idle:
            # The cashier comes back to a login page.
            await self._sleep_real(self.idle_until - time.monotonic())

    async def login(self) -> bool:
        if not self.online:
            return False
        try:
            response = await self.client.post("/auth/login", headers=self._headers(),
                                              json={"username": self.username, "site": self.site})
        except httpx.HTTPError as exc:
            _log.debug("login of %s failed: %s", self.username, type(exc).__name__)
            return False
        if response.status_code != 200:
            self.generator.note_unexpected(response)
            return False
        self._take_token(response.json())
        self.previous_token = None
        self.stats.logins += 1
        return True

    def _take_token(self, body: dict[str, Any]) -> None:
        self.previous_token = self.token
        self.token = str(body["access_token"])
        lifetime = self.generator.config.token_lifetime
        self.expires_in = float(body.get("expires_in", lifetime))

    async def work_until_session_ends(self) -> None:
        """Ping and refresh until the session ends (logout or refused refresh)."""
        while True:
            await self.ping_until_refresh_due()
            incident = self.choose_incident()
            if incident is Incident.LOGOUT:
                await self.logout()
                await self.clock.sleep(self.rng.uniform(*self.behaviour.break_after_logout))
                return
            if incident is Incident.IDLE:
                # Idle past the threshold, plus one token lifetime so a refresh is refused.
                demo_idle = (self.generator.config.activity_threshold
                             + self.generator.config.token_lifetime * self.rng.uniform(1.0, 1.5)
                             ) * self.clock.speed
                self.idle_until = time.monotonic() + self.clock.real(demo_idle)
            elif incident is Incident.INVALID_TOKEN:
                await self.refresh_once(_corrupt(self.token or ""))
            elif incident is Incident.STALE_TOKEN and self.previous_token:
                await self.refresh_once(self.previous_token)
            if not await self.refresh():
                return

    def choose_incident(self) -> Incident:
        if self.idle:
            return Incident.NONE
        b = self.behaviour
        roll = self.rng.random()
        for incident, probability in ((Incident.LOGOUT, b.logout), (Incident.IDLE, b.idle),
                                      (Incident.INVALID_TOKEN, b.invalid_token),
                                      (Incident.STALE_TOKEN, b.stale_token)):
            if roll < probability:
                return incident
            roll -= probability
        return Incident.NONE

    async def ping_until_refresh_due(self) -> None:
        due = time.monotonic() + self.expires_in * self.behaviour.refresh_at * self.rng.uniform(
            0.95, 1.0)
        while True:
            pause = self.clock.real(self.rng.uniform(*self.behaviour.ping_interval))
            if time.monotonic() + pause >= due:
                await self._sleep_real(due - time.monotonic())
                return
            await self._sleep_real(pause)
            if self.online and not self.idle:
                await self.ping()

    async def ping(self) -> None:
        try:
            response = await self.client.get("/api/ping", headers=self._headers(self.token))
        except httpx.HTTPError:
            return
        if response.status_code == 200:
            self.stats.pings += 1
        elif response.status_code != 401:
            self.generator.note_unexpected(response)

    async def logout(self) -> None:
        token, self.token = self.token, None
        if not self.online or token is None:
            return
        try:
            await self.client.post("/auth/logout", headers=self._headers(token))
        except httpx.HTTPError:
            return
        self.stats.logouts += 1
        if self.rng.random() < self.behaviour.stale_tab_after_logout:
            # A second tab still holding the old token tries to refresh it.
            await self.refresh_once(token)

    async def refresh_once(self, token: str) -> None:
        """Send one refresh with a token that the server is expected to refuse."""
        if not self.online:
            return
        try:
            response = await self.client.post("/auth/refresh", headers=self._headers(token))
        except httpx.HTTPError:
            return
        if response.status_code == 200:
            self.stats.refresh_ok += 1
        else:
            self.stats.refresh_failed[_reason_of(response)] += 1

    async def refresh(self) -> bool:
        """Refresh the current token, retrying through outages; False when the session ended."""
        while True:
            if not self.online:
                self._queue_network_failure("offline")
                await self.clock.sleep(self.behaviour.network_retry)
                continue
            try:
                response = await self.client.post("/auth/refresh",
                                                  headers=self._headers(self.token))
            except httpx.TimeoutException:
                self._queue_network_failure("timeout")
                await self.clock.sleep(self.behaviour.network_retry)
                continue
            except httpx.HTTPError:
                self._queue_network_failure("fetch_error")
                await self.clock.sleep(self.behaviour.network_retry)
                continue
            if response.status_code == 200:
                self.stats.refresh_ok += 1
                self._take_token(response.json())
                await self.report_network_failures()
                return True
            reason = _reason_of(response)
            self.stats.refresh_failed[reason] += 1
            if response.status_code >= 500:
                await self.clock.sleep(self.behaviour.server_error_retry)
                continue
            self.token = None
            return False

    def _queue_network_failure(self, detail: str) -> None:
        self.stats.refresh_failed["network"] += 1
        if len(self.queued_events) < MAX_QUEUED_EVENTS:
            self.queued_events.append({
                "id": uuid.uuid4().hex,
                "type": "refresh_failed",
                "reason": "network",
                "detail": detail,
                "occurred_at": time.time(),
            })

    async def report_network_failures(self) -> None:
        """Post queued network failures; they stay queued if the endpoint is unavailable."""
        path = self.generator.config.client_events_path
        if not self.queued_events or path is None:
            return
        body = {"events": self.queued_events, "sent_at": time.time()}
        try:
            response = await self.client.post(path, headers=self._headers(self.token), json=body)
        except httpx.HTTPError:
            return
        if response.status_code == 200:
            self.stats.network_reported += int(response.json().get("accepted", 0))
        elif response.status_code in (429, 503):
            return
        else:
            self.generator.note_unexpected(response)
        self.queued_events = []

    async def _sleep_real(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))


def _reason_of(response: httpx.Response) -> str:
    if response.status_code >= 500:
        return "server_error"
    try:
        detail = response.json().get("detail")
    except ValueError:
        return "other"
    if isinstance(detail, dict) and isinstance(detail.get("reason"), str):
        return str(detail["reason"])
    return "other"


def _corrupt(token: str) -> str:
    """Return the token with its signature damaged, as a truncated copy-paste would."""
    return token[:-6] + "xxxxxx" if len(token) > 6 else "not-a-token"
