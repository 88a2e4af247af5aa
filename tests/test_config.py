"""RecorderConfig and ExporterSettings read from SESSIONWATCH_* variables."""

from __future__ import annotations

from pathlib import Path

import pytest
from sessionwatch.api_hooks import IPMode, RecorderConfig
from sessionwatch.exporter.settings import ExporterSettings


def test_recorder_config_from_env_reads_every_variable() -> None:
    config = RecorderConfig.from_env({
        "SESSIONWATCH_PREFIX": "shop",
        "SESSIONWATCH_IP_MODE": " HASH ",
        "SESSIONWATCH_IP_HASH_KEY": "0123456789abcdef",
        "SESSIONWATCH_IP_RETENTION_DAYS": "1.5",
        "SESSIONWATCH_RANKING_CAP": "50",
        "SESSIONWATCH_ACTIVE_SHARDS": "4",
        "SESSIONWATCH_REDIS_TIMEOUT_MS": "250",
    })

    assert config.prefix == "shop"
    assert config.ip_mode is IPMode.HASH
    assert config.ip_hash_key == b"0123456789abcdef"
    assert config.retention.ip_seconds == 129_600
    assert config.ranking_cap == 50
    assert config.active_shards == 4
    assert config.socket_timeout == 0.25
    assert config.connect_timeout == 0.25


def test_recorder_config_overrides_beat_env() -> None:
    config = RecorderConfig.from_env({"SESSIONWATCH_PREFIX": "shop"}, prefix="other")

    assert config.prefix == "other"


@pytest.mark.parametrize(("environ", "message"), [
    ({"SESSIONWATCH_IP_MODE": "partial"},
     "invalid SESSIONWATCH_IP_MODE 'partial': use one of full, truncate, hash"),
    ({"SESSIONWATCH_RANKING_CAP": "many"},
     "invalid SESSIONWATCH_RANKING_CAP 'many': expected a number"),
    ({"SESSIONWATCH_REDIS_TIMEOUT_MS": "0"},
     "socket_timeout must be a positive number of seconds, got 0.0"),
    ({"SESSIONWATCH_IP_RETENTION_DAYS": "0.01"}, "IP retention must be at least 3600 s"),
])
def test_recorder_config_from_env_rejects_invalid(environ: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError) as caught:
        RecorderConfig.from_env(environ)

    assert str(caught.value).startswith(message)


def test_exporter_settings_from_env(tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text("file-token-0123456789\n", "utf-8")

    settings = ExporterSettings.from_env({
        "SESSIONWATCH_REDIS_URL": "redis://127.0.0.1:1/0",
        "SESSIONWATCH_PREFIX": "shop",
        "SESSIONWATCH_ADMIN_TOKEN": "env-token-0123456789",
        "SESSIONWATCH_ADMIN_TOKEN_FILE": str(token_file),
        "SESSIONWATCH_MAX_SITES": "10",
        "SESSIONWATCH_CORS_ORIGINS": "https://a.test, ,https://b.test",
    })

    assert settings.redis_url == "redis://127.0.0.1:1/0"
    assert settings.prefix == "shop"
    assert settings.admin_token == "file-token-0123456789"
    assert settings.max_sites == 10
    assert settings.cors_origins == ("https://a.test", "https://b.test")
    assert "file-token" not in repr(settings)


@pytest.mark.parametrize(("changes", "message"), [
    ({"admin_token": "short"}, "the admin token must be at least 16 characters long"),
    ({"prefix": "a b"}, "invalid key prefix 'a b'"),
    ({"max_sites": 1}, "max_sites must be at least 2, got 1"),
    ({"redis_timeout": 0}, "redis_timeout must be in (0, 30] seconds, got 0"),
    ({"port": 0}, "invalid port 0: use 1 to 65535"),
])
def test_exporter_settings_reject_invalid(changes: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError) as caught:
        ExporterSettings(**changes)  # type: ignore[arg-type]

    assert str(caught.value).startswith(message)


def test_exporter_settings_missing_token_file() -> None:
    with pytest.raises(ValueError, match="cannot read admin token file '/nonexistent/token'"):
        ExporterSettings.from_env({"SESSIONWATCH_ADMIN_TOKEN_FILE": "/nonexistent/token"})
