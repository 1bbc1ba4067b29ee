"""``synaxis sync``: installed models, catalogs and discovery, once or on a schedule."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import signal
import sys
from typing import Iterator

import click
from rich.console import Console
from rich.table import Column, Table

from synaxis_core.cli import cli
from synaxis_core.cli.common import echo_json, load_settings, open_database, run
from synaxis_core.plugins import load_extensions
from synaxis_core.sync.report import SyncReport
from synaxis_core.sync.runner import TARGETS, Progress, run_round, run_schedule

COUNTS = ("added", "updated", "unchanged", "deactivated", "skipped")


@cli.command()
@click.argument("target", required=False, type=click.Choice(TARGETS))
@click.option(
    "--schedule",
    is_flag=True,
    help="Keep running: the catalog every SYNAXIS_CATALOG_INTERVAL_S (default daily), "
    "discovery every SYNAXIS_DISCOVER_INTERVAL_S (default hourly).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON (one line per round with --schedule).")
def sync(target: str | None, schedule: bool, as_json: bool) -> None:
    """Sync the registry: installed models (providers), catalogs, discovery.

    With no TARGET, runs all three once. Several runners may share a database: only one
    syncs at a time (PostgreSQL advisory lock, Redis lock with SYNAXIS_REDIS_URL, a lock
    file next to a SQLite database); the others say so and skip the round.
    """
    settings = load_settings()
    if schedule and target == "providers":
        raise click.UsageError("--schedule repeats catalog and discover; `providers` runs once")
    targets = [target] if target else list(TARGETS)
    console = Console(stderr=True)
    show_progress = console.is_terminal

    async def once() -> list[SyncReport]:
        ext = load_extensions(settings)
        try:
            async with open_database(settings) as (_, sessions):
                with progress_display(console, show_progress) as progress:
                    return await run_round(settings, ext, sessions, targets, progress=progress)
        finally:
            await ext.aclose()

    async def forever() -> None:
        ext = load_extensions(settings)
        stop = asyncio.Event()
        _stop_on_signals(stop)
        try:
            async with open_database(settings) as (_, sessions):
                await run_schedule(
                    settings, ext, sessions, targets, stop=stop,
                    on_reports=lambda reports: print_reports(reports, as_json, compact=True),
                    progress=(lambda message: console.log(message)) if show_progress else None,
                )
        finally:
            await ext.aclose()

    if not schedule:
        print_reports(run(once()), as_json)
        return
    if not logging.getLogger().handlers:  # a long-running process: timestamped log lines
        logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        logging.getLogger("synaxis_core.sync").setLevel(logging.INFO)
    every = {"catalog": settings.catalog_interval_s, "discover": settings.discover_interval_s}
    plan = ", ".join(f"{t} every {every[t]:g} s" if t in every else f"{t} once" for t in targets)
    click.echo(f"syncing {plan} (Ctrl-C stops)", err=True)
    with contextlib.suppress(KeyboardInterrupt):
        run(forever())


def _stop_on_signals(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):  # Windows, threads
            loop.add_signal_handler(sig, stop.set)


@contextlib.contextmanager
def progress_display(console: Console, enabled: bool) -> Iterator[Progress | None]:
    """A progress callback: a rich spinner on stderr when it is a terminal, else nothing."""
    if not enabled:
        yield None
        return
    with console.status("syncing") as status:

        def progress(message: str) -> None:
            status.update(message)

        yield progress


def print_reports(reports: list[SyncReport], as_json: bool, *, compact: bool = False) -> None:
    """The summary: a table (plus notes and errors) on a terminal, or JSON with ``--json``."""
    if as_json:
        data = [r.as_dict() for r in reports]
        if compact:
            click.echo(json.dumps(data, default=str))
            sys.stdout.flush()
        else:
            echo_json(data)
        return
    widest = max((len(r.source) for r in reports), default=6)
    table = Table(Column("source", min_width=widest, no_wrap=True), *COUNTS)  # errors: listed below
    for r in reports:
        table.add_row(r.source, *(str(getattr(r, name)) for name in COUNTS))
    out = Console()
    if not out.is_terminal:  # piped: no terminal width to fit, keep source names whole
        out = Console(width=160)
    out.print(table)
    for r in reports:
        for note in r.notes:
            click.echo(f"{r.source}: {note}")
        for error in r.errors:
            click.echo(f"{r.source}: error: {error}", err=True)
    if not any(r.changed for r in reports):
        click.echo("no changes")
