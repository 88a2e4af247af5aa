"""Exporter settings, read from command-line options and SESSIONWATCH_* variables."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from sessionwatch.api_hooks.config import DEFAULT_REDIS_URL
from sessionwatch.api_hooks.keys import DEFAULT_PREFIX, validate_prefix


@dataclass(frozen=True)
class ExporterSettings:
    """Everything the exporter process is configured with.

    `admin_token` guards the JSON API; None disables it (503 with instructions). The Redis
    timeout, in seconds, bounds each connection attempt and each reply, so a scrape with
    Redis hung returns `sessionwatch_redis_up 0` after about that long.
    """

    redis_url: str = DEFAULT_REDIS_URL
    prefix: str = DEFAULT_PREFIX
    host: str = "127.0.0.1"
    port: int = 9465
    admin_token: str | None = field(default=None, repr=False)
    max_sites: int = 100
    active_shards: int = 1
    redis_timeout: float = 0.5
    alert_threshold: float = 0.05
    cors_origins: tuple[str, ...] = ()
    metrics_token: str | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        validate_prefix(self.prefix)
        if not 1 <= self.port <= 65535:
            raise ValueError(f"invalid port {self.port}: use 1 to 65535")
        if self.max_sites < 2:
            raise ValueError(f"max_sites must be at least 2, got {self.max_sites}")
        if not 0 < self.redis_timeout <= 30:
            raise ValueError(f"redis_timeout must be in (0, 30] seconds, got {self.redis_timeout}")
        if self.admin_token is not None and len(self.admin_token) < 16:
            raise ValueError("the admin token must be at least 16 characters long")

    def replace(self, **changes: object) -> ExporterSettings:
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> ExporterSettings:
        """Read SESSIONWATCH_REDIS_URL, SESSIONWATCH_PREFIX, SESSIONWATCH_ADMIN_TOKEN (or
        SESSIONWATCH_ADMIN_TOKEN_FILE), SESSIONWATCH_MAX_SITES, SESSIONWATCH_ACTIVE_SHARDS and
        SESSIONWATCH_CORS_ORIGINS (comma-separated)."""
        env = os.environ if environ is None else environ
        values: dict[str, object] = {}
        if "SESSIONWATCH_REDIS_URL" in env:
            values["redis_url"] = env["SESSIONWATCH_REDIS_URL"]
        if "SESSIONWATCH_PREFIX" in env:
            values["prefix"] = env["SESSIONWATCH_PREFIX"]
        token = read_admin_token(env.get("SESSIONWATCH_ADMIN_TOKEN"),
                                 env.get("SESSIONWATCH_ADMIN_TOKEN_FILE"))
        if token is not None:
            values["admin_token"] = token
        for name, key in (("max_sites", "SESSIONWATCH_MAX_SITES"),
                          ("active_shards", "SESSIONWATCH_ACTIVE_SHARDS")):
            if key in env:
                try:
                    values[name] = int(env[key])
                except ValueError:
                    raise ValueError(f"invalid {key} {env[key]!r}: expected an integer") from None
        if env.get("SESSIONWATCH_CORS_ORIGINS"):
            origins = env["SESSIONWATCH_CORS_ORIGINS"].split(",")
            values["cors_origins"] = tuple(o.strip() for o in origins if o.strip())
        return cls(**values)  # type: ignore[arg-type]


def read_admin_token(token: str | None, token_file: str | None) -> str | None:
    """Return the admin token from its value or its file (the file wins), stripped."""
    if token_file:
        try:
            text = Path(token_file).read_text("utf-8").strip()
        except OSError as exc:
            raise ValueError(
                f"cannot read admin token file {token_file!r}: {exc.strerror}"
            ) from None
        if not text:
            raise ValueError(
                f"admin token file {token_file!r} is empty; write a token of at least "
                "16 characters in it, or leave the option out to disable the admin API"
            )
        return text
    return token.strip() if token and token.strip() else None
