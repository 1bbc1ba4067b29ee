"""Validate: run ``synaxis validate`` for a provider or a model and see the results."""

from __future__ import annotations

from typing import Any

from litestar import Request, get, post
from litestar.di import NamedDependency
from litestar.response import Template

from synaxis_core.console.pages.common import text
from synaxis_core.console.render import page
from synaxis_core.ledger.browse import last_validation
from synaxis_core.runtime.gateway import Gateway
from synaxis_core.validation import validate


async def _render(request: Request[Any, Any, Any], gateway: Gateway, **extra: Any) -> Template:
    return page(request, "validate.html", active="validate", providers=sorted(gateway.ext.providers),
                models=sorted(gateway.router.table.by_id), last=await last_validation(gateway.sessions), **extra)


@get("/validate", include_in_schema=False)
async def validate_page(request: Request[Any, Any, Any], gateway: NamedDependency[Gateway]) -> Template:
    return await _render(request, gateway)


@post("/validate", include_in_schema=False, status_code=200)
async def run_validate(request: Request[Any, Any, Any], gateway: NamedDependency[Gateway]) -> Template:
    form = await request.form()
    provider, model = text(form, "provider"), text(form, "model")
    report = await validate(gateway, provider=provider, model=model)
    return await _render(request, gateway, report=report.as_dict(), provider=provider or "", model=model or "")
