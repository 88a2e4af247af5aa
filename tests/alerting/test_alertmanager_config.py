"""Check alerting/alertmanager.yml with amtool and with a real Alertmanager and SMTP server."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import httpx
import pytest

from ..support.alertmanager import AlertmanagerServer, SMTPSink, shipped_config_for_sink
from .tools import ALERTING, output_of, run

CONFIG = ALERTING / "alertmanager.yml"
TEMPLATES = str(ALERTING / "templates" / "*.tmpl")
WAIT_SECONDS = 30.0


def test_amtool_check_config_passes(amtool: str) -> None:
    result = run([amtool, "check-config", str(CONFIG)])

    assert result.returncode == 0, output_of(result)
    assert "1 inhibit rules" in result.stdout
    assert "1 templates" in result.stdout


ROUTES = [
    (
        "page",
        ["service=sessionwatch", "severity=critical", "alertname=SessionRefreshFailureRateHigh"],
        "sessionwatch-page",
    ),
    (
        "ticket",
        ["service=sessionwatch", "severity=warning", "alertname=SessionRedisDown"],
        "sessionwatch-ticket",
    ),
    (
        "site ticket",
        [
            "service=sessionwatch",
            "severity=warning",
            "site=shop-b",
            "alertname=SessionRefreshFailureRateHighForSite",
        ],
        "sessionwatch-ticket",
    ),
    (
        "other service",
        ["service=billing", "severity=critical", "alertname=BillingDown"],
        "sessionwatch-ticket",
    ),
]


@pytest.mark.parametrize(
    ("labels", "receiver"), [(r[1], r[2]) for r in ROUTES], ids=[r[0] for r in ROUTES]
)
def test_alertmanager_routes_by_severity(amtool: str, labels: list[str], receiver: str) -> None:
    result = run([amtool, "config", "routes", "test", f"--config.file={CONFIG}", *labels])

    assert result.returncode == 0, output_of(result)
    assert result.stdout.strip() == receiver


TEMPLATE_DATA = {
    "receiver": "sessionwatch-ticket",
    "status": "firing",
    "externalURL": "http://127.0.0.1:9093",
    "groupLabels": {"alertname": "SessionRefreshFailureRateHighForSite", "site": "shop-b"},
    "commonLabels": {
        "alertname": "SessionRefreshFailureRateHighForSite",
        "site": "shop-b",
        "severity": "warning",
        "service": "sessionwatch",
    },
    "commonAnnotations": {},
    "alerts": [
        {
            "status": "firing",
            "labels": {
                "alertname": "SessionRefreshFailureRateHighForSite",
                "site": "shop-b",
                "severity": "warning",
                "service": "sessionwatch",
            },
            "annotations": {
                "summary": "Résumé",
                "description": "20% des renouvellements",
                "runbook_url": "https://docs.example.invalid/runbook.html#x",
            },
            "startsAt": "2024-05-01T10:00:00Z",
            "endsAt": "0001-01-01T00:00:00Z",
            "generatorURL": "http://127.0.0.1:9090/graph",
        },
        {
            "status": "resolved",
            "labels": {
                "alertname": "SessionRefreshFailureRateHighForSite",
                "site": "shop-b",
                "severity": "warning",
                "service": "sessionwatch",
            },
            "annotations": {
                "summary": "Résumé",
                "description": "7% des renouvellements",
                "runbook_url": "https://docs.example.invalid/runbook.html#x",
            },
            "startsAt": "2024-05-01T09:00:00Z",
            "endsAt": "2024-05-01T09:30:00Z",
            "generatorURL": "http://127.0.0.1:9090/graph",
        },
    ],
}

FRENCH_TEXT = """\
Alertes en cours (1) :
- SessionRefreshFailureRateHighForSite, site shop-b
  Résumé
  20% des renouvellements
  Début : 2024-05-01 10:00:00 UTC
  Procédure : https://docs.example.invalid/runbook.html#x
  Requête : http://127.0.0.1:9090/graph

Alertes résolues (1) :
- SessionRefreshFailureRateHighForSite, site shop-b
  Résumé
  7% des renouvellements
  Début : 2024-05-01 09:00:00 UTC
  Fin : 2024-05-01 09:30:00 UTC
  Procédure : https://docs.example.invalid/runbook.html#x
  Requête : http://127.0.0.1:9090/graph

Alertmanager : http://127.0.0.1:9093"""


def _render(amtool: str, tmp_path: Path, template: str) -> str:
    data = tmp_path / "data.json"
    data.write_text(json.dumps(TEMPLATE_DATA), encoding="utf-8")
    text = '{{ template "' + template + '" . }}'
    result = run(
        [
            amtool,
            "template",
            "render",
            f"--template.glob={TEMPLATES}",
            f"--template.data={data}",
            f"--template.text={text}",
        ]
    )
    assert result.returncode == 0, output_of(result)
    return result.stdout.rstrip("\n")


def test_email_template_renders_french_text(amtool: str, tmp_path: Path) -> None:
    assert _render(amtool, tmp_path, "sessionwatch.fr.text") == FRENCH_TEXT
    assert _render(amtool, tmp_path, "sessionwatch.fr.subject") == (
        "[ALERTE warning] SessionRefreshFailureRateHighForSite - site shop-b"
    )


def test_email_template_renders_english_text(amtool: str, tmp_path: Path) -> None:
    text = _render(amtool, tmp_path, "sessionwatch.en.text")

    assert text.startswith(
        "Firing alerts (1):\n- SessionRefreshFailureRateHighForSite, site shop-b"
    )
    assert "  Runbook: https://docs.example.invalid/runbook.html#x" in text
    assert "Resolved alerts (1):" in text
    assert "  Ended: 2024-05-01 09:30:00 UTC" in text
    assert _render(amtool, tmp_path, "sessionwatch.en.subject") == (
        "[FIRING warning] SessionRefreshFailureRateHighForSite - site shop-b"
    )


def _wait_for(condition: Callable[[], Any], description: str) -> Any:
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out after {WAIT_SECONDS} s waiting for {description}")


@pytest.fixture
def inbox() -> Iterator[SMTPSink]:
    with SMTPSink() as sink:
        yield sink


@pytest.fixture
def alertmanager(inbox: SMTPSink) -> Iterator[str]:
    """Start Alertmanager with the shipped routes, sending e-mail to the local SMTP sink."""
    # Only the waits shrink, so the test runs in seconds. Routes and inhibitions stay as shipped.
    config = shipped_config_for_sink(inbox.port, group_wait="1s", group_interval="1s")
    with AlertmanagerServer(config) as server:
        yield server.url


def _post_alert(url: str, alertname: str, severity: str, **labels: str) -> None:
    alert = {
        "labels": {
            "alertname": alertname,
            "severity": severity,
            "service": "sessionwatch",
            **labels,
        },
        "annotations": {
            "summary": f"{alertname} summary",
            "description": "description",
            "runbook_url": f"https://docs.example.invalid/#{alertname.lower()}",
        },
        "generatorURL": "http://127.0.0.1:9090/graph",
    }
    httpx.post(f"{url}/api/v2/alerts", json=[alert], timeout=5).raise_for_status()


def _mails_to(inbox: SMTPSink, address: str, alertname: str) -> list[EmailMessage]:
    return [
        message for message in inbox.received_by(address)
        if alertname in str(message["Subject"])
    ]


@pytest.mark.prometheus
def test_alertmanager_pages_critical_alert_by_email(
    alertmanager: str, inbox: SMTPSink
) -> None:
    _post_alert(alertmanager, "SessionRefreshFailureRateHigh", "critical")

    mails = _wait_for(
        lambda: _mails_to(inbox, "oncall@example.invalid", "SessionRefreshFailureRateHigh"),
        "the page e-mail",
    )

    message = mails[0]
    assert message["Subject"] == "[ALERTE critical] SessionRefreshFailureRateHigh"
    assert message["From"] == "sessionwatch-alerts@example.invalid"
    body = message.get_body(preferencelist=("plain",))
    assert body is not None
    text = body.get_content()
    assert "Alertes en cours (1) :" in text
    assert "SessionRefreshFailureRateHigh summary" in text
    assert "Procédure : https://docs.example.invalid/#sessionrefreshfailureratehigh" in text


@pytest.mark.prometheus
def test_alertmanager_redis_down_inhibits_ratio_alert(
    alertmanager: str, inbox: SMTPSink
) -> None:
    _post_alert(alertmanager, "SessionRedisDown", "warning", instance="exporter:9465")
    _wait_for(
        lambda: _mails_to(inbox, "sessionwatch-tickets@example.invalid", "SessionRedisDown"),
        "the SessionRedisDown ticket e-mail",
    )

    _post_alert(alertmanager, "SessionRefreshFailureRateHighForSite", "warning", site="shop-b")

    def ratio_alert_status() -> dict[str, Any] | None:
        response = httpx.get(
            f"{alertmanager}/api/v2/alerts",
            timeout=5,
            params={"filter": 'alertname="SessionRefreshFailureRateHighForSite"'},
        )
        alerts = response.json()
        return alerts[0]["status"] if alerts and alerts[0]["status"]["inhibitedBy"] else None

    status = _wait_for(ratio_alert_status, "the ratio alert to be inhibited")
    assert status["state"] == "suppressed"
    # A later alert of another group gets through, so the ratio alert's group has been
    # flushed by then, and muted.
    _post_alert(alertmanager, "SessionExporterDown", "warning", job="sessionwatch")
    _wait_for(
        lambda: _mails_to(inbox, "sessionwatch-tickets@example.invalid", "SessionExporterDown"),
        "the SessionExporterDown e-mail",
    )
    assert (
        _mails_to(
            inbox, "sessionwatch-tickets@example.invalid", "SessionRefreshFailureRateHighForSite"
        )
        == []
    )
