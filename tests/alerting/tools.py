"""Paths and command helpers of the alerting tests.

A missing promtool or amtool fails the tests with the package to install; it never skips them.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
ALERTING = REPO / "alerting"
RULE_FILES = sorted((ALERTING / "rules").glob("*.yml"))
RULE_TEST_FILES = sorted((ALERTING / "tests").glob("*.test.yml"))
RUNBOOKS = {language: REPO / "docs" / language / "runbook.md" for language in ("fr", "en")}
TOOL_PACKAGES = {"promtool": "prometheus", "amtool": "prometheus-alertmanager"}


def require_tool(name: str) -> str:
    """Return the path of a command-line tool, or fail the test naming its Debian package."""
    path = shutil.which(name)
    if path is None:
        pytest.fail(
            f"{name} is not installed or not on PATH; install the Debian package "
            f"{TOOL_PACKAGES[name]} (apt-get install {TOOL_PACKAGES[name]}).",
            pytrace=False,
        )
    return path


def run(command: list[str], cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    """Run a command and capture its output as text, whatever its exit status."""
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=120)


def run_generator(*args: str) -> subprocess.CompletedProcess[str]:
    """Run alerting/generate.py with the test interpreter, as `python alerting/generate.py`."""
    return run([sys.executable, str(ALERTING / "generate.py"), *args])


def output_of(result: subprocess.CompletedProcess[str]) -> str:
    return f"exit status {result.returncode}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"
