"""What the operator console reads: the request log, daily aggregates, spend per scope.

- ``request_log``: the ledger newest first with filters, paginated by a keyset cursor
  on ``(created_at, id)`` (the index ``ix_usage_records_created_at_id``, or
  ``ix_usage_records_tenant_id_created_at_id`` with a tenant): a page costs the same
  whether it is the first or the 1,000th, and no page counts the whole table.
- ``usage_groups``: totals by day (UTC), tenant and model in one scan, which the console
  folds into its overview (today, the month, the last 30 days, the top spenders) and its
  usage page.
- ``scope_spending``: a month's spend per tenant and deployment, to hold against budgets.
- ``catalog_syncs`` and ``last_validation``: when each catalog was last fetched, and what
  the newest ``validate`` run found.

Every function takes an ``async_sessionmaker`` and only reads.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Any

from sqlalchemy import func, or_, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from synaxis_core.db.models import CatalogSource, Tenant, UsageRecord, ValidationResult

Sessions = async_sessionmaker[AsyncSession]
STATUSES = ("ok", "error", "cancelled")
PAGE_SIZE = 50
MAX_PAGE_SIZE = 500


def utc(moment: datetime) -> datetime:
    """Aware UTC (SQLite hands naive datetimes back: they were written in UTC)."""
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment.astimezone(timezone.utc)


@dataclass(frozen=True)
class LogFilter:
    """What the request log shows: each field narrows it; None means any."""

    tenant: str | None = None
    model: str | None = None
    """A deployment, global model or requested model id."""
    status: str | None = None
    """``ok``, ``error`` or ``cancelled``."""
    since: datetime | None = None
    """Inclusive."""
    until: datetime | None = None
    """Exclusive."""


@dataclass(frozen=True)
class Cursor:
    """A position in the log: the ``(created_at, id)`` of a row."""

    created_at: datetime
    id: int

    def encode(self) -> str:
        micros = round(utc(self.created_at).timestamp() * 1_000_000)
        return f"{micros}-{self.id}"

    @classmethod
    def decode(cls, text: str) -> Cursor:
        """:raises ValueError: not a cursor this module made."""
        micros, _, row_id = text.partition("-")
        moment = datetime.fromtimestamp(int(micros) / 1_000_000, timezone.utc)
        return cls(moment, int(row_id))


@dataclass
class LogPage:
    rows: list[dict[str, Any]]
    older: str | None
    """The cursor of the next page back in time, when there is one."""
    newer: str | None
    """The cursor of the page before this one (towards the newest), when this is not the first."""


async def request_log(
    sessions: Sessions,
    filters: LogFilter = LogFilter(),
    *,
    before: str | None = None,
    after: str | None = None,
    limit: int = PAGE_SIZE,
) -> LogPage:
    """One page of the ledger, newest first.

    :param before: a page's ``older`` cursor: the rows just older than it.
    :param after: a page's ``newer`` cursor: the rows just newer than it (still newest first).
    :raises ValueError: a malformed cursor.
    """
    limit = max(1, min(limit, MAX_PAGE_SIZE))
    row = UsageRecord
    key = tuple_(row.created_at, row.id)
    async with sessions() as session:
        query = select(row)
        tenant_id = None
        if filters.tenant:
            tenant_id = await session.scalar(select(Tenant.id).where(Tenant.name == filters.tenant))
            if tenant_id is None:
                return LogPage([], None, None)
            query = query.where(row.tenant_id == tenant_id)
        if filters.model:
            m = filters.model
            query = query.where(or_(row.provider_model_id == m, row.requested_model == m, row.global_model_id == m))
        if filters.status:
            query = query.where(row.status == filters.status)
        if filters.since is not None:
            query = query.where(row.created_at >= utc(filters.since))
        if filters.until is not None:
            query = query.where(row.created_at < utc(filters.until))
        if after is not None:
            at = Cursor.decode(after)
            query = query.where(key > tuple_(at.created_at, at.id)).order_by(row.created_at, row.id)
        else:
            if before is not None:
                at = Cursor.decode(before)
                query = query.where(key < tuple_(at.created_at, at.id))
            query = query.order_by(row.created_at.desc(), row.id.desc())
        found = list(await session.scalars(query.limit(limit + 1)))
        more = len(found) > limit
        found = found[:limit]
        if after is not None:
            found.reverse()
        names = await _tenant_names(session, {r.tenant_id for r in found if r.tenant_id is not None})
    rows = [_log_row(r, names) for r in found]
    first = Cursor(found[0].created_at, found[0].id).encode() if found else None
    last = Cursor(found[-1].created_at, found[-1].id).encode() if found else None
    if after is not None:
        return LogPage(rows, older=last, newer=first if more else None)
    return LogPage(rows, older=last if more else None, newer=first if before is not None and found else None)


async def _tenant_names(session: AsyncSession, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    rows = (await session.execute(select(Tenant.id, Tenant.name).where(Tenant.id.in_(ids)))).all()
    return {tenant_id: name for tenant_id, name in rows}


def _log_row(r: UsageRecord, names: dict[int, str]) -> dict[str, Any]:
    return {
        "id": r.id,
        "request_id": r.request_id,
        "created_at": utc(r.created_at),
        "tenant": names.get(r.tenant_id) if r.tenant_id is not None else None,
        "requested_model": r.requested_model,
        "deployment": r.provider_model_id,
        "global_model": r.global_model_id,
        "status": r.status,
        "http_status": r.http_status,
        "attempts": r.attempts,
        "latency_ms": r.latency_ms,
        "prompt_tokens": r.prompt_tokens,
        "completion_tokens": r.completion_tokens,
        "cost_usd": r.cost_usd,
        "stream": r.stream,
    }


def _day(dialect: str) -> Any:
    """``created_at``'s UTC day as text ``YYYY-MM-DD`` (SQLite stores UTC text: its first 10 characters)."""
    if dialect == "postgresql":
        return func.to_char(func.timezone("UTC", UsageRecord.created_at), "YYYY-MM-DD")
    return func.substr(UsageRecord.created_at, 1, 10)


MODEL_KEY = func.coalesce(UsageRecord.provider_model_id, UsageRecord.requested_model, "")
"""The deployment that answered, else (none did) the model asked for."""


async def usage_groups(
    sessions: Sessions,
    since: datetime | date,
    until: datetime | date | None = None,
    *,
    tenant: str | None = None,
    model: str | None = None,
) -> list[dict[str, Any]]:
    """Totals by day (UTC), tenant and model from ``since`` (inclusive) to ``until``
    (exclusive), oldest first: ``day, tenant, model, requests, errors, prompt_tokens,
    completion_tokens, cost_usd`` (``tenant`` None: recorded without one)."""
    r = UsageRecord
    async with sessions() as session:
        day = _day(session.get_bind().dialect.name).label("day")
        errors = func.count().filter(r.status == "error")
        query = (
            select(day, r.tenant_id, MODEL_KEY.label("model"), func.count(), errors,
                   func.sum(r.prompt_tokens), func.sum(r.completion_tokens), func.sum(r.cost_usd))
            .where(r.created_at >= _start(since))
            .group_by(day, r.tenant_id, MODEL_KEY)
        )
        if until is not None:
            query = query.where(r.created_at < _start(until))
        if tenant:
            tenant_id = await session.scalar(select(Tenant.id).where(Tenant.name == tenant))
            if tenant_id is None:
                return []
            query = query.where(r.tenant_id == tenant_id)
        if model:
            query = query.where(or_(r.provider_model_id == model, r.requested_model == model, r.global_model_id == model))
        found = (await session.execute(query)).all()
        names = await _tenant_names(session, {row[1] for row in found if row[1] is not None})
    rows = [
        {
            "day": str(day_), "tenant": names.get(tenant_id) if tenant_id is not None else None, "model": model_,
            "requests": int(requests), "errors": int(errs or 0), "prompt_tokens": int(prompt or 0),
            "completion_tokens": int(completion or 0), "cost_usd": float(cost or 0.0),
        }
        for day_, tenant_id, model_, requests, errs, prompt, completion, cost in found
    ]
    rows.sort(key=lambda x: (x["day"], x["tenant"] or "", x["model"]))
    return rows


def _start(moment: datetime | date) -> datetime:
    if not isinstance(moment, datetime):
        moment = datetime(moment.year, moment.month, moment.day)
    return utc(moment)


def days_between(first: date, last: date) -> list[str]:
    """Every day from ``first`` to ``last`` inclusive, as ``YYYY-MM-DD``."""
    return [(first + timedelta(days=n)).isoformat() for n in range((last - first).days + 1)]


async def scope_spending(sessions: Sessions, since: datetime | date) -> list[tuple[int, str | None, str | None, str | None, float]]:
    """USD spent since ``since`` by tenant and by what a guardrail can name: rows of
    ``(tenant_id, deployment, global model, requested model, usd)`` (see ``spend_in_scope``)."""
    r = UsageRecord
    query = (
        select(r.tenant_id, r.provider_model_id, r.global_model_id, r.requested_model, func.sum(r.cost_usd))
        .where(r.created_at >= _start(since), r.tenant_id.is_not(None))
        .group_by(r.tenant_id, r.provider_model_id, r.global_model_id, r.requested_model)
    )
    async with sessions() as session:
        rows = (await session.execute(query)).all()
    return [(tenant_id, pm, gm, rm, float(usd or 0.0)) for tenant_id, pm, gm, rm, usd in rows]


def spend_in_scope(spending: Sequence[tuple[int, str | None, str | None, str | None, float]], tenant_id: int, scope: str) -> float:
    """What ``tenant_id`` spent within a guardrail's scope (``"*"``: everything; else a
    deployment, global model or requested model id), from ``scope_spending``'s rows."""
    return sum(
        usd for tid, pm, gm, rm, usd in spending if tid == tenant_id and (scope == "*" or scope in (pm, gm, rm))
    )


async def catalog_syncs(sessions: Sessions) -> dict[str, datetime | None]:
    """Each catalog's last successful fetch (UTC)."""
    async with sessions() as session:
        rows = (await session.execute(select(CatalogSource.name, CatalogSource.fetched_at))).all()
    return {name: utc(at) if at is not None else None for name, at in rows}


async def last_validation(sessions: Sessions) -> list[dict[str, Any]]:
    """The newest ``validate`` run's rows (model, ok, reason, latency_ms, at), by model."""
    v = ValidationResult
    async with sessions() as session:
        run_id = await session.scalar(select(v.run_id).order_by(v.at.desc(), v.id.desc()).limit(1))
        if run_id is None:
            return []
        rows = list(await session.scalars(select(v).where(v.run_id == run_id).order_by(v.provider_model_id)))
    return [
        {"run_id": x.run_id, "model": x.provider_model_id, "ok": x.ok, "reason": x.reason,
         "latency_ms": x.latency_ms, "at": utc(x.at)}
        for x in rows
    ]
