"""The admin API (``SYNAXIS_ADMIN_KEY``): models, sync, tenants, keys, limits, usage."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Controller, Request, delete, get, patch, post, put
from litestar.connection import ASGIConnection
from litestar.handlers import BaseRouteHandler
from litestar.params import FromPath, FromQuery
from sqlalchemy import update

from synaxis_core.db.models import ProviderModel, utcnow
from synaxis_core.db.registry import list_models
from synaxis_core.errors import InvalidRequest, NotFound
from synaxis_core.ledger.queries import usage_totals
from synaxis_core.runtime.gateway import Gateway
from synaxis_core.server.openapi import admin_operation
from synaxis_core.sync.runner import run_round
from synaxis_core.tenants import ALL_MODELS
from synaxis_core.tenants.service import create_key, list_keys, list_tenants, revoke_key, set_limit


def admin_guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    connection.app.state.gateway.authorize_admin(connection.headers.get("authorization"))


class ModelPatch(msgspec.Struct, forbid_unknown_fields=True):
    active: bool
    reason: str | None = None


class LimitBody(msgspec.Struct, forbid_unknown_fields=True):
    model: str = ALL_MODELS
    rpm: int | None = None
    tpm: int | None = None
    budget_usd: float | None = None
    clear: list[str] = msgspec.field(default_factory=list)


class SyncBody(msgspec.Struct, forbid_unknown_fields=True):
    targets: list[str] = msgspec.field(default_factory=lambda: ["providers", "catalog", "discover"])


async def _models(gateway: Gateway, provider: str | None = None) -> list[dict[str, Any]]:
    async with gateway.sessions() as session:
        return await list_models(session, provider=provider)


async def _model(gateway: Gateway, model_id: str) -> dict[str, Any]:
    for found in await _models(gateway):
        if found["id"] == model_id:
            return found
    raise NotFound(f"No deployment {model_id!r}")


def _decode(raw: bytes, kind: type[Any]) -> Any:
    try:
        return msgspec.json.decode(raw or b"{}", type=kind)
    except msgspec.ValidationError as exc:
        raise InvalidRequest(f"Invalid request: {exc}") from None
    except msgspec.DecodeError as exc:
        raise InvalidRequest(f"The request body is not valid JSON: {exc}") from None
    except (UnicodeDecodeError, RecursionError):
        raise InvalidRequest("The request body is not valid UTF-8 JSON of a sensible depth") from None


class AdminController(Controller):
    path = "/admin"
    guards = [admin_guard]
    tags = ["Admin"]

    @get("/models", operation_id="adminListModels", operation_class=admin_operation())
    async def models(self, request: Request, provider: FromQuery[str | None] = None) -> list[dict[str, Any]]:
        """Every deployment in the registry, with its state and disabled reason."""
        return await _models(request.app.state.gateway, provider)

    @get("/models/{model_id:str}", operation_id="adminGetModel", operation_class=admin_operation())
    async def model(self, request: Request, model_id: FromPath[str]) -> dict[str, Any]:
        """One deployment."""
        return await _model(request.app.state.gateway, model_id)

    @patch("/models/{model_id:str}", operation_id="adminPatchModel", operation_class=admin_operation(ModelPatch))
    async def patch_model(self, request: Request, model_id: FromPath[str]) -> dict[str, Any]:
        """Enable or disable a deployment: ``{"active": false, "reason": "maintenance"}``."""
        gateway: Gateway = request.app.state.gateway
        change = _decode(await request.body(), ModelPatch)
        if change.active:
            values = {"active": True, "disabled_by": None, "disabled_reason": None, "disabled_at": None,
                      "consecutive_failures": 0}
        else:
            values = {"active": False, "disabled_by": "admin", "disabled_at": utcnow(),
                      "disabled_reason": change.reason or "disabled by an operator"}
        async with gateway.sessions.begin() as session:
            result = await session.execute(update(ProviderModel).where(ProviderModel.id == model_id).values(**values))
        if result.rowcount == 0:
            raise NotFound(f"No deployment {model_id!r}")
        if change.active:
            deployment = gateway.router.table.by_id.get(model_id)
            if deployment is not None:
                await gateway.health.enable(deployment)
        await gateway.reload_registry()
        return await _model(gateway, model_id)

    @post("/sync", operation_id="adminSync", status_code=200, operation_class=admin_operation(SyncBody))
    async def sync(self, request: Request) -> list[dict[str, Any]]:
        """Run a sync round now: ``{"targets": ["providers", "catalog", "discover"]}``."""
        gateway: Gateway = request.app.state.gateway
        body = _decode(await request.body(), SyncBody)
        try:
            reports = await run_round(gateway.settings, gateway.ext, gateway.sessions, body.targets)
        except ValueError as exc:
            raise InvalidRequest(str(exc), param="targets") from None
        await gateway.reload_registry()
        return [r.as_dict() for r in reports]

    @get("/tenants", operation_id="adminListTenants", operation_class=admin_operation())
    async def tenants(self, request: Request) -> list[dict[str, Any]]:
        """Tenants with their limits."""
        return await list_tenants(request.app.state.gateway.sessions)

    @post("/tenants/{tenant:str}/keys", operation_id="adminCreateKey", status_code=201, operation_class=admin_operation())
    async def create_key(self, request: Request, tenant: FromPath[str]) -> dict[str, Any]:
        """Create the tenant if needed and a new key; the key is shown only in this response."""
        gateway: Gateway = request.app.state.gateway
        info, key = await create_key(gateway.sessions, tenant)
        await gateway.reload_auth()
        return {"tenant": info.name, "key": key, "prefix": key[:12]}

    @get("/tenants/{tenant:str}/keys", operation_id="adminListKeys", operation_class=admin_operation())
    async def keys(self, request: Request, tenant: FromPath[str]) -> list[dict[str, Any]]:
        """The tenant's keys (prefixes only)."""
        return await list_keys(request.app.state.gateway.sessions, tenant)

    @delete("/keys/{prefix:str}", operation_id="adminRevokeKey", status_code=200, operation_class=admin_operation())
    async def revoke(self, request: Request, prefix: FromPath[str]) -> dict[str, Any]:
        """Revoke a key by its prefix; it stops working at once."""
        gateway: Gateway = request.app.state.gateway
        revoked = await revoke_key(gateway.sessions, prefix)
        await gateway.reload_auth()
        return {"revoked": revoked}

    @put("/tenants/{tenant:str}/limits", operation_id="adminSetLimit", operation_class=admin_operation(LimitBody))
    async def set_limit(self, request: Request, tenant: FromPath[str]) -> dict[str, Any]:
        """Set guardrails: ``{"model": "*", "rpm": 60, "tpm": 100000, "budget_usd": 50}``."""
        gateway: Gateway = request.app.state.gateway
        body = _decode(await request.body(), LimitBody)
        limit = await set_limit(
            gateway.sessions, tenant, body.model, rpm=body.rpm, tpm=body.tpm, budget_usd=body.budget_usd, clear=body.clear
        )
        await gateway.reload_auth()
        return {"tenant": tenant, "model": body.model, **msgspec.structs.asdict(limit)}

    @get("/usage", operation_id="adminUsage", operation_class=admin_operation())
    async def usage(self, request: Request, tenant: FromQuery[str | None] = None) -> list[dict[str, Any]]:
        """Totals from the ledger by day, tenant and model."""
        return await usage_totals(request.app.state.gateway.sessions, tenant_name=tenant)
