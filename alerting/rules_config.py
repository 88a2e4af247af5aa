"""Load and validate alerting/config.yaml into typed settings for the rule generator.

A profile (``profiles.<name>`` in the config) may override durations only, so a profile copy
of the rules has the same alerts, expressions and traffic guards as the default one.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

DURATION_KEYS = frozenset(
    {"evaluation_interval", "window", "for", "period", "long_window", "short_window"}
)
SEVERITIES = ("critical", "warning", "info")
LANGUAGES = ("fr", "en")

# Prometheus duration syntax, as accepted in `for:`, `interval:` and range selectors.
_DURATION_RE = re.compile(r"^(\d+y)?(\d+w)?(\d+d)?(\d+h)?(\d+m)?(\d+s)?(\d+ms)?$")
_DURATION_UNITS_S = {"y": 365 * 86400, "w": 7 * 86400, "d": 86400, "h": 3600, "m": 60, "s": 1}
_LABEL_NAME_RE = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
_COMPONENT_RE = re.compile(r"^[A-Z][A-Za-z0-9]*$")
# The job name goes verbatim into PromQL label matchers such as job="sessionwatch".
_JOB_RE = re.compile(r'^[^"\\\n]+$')


class ConfigError(ValueError):
    """Invalid or missing setting. The message names the key, the value and the rule."""


@dataclass(frozen=True)
class AlertSettings:
    for_: str
    severity: str


@dataclass(frozen=True)
class RatioAlertSettings:
    min_refreshes: int
    for_: str
    severity: str


@dataclass(frozen=True)
class BurnRateSettings:
    factor: float
    long_window: str
    short_window: str
    for_: str
    severity: str


@dataclass(frozen=True)
class Settings:
    component: str
    job: str
    language: str
    runbook_base_url: str
    evaluation_interval: str
    labels: dict[str, str]
    threshold: float
    window: str
    overall: RatioAlertSettings
    per_site: RatioAlertSettings
    exporter_down: AlertSettings
    redis_down: AlertSettings
    slo_objective: float
    slo_period: str
    slo_min_refreshes: int
    fast_burn: BurnRateSettings
    slow_burn: BurnRateSettings


def duration_seconds(text: str) -> float:
    """Convert a validated Prometheus duration such as "1h30m" to seconds."""
    total = 0.0
    for amount, unit in re.findall(r"(\d+)(ms|[ywdhms])", text):
        total += int(amount) / 1000 if unit == "ms" else int(amount) * _DURATION_UNITS_S[unit]
    return total


def load_settings(path: Path, profile: str | None = None) -> Settings:
    """Read the config file, apply the profile overrides if any, and validate every key."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise ConfigError(f"Cannot read {path}: {error.strerror}.") from error
    except yaml.YAMLError as error:
        raise ConfigError(f"{path} is not valid YAML: {error}") from error
    if not isinstance(raw, dict):
        raise ConfigError(f"{path} must contain a YAML mapping at the top level.")

    profiles = raw.pop("profiles", None) or {}
    if profile is not None:
        if profile not in profiles:
            known = ", ".join(sorted(profiles)) or "none"
            raise ConfigError(f"Unknown profile '{profile}'. Profiles in {path}: {known}.")
        raw = _apply_profile(raw, profiles[profile], f"profiles.{profile}")
    return _build_settings(raw)


def _apply_profile(base: dict[str, Any], overrides: Any, path: str) -> dict[str, Any]:
    # A profile may only replace existing durations, never add keys or change a threshold.
    if not isinstance(overrides, dict):
        raise ConfigError(f"Invalid value for '{path}': expected a mapping of overrides.")
    merged = copy.deepcopy(base)
    for key, value in overrides.items():
        key_path = f"{path}.{key}"
        if key not in merged:
            raise ConfigError(f"Invalid key '{key_path}': the base config has no '{key}' here.")
        if isinstance(value, dict):
            if not isinstance(merged[key], dict):
                raise ConfigError(f"Invalid value for '{key_path}': expected a duration.")
            merged[key] = _apply_profile(merged[key], value, key_path)
        elif key in DURATION_KEYS:
            merged[key] = value
        else:
            raise ConfigError(
                f"Invalid key '{key_path}': profiles may override durations only "
                f"({', '.join(sorted(DURATION_KEYS))})."
            )
    return merged


def _build_settings(raw: dict[str, Any]) -> Settings:
    refresh = _section(raw, "refresh_failure")
    slo = _section(raw, "slo")
    settings = Settings(
        component=_match(raw, "component", _COMPONENT_RE, "a PascalCase word such as Session"),
        job=_match(raw, "job", _JOB_RE, "a job name without quotes, backslashes or line breaks"),
        language=_choice(raw, "language", LANGUAGES),
        runbook_base_url=_string(raw, "runbook_base_url"),
        evaluation_interval=_duration(raw, "evaluation_interval"),
        labels=_labels(raw),
        threshold=_fraction(refresh, "refresh_failure.threshold"),
        window=_duration(refresh, "refresh_failure.window"),
        overall=_ratio_alert(refresh, "refresh_failure"),
        per_site=_ratio_alert(
            _section(refresh, "refresh_failure.per_site"), "refresh_failure.per_site"
        ),
        exporter_down=_alert(_section(raw, "exporter_down"), "exporter_down"),
        redis_down=_alert(_section(raw, "redis_down"), "redis_down"),
        slo_objective=_fraction(slo, "slo.objective"),
        slo_period=_duration(slo, "slo.period"),
        slo_min_refreshes=_count(slo, "slo.min_refreshes"),
        fast_burn=_burn_rate(_section(slo, "slo.fast_burn"), "slo.fast_burn"),
        slow_burn=_burn_rate(_section(slo, "slo.slow_burn"), "slo.slow_burn"),
    )
    if settings.fast_burn.factor * (1 - settings.slo_objective) >= 1:
        raise ConfigError(
            "Invalid value for 'slo.fast_burn.factor': factor x (1 - objective) must stay "
            "below 1, otherwise the burn-rate alert can never fire."
        )
    return settings


def _lookup(node: dict[str, Any], path: str) -> Any:
    key = path.rsplit(".", 1)[-1]
    if key not in node:
        raise ConfigError(f"Missing key '{path}'.")
    return node[key]


def _section(node: dict[str, Any], path: str) -> dict[str, Any]:
    value = _lookup(node, path)
    if not isinstance(value, dict):
        raise ConfigError(f"Invalid value for '{path}': expected a mapping.")
    return value


def _string(node: dict[str, Any], path: str) -> str:
    value = _lookup(node, path)
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"Invalid value for '{path}': {value!r} is not a non-empty string.")
    return value


def _match(node: dict[str, Any], path: str, pattern: re.Pattern[str], rule: str) -> str:
    value = _string(node, path)
    if not pattern.fullmatch(value):
        raise ConfigError(f"Invalid value for '{path}': {value!r} is not {rule}.")
    return value


def _choice(node: dict[str, Any], path: str, choices: tuple[str, ...]) -> str:
    value = _lookup(node, path)
    if value not in choices:
        raise ConfigError(
            f"Invalid value for '{path}': {value!r} is not one of {', '.join(choices)}."
        )
    return str(value)


def _duration(node: dict[str, Any], path: str) -> str:
    value = _lookup(node, path)
    if not isinstance(value, str) or not value or not _DURATION_RE.fullmatch(value):
        raise ConfigError(
            f"Invalid value for '{path}': {value!r} is not a Prometheus duration such as 5m or 1h."
        )
    return value


def _fraction(node: dict[str, Any], path: str) -> float:
    value = _lookup(node, path)
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < 1:
        raise ConfigError(
            f"Invalid value for '{path}': {value!r} is not a fraction between 0 and 1 "
            "(write 0.05 for 5 %)."
        )
    return float(value)


def _count(node: dict[str, Any], path: str) -> int:
    value = _lookup(node, path)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ConfigError(f"Invalid value for '{path}': {value!r} is not an integer >= 0.")
    return value


def _labels(node: dict[str, Any]) -> dict[str, str]:
    value = _lookup(node, "labels")
    if not isinstance(value, dict):
        raise ConfigError("Invalid value for 'labels': expected a mapping of names to values.")
    for name, label_value in value.items():
        if not isinstance(name, str) or not _LABEL_NAME_RE.fullmatch(name) or name == "severity":
            raise ConfigError(
                f"Invalid key 'labels.{name}': expected a Prometheus label name, not severity."
            )
        if not isinstance(label_value, str):
            raise ConfigError(
                f"Invalid value for 'labels.{name}': {label_value!r} is not a string."
            )
    return dict(value)


def _alert(node: dict[str, Any], path: str) -> AlertSettings:
    return AlertSettings(
        for_=_duration(node, f"{path}.for"),
        severity=_choice(node, f"{path}.severity", SEVERITIES),
    )


def _ratio_alert(node: dict[str, Any], path: str) -> RatioAlertSettings:
    return RatioAlertSettings(
        min_refreshes=_count(node, f"{path}.min_refreshes"),
        for_=_duration(node, f"{path}.for"),
        severity=_choice(node, f"{path}.severity", SEVERITIES),
    )


def _burn_rate(node: dict[str, Any], path: str) -> BurnRateSettings:
    factor = _lookup(node, f"{path}.factor")
    if isinstance(factor, bool) or not isinstance(factor, int | float) or factor <= 0:
        raise ConfigError(f"Invalid value for '{path}.factor': {factor!r} is not a number > 0.")
    burn_rate = BurnRateSettings(
        factor=float(factor),
        long_window=_duration(node, f"{path}.long_window"),
        short_window=_duration(node, f"{path}.short_window"),
        for_=_duration(node, f"{path}.for"),
        severity=_choice(node, f"{path}.severity", SEVERITIES),
    )
    if duration_seconds(burn_rate.short_window) >= duration_seconds(burn_rate.long_window):
        raise ConfigError(
            f"Invalid value for '{path}.short_window': {burn_rate.short_window} must be shorter "
            f"than long_window {burn_rate.long_window}."
        )
    return burn_rate
