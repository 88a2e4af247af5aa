"""`sessionwatch-exporter` start-up errors, and password redaction in what it logs."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from sessionwatch.api_hooks.connection import describe_url
from sessionwatch.exporter.__main__ import main
from sessionwatch.exporter.settings import read_admin_token


def test_exporter_malformed_redis_url_is_usage_error() -> None:
    result = CliRunner().invoke(main, ["--redis-url", "http://x", "--port", "1"], env={})

    assert result.exit_code == 2
    assert "Invalid value for '--redis-url'" in result.output
    assert "Traceback" not in result.output


def test_exporter_missing_token_file_exits_1(tmp_path: Path) -> None:
    missing = tmp_path / "absent"
    result = CliRunner().invoke(main, ["--admin-token-file", str(missing)], env={})

    assert result.exit_code == 1
    assert str(missing) in result.output
    assert "Traceback" not in result.output


def test_exporter_port_in_use_exits_3() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "sessionwatch.exporter", "--port", str(port),
             "--redis-url", "redis://127.0.0.1:1/0"],
            capture_output=True, text=True, timeout=60, check=False,
        )

    assert result.returncode == 3
    assert "address already in use" in result.stderr


def test_exporter_empty_token_file_is_rejected(tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text("\n", "utf-8")

    with pytest.raises(ValueError, match="is empty"):
        read_admin_token(None, str(token_file))


@pytest.mark.parametrize(("url", "shown"), [
    ("redis://u:pw@h:1/0", "redis://u:***@h:1/0"),
    ("redis://:pw@h:1/0", "redis://***@h:1/0"),
    ("redis://h:1/0?password=s3cret&db=0", "redis://h:1/0?password=***&db=0"),
    ("redis://h:1/0?db=0;PASSWORD=s3cret", "redis://h:1/0?db=0;PASSWORD=***"),
    ("redis+sentinel://u:pw@a:1,b:2/main", "redis+sentinel://u:***@a:1,b:2/main"),
])
def test_describe_url_hides_passwords(url: str, shown: str) -> None:
    assert describe_url(url) == shown
