"""Fixtures of the alerting tests: the Prometheus command-line tools."""

from __future__ import annotations

import pytest

from .tools import require_tool


@pytest.fixture(scope="session")
def promtool() -> str:
    return require_tool("promtool")


@pytest.fixture(scope="session")
def amtool() -> str:
    return require_tool("amtool")
