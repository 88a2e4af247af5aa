"""Command line of the benchmarks: run them, print each result, write docs/benchmarks.md."""

from __future__ import annotations

import datetime
import sys
import time
from collections.abc import Callable
from pathlib import Path

import click

from . import end_to_end, exporter_scrape, flush, memory, per_event, rankings, report
from .machine import Machine, load_average
from .processes import REPO_ROOT
from .report import Section
from .wrk import WrkMissingError

BENCHMARKS: dict[str, Callable[[bool], Section]] = {
    "per-event": per_event.run,
    "end-to-end": end_to_end.run,
    "exporter": exporter_scrape.run,
    "memory": memory.run,
    "flush": flush.run,
    "rankings": rankings.run,
}
COMMAND = ".venv/bin/python -m bench"
DEFAULT_OUTPUT = REPO_ROOT / "docs" / "benchmarks.md"


@click.command()
@click.option("--quick", is_flag=True,
              help="Fewer rounds and smaller worst cases (about 3 minutes); rougher figures.")
@click.option("--only", "only", multiple=True, type=click.Choice(list(BENCHMARKS)),
              help="Run only this benchmark (repeat the option for several).")
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Markdown file whose generated block to rewrite; default docs/benchmarks.md "
                   "for a full run of every benchmark, none otherwise.")
def main(quick: bool, only: tuple[str, ...], output: Path | None) -> None:
    """Run the sessionwatch benchmarks and print their figures."""
    machine = Machine.describe()
    started = time.perf_counter()
    header = [f"Run on {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC"
              f"{' with --quick' if quick else ''}.", "", *[f"- {line}" for line in
                                                           machine.lines()]]
    header.append(f"- Load average (1/5/15 min) at start: {load_average()}")
    click.echo("\n".join(header) + "\n")

    sections = []
    for name in only or BENCHMARKS:
        began = time.perf_counter()
        click.echo(f"-- {name} (load average {load_average()})", err=True)
        try:
            section = BENCHMARKS[name](quick)
        except WrkMissingError as exc:
            raise click.ClickException(str(exc)) from None
        section.seconds = time.perf_counter() - began
        section.notes.append(f"Load average (1/5/15 min) after this benchmark: "
                             f"{load_average()}.")
        sections.append(section)
        click.echo(section.text() + "\n")

    total = time.perf_counter() - started
    header.append(f"- Total run time: {total:.0f} s")
    click.echo(f"Total run time: {total:.0f} s")
    if output is None and not quick and not only:
        output = DEFAULT_OUTPUT
    if output is not None:
        command = COMMAND + (" --quick" if quick else "")
        report.write(output, report.render(sections, header, command))
        click.echo(f"Wrote {output}")
    missed = [check for section in sections for check in section.checks if not check.met]
    if missed:
        click.echo(f"{len(missed)} target(s) missed.", err=True)
    sys.exit(0)


if __name__ == "__main__":
    main()
