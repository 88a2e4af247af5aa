"""The settings tables of the ops guides show the defaults the commands really have.

Each option that `sessionwatch-exporter --help` or `session-stats --help` prints with a
default must appear in the ops guide's settings table, on a row that shows that default.
"""

from __future__ import annotations

import re
import subprocess

import pytest

from .markdown import REPO, section_text
from .shell import VENV_BIN

OPS_GUIDES = {"en": (REPO / "docs" / "en" / "ops.md", "Settings"),
              "fr": (REPO / "docs" / "fr" / "ops.md", "Réglages")}
COMMANDS = ("sessionwatch-exporter", "session-stats")
HELP_OPTION = re.compile(r"^\s+(?P<option>--[a-z-]+)(?P<rest>.*?)(?=^\s+-|\Z)", re.M | re.S)
DEFAULT = re.compile(r"\[default:\s*(?P<value>[^;\]]+)")
# Options of the CLI alone that the exporter's settings table need not list.
CLI_ONLY = frozenset({"--json", "--timeout"})


def documented_defaults() -> dict[str, str]:
    """Return option -> default, as the two commands' --help print them."""
    defaults: dict[str, str] = {}
    for command in COMMANDS:
        text = subprocess.run([str(VENV_BIN / command), "--help"], capture_output=True,
                              text=True, timeout=30, check=True).stdout
        for match in HELP_OPTION.finditer(text):
            default = DEFAULT.search(" ".join(match["rest"].split()))
            if default and match["option"] not in CLI_ONLY:
                defaults[match["option"]] = default["value"].strip()
    return defaults


def test_doc_settings_defaults_found() -> None:
    defaults = documented_defaults()

    assert defaults["--port"] == "9465"
    assert "--redis-timeout" in defaults


@pytest.mark.parametrize("language", OPS_GUIDES)
def test_doc_settings_table_matches_help(language: str) -> None:
    page, heading = OPS_GUIDES[language]
    rows = [line for line in section_text(page, heading).splitlines() if line.startswith("|")]

    for option, default in documented_defaults().items():
        matching = [row for row in rows if f"`{option}`" in row]
        assert matching, f"{page.name} ({language}) does not list {option}"
        # French writes decimals with a comma: 0.5 s is "0,5 s".
        decimal = re.fullmatch(r"\d+\.\d+", default) and language == "fr"
        shown = default.replace(".", ",") if decimal else default
        assert any(shown in row for row in matching), \
            f"{page.name} ({language}): {option} defaults to {default}, not what the table says"
