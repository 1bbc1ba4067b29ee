"""Tenants and keys: create a tenant and a key (shown once), revoke keys by prefix, set
RPM / TPM / monthly budget per tenant and model, with the month's spend against the budget.
Changes go through ``tenants.service`` and reload the gateway's key snapshot."""

from __future__ import annotations

from typing import Any

from litestar import Request, get, post
from litestar.di import NamedDependency
from litestar.response import Redirect, Template

from synaxis_core.console.pages.common import number, text, today
from synaxis_core.console.render import page, redirect
from synaxis_core.errors import SynaxisError
from synaxis_core.ledger.browse import scope_spending, spend_in_scope
from synaxis_core.runtime.gateway import Gateway
from synaxis_core.tenants import ALL_MODELS
from synaxis_core.tenants.service import create_key, list_keys, list_tenants, revoke_key, set_limit

CLEARABLE = ("rpm", "tpm", "budget_usd", "cache_ttl_s")


async def _render(request: Request[Any, Any, Any], gateway: Gateway, **extra: Any) -> Template:
    month = today().replace(day=1)
    tenants = await list_tenants(gateway.sessions)
    keys = await list_keys(gateway.sessions)
    spending = await scope_spending(gateway.sessions, month)
    for t in tenants:
        t["month_spend"] = spend_in_scope(spending, t["id"], ALL_MODELS)
        t["keys"] = [k for k in keys if k["tenant"] == t["name"]]
        t["limit_rows"] = []
        for model, limit in sorted(t["limits"].items(), key=lambda item: (item[0] != ALL_MODELS, item[0])):
            spent = spend_in_scope(spending, t["id"], model)
            budget = limit.get("budget_usd")
            t["limit_rows"].append({"model": model, **limit, "spent": spent,
                                    "share": min(1.0, spent / budget) if budget else None})
    return page(request, "tenants.html", active="tenants", tenants=tenants, month_name=month.strftime("%B %Y"),
                **extra)


@get("/tenants", include_in_schema=False)
async def tenants_page(request: Request[Any, Any, Any], gateway: NamedDependency[Gateway]) -> Template:
    return await _render(request, gateway)


@post("/tenants/keys", include_in_schema=False, status_code=200)
async def new_key(request: Request[Any, Any, Any], gateway: NamedDependency[Gateway]) -> Template:
    """The key appears in this response only (the database keeps its hash and prefix)."""
    form = await request.form()
    try:
        info, key = await create_key(gateway.sessions, text(form, "tenant") or "")
    except SynaxisError as exc:
        return await _render(request, gateway, error=str(exc))
    await gateway.reload_auth()
    return await _render(request, gateway, new_key={"tenant": info.name, "key": key, "prefix": key[:12]})


@post("/tenants/revoke", include_in_schema=False, status_code=303)
async def revoke(request: Request[Any, Any, Any], gateway: NamedDependency[Gateway]) -> Redirect:
    form = await request.form()
    prefix = text(form, "prefix") or ""
    try:
        revoked = await revoke_key(gateway.sessions, prefix)
    except SynaxisError as exc:
        return redirect(request, "/ui/tenants", str(exc), kind="error")
    await gateway.reload_auth()
    if not revoked:
        return redirect(request, "/ui/tenants", f"No active key {prefix}.", kind="error")
    return redirect(request, "/ui/tenants", f"Key {prefix} revoked: it no longer works.")


@post("/tenants/limits", include_in_schema=False, status_code=303)
async def limits(request: Request[Any, Any, Any], gateway: NamedDependency[Gateway]) -> Redirect:
    form = await request.form()
    tenant = text(form, "tenant") or ""
    model = text(form, "model") or ALL_MODELS
    clear = [name for name in CLEARABLE if text(form, f"clear_{name}")]
    try:
        rpm, tpm, budget = number(form, "rpm"), number(form, "tpm"), number(form, "budget_usd", float)
        cache_ttl = number(form, "cache_ttl_s")
        await set_limit(gateway.sessions, tenant, model, rpm=rpm, tpm=tpm, budget_usd=budget, cache_ttl_s=cache_ttl,
                        clear=clear)
    except SynaxisError as exc:
        return redirect(request, "/ui/tenants", f"{tenant}: {exc}", kind="error")
    await gateway.reload_auth()
    scope = "all models" if model == ALL_MODELS else model
    return redirect(request, "/ui/tenants", f"Limits of {tenant} for {scope} saved.")
