"""Run alerting/generate.py on valid and invalid configs and check its output and errors."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from .tools import ALERTING, output_of, run, run_generator


def _write_config(tmp_path: Path, change: Callable[[dict[str, Any]], None]) -> Path:
    config = yaml.safe_load((ALERTING / "config.yaml").read_text(encoding="utf-8"))
    change(config)
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def change(config: dict[str, Any]) -> None:
        *parents, key = path.split(".")
        node = config
        for parent in parents:
            node = node[parent]
        node[key] = value

    return change


def _delete(path: str) -> Callable[[dict[str, Any]], None]:
    def change(config: dict[str, Any]) -> None:
        *parents, key = path.split(".")
        node = config
        for parent in parents:
            node = node[parent]
        del node[key]

    return change


INVALID_CONFIGS = [
    (
        "threshold above 1",
        _set("refresh_failure.threshold", 5),
        "Invalid value for 'refresh_failure.threshold': 5 is not a fraction between 0 and 1",
    ),
    (
        "window not a duration",
        _set("refresh_failure.window", "15 minutes"),
        "Invalid value for 'refresh_failure.window': '15 minutes' is not a Prometheus duration",
    ),
    (
        "negative guard",
        _set("refresh_failure.min_refreshes", -1),
        "Invalid value for 'refresh_failure.min_refreshes': -1 is not an integer >= 0",
    ),
    (
        "unknown severity",
        _set("redis_down.severity", "page"),
        "Invalid value for 'redis_down.severity': 'page' is not one of critical, warning, info",
    ),
    (
        "unknown language",
        _set("language", "de"),
        "Invalid value for 'language': 'de' is not one of fr, en",
    ),
    ("missing for", _delete("exporter_down.for"), "Missing key 'exporter_down.for'"),
    (
        "short window not shorter",
        _set("slo.fast_burn.short_window", "2h"),
        "'slo.fast_burn.short_window': 2h must be shorter than long_window 1h",
    ),
    (
        "job with a quote",
        _set("job", 'session"watch'),
        "Invalid value for 'job': 'session\"watch' is not a job name without quotes",
    ),
    (
        "severity label overridden",
        _set("labels.severity", "critical"),
        "Invalid key 'labels.severity'",
    ),
]


@pytest.mark.parametrize(
    ("change", "message"),
    [(c[1], c[2]) for c in INVALID_CONFIGS],
    ids=[c[0] for c in INVALID_CONFIGS],
)
def test_generator_rejects_invalid_config(
    tmp_path: Path, change: Callable[[dict[str, Any]], None], message: str
) -> None:
    config = _write_config(tmp_path, change)

    result = run_generator("--config", str(config), "--out", str(tmp_path / "rules.yml"))

    assert result.returncode == 2, output_of(result)
    assert message in result.stderr
    assert not (tmp_path / "rules.yml").exists()


def test_generator_profile_rejects_threshold_override(tmp_path: Path) -> None:
    config = _write_config(tmp_path, _set("profiles.e2e.refresh_failure.threshold", 0.5))

    result = run_generator(
        "--config", str(config), "--profile", "e2e", "--out", str(tmp_path / "rules.yml")
    )

    assert result.returncode == 2, output_of(result)
    assert "profiles.e2e.refresh_failure.threshold" in result.stderr
    assert "profiles may override durations only" in result.stderr


def test_generator_rejects_unknown_profile(tmp_path: Path) -> None:
    result = run_generator("--profile", "staging", "--out", str(tmp_path / "rules.yml"))

    assert result.returncode == 2, output_of(result)
    assert "Unknown profile 'staging'" in result.stderr
    assert "e2e" in result.stderr


def test_generator_profile_requires_out() -> None:
    result = run_generator("--profile", "e2e")

    assert result.returncode == 2, output_of(result)
    assert "--profile requires --out" in result.stderr


def test_generator_check_reports_stale_file(tmp_path: Path) -> None:
    out = tmp_path / "rules.yml"
    out.write_text("groups: []\n", encoding="utf-8")

    result = run_generator("--profile", "e2e", "--out", str(out), "--check")

    assert result.returncode == 1, output_of(result)
    assert f"{out} is out of date" in result.stderr
    assert out.read_text(encoding="utf-8") == "groups: []\n"


def test_generator_check_accepts_fresh_output(tmp_path: Path) -> None:
    out = tmp_path / "rules.yml"
    run_generator("--profile", "e2e", "--out", str(out))

    result = run_generator("--profile", "e2e", "--out", str(out), "--check")

    assert result.returncode == 0, output_of(result)


def test_generator_english_rules_pass_promtool(promtool: str, tmp_path: Path) -> None:
    config = _write_config(tmp_path, _set("language", "en"))
    out = tmp_path / "rules.yml"

    result = run_generator("--config", str(config), "--out", str(out))

    assert result.returncode == 0, output_of(result)
    check = run([promtool, "check", "rules", str(out)])
    assert check.returncode == 0, output_of(check)
    alerts = {
        rule["alert"]: rule
        for rule in yaml.safe_load(out.read_text())["groups"][0]["rules"]
        if "alert" in rule
    }
    high = alerts["SessionRefreshFailureRateHigh"]["annotations"]
    assert high["summary"] == "More than 5% of session token refreshes fail."
    assert high["runbook_url"] == (
        "https://docs.example.invalid/sessionwatch/en/runbook.html#sessionrefreshfailureratehigh"
    )


def test_generator_threshold_reaches_rules_and_text(tmp_path: Path) -> None:
    config = _write_config(tmp_path, _set("refresh_failure.threshold", 0.025))
    out = tmp_path / "rules.yml"

    result = run_generator("--config", str(config), "--out", str(out))

    assert result.returncode == 0, output_of(result)
    text = out.read_text(encoding="utf-8")
    assert "sessionwatch:session_refresh_failure:ratio_rate15m > 0.025\n" in text
    assert "Plus de 2,5 % des renouvellements" in text
    assert "> 0.05" not in text
