"""Catalog sync: upsert ``global_models`` and fill provider models' prices from catalogs.

For each installed catalog (in name order), ``sync_catalog`` fetches with the
conditional-request state kept in ``catalog_sources`` and writes two reports:
``catalog:<name>`` (global models) and ``prices:<name>`` (provider models).

Global models: a catalog's models are inserted or updated; rows it no longer lists are
kept (never deleted). A row first written by another catalog (``source``) is left to
that catalog, so two catalogs never overwrite each other round after round.

Provider models (prices are per provider model, never per model id alone):

- A row's catalog entry is found under *its* provider's catalog id
  (``provider.catalog_provider``: synthetic, togetherai, nvidia): by
  ``(catalog_provider, upstream_id)`` first, then ``(catalog_provider,
  normalize_model_id(upstream_id))``, then ``(catalog_provider, global_model_id)``.
  Rows of a provider without a catalog id, or without an entry, keep their prices and
  count as skipped; their effective price is then the global model's (the fallback,
  applied when the registry is read, so it follows the global model).
- The entry sets ``input_price``, ``output_price``, ``cache_read_price``,
  ``context_window`` and ``max_output``, except where the plugin's or config file's
  ``ModelSpec`` sets a value explicitly (that value wins, and is what this sync writes)
  or the entry has none (the stored value stays).
- A row without ``global_model_id`` is linked to ``normalize_model_id(upstream_id)``
  when a global model with that id exists.

Fetching: a 304 (``not_modified``) changes nothing but the links above (the start-up
sync resets a link its plugin does not give). When deployments were added since
the last fetch the request is sent unconditionally, so that they get their prices.
When the catalog fell back to its bundled snapshot (``from_snapshot``) the snapshot is
applied, the report says so, and the stored ETag is dropped so that the next fetch
from the real source is a full one. All writes are bulk statements: existing rows are
read once, compared in Python, then inserted and updated in batches.
"""

from __future__ import annotations

import logging
from datetime import datetime, timezone
from typing import Any, Callable

import httpx
from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from synaxis_core.catalog.base import Catalog
from synaxis_core.catalog.normalize import normalize_model_id
from synaxis_core.db.models import CatalogSource, GlobalModel, ProviderModel, utcnow
from synaxis_core.plugins import Extensions
from synaxis_core.sync.report import SyncReport
from synaxis_core.types import CatalogData, CatalogState, GlobalModelInfo, ProviderPrice

log = logging.getLogger(__name__)

Progress = Callable[[str], None]

GLOBAL_FIELDS = (
    "name", "family", "context_window", "max_output", "input_price", "output_price",
    "cache_read_price", "cache_write_price", "capabilities", "source",
)
PRICE_FIELDS = ("input_price", "output_price", "cache_read_price", "context_window", "max_output")
LIMITS = {"id": 200, "name": 200, "family": 100}
"""Column widths of ``global_models`` (PostgreSQL enforces them)."""


async def sync_catalog(
    sessions: async_sessionmaker[AsyncSession],
    ext: Extensions,
    client: httpx.AsyncClient,
    *,
    progress: Progress | None = None,
) -> list[SyncReport]:
    """Fetch every catalog in ``ext`` and apply it; two reports per catalog."""
    say = progress or (lambda _message: None)
    if not ext.catalogs:
        return [SyncReport(source="catalog", notes=["no catalog plugin is installed"])]
    reports: list[SyncReport] = []
    for name in sorted(ext.catalogs):
        reports.extend(await sync_one_catalog(sessions, ext, ext.catalogs[name], client, say))
    return reports


async def sync_one_catalog(
    sessions: async_sessionmaker[AsyncSession],
    ext: Extensions,
    catalog: Catalog,
    client: httpx.AsyncClient,
    say: Progress,
) -> list[SyncReport]:
    """Fetch one catalog (conditionally) and apply what it returns."""
    report = SyncReport(source=f"catalog:{catalog.name}")
    state = await load_state(sessions, catalog.name)
    say(f"{catalog.name}: fetching")
    try:
        data = await catalog.fetch(client, state)
    except Exception as exc:  # a catalog must not raise; if it does, the round goes on
        log.exception("catalog %s failed", catalog.name)
        report.errors.append(f"fetch failed: {type(exc).__name__}: {exc}")
        return [report]
    if data.not_modified:
        report.notes.append("not modified since the last fetch")
        async with sessions.begin() as session:
            await _save_state(session, catalog.name, data.etag, data.last_modified)
            linked = await link_unlinked(session, source=catalog.name)
        return [report] if not linked.changed else [report, linked]
    if data.from_snapshot:
        report.notes.append(f"source unreachable: used the bundled snapshot of {data.from_snapshot}")
    report.skipped += data.skipped
    say(f"{catalog.name}: writing {len(data.models)} models, {len(data.prices)} prices")
    async with sessions.begin() as session:
        known = await upsert_global_models(session, data, report)
        prices = await fill_provider_prices(session, data.prices, ext, known, source=data.source)
        fresh = data.from_snapshot is None  # a snapshot's state must not stand for the source's
        await _save_state(session, catalog.name, *((data.etag, data.last_modified) if fresh else (None, None)))
    return [report, prices]


async def load_state(sessions: async_sessionmaker[AsyncSession], name: str) -> CatalogState | None:
    """The stored conditional-request state, or None when a full fetch is due.

    A full fetch is due the first time, and when provider models were added after the
    last fetch (a 304 would leave them without prices).
    """
    async with sessions() as session:
        row = await session.get(CatalogSource, name)
        if row is None or row.fetched_at is None:
            return None
        newest = await session.scalar(select(func.max(ProviderModel.created_at)))
        if newest is not None and _utc(newest) > _utc(row.fetched_at):
            return None
        return CatalogState(etag=row.etag, last_modified=row.last_modified, fetched_at=row.fetched_at)


def _utc(moment: datetime) -> datetime:
    """SQLite hands back naive datetimes (stored as UTC): make them comparable."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=timezone.utc)


async def _save_state(session: AsyncSession, name: str, etag: str | None, last_modified: str | None) -> None:
    row = await session.get(CatalogSource, name)
    if row is None:
        session.add(CatalogSource(name=name, etag=etag, last_modified=last_modified, fetched_at=utcnow()))
    else:
        row.etag, row.last_modified, row.fetched_at = etag, last_modified, utcnow()


async def upsert_global_models(session: AsyncSession, data: CatalogData, report: SyncReport) -> set[str]:
    """Insert new global models, update changed ones; return every global id now stored."""
    table = GlobalModel.__table__
    columns = [table.c[name] for name in ("id", *GLOBAL_FIELDS)]
    existing = {row[0]: row for row in await _rows(session, select(*columns))}
    now = utcnow()
    inserts: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    seen: set[str] = set()
    for info in data.models:
        if len(info.id) > LIMITS["id"] or info.id in seen:
            report.skipped += 1
            continue
        seen.add(info.id)
        wanted = _global_fields(info, data.source)
        row = existing.get(info.id)
        if row is None:
            inserts.append({"id": info.id, **wanted, "updated_at": now})
        elif row.source != data.source:
            report.unchanged += 1  # owned by another catalog
        elif tuple(row[1:]) != tuple(wanted[name] for name in GLOBAL_FIELDS):
            updates.append({"id": info.id, **wanted, "updated_at": now})
        else:
            report.unchanged += 1
    if inserts:
        await session.execute(insert(GlobalModel), inserts)
    if updates:
        await session.execute(update(GlobalModel), updates)
    report.added += len(inserts)
    report.updated += len(updates)
    return set(existing) | seen


async def _rows(session: AsyncSession, query: Any) -> list[Any]:
    """Rows of a Core query on the session's connection (no ORM loading: much faster)."""
    return list((await (await session.connection()).execute(query)).all())


def _global_fields(info: GlobalModelInfo, source: str) -> dict[str, Any]:
    return {
        "name": (info.name or info.id)[: LIMITS["name"]],
        "family": info.family[: LIMITS["family"]] if info.family else None,
        "context_window": info.context_window,
        "max_output": info.max_output,
        "input_price": info.input_price,
        "output_price": info.output_price,
        "cache_read_price": info.cache_read_price,
        "cache_write_price": info.cache_write_price,
        "capabilities": dict(info.capabilities),
        "source": source,
    }


class PriceIndex:
    """Catalog prices keyed by ``(catalog provider, model id)`` and by normalized id."""

    def __init__(self, prices: list[ProviderPrice]) -> None:
        self.exact: dict[tuple[str, str], ProviderPrice] = {}
        self.normalized: dict[tuple[str, str], ProviderPrice] = {}
        for price in prices:
            self.exact.setdefault((price.catalog_provider, price.model_id), price)
            self.normalized.setdefault((price.catalog_provider, price.global_id), price)

    def find(self, catalog_provider: str, upstream_id: str, global_id: str | None) -> ProviderPrice | None:
        found = self.exact.get((catalog_provider, upstream_id))
        if found is None:
            found = self.normalized.get((catalog_provider, _normalized(upstream_id) or upstream_id))
        if found is None and global_id:
            found = self.normalized.get((catalog_provider, global_id))
        return found


def _normalized(model_id: str) -> str | None:
    try:
        return normalize_model_id(model_id)
    except ValueError:
        return None


async def fill_provider_prices(
    session: AsyncSession,
    prices: list[ProviderPrice],
    ext: Extensions,
    known_globals: set[str],
    *,
    source: str,
) -> SyncReport:
    """Set each provider model's prices from its own provider's catalog entry."""
    report = SyncReport(source=f"prices:{source}")
    index = PriceIndex(prices)
    table = ProviderModel.__table__
    names = ("id", "provider", "upstream_id", "global_model_id", *PRICE_FIELDS)
    rows = await _rows(session, select(*(table.c[name] for name in names)))
    updates: list[dict[str, Any]] = []
    for row in rows:
        changes: dict[str, Any] = {}
        global_id = row.global_model_id
        if global_id is None:
            linked = _normalized(row.upstream_id)
            if linked in known_globals:
                changes["global_model_id"] = global_id = linked
        provider = ext.providers.get(row.provider)
        catalog_provider = provider.catalog_provider if provider is not None else None
        price = index.find(catalog_provider, row.upstream_id, global_id) if catalog_provider else None
        pinned = _explicit_values(ext, row.id, row.provider)
        for name in PRICE_FIELDS:
            value = pinned[name] if name in pinned else getattr(price, name, None)
            if value is not None and getattr(row, name) != value:
                changes[name] = value
        if changes:
            updates.append({"id": row.id, **changes})
            report.updated += 1
        elif price is None:
            report.skipped += 1
        else:
            report.unchanged += 1
    for group in _same_keys(updates):
        await session.execute(update(ProviderModel), group)
    if report.skipped:
        report.notes.append(f"{report.skipped} provider models have no entry under their provider in {source}")
    return report


async def link_unlinked(session: AsyncSession, *, source: str) -> SyncReport:
    """Link rows without ``global_model_id`` to an existing global model (no fetch needed).

    Runs when a catalog is not modified, because the start-up sync writes a plugin's
    ``global_id`` (None included) on every start.
    """
    report = SyncReport(source=f"prices:{source}")
    query = select(ProviderModel.id, ProviderModel.upstream_id).where(ProviderModel.global_model_id.is_(None))
    rows = (await session.execute(query)).all()
    if not rows:
        return report
    known = set((await session.scalars(select(GlobalModel.id))).all())
    updates = [
        {"id": row.id, "global_model_id": linked}
        for row in rows
        if (linked := _normalized(row.upstream_id)) in known
    ]
    if updates:
        await session.execute(update(ProviderModel), updates)
        report.updated = len(updates)
        report.notes.append(f"linked {len(updates)} provider models to their global models")
    return report


def _explicit_values(ext: Extensions, model_id: str, provider: str) -> dict[str, Any]:
    """The price/limit values the model's ``ModelSpec`` sets itself (they win)."""
    entry = ext.models.get(model_id)
    if entry is None or entry[0].name != provider:
        return {}
    values = {name: getattr(entry[1], name) for name in PRICE_FIELDS}
    return {name: value for name, value in values.items() if value is not None}


def _same_keys(rows: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """Group update rows by their key set (one executemany per shape)."""
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault(tuple(sorted(row)), []).append(row)
    return list(groups.values())
