"""`session-stats`: ad-hoc session statistics from the recorder's Redis keys.

Exit status: 0 on success, 1 when Redis cannot be read, 2 when `check` finds the failure
ratio above the limit, 64 for a usage error (unknown option, invalid value).
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, NoReturn

import click
from redis.exceptions import RedisError
from sessionwatch.api_hooks.config import DEFAULT_REDIS_URL
from sessionwatch.api_hooks.connection import describe_url, redis_from_url
from sessionwatch.api_hooks.keys import DEFAULT_PREFIX, KeySchema

from . import summaries
from .reader import MAX_PAGE_SIZE, SessionStatsReader
from .windows import WINDOW_NAMES, Window, parse_window

EXIT_REDIS_ERROR = 1
EXIT_BREACHED = 2
EXIT_USAGE = 64

WINDOW_CHOICE = click.Choice(WINDOW_NAMES)


class FiniteFloatRange(click.FloatRange):
    """A `click.FloatRange` that also rejects NaN, which every range comparison lets through."""

    def convert(self, value: Any, param: click.Parameter | None,
                ctx: click.Context | None) -> float:
        number: float = super().convert(value, param, ctx)
        if math.isnan(number):
            self.fail(f"{value!r} is not a number.", param, ctx)
        return number


class Context:
    """Shared state of one invocation: how to reach Redis and how to print."""

    def __init__(self, redis_url: str, schema: KeySchema, as_json: bool, timeout: float) -> None:
        self.redis_url = redis_url
        self.schema = schema
        self.as_json = as_json
        self.timeout = timeout
        self._reader: SessionStatsReader | None = None

    def reader(self) -> SessionStatsReader:
        if self._reader is None:
            try:
                client = redis_from_url(self.redis_url, self.timeout)
            except ValueError as exc:  # a malformed URL: a usage error, not an outage
                raise click.BadParameter(str(exc), param_hint="'--redis-url'") from None
            self._reader = SessionStatsReader(client, self.schema)
        return self._reader

    def read(self, action: Callable[[SessionStatsReader], Any]) -> Any:
        """Run `action`, turning a Redis failure into a one-line error."""
        try:
            return action(self.reader())
        except (RedisError, OSError) as exc:
            raise click.ClickException(
                f"cannot read Redis at {describe_url(self.redis_url)}: "
                f"{type(exc).__name__}: {exc}"
            ) from None

    def warn_if_no_data(self) -> None:
        """Say on stderr when nothing at all is stored under the prefix (a wrong --prefix)."""
        totals = self.read(lambda reader: reader.totals())
        if not (totals.success or totals.failure or totals.forced or totals.started):
            click.echo(f"Note: no session data under prefix {self.schema.prefix!r} in this "
                       "Redis; check --prefix and --redis-url.", err=True)

    def emit(self, document: dict[str, Any], text: Callable[[dict[str, Any]], str]) -> None:
        if self.as_json:
            click.echo(json.dumps(document, ensure_ascii=False, indent=2))
        else:
            click.echo(text(document))


def _shown(name: str) -> str:
    """Escape control characters so one site name stays on one line of text output."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in name)


def _percent(ratio: float | None) -> str:
    return "n/a" if ratio is None else f"{ratio * 100:.1f} %"


def _clock(unix: int) -> str:
    return datetime.fromtimestamp(unix, UTC).strftime("%Y-%m-%d %H:%M UTC")


def _ranking_lines(items: list[dict[str, Any]], offset: int = 0) -> list[str]:
    if not items:
        return ["  (none)"]
    width = max(len(_shown(item["key"])) for item in items)
    return [
        f"  {offset + rank:>3}. {_shown(item['key']):<{width}}  {item['count']}"
        for rank, item in enumerate(items, start=1)
    ]


def _summary_text(doc: dict[str, Any]) -> str:
    refresh, active = doc["refresh"], doc["active"]
    lines = [
        f"Window {doc['window']}: {_clock(doc['window_start'])} to {_clock(doc['window_end'])}",
        f"Active sessions   {active['total']}",
        *(f"  {_shown(s['site'])}: {s['count']}" for s in active["by_site"]),
        f"Refreshes         {refresh['success'] + refresh['failure']} "
        f"({refresh['success']} succeeded, {refresh['failure']} failed)",
        f"Failure ratio     {_percent(refresh['failure_ratio'])}, "
        f"alert threshold {doc['alert_threshold'] * 100:.1f} %",
        f"Forced logouts    {doc['forced_logouts']['total']}",
    ]
    for dimension in ("reason", "site", "ip"):
        lines.append(f"Top errors by {dimension}:")
        lines.extend(_ranking_lines(doc["top_errors"][dimension]))
    return "\n".join(lines)


def _page_text(doc: dict[str, Any]) -> str:
    shown = (f"showing {doc['offset'] + 1}-{doc['offset'] + len(doc['items'])}"
             if doc["items"] else "none on this page")
    header = f"Failures by {doc['by']} over {doc['window']}: {doc['total']} distinct, {shown}"
    footer = [] if doc["next_offset"] is None else [f"Next page: --offset {doc['next_offset']}"]
    return "\n".join([header, *_ranking_lines(doc["items"], doc["offset"]), *footer])


def _active_text(doc: dict[str, Any]) -> str:
    lines = [f"Active sessions: {doc['total']}"]
    lines.extend(f"  {_shown(s['site'])}: {s['count']}" for s in doc["by_site"])
    return "\n".join(lines)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--redis-url", envvar="SESSIONWATCH_REDIS_URL", default=DEFAULT_REDIS_URL,
              show_default=True, help="Redis holding the recorder's keys.")
@click.option("--prefix", envvar="SESSIONWATCH_PREFIX", default=DEFAULT_PREFIX,
              show_default=True, help="Key prefix the recorder writes under.")
@click.option("--active-shards", envvar="SESSIONWATCH_ACTIVE_SHARDS", default=1,
              show_default=True, type=click.IntRange(1, 1024),
              help="Active-session shards the recorder is configured with.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
@click.option("--timeout", default=2.0, show_default=True, type=FiniteFloatRange(0.01, 60),
              help="Seconds to wait for Redis before giving up.")
@click.pass_context
def cli(ctx: click.Context, redis_url: str, prefix: str, active_shards: int, as_json: bool,
        timeout: float) -> None:
    """Show session refresh statistics recorded by sessionwatch."""
    try:
        schema = KeySchema(prefix, active_shards)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="'--prefix'") from None
    ctx.obj = Context(redis_url, schema, as_json, timeout)


def _json_option(function: Callable[..., Any]) -> Callable[..., Any]:
    """Accept --json after the subcommand too (`session-stats summary --json`)."""
    def enable_json(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
        if value:
            ctx.find_object(Context).as_json = True  # type: ignore[union-attr]

    return click.option("--json", "as_json_here", is_flag=True, expose_value=False,
                        callback=enable_json, help="Print JSON instead of text.")(function)


@cli.command()
@click.option("--window", default="15m", show_default=True, type=WINDOW_CHOICE,
              help="Time window to summarise.")
@_json_option
@click.pass_obj
def summary(obj: Context, window: str) -> None:
    """Print active sessions, refreshes, failure ratio and top errors."""
    chosen = parse_window(window)
    doc = obj.read(lambda reader: summaries.summary(reader, chosen, 0.05))
    obj.emit(doc, _summary_text)
    if not doc["refresh"]["success"] + doc["refresh"]["failure"]:
        obj.warn_if_no_data()


@cli.command("top-errors")
@click.option("--by", "dimension", default="ip", show_default=True,
              type=click.Choice(["ip", "site", "reason"]), help="What to rank failures by.")
@click.option("--window", default="15m", show_default=True, type=WINDOW_CHOICE,
              help="Time window to rank over.")
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, MAX_PAGE_SIZE),
              help="Entries per page.")
@click.option("--offset", default=0, show_default=True, type=click.IntRange(0, 10_000_000),
              help="Entries to skip (for the next page).")
@_json_option
@click.pass_obj
def top_errors(obj: Context, dimension: str, window: str, limit: int, offset: int) -> None:
    """Print one page of the failure ranking by client IP, site or reason."""
    chosen = parse_window(window)
    doc = obj.read(lambda reader: summaries.top_errors(reader, dimension, chosen, offset, limit))
    obj.emit(doc, _page_text)


@cli.command()
@_json_option
@click.pass_obj
def active(obj: Context) -> None:
    """Print the number of active sessions, in total and per site."""
    obj.emit(obj.read(summaries.active), _active_text)


@cli.command()
@click.option("--max-failure-ratio", default=0.05, show_default=True,
              type=FiniteFloatRange(0, 1), help="Highest acceptable failure ratio (0 to 1).")
@click.option("--window", default="15m", show_default=True, type=WINDOW_CHOICE,
              help="Time window to check.")
@click.option("--min-refreshes", default=0, show_default=True, type=click.IntRange(0),
              help="Below this many refreshes in the window the check passes.")
@_json_option
@click.pass_obj
def check(obj: Context, max_failure_ratio: float, window: str, min_refreshes: int) -> None:
    """Exit with status 2 if the failure ratio over the window is above the limit."""
    chosen: Window = parse_window(window)
    counts = obj.read(lambda reader: reader.window_counts(chosen))
    attempts = counts.success_total + counts.failure_total
    ratio = counts.failure_ratio()
    breached = ratio is not None and attempts >= min_refreshes and ratio > max_failure_ratio
    doc = {
        "window": chosen.name,
        "refreshes": attempts,
        "failures": counts.failure_total,
        "failure_ratio": ratio,
        "max_failure_ratio": max_failure_ratio,
        "min_refreshes": min_refreshes,
        "breached": breached,
    }

    def text(doc: dict[str, Any]) -> str:
        limit = f"limit {max_failure_ratio * 100:.1f} %"
        if ratio is None:
            return f"OK: no refresh over {chosen.name}, nothing to check ({limit})"
        verdict = "BREACHED" if breached else "OK"
        line = (f"{verdict}: failure ratio {_percent(ratio)} ({doc['failures']} of "
                f"{attempts} refreshes) over {chosen.name}, {limit}")
        if attempts < min_refreshes:
            line += f"; passes because fewer than --min-refreshes {min_refreshes}"
        return line

    obj.emit(doc, text)
    if not attempts:
        obj.warn_if_no_data()
    if breached:
        sys.exit(EXIT_BREACHED)


def main(argv: list[str] | None = None) -> NoReturn:
    """Run the CLI with the exit statuses listed in the module docstring."""
    try:
        cli.main(args=argv, prog_name="session-stats", standalone_mode=False)
    except click.exceptions.NoArgsIsHelpError as exc:
        exc.show()
        sys.exit(EXIT_USAGE)
    except click.UsageError as exc:
        # One line, so a cron mail or a CI log shows the cause without the usage block.
        message = exc.format_message().rstrip(".")
        hint = f". Try '{exc.ctx.command_path} --help'" if exc.ctx is not None else ""
        click.echo(f"Error: {message}{hint}.", err=True)
        sys.exit(EXIT_USAGE)
    except click.ClickException as exc:
        exc.show()
        sys.exit(EXIT_REDIS_ERROR)
    except click.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(1)
    sys.exit(0)


if __name__ == "__main__":
    main()
