"""Providers: key present or missing (and which variable), cooling down, the last
discovery and catalog sync, and "sync now" (``sync.runner.run_round``, as ``POST /admin/sync``)."""

from __future__ import annotations

from typing import Any

from litestar import Request, get, post
from litestar.di import NamedDependency
from litestar.response import Template

from synaxis_core.console.render import page
from synaxis_core.console.states import cooldowns
from synaxis_core.ledger.browse import catalog_syncs
from synaxis_core.routing.table import provider_key
from synaxis_core.runtime.gateway import Gateway
from synaxis_core.sync.runner import TARGETS, run_round


async def _providers(gateway: Gateway) -> list[dict[str, Any]]:
    models = await gateway.models()
    cooling = await cooldowns(gateway)
    rows = []
    for name, provider in sorted(gateway.ext.providers.items()):
        own = [m for m in models if m["provider"] == name]
        seen = [m["last_seen_at"] for m in own if m["last_seen_at"]]
        cool = cooling.get(provider_key(name))
        rows.append({
            "name": name,
            "plugin": gateway.ext.owners.get(f"provider:{name}", ""),
            "base_url": provider.base_url,
            "key_env": provider.api_key_env,
            "missing_key": provider.missing_key,
            "models": len(own),
            "active": sum(1 for m in own if m["active"]),
            "cooling_s": cool[0] if cool else None,
            "cooling_reason": cool[1] if cool else None,
            "last_discovery": max(seen) if seen else None,
        })
    return rows


async def _render(request: Request[Any, Any, Any], gateway: Gateway, **extra: Any) -> Template:
    syncs = await catalog_syncs(gateway.sessions)
    catalogs = [{"name": name, "fetched_at": syncs.get(name)} for name in sorted(gateway.ext.catalogs)]
    catalogs += [{"name": name, "fetched_at": at} for name, at in sorted(syncs.items()) if name not in gateway.ext.catalogs]
    return page(request, "providers.html", active="providers", providers=await _providers(gateway),
                catalogs=catalogs, targets=TARGETS, **extra)


@get("/providers", include_in_schema=False)
async def providers_page(request: Request[Any, Any, Any], gateway: NamedDependency[Gateway]) -> Template:
    return await _render(request, gateway)


@post("/providers/sync", include_in_schema=False, status_code=200)
async def sync_now(request: Request[Any, Any, Any], gateway: NamedDependency[Gateway]) -> Template:
    form = await request.form()
    targets = [t for t in TARGETS if t in form.getall("targets", [])]
    if not targets:
        return await _render(request, gateway, error="Choose at least one thing to sync.")
    reports = await run_round(gateway.settings, gateway.ext, gateway.sessions, targets)
    await gateway.reload_registry()
    return await _render(request, gateway, reports=[r.as_dict() for r in reports], synced=targets)
