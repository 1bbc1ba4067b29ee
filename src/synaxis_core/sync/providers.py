"""Start-up sync: write every installed provider's static catalog to ``provider_models``.

- A listed model is inserted or updated (``active`` unless its provider lacks a key).
- A model no installed plugin lists any more is deactivated, never deleted.
- Models disabled by an operator, by health checks or by ``synaxis validate`` stay
  disabled; only the reasons this sync itself sets (``missing_key``, ``removed``)
  are lifted by it.
- Prices, limits and the global model a plugin leaves as ``None`` are left to the
  catalog sync (which links models by their normalised id).

Running it twice changes nothing the second time.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from synaxis_core.db.models import ProviderModel, utcnow
from synaxis_core.plugins import Extensions
from synaxis_core.providers.base import OpenAICompatibleProvider
from synaxis_core.sync.report import SyncReport
from synaxis_core.types import ModelSpec

SYNC_OWNED = (None, "missing_key", "removed")
"""``disabled_by`` values this sync may change; anything else was an explicit decision."""

REMOVED_REASON = "no installed plugin lists this model any more"

PG_LOCK_KEY = 0x5A7A1502
"""Transaction advisory lock: instances starting together sync one after the other
(the sync runner uses ``0x5A7A1501``, migrations ``0x5A7A1500``)."""


def missing_key_reason(variable: str, provider: str) -> str:
    return f"set {variable} to use provider {provider!r}"


def desired_fields(provider: OpenAICompatibleProvider, spec: ModelSpec) -> dict[str, Any]:
    """The columns a plugin's ``ModelSpec`` decides (None prices/limits: left to catalogs)."""
    fields: dict[str, Any] = {
        "provider": provider.name,
        "upstream_id": spec.upstream_id,
        "display_name": spec.display_name or spec.id,
        "is_premium": spec.is_premium,
        "reasoning": spec.reasoning,
        "kind": spec.kind,
        "rpm_limit": spec.rpm,
        "tpm_limit": spec.tpm,
    }
    for column, value in (
        ("global_model_id", spec.global_id),
        ("input_price", spec.input_price),
        ("output_price", spec.output_price),
        ("cache_read_price", spec.cache_read_price),
        ("context_window", spec.context_window),
        ("max_output", spec.max_output),
    ):
        if value is not None:
            fields[column] = value
    return fields


def _activation(row_disabled_by: str | None, provider: OpenAICompatibleProvider) -> dict[str, Any] | None:
    """The activation columns this sync wants, or None when it must not touch them."""
    if row_disabled_by not in SYNC_OWNED:
        return None
    missing = provider.missing_key
    if missing:
        return {
            "active": False,
            "disabled_by": "missing_key",
            "disabled_reason": missing_key_reason(missing, provider.name),
        }
    return {"active": True, "disabled_by": None, "disabled_reason": None}


async def sync_providers(sessions: async_sessionmaker[AsyncSession], ext: Extensions) -> SyncReport:
    report = SyncReport(source="providers")
    now = utcnow()
    async with sessions.begin() as session:
        if session.get_bind().dialect.name == "postgresql":  # else two inserts of one new model collide
            await session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": PG_LOCK_KEY})
        rows = {row.id: row for row in (await session.scalars(select(ProviderModel))).all()}
        for model_id, (provider, spec) in ext.models.items():
            fields = desired_fields(provider, spec)
            row = rows.get(model_id)
            if row is None:
                fields.update(_activation(None, provider) or {})
                if not fields["active"]:
                    fields["disabled_at"] = now
                session.add(ProviderModel(id=model_id, is_available=True, consecutive_failures=0, **fields))
                report.added += 1
                continue
            fields.update(_activation(row.disabled_by, provider) or {})
            changes = {k: v for k, v in fields.items() if getattr(row, k) != v}
            if changes:
                if changes.get("active") is False:
                    changes["disabled_at"] = now
                elif changes.get("active") is True:
                    changes["disabled_at"] = None
                for key, value in changes.items():
                    setattr(row, key, value)
                report.updated += 1
            else:
                report.unchanged += 1
        for model_id, row in rows.items():
            if model_id in ext.models:
                continue
            if row.disabled_by == "removed" or (not row.active and row.disabled_by not in SYNC_OWNED):
                continue
            row.active = False
            row.disabled_by = "removed"
            row.disabled_reason = REMOVED_REASON
            row.disabled_at = now
            report.deactivated += 1
    return report
