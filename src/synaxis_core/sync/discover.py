"""Discovery: ask every configured provider which models its ``/models`` lists now.

One report per provider (``discover:<provider>``):

- a registry model the answer lists gets ``is_available=True`` and ``last_seen_at``
  (``updated`` when it was unavailable or never seen before, else ``unchanged``);
- a model that an earlier answer listed (``last_seen_at`` set) and this one does not
  becomes unavailable (``deactivated``); rows are never deleted, and ``active`` (the
  operator's and the health checks' switch) is not touched;
- a model no answer has ever listed is left as it is (``skipped``, with a note): some
  providers do not list every model they serve;
- models the answer lists that no plugin registers are counted in a note (discovery
  does not invent deployments: ids, prices and tiers come from plugins);
- a provider that cannot be reached, or answers garbage, leaves its models exactly as
  they were and the error goes into the report;
- a provider whose key is missing is skipped with a note, unless its ``/models`` needs
  no key (``discovery_needs_key = False`` on the provider class, e.g. NVIDIA).

Providers are asked concurrently (``CONCURRENCY`` at a time, each bounded by the
provider's timeout); the registry is then updated in one transaction with bulk
statements.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Callable

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from synaxis_core.db.models import ProviderModel, utcnow
from synaxis_core.plugins import Extensions
from synaxis_core.providers.base import OpenAICompatibleProvider
from synaxis_core.sync.report import SyncReport
from synaxis_core.types import DiscoveredModel

log = logging.getLogger(__name__)

CONCURRENCY = 8
Progress = Callable[[str], None]


def needs_key(provider: OpenAICompatibleProvider) -> bool:
    """Whether ``GET /models`` needs the provider's key (default True)."""
    return bool(getattr(provider, "discovery_needs_key", True))


async def discover_models(
    sessions: async_sessionmaker[AsyncSession],
    ext: Extensions,
    *,
    providers: list[str] | None = None,
    progress: Progress | None = None,
) -> list[SyncReport]:
    """Run discovery for every provider (or those named) and update the registry."""
    say = progress or (lambda _message: None)
    names = sorted(ext.providers) if providers is None else providers
    reports = {name: SyncReport(source=f"discover:{name}") for name in names}
    answers: dict[str, list[DiscoveredModel]] = {}
    gate = asyncio.Semaphore(CONCURRENCY)

    async def ask(name: str) -> None:
        provider, report = ext.providers[name], reports[name]
        missing = provider.missing_key
        if missing and needs_key(provider):
            report.notes.append(f"skipped: set {missing} to discover {name}'s models")
            return
        async with gate:
            say(f"{name}: GET /models")
            try:
                async with asyncio.timeout(provider.timeout_s):
                    answers[name] = await provider.discover()
            except NotImplementedError:
                report.notes.append("skipped: this provider has no /models discovery")
            except Exception as exc:  # unreachable or garbage: keep the state, report it
                detail = "timed out" if isinstance(exc, TimeoutError) else f"{type(exc).__name__}: {exc}"
                log.info("discovery of %s failed: %s", name, detail)
                report.errors.append(f"/models failed, models left as they were: {detail}")

    await asyncio.gather(*(ask(name) for name in names))
    if answers:
        say(f"writing what {len(answers)} providers list")
        async with sessions.begin() as session:
            await apply_discovery(session, answers, reports)
    return [reports[name] for name in names]


async def apply_discovery(
    session: AsyncSession,
    answers: dict[str, list[DiscoveredModel]],
    reports: dict[str, SyncReport],
) -> None:
    """Write the answers of the providers that answered (bulk updates, one round trip each)."""
    now = utcnow()
    query = select(
        ProviderModel.id, ProviderModel.provider, ProviderModel.upstream_id,
        ProviderModel.is_available, ProviderModel.last_seen_at,
    ).where(ProviderModel.provider.in_(list(answers)))
    rows = (await session.execute(query)).all()
    seen_updates: list[dict[str, Any]] = []
    gone_updates: list[dict[str, Any]] = []
    registered: dict[str, set[str]] = {name: set() for name in answers}
    never_listed: dict[str, int] = {name: 0 for name in answers}
    listed = {name: {model.upstream_id for model in models} for name, models in answers.items()}
    for row in rows:
        report = reports[row.provider]
        registered[row.provider].add(row.upstream_id)
        if row.upstream_id in listed[row.provider]:
            seen_updates.append({"id": row.id, "is_available": True, "last_seen_at": now})
            if row.is_available and row.last_seen_at is not None:
                report.unchanged += 1
            else:
                report.updated += 1
        elif row.last_seen_at is not None and row.is_available:
            gone_updates.append({"id": row.id, "is_available": False})
            report.deactivated += 1
        elif row.last_seen_at is None:
            never_listed[row.provider] += 1
        else:
            report.unchanged += 1  # already unavailable
    for batch in (seen_updates, gone_updates):
        if batch:
            await session.execute(update(ProviderModel), batch)
    for name, report in reports.items():
        if name not in answers:
            continue
        unknown = len(listed[name] - registered[name])
        if never_listed[name]:
            report.skipped += never_listed[name]
            report.notes.append(f"{never_listed[name]} registered models never listed by /models: left as they are")
        if unknown:
            report.notes.append(f"/models lists {unknown} chat models no plugin registers")
