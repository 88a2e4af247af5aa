"""Build the sessionwatch Grafana dashboard, in French and English, from the alerting settings.

The dashboard selects its Prometheus data source through the ``datasource`` variable, so the
same JSON works when provisioned from disk and when imported in the UI. The failure-ratio
panels use the window and threshold of the alert rules.
"""

from __future__ import annotations

from typing import Any

from rules_config import Settings
from rules_text import format_percent

DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
PANEL_WIDTH = 12
PANEL_HEIGHT = 8

TITLES: dict[str, dict[str, str]] = {
    "fr": {
        "dashboard": "sessionwatch : sessions et renouvellements",
        "datasource": "Source de données",
        "site": "Site",
        "row_sessions": "Sessions",
        "active_total": "Sessions actives",
        "active_by_site": "Sessions actives par site",
        "started_ended": "Sessions ouvertes et fermées (par seconde)",
        "row_refresh": "Renouvellements de jeton",
        "refresh_rates": "Renouvellements réussis et échoués (par seconde)",
        "ratio": "Taux d'échec des renouvellements (fenêtre %(window)s, seuil %(threshold)s)",
        "ratio_by_site": "Taux d'échec par site (fenêtre %(window)s)",
        "failures_by_reason": "Échecs par cause (par seconde)",
        "failures_by_source": "Échecs par origine (par seconde)",
        "forced_logouts": "Déconnexions forcées par cause (par seconde)",
        "row_health": "Santé de l'exportateur",
        "redis_up": "Redis vu par l'exportateur",
        "exporter_up": "Collecte de l'exportateur",
        "scrape_duration": "Durée de lecture de Redis par l'exportateur",
        "scrape_errors": "Erreurs de lecture de l'exportateur (par seconde)",
        "success": "réussis",
        "failure": "échoués",
        "started": "ouvertes",
        "ended": "fermées",
        "ratio_legend": "taux d'échec",
        "up": "OK",
        "down": "EN PANNE",
        "ratio_help": "Même calcul que l'alerte SessionRefreshFailureRateHigh, sans le "
        "minimum de trafic. La ligne rouge marque le seuil d'alerte.",
    },
    "en": {
        "dashboard": "sessionwatch: sessions and refreshes",
        "datasource": "Data source",
        "site": "Site",
        "row_sessions": "Sessions",
        "active_total": "Active sessions",
        "active_by_site": "Active sessions by site",
        "started_ended": "Sessions started and ended (per second)",
        "row_refresh": "Token refreshes",
        "refresh_rates": "Successful and failed refreshes (per second)",
        "ratio": "Refresh failure ratio (%(window)s window, threshold %(threshold)s)",
        "ratio_by_site": "Refresh failure ratio by site (%(window)s window)",
        "failures_by_reason": "Failures by reason (per second)",
        "failures_by_source": "Failures by source (per second)",
        "forced_logouts": "Forced logouts by reason (per second)",
        "row_health": "Exporter health",
        "redis_up": "Redis as seen by the exporter",
        "exporter_up": "Exporter scrape",
        "scrape_duration": "Exporter Redis read duration",
        "scrape_errors": "Exporter read errors (per second)",
        "success": "succeeded",
        "failure": "failed",
        "started": "started",
        "ended": "ended",
        "ratio_legend": "failure ratio",
        "up": "UP",
        "down": "DOWN",
        "ratio_help": "Same computation as the SessionRefreshFailureRateHigh alert, without "
        "the traffic guard. The red line marks the alert threshold.",
    },
}


def _target(expr: str, legend: str, ref_id: str = "A") -> dict[str, Any]:
    return {"refId": ref_id, "datasource": DATASOURCE, "expr": expr, "legendFormat": legend}


def _panel(
    kind: str, title: str, targets: list[dict[str, Any]], unit: str = "short", **extra: Any
) -> dict[str, Any]:
    panel: dict[str, Any] = {
        "type": kind,
        "title": title,
        "datasource": DATASOURCE,
        "targets": targets,
        "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
    }
    if kind == "timeseries":
        panel["options"] = {
            "legend": {"displayMode": "list", "placement": "bottom", "showLegend": True},
            "tooltip": {"mode": "multi", "sort": "desc"},
        }
    panel.update(extra)
    return panel


def _threshold_defaults(threshold: float) -> dict[str, Any]:
    return {
        "unit": "percentunit",
        "min": 0,
        "custom": {"thresholdsStyle": {"mode": "line"}},
        "thresholds": {
            "mode": "absolute",
            "steps": [{"color": "green", "value": None}, {"color": "red", "value": threshold}],
        },
    }


def _up_down_defaults(text: dict[str, str]) -> dict[str, Any]:
    return {
        "unit": "none",
        "mappings": [
            {
                "type": "value",
                "options": {
                    "0": {"text": text["down"], "color": "red", "index": 0},
                    "1": {"text": text["up"], "color": "green", "index": 1},
                },
            }
        ],
        "thresholds": {
            "mode": "absolute",
            "steps": [{"color": "red", "value": None}, {"color": "green", "value": 1}],
        },
    }


def _sections(
    settings: Settings, text: dict[str, str], language: str
) -> list[tuple[str, list[dict[str, Any]]]]:
    """Return (row title, panels) pairs with the PromQL of every panel."""
    job = 'job="$job"'
    site = f'{job},site=~"$site"'
    window = settings.window
    failures = f"increase(session_refresh_failure_total{{{site}}}[{window}])"
    refreshes = (
        f'increase({{__name__=~"session_refresh_(success|failure)_total",{site}}}[{window}])'
    )
    threshold = format_percent(settings.threshold, language)
    ratio_title = text["ratio"] % {"window": window, "threshold": threshold}

    sessions = [
        _panel("stat", text["active_total"], [_target(f"sum(session_active{{{job}}})", "")]),
        _panel(
            "timeseries",
            text["active_by_site"],
            [_target(f"sum by (site) (session_active_by_site{{{site}}})", "{{site}}")],
        ),
        _panel(
            "timeseries",
            text["started_ended"],
            [
                _target(
                    f"sum(rate(session_started_total{{{site}}}[$__rate_interval]))", text["started"]
                ),
                _target(
                    f"sum(rate(session_ended_total{{{site}}}[$__rate_interval]))",
                    text["ended"],
                    "B",
                ),
            ],
            "ops",
        ),
    ]
    ratio_panel = _panel(
        "timeseries",
        ratio_title,
        [_target(f"sum({failures})\n/\n(sum({refreshes}) > 0)", text["ratio_legend"])],
        description=text["ratio_help"],
    )
    ratio_panel["fieldConfig"]["defaults"] = _threshold_defaults(settings.threshold)
    ratio_by_site = _panel(
        "timeseries",
        text["ratio_by_site"] % {"window": window},
        [_target(f"sum by (site) ({failures})\n/\n(sum by (site) ({refreshes}) > 0)", "{{site}}")],
    )
    ratio_by_site["fieldConfig"]["defaults"] = _threshold_defaults(settings.threshold)
    refresh = [
        _panel(
            "timeseries",
            text["refresh_rates"],
            [
                _target(
                    f"sum(rate(session_refresh_success_total{{{site}}}[$__rate_interval]))",
                    text["success"],
                ),
                _target(
                    f"sum(rate(session_refresh_failure_total{{{site}}}[$__rate_interval]))",
                    text["failure"],
                    "B",
                ),
            ],
            "ops",
        ),
        ratio_panel,
        ratio_by_site,
        _panel(
            "timeseries",
            text["failures_by_reason"],
            [
                _target(
                    "sum by (reason) (rate(session_refresh_failure_total"
                    f"{{{site}}}[$__rate_interval]))",
                    "{{reason}}",
                )
            ],
            "ops",
        ),
        _panel(
            "timeseries",
            text["failures_by_source"],
            [
                _target(
                    "sum by (source) (rate(session_refresh_failure_total"
                    f"{{{site}}}[$__rate_interval]))",
                    "{{source}}",
                )
            ],
            "ops",
        ),
        _panel(
            "timeseries",
            text["forced_logouts"],
            [
                _target(
                    "sum by (reason) (rate(session_logout_forced_total"
                    f"{{{site}}}[$__rate_interval]))",
                    "{{reason}}",
                )
            ],
            "ops",
        ),
    ]
    redis_up = _panel(
        "stat", text["redis_up"], [_target(f"min(sessionwatch_redis_up{{{job}}})", "")]
    )
    redis_up["fieldConfig"]["defaults"] = _up_down_defaults(text)
    exporter_up = _panel("stat", text["exporter_up"], [_target(f"min(up{{{job}}})", "")])
    exporter_up["fieldConfig"]["defaults"] = _up_down_defaults(text)
    health = [
        redis_up,
        exporter_up,
        _panel(
            "timeseries",
            text["scrape_duration"],
            [_target(f"sessionwatch_scrape_duration_seconds{{{job}}}", "{{instance}}")],
            "s",
        ),
        _panel(
            "timeseries",
            text["scrape_errors"],
            [
                _target(
                    f"rate(sessionwatch_scrape_errors_total{{{job}}}[$__rate_interval])",
                    "{{instance}}",
                )
            ],
            "ops",
        ),
    ]
    return [
        (text["row_sessions"], sessions),
        (text["row_refresh"], refresh),
        (text["row_health"], health),
    ]


def _layout(sections: list[tuple[str, list[dict[str, Any]]]]) -> list[dict[str, Any]]:
    """Place each row title on its own line, then its panels two per line, and number them."""
    panels: list[dict[str, Any]] = []
    y = 0
    for title, row_panels in sections:
        panels.append(
            {
                "type": "row",
                "title": title,
                "collapsed": False,
                "panels": [],
                "gridPos": {"h": 1, "w": 24, "x": 0, "y": y},
            }
        )
        y += 1
        for index, panel in enumerate(row_panels):
            x = (index % 2) * PANEL_WIDTH
            panel["gridPos"] = {"h": PANEL_HEIGHT, "w": PANEL_WIDTH, "x": x, "y": y}
            if index % 2 == 1 or index == len(row_panels) - 1:
                y += PANEL_HEIGHT
            panels.append(panel)
    for number, panel in enumerate(panels, start=1):
        panel["id"] = number
    return panels


def _variables(settings: Settings, text: dict[str, str]) -> list[dict[str, Any]]:
    site_query = (
        'label_values({__name__=~"session_refresh_(success|failure)_total",job="$job"}, site)'
    )
    return [
        {
            "name": "datasource",
            "label": text["datasource"],
            "type": "datasource",
            "query": "prometheus",
            "current": {},
            "hide": 0,
            "refresh": 1,
            "options": [],
        },
        # A constant keeps the panel queries identical to the alert rules. Edit it if the
        # scrape job has another name.
        {"name": "job", "type": "constant", "query": settings.job, "hide": 2},
        {
            "name": "site",
            "label": text["site"],
            "type": "query",
            "datasource": DATASOURCE,
            "query": {"query": site_query, "refId": "site"},
            "definition": site_query,
            "refresh": 2,
            "multi": True,
            "includeAll": True,
            "allValue": ".*",
            "sort": 1,
            "current": {"selected": True, "text": ["All"], "value": ["$__all"]},
            "options": [],
        },
    ]


def build_dashboard(settings: Settings, language: str) -> dict[str, Any]:
    """Build the dashboard JSON model in the given language ("fr" or "en")."""
    text = TITLES[language]
    return {
        "uid": "sessionwatch" if language == "fr" else f"sessionwatch-{language}",
        "title": text["dashboard"],
        "tags": ["sessionwatch"],
        "timezone": "browser",
        "editable": True,
        "graphTooltip": 1,
        "refresh": "1m",
        "schemaVersion": 39,
        "version": 1,
        "time": {"from": "now-6h", "to": "now"},
        "annotations": {
            "list": [
                {
                    "builtIn": 1,
                    "datasource": {"type": "grafana", "uid": "-- Grafana --"},
                    "enable": True,
                    "hide": True,
                    "iconColor": "rgba(0, 211, 255, 1)",
                    "name": "Annotations & Alerts",
                    "type": "dashboard",
                }
            ]
        },
        "templating": {"list": _variables(settings, text)},
        "panels": _layout(_sections(settings, text, language)),
    }
