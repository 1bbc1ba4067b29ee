"""The public routes besides chat: models (the list and one model), usage, health, metrics."""

from __future__ import annotations

import time
from typing import Any

import msgspec
from litestar import Response, get
from litestar.di import NamedDependency
from litestar.params import FromPath

from synaxis_core.ledger.queries import usage_totals
from synaxis_core.routing.router import unknown_model
from synaxis_core.runtime.gateway import Gateway
from synaxis_core.tenants import TenantInfo

_CREATED = int(time.time())


def model_list(gateway: Gateway) -> dict[str, Any]:
    """Routable deployments and the global models they serve, OpenAI list shape plus extras."""
    data: list[dict[str, Any]] = []
    globals_: dict[str, list[Any]] = {}
    for d in gateway.router.table.routable():
        if d.provider.missing_key:
            continue
        spec = d.spec
        data.append({
            "id": d.id, "object": "model", "created": _CREATED, "owned_by": d.provider_name,
            "provider": d.provider_name, "upstream_id": spec.upstream_id, "global_id": spec.global_id,
            "input_price": spec.input_price, "output_price": spec.output_price,
            "context_window": spec.context_window, "max_output": spec.max_output,
            "is_premium": spec.is_premium, "reasoning": spec.reasoning, "kind": spec.kind,
        })
        if spec.global_id and spec.global_id not in gateway.router.table.by_id:
            globals_.setdefault(spec.global_id, []).append(d)
    for global_id, deployments in sorted(globals_.items()):
        prices = [d.spec.input_price for d in deployments if d.spec.input_price is not None]
        data.append({
            "id": global_id, "object": "model", "created": _CREATED, "owned_by": "synaxis",
            "deployments": [d.id for d in deployments], "kind": deployments[0].spec.kind,
            "providers": sorted({d.provider_name for d in deployments}),
            "min_input_price": min(prices) if prices else None,
            "context_window": max((d.spec.context_window or 0) for d in deployments) or None,
        })
    return {"object": "list", "data": data}


@get("/v1/models", operation_id="listModels", tags=["OpenAI"], summary="List the routable models")
async def list_models(gateway: NamedDependency[Gateway], tenant: NamedDependency[TenantInfo]) -> Response[bytes]:
    """Provider-model ids (pinned) and global ids (routed across providers)."""
    return Response(msgspec.json.encode(model_list(gateway)), media_type="application/json")


@get("/v1/models/{model_id:path}", operation_id="retrieveModel", tags=["OpenAI"], summary="Retrieve one model")
async def retrieve_model(
    gateway: NamedDependency[Gateway], tenant: NamedDependency[TenantInfo], model_id: FromPath[str]
) -> Response[bytes]:
    """The entry ``GET /v1/models`` lists for this id (a provider-model or global id, slashes
    and all: ``meta-llama/Llama-3.3-70B``); 404 ``model_not_found`` when it lists none."""
    model_id = model_id.removeprefix("/")
    for entry in model_list(gateway)["data"]:
        if entry["id"] == model_id:
            return Response(msgspec.json.encode(entry), media_type="application/json")
    raise unknown_model(gateway.router.table, model_id)


@get("/v1/usage", operation_id="getOwnUsage", tags=["Usage"], summary="The calling tenant's usage")
async def own_usage(gateway: NamedDependency[Gateway], tenant: NamedDependency[TenantInfo]) -> dict[str, Any]:
    """Totals by day and model for the tenant of the key (never another tenant's)."""
    rows = await usage_totals(gateway.sessions, tenant_name=tenant.name)
    return {"object": "list", "tenant": tenant.name, "data": rows}


@get("/health", operation_id="health", tags=["Operations"], summary="Liveness and readiness")
async def health(gateway: NamedDependency[Gateway]) -> Response[bytes]:
    """200 when the database answers, 503 when it does not.

    Redis down, or a ledger that cannot write (a full disk: its rows wait in the queue and
    are retried), is ``"status": "degraded"`` with 200: the gateway keeps serving (with
    in-process limits and health, see ``limits.fallback``; until the ledger's queue is full),
    so a load balancer must not take every instance out at once.
    """
    checks: dict[str, str] = {"database": await gateway.database_ok()}
    if gateway.settings.redis_url:
        checks["redis"] = "ok" if await gateway.backend.ping() else "error"
    else:
        checks["redis"] = "not configured (in-process state)"
    ledger = gateway.ledger
    checks["ledger"] = "ok" if ledger.healthy else f"error: cannot write ({ledger.last_error or 'the queue is full'})"
    ready = checks["database"] == "ok"
    ok = ready and checks["redis"] != "error" and checks["ledger"] == "ok"
    body = {
        "status": "ok" if ok else ("degraded" if ready else "unavailable"),
        **checks,
        "demo": gateway.demo,
        "deployments": len(gateway.router.table),
        "routable": len(gateway.router.table.routable()),
        "ledger_pending": gateway.ledger.pending,
    }
    return Response(msgspec.json.encode(body), status_code=200 if ready else 503, media_type="application/json")


@get("/metrics", operation_id="metrics", tags=["Operations"], summary="Prometheus metrics", include_in_schema=True)
async def metrics(gateway: NamedDependency[Gateway]) -> Response[bytes]:
    """Requests, latency histograms, upstream attempts, failovers, tokens, cost, disabled models."""
    gateway.metrics.ledger_pending.set(gateway.ledger.pending)
    return Response(gateway.metrics.render(), media_type="text/plain; version=0.0.4")
