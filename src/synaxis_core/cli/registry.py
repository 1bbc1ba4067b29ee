"""``synaxis plugins`` and ``synaxis models``: what is installed and what is registered."""

from __future__ import annotations

from importlib.metadata import entry_points
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from synaxis_core import __version__
from synaxis_core.cli import cli
from synaxis_core.cli.common import echo_json, load_settings, open_database, run
from synaxis_core.db.registry import list_models
from synaxis_core.plugins import DEFAULT_PLUGINS, ENTRY_POINT_GROUP, get_plugin_manager


def plugin_list(load_plugins: str | None, *, include_builtin: bool) -> list[dict[str, Any]]:
    pm = get_plugin_manager(load_plugins)
    versions = {
        ep.name: (ep.dist.name, ep.dist.version) if ep.dist else (ep.value, None)
        for ep in entry_points(group=ENTRY_POINT_GROUP)
    }
    found = []
    for name, plugin in pm.list_name_plugin():
        builtin = name in DEFAULT_PLUGINS
        if builtin and not include_builtin:
            continue
        dist, version = (("synaxis-core", __version__) if builtin else versions.get(name, (name, None)))
        hooks = sorted(caller.name for caller in pm.get_hookcallers(plugin) or [])
        found.append({"name": name, "package": dist, "version": version, "hooks": hooks, "builtin": builtin})
    return sorted(found, key=lambda p: (p["builtin"], p["name"]))


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array.")
@click.option("--all", "include_builtin", is_flag=True, help="Include the built-in plugins.")
def plugins(as_json: bool, include_builtin: bool) -> None:
    """List installed plugins with their versions and the hooks they implement."""
    found = plugin_list(load_settings().load_plugins, include_builtin=include_builtin)
    if as_json:
        echo_json(found)
        return
    table = Table("plugin", "package", "version", "hooks")
    for p in found:
        table.add_row(p["name"], p["package"], p["version"] or "", ", ".join(p["hooks"]))
    Console().print(table)


@cli.command()
@click.option("--provider", help="Only this provider's models.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array (prices in USD per million tokens).")
def models(provider: str | None, as_json: bool) -> None:
    """List the model registry: every deployment, active or not."""
    settings = load_settings()

    async def go() -> list[dict[str, Any]]:
        async with open_database(settings) as (_, sessions):
            async with sessions() as session:
                return await list_models(session, provider=provider)

    rows = run(go())
    if as_json:
        echo_json(rows)
        return
    table = Table("id", "provider", "upstream", "global", "in $/M", "out $/M", "context", "state")
    for m in rows:
        state = "active" if m["active"] and m["is_available"] else (m["disabled_reason"] or "unavailable")
        table.add_row(
            m["id"], m["provider"], m["upstream_id"], m["global_model_id"] or "",
            _price(m["input_price"]), _price(m["output_price"]),
            str(m["context_window"] or ""), state,
        )
    Console().print(table)
    click.echo(f"{len(rows)} models", err=True)


def _price(value: float | None) -> str:
    return "" if value is None else f"{value:g}"
