"""``synaxis usage``: totals from the ledger."""

from __future__ import annotations

from datetime import datetime

import click
from rich.console import Console
from rich.table import Table

from synaxis_core.cli import cli
from synaxis_core.cli.common import echo_json, load_settings, open_database, run
from synaxis_core.ledger.queries import usage_totals


@cli.command()
@click.option("--tenant", help="Only this tenant's usage.")
@click.option("--since", type=click.DateTime(["%Y-%m-%d"]), help="From this day on (UTC), e.g. 2025-01-31.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array.")
def usage(tenant: str | None, since: datetime | None, as_json: bool) -> None:
    """Show requests, tokens and cost by day (UTC), tenant and model.

    fail counts errors and cancelled requests; in/out tok are prompt and completion
    tokens; cost is in USD.
    """
    settings = load_settings()

    async def go() -> list[dict]:
        async with open_database(settings) as (_, sessions):
            return await usage_totals(sessions, tenant_name=tenant, since=since)

    rows = run(go())
    if as_json:
        echo_json(rows)
        return
    if not rows:
        click.echo("no usage recorded" + (f" for tenant {tenant!r}" if tenant else ""))
        return
    table = Table("day", "tenant", "model", "req", "ok", "fail", "in tok", "out tok", "cost $")
    for r in rows:
        _add(table, r)
    table.add_section()
    _add(table, _total(rows))
    Console().print(table)


def _total(rows: list[dict]) -> dict:
    counted = ("requests", "ok", "errors", "cancelled", "prompt_tokens", "completion_tokens", "cost_usd")
    return {"day": "total", "tenant": None, "model": "", **{k: sum(r[k] for r in rows) for k in counted}}


def _add(table: Table, r: dict) -> None:
    table.add_row(
        r["day"], r["tenant"] or "", r["model"], str(r["requests"]), str(r["ok"]),
        str(r["errors"] + r["cancelled"]), str(r["prompt_tokens"]), str(r["completion_tokens"]),
        f"{r['cost_usd']:.4f}",
    )
