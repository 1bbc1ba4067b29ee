"""``synaxis sync``: installed models, catalogs and discovery."""

from __future__ import annotations

import click
from rich.console import Console
from rich.table import Table

from synaxis_core.cli import cli
from synaxis_core.cli.common import echo_json, load_settings, open_database, run
from synaxis_core.plugins import load_extensions
from synaxis_core.sync.providers import sync_providers
from synaxis_core.sync.report import SyncReport

TARGETS = ("providers", "catalog", "discover")


@cli.command()
@click.argument("target", required=False, type=click.Choice(TARGETS))
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
def sync(target: str | None, as_json: bool) -> None:
    """Sync the registry: installed models (providers), catalogs, discovery.

    With no TARGET, runs all three once.
    """
    settings = load_settings()
    targets = [target] if target else list(TARGETS)

    async def go() -> list[SyncReport]:
        ext = load_extensions(settings)
        try:
            async with open_database(settings) as (_, sessions):
                reports = []
                if "providers" in targets:
                    reports.append(await sync_providers(sessions, ext))
                return reports
        finally:
            await ext.aclose()

    print_reports(run(go()), as_json)


def print_reports(reports: list[SyncReport], as_json: bool) -> None:
    if as_json:
        echo_json([r.as_dict() for r in reports])
        return
    table = Table("source", "added", "updated", "unchanged", "deactivated", "skipped")
    for r in reports:
        table.add_row(r.source, *(str(n) for n in (r.added, r.updated, r.unchanged, r.deactivated, r.skipped)))
    Console().print(table)
    for r in reports:
        for note in r.notes:
            click.echo(f"{r.source}: {note}")
        for error in r.errors:
            click.echo(f"{r.source}: error: {error}", err=True)
    if not any(r.changed for r in reports):
        click.echo("no changes")
