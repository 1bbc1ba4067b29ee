"""``synaxis db``: the database schema."""

from __future__ import annotations

import click

from synaxis_core.cli import cli
from synaxis_core.cli.common import load_settings, open_database, run
from synaxis_core.db.migrate import upgrade


@cli.group()
def db() -> None:
    """Manage the database schema (SYNAXIS_DATABASE_URL)."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Create the schema, or upgrade it to the newest migration."""
    settings = load_settings()

    async def go() -> tuple[str | None, str]:
        async with open_database(settings, require_schema=False) as (engine, _):
            return await upgrade(engine)

    before, after = run(go())
    if before == after:
        click.echo(f"database already at schema {after}")
    else:
        click.echo(f"database upgraded from {before or 'empty'} to schema {after}")
