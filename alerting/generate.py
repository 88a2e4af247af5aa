#!/usr/bin/env python3
"""Generate the sessionwatch Prometheus rules and Grafana dashboards from alerting/config.yaml.

    python alerting/generate.py                  # rewrite the rules and the dashboards
    python alerting/generate.py --check          # exit 1 if a committed file is out of date
    python alerting/generate.py --profile e2e --out /tmp/sessionwatch.e2e.rules.yml

Exit status: 0 on success, 1 when --check finds a difference, 2 on an invalid config or
command line.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml
from dashboard import build_dashboard
from rules_config import ConfigError, Settings, duration_seconds, load_settings
from rules_text import ANNOTATIONS, format_hours, format_number, format_percent

ALERTING_DIR = Path(__file__).resolve().parent
DEFAULT_CONFIG = ALERTING_DIR / "config.yaml"
MAIN_RULES = ALERTING_DIR / "rules" / "sessionwatch.rules.yml"
SLO_RULES = ALERTING_DIR / "rules" / "sessionwatch.slo.rules.yml"
DASHBOARDS = {
    "fr": ALERTING_DIR / "grafana" / "sessionwatch-dashboard.json",
    "en": ALERTING_DIR / "grafana" / "sessionwatch-dashboard.en.json",
}

# Recording rules and the alerts that read them share one group, because Prometheus evaluates
# the rules of a group in order: every alert reads the series recorded in the same evaluation.
GROUP = "sessionwatch"
SLO_GROUP = "sessionwatch-slo"


def _number(value: float) -> str:
    return f"{value:.10g}"


def _selectors(settings: Settings) -> tuple[str, str]:
    """Return the PromQL selectors of the failure counter and of all refresh counters."""
    job = f'job="{settings.job}"'
    failures = f"session_refresh_failure_total{{{job}}}"
    # Matching both counters by name keeps a site whose refreshes all fail (and which may
    # have no success series at all) in the denominator.
    refreshes = f'{{__name__=~"session_refresh_(success|failure)_total",{job}}}'
    return failures, refreshes


def _alert(
    settings: Settings,
    name: str,
    expr: str,
    for_: str,
    severity: str,
    text_values: dict[str, Any],
) -> dict[str, Any]:
    summary, description = ANNOTATIONS[settings.language][name]
    alert_name = settings.component + name
    runbook_base = settings.runbook_base_url.replace("{language}", settings.language)
    return {
        "alert": alert_name,
        "expr": expr,
        "for": for_,
        "labels": {"severity": severity, **settings.labels},
        "annotations": {
            "summary": summary % text_values,
            "description": description % text_values,
            "runbook_url": f"{runbook_base}#{alert_name.lower()}",
        },
    }


def build_main_rules(settings: Settings) -> dict[str, Any]:
    """Build the failure-ratio recording rules and the four main alerts."""
    window = settings.window
    failures, refreshes = _selectors(settings)
    site_failures = f"site:session_refresh_failures:increase{window}"
    site_refreshes = f"site:session_refreshes:increase{window}"
    site_ratio = f"site:session_refresh_failure:ratio_rate{window}"
    all_failures = f"sessionwatch:session_refresh_failures:increase{window}"
    all_refreshes = f"sessionwatch:session_refreshes:increase{window}"
    all_ratio = f"sessionwatch:session_refresh_failure:ratio_rate{window}"

    # increase() handles counter resets (Redis restarted empty) per series. The `> 0` filter
    # on the denominator drops the ratio instead of producing NaN when there is no traffic.
    recording = [
        {"record": site_failures, "expr": f"sum by (site) (increase({failures}[{window}]))"},
        {"record": site_refreshes, "expr": f"sum by (site) (increase({refreshes}[{window}]))"},
        {"record": site_ratio, "expr": f"{site_failures}\n/\n({site_refreshes} > 0)\n"},
        {"record": all_failures, "expr": f"sum({site_failures})"},
        {"record": all_refreshes, "expr": f"sum({site_refreshes})"},
        {"record": all_ratio, "expr": f"{all_failures}\n/\n({all_refreshes} > 0)\n"},
    ]

    threshold = _number(settings.threshold)
    job = f'job="{settings.job}"'
    common = {
        "threshold": format_percent(settings.threshold, settings.language),
        "window": window,
        "job": settings.job,
    }
    overall, per_site = settings.overall, settings.per_site
    alerts = [
        _alert(
            settings,
            "RefreshFailureRateHigh",
            f"{all_ratio} > {threshold}\nand\n{all_refreshes} >= {overall.min_refreshes}\n",
            overall.for_,
            overall.severity,
            {**common, "min_refreshes": overall.min_refreshes},
        ),
        _alert(
            settings,
            "RefreshFailureRateHighForSite",
            f"{site_ratio} > {threshold}\nand\n{site_refreshes} >= {per_site.min_refreshes}\n",
            per_site.for_,
            per_site.severity,
            {**common, "min_refreshes": per_site.min_refreshes},
        ),
        _alert(
            settings,
            "ExporterDown",
            # The target fails (up == 0), left service discovery (no up series), or responds
            # without sessionwatch metrics. `unless` avoids a second alert while up == 0.
            f"up{{{job}}} == 0\nor\nabsent(up{{{job}}})\nor\n"
            f"absent(sessionwatch_redis_up{{{job}}}) unless on () (up{{{job}}} == 0)\n",
            settings.exporter_down.for_,
            settings.exporter_down.severity,
            {**common, "for": settings.exporter_down.for_},
        ),
        _alert(
            settings,
            "RedisDown",
            f"sessionwatch_redis_up{{{job}}} == 0",
            settings.redis_down.for_,
            settings.redis_down.severity,
            {**common, "for": settings.redis_down.for_},
        ),
    ]
    return {
        "groups": [
            {"name": GROUP, "interval": settings.evaluation_interval, "rules": recording + alerts}
        ]
    }


def build_slo_rules(settings: Settings) -> dict[str, Any]:
    """Build the multi-window, multi-burn-rate recording rules and alerts of the SLO file."""
    failures, refreshes = _selectors(settings)
    burn_rates = {
        "RefreshErrorBudgetFastBurn": settings.fast_burn,
        "RefreshErrorBudgetSlowBurn": settings.slow_burn,
    }
    windows = sorted(
        {window for b in burn_rates.values() for window in (b.long_window, b.short_window)},
        key=duration_seconds,
    )
    long_windows = [b.long_window for b in burn_rates.values()]

    recording: list[dict[str, Any]] = []
    for window in windows:
        recording.append(
            {
                "record": f"sessionwatch:session_refresh_failure:ratio_rate{window}",
                "expr": f"sum(increase({failures}[{window}]))\n/\n"
                f"(sum(increase({refreshes}[{window}])) > 0)\n",
            }
        )
    for window in sorted(set(long_windows), key=duration_seconds):
        recording.append(
            {
                "record": f"sessionwatch:session_refreshes:increase{window}",
                "expr": f"sum(increase({refreshes}[{window}]))",
            }
        )

    budget = round(1 - settings.slo_objective, 12)
    language = settings.language
    alerts = []
    for name, burn in burn_rates.items():
        limit = f"({_number(burn.factor)} * {_number(budget)})"
        ratio = "sessionwatch:session_refresh_failure:ratio_rate"
        expr = (
            f"{ratio}{burn.long_window} > {limit}\nand\n{ratio}{burn.short_window} > {limit}\n"
            f"and\nsessionwatch:session_refreshes:increase{burn.long_window} "
            f">= {settings.slo_min_refreshes}\n"
        )
        exhaustion_hours = duration_seconds(settings.slo_period) / burn.factor / 3600
        text_values = {
            "long_window": burn.long_window,
            "factor": format_number(burn.factor, language),
            "objective": format_percent(settings.slo_objective, language),
            "period": settings.slo_period,
            "exhaustion": format_hours(exhaustion_hours, language),
        }
        alerts.append(_alert(settings, name, expr, burn.for_, burn.severity, text_values))
    return {
        "groups": [
            {
                "name": SLO_GROUP,
                "interval": settings.evaluation_interval,
                "rules": recording + alerts,
            }
        ]
    }


class _RulesDumper(yaml.SafeDumper):
    """YAML dumper that indents lists and writes multi-line PromQL as literal blocks."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)


def _represent_str(dumper: yaml.SafeDumper, data: str) -> yaml.ScalarNode:
    style = "|" if "\n" in data else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style=style)


_RulesDumper.add_representer(str, _represent_str)


def _display_path(path: Path) -> str:
    """Return the path relative to the repository when inside it, so headers do not vary."""
    resolved = path.resolve()
    if resolved.is_relative_to(ALERTING_DIR.parent):
        return resolved.relative_to(ALERTING_DIR.parent).as_posix()
    return str(path)


def render(rules: dict[str, Any], config: Path, profile: str | None) -> str:
    """Render a rule file with a header that names its config file and profile."""
    header = (
        f"# Generated by alerting/generate.py from {_display_path(config)}"
        f" (profile: {profile or 'default'}).\n"
        "# Do not edit: change the config or the generator, then run the generator.\n"
    )
    body: str = yaml.dump(
        rules, Dumper=_RulesDumper, sort_keys=False, allow_unicode=True, width=10_000
    )
    return header + body


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Generate the sessionwatch Prometheus rules and Grafana dashboards "
        "from the alerting config."
    )
    parser.add_argument(
        "--config",
        type=Path,
        default=DEFAULT_CONFIG,
        help="Config file to read (default: alerting/config.yaml).",
    )
    parser.add_argument(
        "--profile",
        help="Apply the duration overrides of profiles.NAME "
        "from the config and write only the main rules; requires --out.",
    )
    parser.add_argument(
        "--out",
        type=Path,
        help="Write the main rules to this file instead of alerting/rules/; the SLO rules "
        "and the dashboards are then not written.",
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="Compare instead of writing; exit 1 if a target file differs from the generated text.",
    )
    args = parser.parse_args(argv)
    if args.profile is not None and args.out is None:
        parser.error(
            "--profile requires --out, because profile copies never replace the committed rules."
        )
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Generate or check the rule and dashboard files, and return the exit status."""
    args = _parse_args(argv)
    try:
        settings = load_settings(args.config, args.profile)
    except ConfigError as error:
        print(f"error: {args.config}: {error}", file=sys.stderr)
        return 2

    outputs = {
        args.out or MAIN_RULES: render(build_main_rules(settings), args.config, args.profile)
    }
    if args.out is None:
        # NOTE: profiles scale the main rules only. The SLO rules (windows up to 6h) and the
        # dashboards exist in the default version alone.
        outputs[SLO_RULES] = render(build_slo_rules(settings), args.config, None)
        for language, path in DASHBOARDS.items():
            dashboard = build_dashboard(settings, language)
            outputs[path] = json.dumps(dashboard, indent=2, ensure_ascii=False) + "\n"

    stale = []
    for path, text in outputs.items():
        current = path.read_text(encoding="utf-8") if path.exists() else None
        if args.check:
            if current != text:
                stale.append(path)
        elif current != text:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            print(f"wrote {path}")
    fix = "rerun with the same options" if args.out else "run `python alerting/generate.py`"
    for path in stale:
        print(f"{path} is out of date: {fix} and commit the result.", file=sys.stderr)
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
