"""Demo auth service: a cashier page with the session banner, instrumented with the recorder.

`create_app(settings)` builds the FastAPI app that the demo runner (`python -m
sessionwatch.demo`) and the browser tests serve. Its routes:

- ``POST /auth/login`` ``{"username", "site"}`` -> ``{"access_token", "expires_at",
  "expires_in", "session_id"}``; records ``session_started``.
- ``POST /auth/refresh`` (Bearer) -> 200 ``{"access_token", "expires_at", "expires_in"}``
  or 401 ``{"detail": {"reason": ...}}`` (with a ``"message"`` too when the Authorization
  header is missing or not Bearer); records ``refresh_succeeded`` / ``refresh_failed``.
- ``POST /auth/logout`` (Bearer) -> 204; records ``session_ended``.
- ``GET /api/ping`` (Bearer): the cashier's activity, which keeps the session alive.
- ``POST /demo/chaos`` ``{"refresh": "ok"|"refuse"|"error"|"slow"}``, ``GET /demo/chaos``: with
  a Bearer token, the mode of that session only; without, the mode of every other session.
- ``GET /demo/sites``: the shops that the login page offers, the simulated ones first.
- ``POST /v1/sessions/client-events``: the client-events router of `api_hooks`.
- ``GET /`` the cashier page, ``GET /login`` the login page, ``/banner/`` the banner's ES
  modules, ``/static/`` the demo's own files.

Tokens are HS256 JWTs signed with a secret drawn per process. The session slides: each
refresh extends it by `token_expiration_minutes`, and a refresh is refused with reason
``inactive`` once the cashier has been idle for `activity_threshold` minutes. A refresh may
present an expired token while the session is still active, so a tablet that was offline
when its token expired renews it on reconnection instead of losing the sale in progress.
A refresh with the current token rotates it: the session moves to a new generation. The
previous generation stays accepted until the client has used the current one (any request
authenticated with it, a refresh or ``/api/ping``), or for `rotation_grace_seconds` after the
rotation, whichever is longer. Older generations are refused with reason ``revoked``. A
refresh with the previous token returns the current token and does not rotate again, or
rotates once more if the current token has expired meanwhile. So a client that never
received a rotated token, because it gave up waiting for the response, still has a token that
works, and two tabs racing each other both succeed.

Each refresh checks its token and rotates when the request arrives, before the delay of the
``slow`` chaos mode, and the response carries the session's current token when it is sent.
A refresh whose token was valid on arrival thus succeeds however long the server takes. The
checks and writes of session state have no ``await`` between them, so requests on the event
loop cannot interleave inside them. Sessions live in process memory: the app is meant for one
process.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import secrets
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import jwt
from fastapi import Depends, FastAPI, HTTPException, Request, Response
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, ConfigDict, Field
from sessionwatch.api_hooks import AsyncSessionMetrics, ClientIPResolver, SessionMetrics
from sessionwatch.api_hooks.client_events import ClientIdentity, client_events_router

from . import DEMO_SITES

_log = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).resolve().parent / "static"
# The banner's sources, served as they are; present in a source checkout or editable install.
BANNER_DIR = Path(__file__).resolve().parent.parent / "frontend_banner" / "src"

ChaosMode = Literal["ok", "refuse", "error", "slow"]


@dataclass
class DemoSettings:
    """Settings of the demo auth service; minutes and seconds as named."""

    redis_url: str = "redis://127.0.0.1:6379/0"
    prefix: str = "sessionwatch"
    token_expiration_minutes: float = 480
    activity_threshold: float = 15
    trusted_proxies: Sequence[str] = ()
    # At least as long as a browser tab may hold the token's storage lease (20 s without Web
    # Locks), so a tab that read the previous token just before a rotation can still use it.
    rotation_grace_seconds: float = 30
    slow_refresh_seconds: float = 20
    client_events_path: str = "/v1/sessions/client-events"
    sites: Sequence[str] = DEMO_SITES
    # Unix-seconds clock for tokens and sessions; tests move it forward with the browser's.
    clock: Callable[[], float] = field(default=time.time)
    # Awaited with slow_refresh_seconds by the slow chaos mode; tests replace it to hold a
    # refresh in flight until they release it.
    sleep: Callable[[float], Awaitable[None]] = field(default=asyncio.sleep)

    def __post_init__(self) -> None:
        if self.token_expiration_minutes <= 0:
            raise ValueError(
                f"token_expiration_minutes must be positive, got {self.token_expiration_minutes}"
            )
        if self.activity_threshold <= 0:
            raise ValueError(f"activity_threshold must be positive, got {self.activity_threshold}")
        if not self.sites:
            raise ValueError("sites is empty; give at least one shop name")


@dataclass
class _Session:
    session_id: str
    user_id: str
    site: str
    generation: int
    expires_at: float
    last_activity: float
    rotated_at: float
    # True once a request has authenticated with a token of the current generation.
    current_used: bool = False


class LoginRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: str = Field(min_length=1, max_length=64)
    site: str = Field(min_length=1, max_length=64)


class ChaosRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    refresh: ChaosMode


class _Refused(Exception):
    """Rejection of a token or session; `reason` is the recorder's failure reason."""

    def __init__(self, reason: str, session: _Session | None = None,
                 message: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.session = session
        self.message = message

    def detail(self) -> dict[str, str]:
        """Return the 401 body's ``detail``: the reason, and a message when there is one."""
        if self.message is None:
            return {"reason": self.reason}
        return {"reason": self.reason, "message": self.message}


async def _record(method: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
    result = method(*args, **kwargs)
    if inspect.isawaitable(result):
        await result


class _AuthService:
    """Sessions, tokens and the chaos switch; one instance per app."""

    def __init__(
        self, settings: DemoSettings, metrics: SessionMetrics | AsyncSessionMetrics
    ) -> None:
        self.settings = settings
        self.metrics = metrics
        self.secret = secrets.token_bytes(32)
        self.sessions: dict[str, _Session] = {}
        # The switch without a session (the traffic's hiccups, tests), and each session's own
        # (the cashier page), so a person trying a mode leaves the simulated tablets alone.
        self.chaos: ChaosMode = "ok"
        self.session_chaos: dict[str, ChaosMode] = {}
        self.ip_resolver = ClientIPResolver(settings.trusted_proxies)
        self.lifetime = settings.token_expiration_minutes * 60
        self.idle_limit = settings.activity_threshold * 60

    def now(self) -> float:
        return self.settings.clock()

    def mint(self, session: _Session) -> dict[str, Any]:
        claims = {
            "sub": session.user_id,
            "sid": session.session_id,
            "site": session.site,
            "gen": session.generation,
            "iat": int(self.now()),
            "exp": int(session.expires_at),
        }
        token = jwt.encode(claims, self.secret, algorithm="HS256")
        return {
            "access_token": token,
            "token_type": "Bearer",
            "expires_at": session.expires_at,
            "expires_in": max(0.0, session.expires_at - self.now()),
        }

    def claims(self, request: Request) -> dict[str, Any]:
        """Return the verified claims of the Bearer token; expiry is checked by the caller."""
        header = request.headers.get("authorization")
        if header is None:
            raise _Refused("invalid", message="missing Authorization header; send "
                           "'Authorization: Bearer <access_token>' with the token from login")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise _Refused("invalid", message="Authorization header is not a bearer token; "
                           "send 'Authorization: Bearer <access_token>'")
        try:
            # Times are checked against settings.clock (tests move it), not PyJWT's own clock.
            return jwt.decode(token, self.secret, algorithms=["HS256"], options={
                "verify_exp": False, "verify_iat": False, "verify_nbf": False,
                "require": ["exp", "sid", "gen"],
            })
        except jwt.PyJWTError:
            raise _Refused("invalid") from None

    def session_id_of(self, request: Request) -> str | None:
        """Return the session id of a request's signed token, expired or not, or None."""
        try:
            return str(self.claims(request)["sid"])
        except _Refused:
            return None

    def chaos_for(self, request: Request) -> ChaosMode:
        """Return the chaos mode of a request: its session's own, else the global one."""
        session_id = self.session_id_of(request)
        if session_id is None:
            return self.chaos
        return self.session_chaos.get(session_id, self.chaos)

    def who(self, request: Request) -> dict[str, str]:
        """Return the recorder's session fields for a request's token, or none if unreadable."""
        try:
            return _who(self.sessions.get(str(self.claims(request)["sid"])))
        except _Refused:
            return {}

    def is_current(self, session: _Session, generation: int) -> bool:
        """Return True for the current generation and False for an accepted previous one.

        Raises `_Refused` ("revoked") for any other generation, and for the previous one once
        the client has used the current one and `rotation_grace_seconds` have passed.
        """
        if generation == session.generation:
            return True
        if generation == session.generation - 1:
            in_grace = self.now() - session.rotated_at <= self.settings.rotation_grace_seconds
            if in_grace or not session.current_used:
                return False
        raise _Refused("revoked", session)

    def live_session(self, request: Request) -> _Session:
        """Return the session of a valid, unexpired token of an accepted generation (API calls).

        A token of the current generation marks it used, which ends the previous one's
        acceptance once `rotation_grace_seconds` have passed.
        """
        claims = self.claims(request)
        session = self.sessions.get(str(claims["sid"]))
        if session is None:
            raise _Refused("revoked")
        current = self.is_current(session, int(claims["gen"]))
        if claims["exp"] <= self.now():
            raise _Refused("expired", session)
        if current:
            session.current_used = True
        return session

    def refresh(self, request: Request) -> tuple[_Session, bool]:
        """Renew a session; return it and whether it rotated.

        The current token rotates the session to a new generation. The previous one, while
        accepted, leaves it as it is, and the caller returns the current token, unless that
        token has expired: then the session rotates as for the current one. An idle
        session is refused with reason ``inactive`` and removed, whichever token it presents.
        """
        claims = self.claims(request)
        session = self.sessions.get(str(claims["sid"]))
        if session is None:
            raise _Refused("revoked")
        current = self.is_current(session, int(claims["gen"]))
        now = self.now()
        if now - session.last_activity > self.idle_limit:
            self.sessions.pop(session.session_id, None)
            raise _Refused("inactive", session)
        if not current and session.expires_at > now:
            return session, False
        # The current token, or the previous one when the current has expired unused (its
        # response was lost long ago): a new generation, so the client gets a live token.
        session.generation += 1
        session.expires_at = now + self.lifetime
        session.rotated_at = now
        session.current_used = False
        return session, True


def _who(session: _Session | None) -> dict[str, str]:
    if session is None:
        return {}
    return {"session_id": session.session_id, "user_id": session.user_id, "site": session.site}


def _refusal(refused: _Refused, status: int = 401) -> JSONResponse:
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse({"detail": refused.detail()}, status_code=status, headers=headers)


def create_app(
    settings: DemoSettings | None = None,
    *,
    metrics: SessionMetrics | AsyncSessionMetrics | None = None,
) -> FastAPI:
    """Build the demo app.

    `metrics` defaults to an `AsyncSessionMetrics` on `settings.redis_url` with
    `settings.prefix`; pass one to share a recorder or to record into a test's Redis.
    """
    settings = settings or DemoSettings()
    if metrics is None:
        metrics = AsyncSessionMetrics.from_url(settings.redis_url, prefix=settings.prefix)
    service = _AuthService(settings, metrics)
    app = FastAPI(title="sessionwatch demo auth service")
    app.state.auth = service

    def ip_of(request: Request) -> str | None:
        address: str | None = service.ip_resolver.from_request(request)
        return address

    # Async, so it runs on the event loop with the refresh handler, not in a worker thread.
    async def authenticate(request: Request) -> ClientIdentity:
        try:
            session = service.live_session(request)
        except _Refused as exc:
            raise HTTPException(401, exc.detail(),
                                headers={"WWW-Authenticate": "Bearer"}) from None
        return ClientIdentity(session.session_id, session.user_id, session.site)

    @app.post("/auth/login")
    async def login(body: LoginRequest, request: Request) -> dict[str, Any]:
        now = service.now()
        session = _Session(
            session_id=secrets.token_urlsafe(18),
            user_id=body.username.strip(),
            site=body.site.strip(),
            generation=1,
            expires_at=now + service.lifetime,
            last_activity=now,
            rotated_at=now,
        )
        service.sessions[session.session_id] = session
        await _record(metrics.session_started, session.session_id, user_id=session.user_id,
                      site=session.site, ip=ip_of(request), expires_at=session.expires_at)
        _log.info("demo login: user=%s site=%s", session.user_id, session.site)
        return {**service.mint(session), "session_id": session.session_id}

    @app.post("/auth/refresh", response_model=None)
    async def refresh(request: Request) -> dict[str, Any] | JSONResponse:
        ip = ip_of(request)
        chaos = service.chaos_for(request)
        if chaos in ("error", "refuse"):
            reason, status = ("server_error", 503) if chaos == "error" else ("revoked", 401)
            await _record(metrics.refresh_failed, reason, ip=ip, **service.who(request))
            return _refusal(_Refused(reason), status)
        slow = chaos == "slow"
        try:
            # Check and rotate on arrival: the slow mode's delay comes after, as a slow
            # response would, so the token is judged as it was when the client sent it.
            session, rotated = service.refresh(request)
        except _Refused as exc:
            if slow:
                await settings.sleep(settings.slow_refresh_seconds)
            refused = exc.session
            await _record(metrics.refresh_failed, exc.reason, ip=ip, **_who(refused))
            if exc.reason == "inactive" and refused is not None:
                await _record(metrics.session_ended, refused.session_id, forced=True,
                              reason="inactive", user_id=refused.user_id, site=refused.site,
                              ip=ip)
            return _refusal(exc)
        if slow:
            await settings.sleep(settings.slow_refresh_seconds)
            if service.sessions.get(session.session_id) is not session:
                # Logged out or ended as inactive while this response was delayed.
                _log.info("demo refresh refused: session of user=%s site=%s ended during the "
                          "slow delay", session.user_id, session.site)
                await _record(metrics.refresh_failed, "revoked", ip=ip, **_who(session))
                return _refusal(_Refused("revoked"))
        if rotated:
            await _record(metrics.refresh_succeeded, session.session_id,
                          user_id=session.user_id, site=session.site, ip=ip,
                          expires_at=session.expires_at)
        return service.mint(session)

    @app.post("/auth/logout", status_code=204)
    async def logout(request: Request) -> Response:
        try:
            claims = service.claims(request)
        except _Refused as exc:
            return _refusal(exc)
        session = service.sessions.pop(str(claims["sid"]), None)
        if session is not None:
            await _record(metrics.session_ended, session.session_id, user_id=session.user_id,
                          site=session.site, ip=ip_of(request))
        return Response(status_code=204)

    @app.get("/api/ping")
    # A default, not Annotated[...]: postponed annotations cannot see the local `authenticate`.
    async def ping(identity: Any = Depends(authenticate)) -> dict[str, Any]:  # noqa: B008
        session = service.sessions.get(identity.session_id)
        if session is None:  # logged out between the dependency and this handler
            raise HTTPException(401, {"reason": "revoked"}, headers={"WWW-Authenticate": "Bearer"})
        session.last_activity = service.now()
        return {"ok": True, "expires_at": session.expires_at}

    @app.get("/demo/sites")
    async def get_sites() -> dict[str, list[str]]:
        return {"sites": list(settings.sites)}

    # With a Bearer token the switch is the session's own; without one it is global.
    @app.get("/demo/chaos")
    async def get_chaos(request: Request) -> dict[str, str]:
        return {"refresh": service.chaos_for(request)}

    @app.post("/demo/chaos")
    async def set_chaos(body: ChaosRequest, request: Request) -> dict[str, str]:
        session_id = service.session_id_of(request)
        if session_id is None:
            service.chaos = body.refresh
            _log.info("demo chaos: refresh=%s for every session", body.refresh)
        else:
            service.session_chaos[session_id] = body.refresh
            _log.info("demo chaos: refresh=%s for one session", body.refresh)
        return {"refresh": service.chaos_for(request)}

    app.include_router(client_events_router(
        metrics, authenticate=authenticate, path=settings.client_events_path, client_ip=ip_of,
    ))

    @app.get("/", include_in_schema=False)
    async def cashier_page() -> FileResponse:
        return FileResponse(STATIC_DIR / "cashier.html")

    @app.get("/login", include_in_schema=False)
    async def login_page() -> FileResponse:
        return FileResponse(STATIC_DIR / "login.html")

    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    if BANNER_DIR.is_dir():
        app.mount("/banner", StaticFiles(directory=BANNER_DIR), name="banner")
    else:
        # NOTE: a non-editable install does not ship frontend_banner/; the page then has no banner.
        _log.warning("banner sources not found at %s; /banner/ is not served", BANNER_DIR)
    return app
