"""Check that every alert's runbook_url anchor exists, under a heading, in both runbooks."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from .tools import RULE_FILES, RUNBOOKS

ANCHOR_RE = re.compile(r'^<a id="([^"]+)"></a>$')
HEADING_RE = re.compile(r"^(#{1,6}) (.+)$")


def _alert_names() -> list[str]:
    names = []
    for rule_file in RULE_FILES:
        for group in yaml.safe_load(rule_file.read_text(encoding="utf-8"))["groups"]:
            names.extend(rule["alert"] for rule in group["rules"] if "alert" in rule)
    return names


def _anchored_headings(path: Path) -> dict[str, tuple[int, str]]:
    """Map each explicit anchor to the heading (level, text) on the next non-empty line."""
    lines = [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    headings: dict[str, tuple[int, str]] = {}
    for line, following in zip(lines, [*lines[1:], ""], strict=True):
        anchor = ANCHOR_RE.match(line)
        if anchor is None:
            continue
        heading = HEADING_RE.match(following)
        assert heading, f"{path}: anchor {anchor.group(1)} is not followed by a heading"
        assert anchor.group(1) not in headings, f"{path}: duplicate anchor {anchor.group(1)}"
        headings[anchor.group(1)] = (len(heading.group(1)), heading.group(2))
    return headings


def _heading_levels(path: Path) -> list[int]:
    in_code = False
    levels = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("```"):
            in_code = not in_code
        elif not in_code and (heading := HEADING_RE.match(line)):
            levels.append(len(heading.group(1)))
    return levels


def test_runbook_alert_names_found() -> None:
    assert len(_alert_names()) == 6


@pytest.mark.parametrize("language", RUNBOOKS)
def test_runbook_has_heading_for_every_alert(language: str) -> None:
    headings = _anchored_headings(RUNBOOKS[language])

    for name in _alert_names():
        anchor = name.lower()
        assert anchor in headings, f"docs/{language}/runbook.md has no anchor {anchor}"
        level, text = headings[anchor]
        # The heading is the alert name, so its generated slug equals the anchor too.
        assert text == name
        assert level == 3


@pytest.mark.parametrize("language", RUNBOOKS)
def test_runbook_alerts_heading_level(language: str) -> None:
    headings = _anchored_headings(RUNBOOKS[language])

    assert headings["alerts"][0] == 2
    assert headings["alerts"][1] == {"fr": "Alertes", "en": "Alerts"}[language]


def test_runbooks_share_anchors_and_structure() -> None:
    french, english = RUNBOOKS["fr"], RUNBOOKS["en"]

    assert list(_anchored_headings(french)) == list(_anchored_headings(english))
    assert _heading_levels(french) == _heading_levels(english)


@pytest.mark.parametrize("language", RUNBOOKS)
def test_runbook_internal_links_resolve(language: str) -> None:
    text = RUNBOOKS[language].read_text(encoding="utf-8")
    anchors = set(_anchored_headings(RUNBOOKS[language]))

    for target in re.findall(r"\]\(#([^)]+)\)", text):
        assert target in anchors, f"docs/{language}/runbook.md links to missing #{target}"
