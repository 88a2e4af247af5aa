"""A private Alertmanager and an SMTP sink for end-to-end alerting tests, on loopback only."""

from __future__ import annotations

import email
import email.policy
import threading
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import yaml
from aiosmtpd.controller import Controller

from .servers import HttpServerProcess, free_port

ALERTMANAGER_BINARY = "/usr/bin/prometheus-alertmanager"


REPO = Path(__file__).resolve().parents[2]
SHIPPED_CONFIG = REPO / "alerting" / "alertmanager.yml"


def shipped_config_for_sink(smtp_port: int, *, group_wait: str = "1s",
                            group_interval: str = "2s") -> dict[str, Any]:
    """Return alerting/alertmanager.yml sending to a local SMTP sink, with short waits.

    Only the SMTP relay, the template path and the grouping delays change; routes, receivers
    and inhibitions stay as shipped.
    """
    config: dict[str, Any] = yaml.safe_load(SHIPPED_CONFIG.read_text("utf-8"))
    smtp = config["global"]
    smtp["smtp_smarthost"] = f"127.0.0.1:{smtp_port}"
    smtp["smtp_require_tls"] = False
    smtp.pop("smtp_auth_username", None)
    smtp.pop("smtp_auth_password_file", None)
    config["templates"] = [str(SHIPPED_CONFIG.parent / "templates" / "*.tmpl")]
    config["route"]["group_wait"] = group_wait
    config["route"]["group_interval"] = group_interval
    return config


class SMTPSink:
    """An SMTP server on 127.0.0.1 that keeps every message with its envelope recipients."""

    def __init__(self) -> None:
        self.port = free_port()
        self._messages: list[tuple[list[str], EmailMessage]] = []
        self._lock = threading.Lock()
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self._lock:
            self._messages.append((list(envelope.rcpt_tos), message))  # type: ignore[arg-type]
        return "250 OK"

    def received(self) -> list[EmailMessage]:
        with self._lock:
            return [message for _, message in self._messages]

    def received_by(self, address: str) -> list[EmailMessage]:
        with self._lock:
            return [message for recipients, message in self._messages if address in recipients]

    def __enter__(self) -> SMTPSink:
        self._controller.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._controller.stop()


class AlertmanagerServer(HttpServerProcess):
    """Run prometheus-alertmanager with `config`, clustering disabled, on a free port."""

    def __init__(self, config: dict[str, Any]) -> None:
        super().__init__("alertmanager", ALERTMANAGER_BINARY, package="prometheus-alertmanager")
        self.config_path = self.workdir / "alertmanager.yml"
        self.config_path.write_text(yaml.safe_dump(config), "utf-8")

    @property
    def command(self) -> list[str]:
        return [ALERTMANAGER_BINARY, f"--config.file={self.config_path}",
                f"--storage.path={self.workdir / 'data'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                # An empty address disables the gossip cluster, which would listen on 0.0.0.0.
                "--cluster.listen-address=", "--log.level=warn"]
