"""Reading the model registry as users see it (``synaxis models``, ``/admin/models``)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from synaxis_core.db.models import GlobalModel, ProviderModel, utcnow

MODEL_FIELDS = (
    "id",
    "provider",
    "upstream_id",
    "global_model_id",
    "display_name",
    "is_premium",
    "reasoning",
    "kind",
    "active",
    "is_available",
    "disabled_reason",
    "disabled_by",
    "input_price",
    "output_price",
    "context_window",
    "max_output",
    "rpm_limit",
    "tpm_limit",
    "consecutive_failures",
    "p95_latency_ms",
    "last_seen_at",
)


INHERITED = ("input_price", "output_price", "cache_read_price", "context_window", "max_output")
"""Columns a deployment takes from its global model when it has no value of its own."""


def effective(row: ProviderModel, global_model: GlobalModel | None, name: str) -> Any:
    """The deployment's own value of ``name``, else its global model's (the fallback)."""
    value = getattr(row, name)
    if value is None and global_model is not None:
        value = getattr(global_model, name)
    return value


def model_view(row: ProviderModel, global_model: GlobalModel | None) -> dict[str, Any]:
    """One deployment with effective values: its own price, else its global model's."""
    view = {name: getattr(row, name) for name in MODEL_FIELDS}
    for name in INHERITED:
        if name in view:
            view[name] = effective(row, global_model, name)
    if view["last_seen_at"] is not None:
        view["last_seen_at"] = view["last_seen_at"].isoformat()
    return view


async def list_models(session: AsyncSession, *, provider: str | None = None) -> list[dict[str, Any]]:
    query = select(ProviderModel, GlobalModel).outerjoin(
        GlobalModel, GlobalModel.id == ProviderModel.global_model_id
    )
    if provider is not None:
        query = query.where(ProviderModel.provider == provider)
    rows = (await session.execute(query.order_by(ProviderModel.provider, ProviderModel.id))).all()
    return [model_view(row, global_model) for row, global_model in rows]


async def set_model_state(
    sessions: async_sessionmaker[AsyncSession],
    model_id: str,
    *,
    active: bool,
    by: str | None = None,
    reason: str | None = None,
    failures: int = 0,
) -> bool:
    """Enable or disable one deployment (``disabled_by`` / ``disabled_reason`` / ``disabled_at``
    written or cleared with it); False when there is no such deployment."""
    if active:
        values: dict[str, Any] = {"active": True, "disabled_by": None, "disabled_reason": None,
                                  "disabled_at": None, "consecutive_failures": 0}
    else:
        values = {"active": False, "disabled_by": by, "disabled_reason": reason, "disabled_at": utcnow(),
                  "consecutive_failures": failures}
    async with sessions.begin() as session:
        result = await session.execute(update(ProviderModel).where(ProviderModel.id == model_id).values(**values))
    return bool(result.rowcount)
