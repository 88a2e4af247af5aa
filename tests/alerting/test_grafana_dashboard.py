"""Check the generated Grafana dashboards: valid PromQL, variables, threshold and layout."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from .tools import ALERTING, output_of, run

GRAFANA = ALERTING / "grafana"
DASHBOARDS = {
    "fr": GRAFANA / "sessionwatch-dashboard.json",
    "en": GRAFANA / "sessionwatch-dashboard.en.json",
}
# Values that make the Grafana variables valid PromQL for promtool.
VARIABLE_VALUES = {
    "${datasource}": "prometheus",
    "$__rate_interval": "2m",
    "$job": "sessionwatch",
    "$site": ".*",
}
REQUIRED_METRICS = [
    "session_active{",
    "session_active_by_site{",
    "session_refresh_success_total{",
    "session_refresh_failure_total{",
    "session_logout_forced_total{",
    "session_started_total{",
    "session_ended_total{",
    "sessionwatch_redis_up{",
    "sessionwatch_scrape_duration_seconds{",
    "sessionwatch_scrape_errors_total{",
]


def _dashboard(language: str) -> dict[str, Any]:
    return json.loads(DASHBOARDS[language].read_text(encoding="utf-8"))


def _panels(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    return [panel for panel in dashboard["panels"] if panel["type"] != "row"]


def _expressions(dashboard: dict[str, Any]) -> dict[str, str]:
    """Return every PromQL expression of the dashboard, keyed by where it comes from."""
    expressions = {
        f"panel_{panel['id']}_{target['refId']}": target["expr"]
        for panel in _panels(dashboard)
        for target in panel["targets"]
    }
    for variable in dashboard["templating"]["list"]:
        if variable["type"] == "query":
            match = re.fullmatch(r"label_values\((.+), *(\w+)\)", variable["query"]["query"])
            assert match, f"variable {variable['name']}: unexpected query"
            expressions[f"variable_{variable['name']}"] = f"count({match.group(1)})"
    return expressions


def _substitute(expression: str) -> str:
    for variable, value in VARIABLE_VALUES.items():
        expression = expression.replace(variable, value)
    return expression


@pytest.mark.parametrize("language", DASHBOARDS)
def test_dashboard_promql_passes_promtool(promtool: str, tmp_path: Path, language: str) -> None:
    expressions = {
        name: _substitute(expr) for name, expr in _expressions(_dashboard(language)).items()
    }
    leftovers = {name: expr for name, expr in expressions.items() if "$" in expr}
    assert leftovers == {}, "Grafana variables without a test value"
    rules = {
        "groups": [
            {
                "name": "dashboard",
                "rules": [
                    {"record": f"dashboard:{name}", "expr": expr}
                    for name, expr in expressions.items()
                ],
            }
        ]
    }
    rule_file = tmp_path / "dashboard.rules.yml"
    rule_file.write_text(yaml.safe_dump(rules), encoding="utf-8")

    result = run([promtool, "check", "rules", str(rule_file)])

    assert result.returncode == 0, output_of(result) + "\n" + rule_file.read_text()
    assert f"SUCCESS: {len(expressions)} rules found" in result.stdout


@pytest.mark.parametrize("language", DASHBOARDS)
def test_dashboard_shows_every_exporter_metric(language: str) -> None:
    queries = "\n".join(_expressions(_dashboard(language)).values())

    for metric in REQUIRED_METRICS:
        assert metric in queries, metric
    assert "sum by (reason) (rate(session_refresh_failure_total" in queries
    assert "sum by (reason) (rate(session_logout_forced_total" in queries


@pytest.mark.parametrize("language", DASHBOARDS)
def test_dashboard_uses_datasource_and_site_variables(language: str) -> None:
    dashboard = _dashboard(language)
    variables = {variable["name"]: variable for variable in dashboard["templating"]["list"]}

    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    assert variables["site"]["multi"] is True
    assert variables["site"]["includeAll"] is True
    for panel in _panels(dashboard):
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, panel["title"]
        for target in panel["targets"]:
            assert target["datasource"]["uid"] == "${datasource}", panel["title"]
    site_panels = [
        p for p in _panels(dashboard) if any('site=~"$site"' in t["expr"] for t in p["targets"])
    ]
    assert len(site_panels) >= 8


@pytest.mark.parametrize("language", DASHBOARDS)
def test_dashboard_ratio_threshold_matches_config(language: str) -> None:
    config = yaml.safe_load((ALERTING / "config.yaml").read_text(encoding="utf-8"))
    threshold = config["refresh_failure"]["threshold"]
    window = config["refresh_failure"]["window"]

    ratio_panels = [
        p
        for p in _panels(_dashboard(language))
        if p["fieldConfig"]["defaults"].get("unit") == "percentunit"
    ]

    assert len(ratio_panels) == 2
    for panel in ratio_panels:
        defaults = panel["fieldConfig"]["defaults"]
        assert defaults["thresholds"]["steps"][-1] == {"color": "red", "value": threshold}
        assert defaults["custom"]["thresholdsStyle"]["mode"] == "line"
        assert f"[{window}]" in panel["targets"][0]["expr"]


@pytest.mark.parametrize("language", DASHBOARDS)
def test_dashboard_layout_without_overlap(language: str) -> None:
    panels = _dashboard(language)["panels"]
    ids = [panel["id"] for panel in panels]
    cells: set[tuple[int, int]] = set()

    assert len(ids) == len(set(ids))
    for panel in panels:
        grid = panel["gridPos"]
        assert grid["x"] + grid["w"] <= 24, panel["title"]
        for x in range(grid["x"], grid["x"] + grid["w"]):
            for y in range(grid["y"], grid["y"] + grid["h"]):
                assert (x, y) not in cells, f"{panel['title']} overlaps at {(x, y)}"
                cells.add((x, y))


def test_dashboard_languages_share_queries() -> None:
    french, english = _dashboard("fr"), _dashboard("en")

    assert _expressions(french) == _expressions(english)
    assert french["uid"] != english["uid"]
    assert [p["title"] for p in french["panels"]] != [p["title"] for p in english["panels"]]


def test_provisioning_examples_point_at_dashboards() -> None:
    provider = yaml.safe_load((GRAFANA / "provisioning/dashboards/sessionwatch.yaml").read_text())
    datasource = yaml.safe_load((GRAFANA / "provisioning/datasources/prometheus.yaml").read_text())

    assert provider["apiVersion"] == 1
    assert provider["providers"][0]["type"] == "file"
    assert provider["providers"][0]["options"]["path"].startswith("/")
    assert datasource["datasources"][0]["type"] == "prometheus"
    assert datasource["datasources"][0]["url"].startswith("http://127.0.0.1:")
