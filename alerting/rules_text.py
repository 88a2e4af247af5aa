"""Summary and description annotations of every sessionwatch alert, in French and English.

Each text is a %-format string filled in by the generator (thresholds, windows, durations).
The ``{{ ... }}`` parts are Prometheus alert templates, expanded by Prometheus when the alert
fires, so a literal percent sign must be written ``%%``.
"""

from __future__ import annotations

ANNOTATIONS: dict[str, dict[str, tuple[str, str]]] = {
    "fr": {
        "RefreshFailureRateHigh": (
            "Plus de %(threshold)s des renouvellements de jeton de session échouent.",
            "{{ $value | humanizePercentage }} des renouvellements de jeton de session ont "
            "échoué sur une fenêtre de %(window)s (seuil %(threshold)s, au moins "
            "%(min_refreshes)s renouvellements dans la fenêtre).",
        ),
        "RefreshFailureRateHighForSite": (
            "Plus de %(threshold)s des renouvellements de jeton de session échouent sur un site.",
            "Sur le site {{ $labels.site }}, {{ $value | humanizePercentage }} des "
            "renouvellements de jeton de session ont échoué sur une fenêtre de %(window)s "
            "(seuil %(threshold)s, au moins %(min_refreshes)s renouvellements du site dans la "
            "fenêtre).",
        ),
        "ExporterDown": (
            "Prometheus ne reçoit plus les métriques de sessionwatch.",
            "Aucune métrique sessionwatch du job %(job)s{{ with $labels.instance }} sur "
            "{{ . }}{{ end }} depuis %(for)s : les alertes sur les renouvellements ne peuvent "
            "plus se déclencher.",
        ),
        "RedisDown": (
            "L'exportateur sessionwatch n'atteint plus Redis.",
            "L'exportateur {{ $labels.instance }} signale Redis indisponible depuis %(for)s. "
            "Les renouvellements ne sont plus enregistrés, donc les alertes sur le taux "
            "d'échec ne voient plus rien.",
        ),
        "RefreshErrorBudgetFastBurn": (
            "Les échecs de renouvellement consomment vite le budget d'erreur.",
            "{{ $value | humanizePercentage }} des renouvellements de jeton de session ont "
            "échoué sur %(long_window)s. À ce rythme (plus de %(factor)s fois le rythme "
            "soutenable), le budget d'erreur de l'objectif %(objective)s sur %(period)s "
            "s'épuise en moins de %(exhaustion)s.",
        ),
        "RefreshErrorBudgetSlowBurn": (
            "Les échecs de renouvellement consomment le budget d'erreur.",
            "{{ $value | humanizePercentage }} des renouvellements de jeton de session ont "
            "échoué sur %(long_window)s. À ce rythme (plus de %(factor)s fois le rythme "
            "soutenable), le budget d'erreur de l'objectif %(objective)s sur %(period)s "
            "s'épuise en moins de %(exhaustion)s.",
        ),
    },
    "en": {
        "RefreshFailureRateHigh": (
            "More than %(threshold)s of session token refreshes fail.",
            "{{ $value | humanizePercentage }} of session token refreshes failed over the "
            "last %(window)s (threshold %(threshold)s, at least %(min_refreshes)s refreshes "
            "in the window).",
        ),
        "RefreshFailureRateHighForSite": (
            "More than %(threshold)s of session token refreshes fail on one site.",
            "{{ $value | humanizePercentage }} of session token refreshes failed on site "
            "{{ $labels.site }} over the last %(window)s (threshold %(threshold)s, at least "
            "%(min_refreshes)s refreshes of the site in the window).",
        ),
        "ExporterDown": (
            "Prometheus receives no sessionwatch metrics.",
            "No sessionwatch metrics from job %(job)s{{ with $labels.instance }} on "
            "{{ . }}{{ end }} for %(for)s, so the refresh alerts cannot fire.",
        ),
        "RedisDown": (
            "The sessionwatch exporter cannot reach Redis.",
            "Exporter {{ $labels.instance }} has reported Redis down for %(for)s. Refresh "
            "events are not recorded, so the failure-ratio alerts see nothing.",
        ),
        "RefreshErrorBudgetFastBurn": (
            "Session refresh failures burn the error budget fast.",
            "{{ $value | humanizePercentage }} of session token refreshes failed over the "
            "last %(long_window)s. At this rate (more than %(factor)s times the sustainable "
            "rate), the error budget of the %(objective)s objective over %(period)s runs out "
            "in less than %(exhaustion)s.",
        ),
        "RefreshErrorBudgetSlowBurn": (
            "Session refresh failures burn the error budget.",
            "{{ $value | humanizePercentage }} of session token refreshes failed over the "
            "last %(long_window)s. At this rate (more than %(factor)s times the sustainable "
            "rate), the error budget of the %(objective)s objective over %(period)s runs out "
            "in less than %(exhaustion)s.",
        ),
    },
}


def format_number(value: float, language: str) -> str:
    """Format a number without a trailing .0, with a decimal comma in French."""
    text = f"{value:.10g}"
    return text.replace(".", ",") if language == "fr" else text


def format_percent(fraction: float, language: str) -> str:
    """Format 0.05 as "5 %" in French and "5%" in English."""
    number = format_number(round(fraction * 100, 10), language)
    return f"{number} %" if language == "fr" else f"{number}%"


def format_hours(hours: float, language: str) -> str:
    """Format a number of hours as "50 h" in French and "50 hours" in English."""
    number = format_number(round(hours, 1), language)
    return f"{number} h" if language == "fr" else f"{number} hours"
