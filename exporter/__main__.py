"""`sessionwatch-exporter`: run the exporter with uvicorn."""

from __future__ import annotations

import logging

import click
import uvicorn
from sessionwatch.api_hooks.config import DEFAULT_REDIS_URL
from sessionwatch.api_hooks.keys import DEFAULT_PREFIX

from .app import create_app
from .cli import FiniteFloatRange
from .settings import ExporterSettings, read_admin_token


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--redis-url", envvar="SESSIONWATCH_REDIS_URL", default=DEFAULT_REDIS_URL,
              show_default=True, help="Redis to read the recorder's keys from.")
@click.option("--prefix", envvar="SESSIONWATCH_PREFIX", default=DEFAULT_PREFIX,
              show_default=True, help="Key prefix the recorder writes under.")
@click.option("--host", envvar="SESSIONWATCH_HOST", default="127.0.0.1", show_default=True,
              help="Address to listen on; use 0.0.0.0 only behind a firewall.")
@click.option("--port", envvar="SESSIONWATCH_PORT", default=9465, show_default=True, type=int,
              help="TCP port to listen on.")
@click.option("--admin-token-file", envvar="SESSIONWATCH_ADMIN_TOKEN_FILE",
              type=click.Path(dir_okay=False),
              help="File holding the bearer token of the admin API "
                   "(or set SESSIONWATCH_ADMIN_TOKEN).")
@click.option("--max-sites", envvar="SESSIONWATCH_MAX_SITES", default=100, show_default=True,
              type=click.IntRange(2, 10_000),
              help="Sites exported under their own label; the rest become site=\"other\".")
@click.option("--redis-timeout", default=0.5,
              show_default=True, type=FiniteFloatRange(0.01, 30),
              help="Seconds to wait for each Redis connection or reply before reporting "
                   "Redis down.")
@click.option("--log-level", default="info", show_default=True,
              type=click.Choice(["debug", "info", "warning", "error"]),
              help="Level of the exporter's own logs.")
def main(redis_url: str, prefix: str, host: str, port: int, admin_token_file: str | None,
         max_sites: int, redis_timeout: float, log_level: str) -> None:
    """Serve /metrics and the admin API from the recorder's Redis keys."""
    logging.basicConfig(level=log_level.upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        base = ExporterSettings.from_env()
        token = read_admin_token(None, admin_token_file) if admin_token_file else base.admin_token
        settings = base.replace(redis_url=redis_url, prefix=prefix, host=host, port=port,
                                admin_token=token, max_sites=max_sites,
                                redis_timeout=redis_timeout)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    try:
        app = create_app(settings)
    except ValueError as exc:  # a malformed --redis-url
        raise click.BadParameter(str(exc), param_hint="'--redis-url'") from None
    uvicorn.run(app, host=settings.host, port=settings.port, log_level=log_level,
                access_log=False)


if __name__ == "__main__":
    main()
