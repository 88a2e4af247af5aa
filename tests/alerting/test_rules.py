"""Check the generated Prometheus rules with promtool and run the promtool unit tests."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from .tools import ALERTING, RULE_FILES, RULE_TEST_FILES, output_of, run, run_generator

EXPECTED_RULE_FILES = {"sessionwatch.rules.yml", "sessionwatch.slo.rules.yml"}
SEVERITIES = {"critical", "warning", "info"}


def _alerts(path: Path) -> list[dict[str, Any]]:
    groups = yaml.safe_load(path.read_text(encoding="utf-8"))["groups"]
    return [rule for group in groups for rule in group["rules"] if "alert" in rule]


def test_rule_files_all_present() -> None:
    assert {path.name for path in RULE_FILES} == EXPECTED_RULE_FILES
    assert len(RULE_TEST_FILES) >= 4, "alerting/tests/*.test.yml went missing"


@pytest.mark.parametrize("rule_file", RULE_FILES, ids=lambda path: path.name)
def test_promtool_check_rules_passes(promtool: str, rule_file: Path) -> None:
    result = run([promtool, "check", "rules", str(rule_file)])
    assert result.returncode == 0, output_of(result)


@pytest.mark.parametrize("test_file", RULE_TEST_FILES, ids=lambda path: path.name)
def test_promtool_rule_tests_pass(promtool: str, test_file: Path) -> None:
    result = run([promtool, "test", "rules", str(test_file)])
    assert result.returncode == 0, output_of(result)


def test_generator_check_matches_committed_files() -> None:
    result = run_generator("--check")
    assert result.returncode == 0, output_of(result)


# Each mutation breaks one property of the committed rules, and promtool must then report the
# given fragment: the name of a failing alert test, or the value a failing expression test got.
MAIN, SLO = "sessionwatch.rules.yml", "sessionwatch.slo.rules.yml"
MUTATIONS = [
    pytest.param(
        MAIN,
        ">= 100",
        ">= 0",
        "refresh_failure_ratio.test.yml",
        "name: traffic guard silences 1 failure out of 2 refreshes,",
        id="traffic guard",
    ),
    pytest.param(
        MAIN,
        "> 0.05",
        "> 0.07",
        "refresh_failure_ratio.test.yml",
        "name: fires at 6 percent with 60 failures out of 1000 refreshes,",
        id="threshold",
    ),
    pytest.param(
        MAIN,
        "(sessionwatch:session_refreshes:increase15m > 0)",
        "sessionwatch:session_refreshes:increase15m",
        "refresh_failure_ratio.test.yml",
        'got: {__name__="sessionwatch:session_refresh_failure:ratio_rate15m"} NaN',
        id="no-traffic filter",
    ),
    pytest.param(
        MAIN,
        'up{job="sessionwatch"} == 0\n',
        'up{job="sessionwatch"} == 2\n',
        "availability.test.yml",
        "name: exporter down while Prometheus fails to scrape it,",
        id="up == 0 branch",
    ),
    pytest.param(
        SLO,
        "(14.4 * 0.01)",
        "(24 * 0.01)",
        "slo_burn_rate.test.yml",
        "name: fast burn fires at 20 percent,",
        id="fast burn factor",
    ),
    pytest.param(
        SLO,
        ">= 100",
        ">= 0",
        "slo_burn_rate.test.yml",
        "name: fast burn silent under the traffic guard,",
        id="SLO traffic guard",
    ),
]


@pytest.mark.parametrize(("rule_name", "old", "new", "test_name", "failure"), MUTATIONS)
def test_promtool_rule_tests_catch_mutation(
    promtool: str,
    tmp_path: Path,
    rule_name: str,
    old: str,
    new: str,
    test_name: str,
    failure: str,
) -> None:
    shutil.copytree(ALERTING / "rules", tmp_path / "rules")
    shutil.copytree(ALERTING / "tests", tmp_path / "tests")
    mutated = tmp_path / "rules" / rule_name
    text = mutated.read_text(encoding="utf-8")
    assert old in text, f"mutation target {old!r} not found in {rule_name}"
    mutated.write_text(text.replace(old, new), encoding="utf-8")

    result = run([promtool, "test", "rules", str(tmp_path / "tests" / test_name)])

    assert result.returncode != 0, output_of(result)
    assert failure in result.stdout + result.stderr, output_of(result)


def test_alerts_have_required_metadata() -> None:
    for rule_file in RULE_FILES:
        for alert in _alerts(rule_file):
            name = alert["alert"]
            annotations = alert["annotations"]
            assert alert["labels"]["severity"] in SEVERITIES, name
            assert alert["for"], name
            assert annotations["summary"] and "{{" not in annotations["summary"], name
            assert "{{" in annotations["description"], name
            assert annotations["runbook_url"].endswith(f"#{name.lower()}"), name


def test_e2e_profile_changes_durations_only(promtool: str, tmp_path: Path) -> None:
    out = tmp_path / "sessionwatch.e2e.rules.yml"

    result = run_generator("--profile", "e2e", "--out", str(out))

    assert result.returncode == 0, output_of(result)
    check = run([promtool, "check", "rules", str(out)])
    assert check.returncode == 0, output_of(check)
    default = yaml.safe_load((ALERTING / "rules" / "sessionwatch.rules.yml").read_text())
    scaled = yaml.safe_load(out.read_text())
    assert scaled["groups"][0]["interval"] == "5s"
    default_rules = default["groups"][0]["rules"]
    scaled_rules = scaled["groups"][0]["rules"]
    assert len(scaled_rules) == len(default_rules)
    for before, after in zip(default_rules, scaled_rules, strict=True):
        # The window appears in recorded names, range selectors and descriptions.
        expected = yaml.safe_load(yaml.safe_dump(before).replace("15m", "1m"))
        if "alert" in before:
            assert after["for"] == "10s", before["alert"]
            expected["for"] = after["for"]
            expected["annotations"]["description"] = after["annotations"]["description"]
            assert (
                after["annotations"]["description"].replace("10s", "5m").replace("1m", "15m")
                == before["annotations"]["description"]
            ), before["alert"]
        assert after == expected


def test_e2e_profile_leaves_committed_files(tmp_path: Path) -> None:
    committed = {path: path.read_bytes() for path in RULE_FILES}

    result = run_generator("--profile", "e2e", "--out", str(tmp_path / "e2e.yml"))

    assert result.returncode == 0, output_of(result)
    assert {path: path.read_bytes() for path in RULE_FILES} == committed
