"""The routing table: every deployment the gateway knows, in memory, indexed three ways.

Built from the database (``provider_models`` joined with ``global_models`` for fallback
prices) and the installed providers, at start-up and whenever the registry changes.
The hot path only does dictionary lookups here.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Any, Iterable, Sequence

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from synaxis_core.db.models import GlobalModel, ProviderModel
from synaxis_core.db.registry import effective
from synaxis_core.plugins import Extensions
from synaxis_core.postprocess.base import PostProcessor
from synaxis_core.postprocess.pipeline import select as select_postprocessors
from synaxis_core.providers.base import OpenAICompatibleProvider
from synaxis_core.types import ModelSpec


def deployment_key(deployment_id: str) -> str:
    """The state-backend key of a deployment's cool-down and failure count."""
    return f"dep:{deployment_id}"


def provider_key(provider: str) -> str:
    """The state-backend key of a provider's cool-down and error window."""
    return f"prov:{provider}"


@dataclass(eq=False)
class Deployment:
    """One provider model as the router sees it (mutable: health decisions update it)."""

    id: str
    provider: OpenAICompatibleProvider
    spec: ModelSpec
    active: bool = True
    is_available: bool = True
    disabled_reason: str | None = None
    disabled_by: str | None = None
    postprocessors: list[PostProcessor] = field(default_factory=list)
    cooldown_keys: tuple[str, str] = ("", "")
    """The state-backend keys of this deployment's and its provider's cool-downs."""

    def __post_init__(self) -> None:
        self.cooldown_keys = (deployment_key(self.id), provider_key(self.provider.name))

    @property
    def provider_name(self) -> str:
        return self.provider.name

    @property
    def upstream_id(self) -> str:
        return self.spec.upstream_id

    @property
    def global_id(self) -> str | None:
        return self.spec.global_id


class RoutingTable:
    def __init__(self, deployments: Iterable[Deployment] = (), version: str = "") -> None:
        self.version = version
        self.by_id: dict[str, Deployment] = {}
        self.by_global: dict[str, list[Deployment]] = {}
        self.by_upstream: dict[str, list[Deployment]] = {}
        for d in sorted(deployments, key=lambda d: d.id):
            self.by_id[d.id] = d
            if d.global_id:
                self.by_global.setdefault(d.global_id, []).append(d)
            self.by_upstream.setdefault(d.upstream_id, []).append(d)

    def __len__(self) -> int:
        return len(self.by_id)

    def resolve(self, model: str) -> tuple[str, Sequence[Deployment]] | None:
        """``(kind, deployments)`` for a requested model, or None when nothing matches.

        ``kind`` is ``"pinned"`` for a provider-model id, ``"global"`` for a global id,
        ``"upstream"`` for an upstream id (``hf:...``). A pinned id never fails over to
        another deployment.
        """
        deployment = self.by_id.get(model)
        if deployment is not None:
            return "pinned", (deployment,)
        found = self.by_global.get(model)
        if found:
            return "global", found
        found = self.by_upstream.get(model)
        if found:
            return "upstream", found
        return None

    def suggestions(self, model: str, n: int = 3) -> list[str]:
        """The known ids closest to ``model`` (for a helpful 404)."""
        names = list(self.by_id) + list(self.by_global)
        lowered = model.lower()
        return difflib.get_close_matches(lowered, names, n=n, cutoff=0.5)

    def routable(self) -> list[Deployment]:
        return [d for d in self.by_id.values() if d.active and d.is_available]


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
                postprocessors=select_postprocessors(ext.postprocessors, spec),
            )
        )
    return RoutingTable(deployments, version)
