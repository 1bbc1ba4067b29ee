"""``synaxis keys`` and ``synaxis tenants``: API keys and per-tenant guardrails."""

from __future__ import annotations

from typing import Any

import click
from rich.console import Console
from rich.table import Table

from synaxis_core.cli import cli
from synaxis_core.cli.common import echo_json, load_settings, open_database, run
from synaxis_core.errors import NotFound
from synaxis_core.tenants import ALL_MODELS, Limit
from synaxis_core.tenants import service

CLEARABLE = {"rpm": "rpm", "tpm": "tpm", "budget": "budget_usd", "cache": "cache_ttl_s", "all": "all"}


def _with_db(action: Any) -> Any:
    """Run ``action(sessions)`` against SYNAXIS_DATABASE_URL."""
    settings = load_settings()

    async def go() -> Any:
        async with open_database(settings) as (_, sessions):
            return await action(sessions)

    return run(go())


@cli.group()
def keys() -> None:
    """Create, list and revoke tenants' API keys (stored hashed)."""


@keys.command("create")
@click.option("--tenant", required=True, help="The tenant (created if it does not exist).")
@click.option("--json", "as_json", is_flag=True, help="Print {tenant, tenant_id, prefix, key} as JSON.")
def keys_create(tenant: str, as_json: bool) -> None:
    """Create an API key for --tenant and print it once: it cannot be shown again.

    The key goes to standard output alone, so `KEY=$(synaxis keys create --tenant acme)`
    works; the note about it goes to standard error.
    """
    info, key = _with_db(lambda sessions: service.create_key(sessions, tenant))
    prefix = key[:12]
    if as_json:
        echo_json({"tenant": info.name, "tenant_id": info.id, "prefix": prefix, "key": key})
        return
    click.echo(key)
    click.echo(f"new key {prefix} for tenant {info.name!r}: store it now, it is not shown again", err=True)


@keys.command("revoke")
@click.argument("prefix")
def keys_revoke(prefix: str) -> None:
    """Revoke the key with this PREFIX (the 12 characters `keys list` shows) or the full key."""
    count = _with_db(lambda sessions: service.revoke_key(sessions, prefix))
    if not count:
        shown = prefix[:12]
        raise NotFound(f"no active key with prefix {shown} (see `synaxis keys list`)")
    click.echo(f"revoked key {prefix[:12]}")


@keys.command("list")
@click.option("--tenant", help="Only this tenant's keys.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array.")
def keys_list(tenant: str | None, as_json: bool) -> None:
    """List keys by prefix and tenant (never the keys or their hashes)."""
    rows = _with_db(lambda sessions: service.list_keys(sessions, tenant))
    if as_json:
        echo_json(rows)
        return
    table = Table("prefix", "tenant", "created", "state")
    for row in rows:
        state = "active" if row["active"] else f"revoked {row['revoked_at'][:19]}"
        table.add_row(row["prefix"], row["tenant"], row["created_at"][:19], state)
    Console().print(table)


@cli.group()
def tenants() -> None:
    """List tenants and set their guardrails (RPM, TPM, monthly budget) and response cache."""


@tenants.command("limit")
@click.argument("tenant")
@click.option("--model", default=ALL_MODELS, show_default=True,
              help="A model id, or * for the whole tenant (all models together).")
@click.option("--rpm", type=click.IntRange(min=0), help="Requests per minute (0 blocks).")
@click.option("--tpm", type=click.IntRange(min=0), help="Tokens per minute (0 blocks).")
@click.option("--budget", type=click.FloatRange(min=0), help="USD per calendar month, UTC (0 blocks).")
@click.option("--cache-ttl", "cache_ttl", type=click.IntRange(min=0, max=30 * 86400),
              help="Cache the tenant's answers this many seconds (0: off; --model * only).")
@click.option("--clear", "clear", multiple=True, type=click.Choice(sorted(CLEARABLE)),
              help="Remove a limit (repeatable); a model left with none is removed.")
@click.option("--json", "as_json", is_flag=True, help="Print the resulting limits as JSON.")
def tenants_limit(
    tenant: str, model: str, rpm: int | None, tpm: int | None, budget: float | None, cache_ttl: int | None,
    clear: tuple[str, ...], as_json: bool,
) -> None:
    """Set TENANT's guardrails for --model (default *: the whole tenant).

    Options left out keep their current value. Both the * limits and a model's own
    limits apply to a request for that model. --cache-ttl turns the exact response
    cache on for the whole tenant (see the manual's "Response cache" page).
    """
    limit: Limit = _with_db(
        lambda sessions: service.set_limit(
            sessions, tenant, model, rpm=rpm, tpm=tpm, budget_usd=budget, cache_ttl_s=cache_ttl,
            clear=[CLEARABLE[name] for name in clear],
        )
    )
    if as_json:
        echo_json({"tenant": tenant, "model": model, **limit.as_dict()})
        return
    click.echo(f"{tenant} {model}: {_describe(limit)}")


@tenants.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array.")
def tenants_list(as_json: bool) -> None:
    """List tenants with their active keys and guardrails."""
    rows = _with_db(service.list_tenants)
    if as_json:
        echo_json(rows)
        return
    table = Table("tenant", "active", "keys", "limits")
    for row in rows:
        limits = "; ".join(
            f"{model}: {_describe(Limit(**values))}" for model, values in row["limits"].items()
        )
        table.add_row(row["name"], "yes" if row["active"] else "no", str(row["active_keys"]), limits)
    Console().print(table)


def _describe(limit: Limit) -> str:
    parts = []
    if limit.rpm is not None:
        parts.append(f"{limit.rpm} rpm")
    if limit.tpm is not None:
        parts.append(f"{limit.tpm} tpm")
    if limit.budget_usd is not None:
        parts.append(f"${limit.budget_usd:g}/month")
    if limit.cache_ttl_s is not None:
        parts.append(f"cache {limit.cache_ttl_s}s" if limit.cache_ttl_s else "cache off")
    return ", ".join(parts) or "no limits"
