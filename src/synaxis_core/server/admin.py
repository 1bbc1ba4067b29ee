"""The admin API (``SYNAXIS_ADMIN_KEY``): models, sync, tenants, keys, limits, usage.

Bodies are typed (msgspec structs that Litestar decodes; unknown fields are refused) and
the gateway comes by dependency injection; changes go through the runtime and the
services, never as SQL written here.
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Controller, delete, get, patch, post, put
from litestar.connection import ASGIConnection
from litestar.handlers import BaseRouteHandler
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter

from synaxis_core.errors import InvalidRequest
from synaxis_core.ledger.queries import usage_totals
from synaxis_core.runtime.gateway import Gateway
from synaxis_core.server.openapi import admin_operation
from synaxis_core.sync.runner import run_round
from synaxis_core.tenants import ALL_MODELS
from synaxis_core.tenants.service import create_key, list_keys, list_tenants, revoke_key, set_limit


def admin_guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    client = connection.client.host if connection.client else "-"
    connection.app.state.gateway.authorize_admin(connection.headers.get("authorization"), client)


class ModelPatch(msgspec.Struct, forbid_unknown_fields=True):
    active: bool
    reason: str | None = None


class LimitBody(msgspec.Struct, forbid_unknown_fields=True):
    model: str = ALL_MODELS
    rpm: int | None = None
    tpm: int | None = None
    budget_usd: float | None = None
    cache_ttl_s: int | None = None
    """Seconds the tenant's answers stay cached (model ``*`` only; 0: off)."""
    clear: list[str] = msgspec.field(default_factory=list)


class SyncBody(msgspec.Struct, forbid_unknown_fields=True):
    targets: list[str] = msgspec.field(default_factory=lambda: ["providers", "catalog", "discover"])


class AdminController(Controller):
    path = "/admin"
    guards = [admin_guard]
    tags = ["Admin"]

    @get("/models", operation_id="adminListModels", operation_class=admin_operation())
    async def models(self, gateway: NamedDependency[Gateway], provider: FromQuery[str | None] = None) -> list[dict[str, Any]]:
        """Every deployment in the registry, with its state and disabled reason."""
        return await gateway.models(provider)

    @get("/models/{model_id:str}", operation_id="adminGetModel", operation_class=admin_operation())
    async def model(self, gateway: NamedDependency[Gateway], model_id: FromPath[str]) -> dict[str, Any]:
        """One deployment."""
        return await gateway.model(model_id)

    @patch("/models/{model_id:str}", operation_id="adminPatchModel", operation_class=admin_operation(ModelPatch))
    async def patch_model(self, gateway: NamedDependency[Gateway], model_id: FromPath[str], data: JSONBody[ModelPatch]) -> dict[str, Any]:
        """Enable or disable a deployment: ``{"active": false, "reason": "maintenance"}``."""
        await gateway.set_model_active(model_id, data.active, data.reason)
        return await gateway.model(model_id)

    @post("/sync", operation_id="adminSync", status_code=200, operation_class=admin_operation(SyncBody))
    async def sync(self, gateway: NamedDependency[Gateway], data: JSONBody[SyncBody | None] = None) -> list[dict[str, Any]]:
        """Run a sync round now: ``{"targets": ["providers", "catalog", "discover"]}``."""
        targets = (data or SyncBody()).targets
        try:
            reports = await run_round(gateway.settings, gateway.ext, gateway.sessions, targets)
        except ValueError as exc:
            raise InvalidRequest(str(exc), param="targets") from None
        await gateway.reload_registry()
        return [r.as_dict() for r in reports]

    @get("/tenants", operation_id="adminListTenants", operation_class=admin_operation())
    async def tenants(self, gateway: NamedDependency[Gateway]) -> list[dict[str, Any]]:
        """Tenants with their limits."""
        return await list_tenants(gateway.sessions)

    @post("/tenants/{tenant_name:str}/keys", operation_id="adminCreateKey", status_code=201, operation_class=admin_operation())
    async def create_key(self, gateway: NamedDependency[Gateway], tenant_name: FromPath[str]) -> dict[str, Any]:
        """Create the tenant if needed and a new key; the key is shown only in this response."""
        info, key = await create_key(gateway.sessions, tenant_name)
        await gateway.reload_auth()
        return {"tenant": info.name, "key": key, "prefix": key[:12]}

    @get("/tenants/{tenant_name:str}/keys", operation_id="adminListKeys", operation_class=admin_operation())
    async def keys(self, gateway: NamedDependency[Gateway], tenant_name: FromPath[str]) -> list[dict[str, Any]]:
        """The tenant's keys (prefixes only)."""
        return await list_keys(gateway.sessions, tenant_name)

    @delete("/keys/{prefix:str}", operation_id="adminRevokeKey", status_code=200, operation_class=admin_operation())
    async def revoke(self, gateway: NamedDependency[Gateway], prefix: FromPath[str]) -> dict[str, Any]:
        """Revoke a key by its prefix; it stops working at once."""
        revoked = await revoke_key(gateway.sessions, prefix)
        await gateway.reload_auth()
        return {"revoked": revoked}

    @put("/tenants/{tenant_name:str}/limits", operation_id="adminSetLimit", operation_class=admin_operation(LimitBody))
    async def set_limit(self, gateway: NamedDependency[Gateway], tenant_name: FromPath[str], data: JSONBody[LimitBody]) -> dict[str, Any]:
        """Set guardrails: ``{"model": "*", "rpm": 60, "tpm": 100000, "budget_usd": 50}``; the
        response cache: ``{"cache_ttl_s": 3600}`` (0 or ``"clear": ["cache_ttl_s"]``: off)."""
        limit = await set_limit(
            gateway.sessions, tenant_name, data.model, rpm=data.rpm, tpm=data.tpm, budget_usd=data.budget_usd,
            cache_ttl_s=data.cache_ttl_s, clear=data.clear,
        )
        await gateway.reload_auth()
        return {"tenant": tenant_name, "model": data.model, **msgspec.structs.asdict(limit)}

    @get("/usage", operation_id="adminUsage", operation_class=admin_operation())
    async def usage(
        self, gateway: NamedDependency[Gateway], tenant_name: Annotated[str | None, QueryParameter(name="tenant")] = None
    ) -> list[dict[str, Any]]:
        """Totals from the ledger by day, tenant and model."""
        return await usage_totals(gateway.sessions, tenant_name=tenant_name)
