"""The routing table from the database: what the runtime loads and hands to the router.

``load_routing_table`` joins ``provider_models`` with ``global_models`` (a provider
model's own price or context window, else its global model's) and the installed
providers; ``registry_version`` is the cheap fingerprint the runtime polls to know when
to load it again. Routing itself never touches the database (see ARCHITECTURE.md).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from synaxis_core.db.models import GlobalModel, ProviderModel
from synaxis_core.db.registry import effective
from synaxis_core.plugins import Extensions
from synaxis_core.postprocess.pipeline import select as select_postprocessors
from synaxis_core.routing.table import Deployment, RoutingTable
from synaxis_core.types import ModelSpec


def _spec(row: ProviderModel, global_model: GlobalModel | None, base: ModelSpec | None) -> ModelSpec:
    def pick(name: str) -> Any:
        return effective(row, global_model, name)

    return ModelSpec(
        id=row.id,
        upstream_id=row.upstream_id,
        global_id=row.global_model_id,
        display_name=row.display_name,
        is_premium=row.is_premium,
        reasoning=row.reasoning,
        kind="embedding" if row.kind == "embedding" else "chat",
        input_price=pick("input_price"),
        output_price=pick("output_price"),
        cache_read_price=pick("cache_read_price"),
        context_window=pick("context_window"),
        max_output=pick("max_output"),
        rpm=row.rpm_limit if row.rpm_limit is not None else (base.rpm if base else None),
        tpm=row.tpm_limit if row.tpm_limit is not None else (base.tpm if base else None),
    )


async def registry_version(sessions: async_sessionmaker[AsyncSession]) -> str:
    """A cheap fingerprint of the registry: changes whenever a deployment or price changes."""
    async with sessions() as session:
        pm = (await session.execute(select(func.count(), func.max(ProviderModel.updated_at)))).one()
        gm = (await session.execute(select(func.count(), func.max(GlobalModel.updated_at)))).one()
    return f"{pm[0]}:{pm[1]}:{gm[0]}:{gm[1]}"


async def load_routing_table(sessions: async_sessionmaker[AsyncSession], ext: Extensions) -> RoutingTable:
    """Every registered deployment whose provider is installed."""
    version = await registry_version(sessions)
    async with sessions() as session:
        rows = (
            await session.execute(
                select(ProviderModel, GlobalModel).outerjoin(
                    GlobalModel, GlobalModel.id == ProviderModel.global_model_id
                )
            )
        ).all()
    deployments = []
    for row, global_model in rows:
        provider = ext.providers.get(row.provider)
        if provider is None:
            continue
        base = ext.models.get(row.id, (None, None))[1]
        spec = _spec(row, global_model, base)
        deployments.append(
            Deployment(
                id=row.id,
                provider=provider,
                spec=spec,
                active=row.active,
                is_available=row.is_available,
                disabled_reason=row.disabled_reason,
                disabled_by=row.disabled_by,
                postprocessors=select_postprocessors(ext.postprocessors, spec, provider.name),
            )
        )
    return RoutingTable(deployments, version)
