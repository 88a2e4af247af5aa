"""Recorder settings, with their environment variables."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from .keys import DAY, DEFAULT_PREFIX, RetentionConfig
from .normalize import DEFAULT_MAX_SITE_LENGTH, IPMode, IPPolicy

DEFAULT_REDIS_URL = "redis://localhost:6379/0"


@dataclass(frozen=True)
class RecorderConfig:
    """Everything the recorder can be tuned with; the defaults suit one shop network.

    Timeouts are in seconds. `ranking_cap` is how many top members each failure ranking bucket
    keeps. `default_session_ttl` is the expiry assumed for a session whose caller gives none
    (480 minutes, the host app's default token lifetime).
    """

    prefix: str = DEFAULT_PREFIX
    ip_mode: IPMode = IPMode.TRUNCATE
    ip_hash_key: bytes = b""
    retention: RetentionConfig = field(default_factory=RetentionConfig)
    ranking_cap: int = 1000
    max_site_length: int = DEFAULT_MAX_SITE_LENGTH
    default_session_ttl: float = 480 * 60
    active_shards: int = 1
    socket_timeout: float = 0.05
    connect_timeout: float = 0.05
    breaker_cooldown: float = 1.0
    breaker_max_cooldown: float = 30.0
    trim_limit: int = 10
    error_log_interval: float = 60.0

    def __post_init__(self) -> None:
        for name in ("socket_timeout", "connect_timeout", "default_session_ttl"):
            value = getattr(self, name)
            if not value > 0:
                raise ValueError(f"{name} must be a positive number of seconds, got {value!r}")
        if self.max_site_length < 1:
            raise ValueError(f"max_site_length must be at least 1, got {self.max_site_length}")

    def ip_policy(self) -> IPPolicy:
        return IPPolicy(IPMode(self.ip_mode), self.ip_hash_key)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: object
                 ) -> RecorderConfig:
        """Build a config from SESSIONWATCH_* variables; keyword arguments take precedence.

        Variables: SESSIONWATCH_PREFIX, SESSIONWATCH_IP_MODE (full, truncate or hash),
        SESSIONWATCH_IP_HASH_KEY, SESSIONWATCH_IP_RETENTION_DAYS, SESSIONWATCH_RANKING_CAP,
        SESSIONWATCH_ACTIVE_SHARDS, SESSIONWATCH_REDIS_TIMEOUT_MS.
        """
        env = os.environ if environ is None else environ
        values: dict[str, object] = {}
        if "SESSIONWATCH_PREFIX" in env:
            values["prefix"] = env["SESSIONWATCH_PREFIX"]
        if "SESSIONWATCH_IP_MODE" in env:
            values["ip_mode"] = _parse_ip_mode(env["SESSIONWATCH_IP_MODE"])
        if "SESSIONWATCH_IP_HASH_KEY" in env:
            values["ip_hash_key"] = env["SESSIONWATCH_IP_HASH_KEY"].encode("utf-8")
        if "SESSIONWATCH_IP_RETENTION_DAYS" in env:
            days = _parse_number("SESSIONWATCH_IP_RETENTION_DAYS", env, float)
            values["retention"] = RetentionConfig(ip_seconds=int(days * DAY))
        if "SESSIONWATCH_RANKING_CAP" in env:
            values["ranking_cap"] = _parse_number("SESSIONWATCH_RANKING_CAP", env, int)
        if "SESSIONWATCH_ACTIVE_SHARDS" in env:
            values["active_shards"] = _parse_number("SESSIONWATCH_ACTIVE_SHARDS", env, int)
        if "SESSIONWATCH_REDIS_TIMEOUT_MS" in env:
            seconds = _parse_number("SESSIONWATCH_REDIS_TIMEOUT_MS", env, float) / 1000
            values["socket_timeout"] = values["connect_timeout"] = seconds
        values.update(overrides)
        return cls(**values)  # type: ignore[arg-type]


def _parse_ip_mode(text: str) -> IPMode:
    try:
        return IPMode(text.strip().lower())
    except ValueError:
        raise ValueError(
            f"invalid SESSIONWATCH_IP_MODE {text!r}: use one of full, truncate, hash"
        ) from None


def _parse_number(name: str, env: Mapping[str, str], kind: type[int] | type[float]) -> float:
    try:
        return kind(env[name])
    except ValueError:
        raise ValueError(f"invalid {name} {env[name]!r}: expected a number") from None
