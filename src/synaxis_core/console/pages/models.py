"""Models: the registry with each deployment's state; search, filter, sort; enable and
disable (``Gateway.set_model_active``, the admin API's own path: every instance reloads it)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from litestar import Request, get, post
from litestar.di import NamedDependency
from litestar.response import Redirect, Template

from synaxis_core.console.pages.common import text
from synaxis_core.console.render import page, redirect
from synaxis_core.console.states import STATUSES, deployment_states
from synaxis_core.errors import SynaxisError
from synaxis_core.runtime.gateway import Gateway

SORTS = {
    "id": "Deployment", "provider": "Provider", "input_price": "Input price", "output_price": "Output price",
    "context_window": "Context window", "status": "Status", "failures": "Failures", "p95": "p95 latency",
}


def _matches(m: dict[str, Any], q: str | None, provider: str | None, status: str | None) -> bool:
    if provider and m["provider"] != provider:
        return False
    if status and m["status"] != status:
        return False
    if q:
        haystack = " ".join(str(m[k] or "") for k in ("id", "upstream_id", "global_model_id", "display_name")).lower()
        return all(word in haystack for word in q.lower().split())
    return True


def _sorted(models: list[dict[str, Any]], key: str, descending: bool) -> list[dict[str, Any]]:
    present = [m for m in models if m[key] is not None]
    missing = [m for m in models if m[key] is None]  # unknown values last, whichever the direction
    present.sort(key=lambda m: (m[key], m["id"]), reverse=descending)
    return present + sorted(missing, key=lambda m: m["id"])


@get("/models", include_in_schema=False)
async def models_page(request: Request[Any, Any, Any], gateway: NamedDependency[Gateway]) -> Template:
    query = request.query_params
    q, provider, status = text(query, "q"), text(query, "provider"), text(query, "status")
    sort = text(query, "sort") or "id"
    sort = sort if sort in SORTS else "id"
    descending = text(query, "dir") == "desc"
    every = await deployment_states(gateway)
    shown = _sorted([m for m in every if _matches(m, q, provider, status)], sort, descending)
    kept = {k: v for k, v in (("q", q), ("provider", provider), ("status", status)) if v}
    return page(
        request, "models.html", active="models", models=shown, total=len(every),
        providers=sorted({m["provider"] for m in every}), statuses=STATUSES, sorts=SORTS,
        q=q or "", provider=provider or "", status=status or "", sort=sort, descending=descending,
        sort_link=lambda key: "/ui/models?" + urlencode(
            {**kept, "sort": key, "dir": "asc" if key != sort or descending else "desc"}),
        back="/ui/models" + ("?" + urlencode({**kept, "sort": sort, "dir": "desc" if descending else "asc"})),
    )


@post("/models/state", include_in_schema=False, status_code=303)
async def set_state(request: Request[Any, Any, Any], gateway: NamedDependency[Gateway]) -> Redirect:
    form = await request.form()
    model_id = text(form, "model") or ""
    active = text(form, "active") == "true"
    reason = text(form, "reason")
    back = text(form, "back") or "/ui/models"
    back = back if back.startswith("/ui/models") else "/ui/models"
    if not active and reason is None:
        return redirect(request, back, f"Give a reason to disable {model_id}.", kind="error")
    try:
        await gateway.set_model_active(model_id, active, reason)
    except SynaxisError as exc:
        return redirect(request, back, str(exc), kind="error")
    done = "enabled" if active else f"disabled ({reason})"
    return redirect(request, back, f"{model_id} {done}.")
