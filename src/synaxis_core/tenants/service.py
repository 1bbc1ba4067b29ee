"""Tenants, API keys and guardrails in the database; the auth snapshot the gateway keeps.

Every function takes an ``async_sessionmaker`` and runs its own transaction. Errors are
``synaxis_core.errors`` classes: ``NotFound`` for an unknown tenant or key,
``InvalidRequest`` for a bad argument.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Any, Callable

from sqlalchemy import case, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from synaxis_core.db.models import ApiKey, Tenant, TenantModelLimit, utcnow
from synaxis_core.errors import InvalidRequest, NotFound
from synaxis_core.tenants import ALL_MODELS, AuthSnapshot, Limit, TenantInfo
from synaxis_core.tenants.keys import (
    generate_key,
    hash_key,
    key_prefix,
    looks_like_key,
    looks_like_prefix,
)

Sessions = async_sessionmaker[AsyncSession]
MAX_RATE = 2**31 - 1
"""The largest RPM/TPM limit (the columns are 32-bit integers)."""
LIMIT_FIELDS = {"rpm": "allowed_rpm", "tpm": "allowed_tpm", "budget_usd": "monthly_budget_usd", "cache_ttl_s": "cache_ttl_s"}
"""``Limit`` field -> ``tenant_model_limits`` column."""
MAX_CACHE_TTL_S = 30 * 86400
"""The longest a tenant's answers may stay cached (30 days)."""


def _insert(session: AsyncSession) -> Callable[..., Any]:
    """The dialect's INSERT (both support ON CONFLICT)."""
    return postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert


def _check_name(name: str, what: str = "tenant name") -> str:
    name = (name or "").strip()
    if not name:
        raise InvalidRequest(f"the {what} must not be empty")
    if len(name) > 200:
        raise InvalidRequest(f"the {what} is longer than 200 characters")
    return name


async def _tenant(session: AsyncSession, name: str) -> Tenant:
    tenant = await session.scalar(select(Tenant).where(Tenant.name == name))
    if tenant is None:
        raise NotFound(f"no tenant named {name!r} (create one with `synaxis keys create --tenant {name}`)")
    return tenant


def _limit(row: TenantModelLimit) -> Limit:
    return Limit(rpm=row.allowed_rpm, tpm=row.allowed_tpm, budget_usd=row.monthly_budget_usd, cache_ttl_s=row.cache_ttl_s)


async def _limits_by_tenant(session: AsyncSession, tenant_ids: Iterable[int] | None = None) -> dict[int, dict[str, Limit]]:
    query = select(TenantModelLimit).order_by(TenantModelLimit.model)
    if tenant_ids is not None:
        query = query.where(TenantModelLimit.tenant_id.in_(list(tenant_ids)))
    found: dict[int, dict[str, Limit]] = {}
    for row in await session.scalars(query):
        found.setdefault(row.tenant_id, {})[row.model] = _limit(row)
    return found


async def create_key(sessions: Sessions, tenant_name: str) -> tuple[TenantInfo, str]:
    """Create a key for ``tenant_name`` (creating the tenant if needed).

    Returns the tenant and the plaintext key: the only time it exists outside the
    caller's hands; the database keeps its SHA-256 digest and 12-character prefix.
    """
    name = _check_name(tenant_name)
    key = generate_key()
    async with sessions.begin() as session:
        await session.execute(
            _insert(session)(Tenant).values(name=name, active=True, created_at=utcnow())
            .on_conflict_do_nothing(index_elements=["name"])
        )
        tenant = await _tenant(session, name)
        session.add(ApiKey(tenant_id=tenant.id, key_hash=hash_key(key), prefix=key_prefix(key)))
        limits = (await _limits_by_tenant(session, [tenant.id])).get(tenant.id, {})
    return TenantInfo.of(tenant.id, tenant.name, limits), key


async def revoke_key(sessions: Sessions, prefix_or_key: str) -> int:
    """Revoke the active key given by its 12-character prefix or in full; returns how many.

    A prefix shared by several active keys is refused (pass the full key instead).
    """
    text = (prefix_or_key or "").strip()
    if looks_like_key(text):
        match = ApiKey.key_hash == hash_key(text)
    elif looks_like_prefix(text):
        match = ApiKey.prefix == text
    else:  # never echo what might be a mistyped secret
        shown = f" {text!r}" if len(text) <= 12 else ""
        raise InvalidRequest(f"expected a key or its 12-character prefix (like sk-syn-AbCdE), got{shown or ' something else'}")
    async with sessions.begin() as session:
        rows = list(await session.scalars(select(ApiKey).where(match, ApiKey.revoked_at.is_(None))))
        if len(rows) > 1:
            raise InvalidRequest(f"the prefix {text} matches {len(rows)} active keys: revoke with the full key")
        for row in rows:
            row.revoked_at = utcnow()
    return len(rows)


async def list_keys(sessions: Sessions, tenant: str | None = None) -> list[dict[str, Any]]:
    """Keys by tenant and age: prefix, tenant, created_at, revoked_at, active (never hashes)."""
    async with sessions() as session:
        query = select(ApiKey, Tenant.name).join(Tenant, Tenant.id == ApiKey.tenant_id)
        if tenant is not None:
            query = query.where(ApiKey.tenant_id == (await _tenant(session, tenant)).id)
        rows = (await session.execute(query.order_by(Tenant.name, ApiKey.created_at, ApiKey.id))).all()
    return [
        {
            "prefix": key.prefix,
            "tenant": name,
            "created_at": key.created_at.isoformat(),
            "revoked_at": key.revoked_at.isoformat() if key.revoked_at else None,
            "active": key.revoked_at is None,
        }
        for key, name in rows
    ]


async def list_tenants(sessions: Sessions) -> list[dict[str, Any]]:
    """Tenants by name with their number of active keys and their guardrails."""
    async with sessions() as session:
        active_keys = func.count(ApiKey.id).filter(ApiKey.revoked_at.is_(None))
        rows = (
            await session.execute(
                select(Tenant, active_keys).outerjoin(ApiKey, ApiKey.tenant_id == Tenant.id)
                .group_by(Tenant.id).order_by(Tenant.name)
            )
        ).all()
        limits = await _limits_by_tenant(session)
    return [
        {
            "id": tenant.id,
            "name": tenant.name,
            "active": tenant.active,
            "created_at": tenant.created_at.isoformat(),
            "active_keys": count,
            "limits": {model: limit.as_dict() for model, limit in limits.get(tenant.id, {}).items()},
        }
        for tenant, count in rows
    ]


async def set_limit(
    sessions: Sessions,
    tenant_name: str,
    model: str = ALL_MODELS,
    rpm: int | None = None,
    tpm: int | None = None,
    budget_usd: float | None = None,
    *,
    cache_ttl_s: int | None = None,
    clear: Iterable[str] = (),
) -> Limit:
    """Set guardrails of ``tenant_name`` for ``model`` (``"*"``: the whole tenant).

    A value left ``None`` keeps the old one. ``0`` is a real limit (it blocks). To
    remove a limit, name it in ``clear`` (``"rpm"``, ``"tpm"``, ``"budget_usd"``,
    ``"cache_ttl_s"``, or ``"all"``); a row left with no limit at all is deleted.
    ``cache_ttl_s`` (``*`` only) turns the tenant's response cache on for that many
    seconds (0: off). Returns the resulting row.
    """
    model = _check_name(model, "model")
    clear = set(clear)
    if "all" in clear:
        clear = (clear - {"all"}) | set(LIMIT_FIELDS)
    if unknown := clear - set(LIMIT_FIELDS):
        raise InvalidRequest(f"cannot clear {sorted(unknown)}: choose from rpm, tpm, budget_usd, cache_ttl_s, all")
    if cache_ttl_s is not None and model != ALL_MODELS:
        raise InvalidRequest("the response cache is set for the whole tenant: use model * for cache_ttl_s")
    if cache_ttl_s is not None and cache_ttl_s > MAX_CACHE_TTL_S:
        raise InvalidRequest(f"cache_ttl_s must be at most {MAX_CACHE_TTL_S} (30 days), not {cache_ttl_s}")
    given = {"rpm": rpm, "tpm": tpm, "budget_usd": budget_usd, "cache_ttl_s": cache_ttl_s}
    values: dict[str, Any] = {}
    for field, value in given.items():
        if value is None:
            continue
        if field in clear:
            raise InvalidRequest(f"{field} is both set and cleared")
        if value < 0:
            raise InvalidRequest(f"{field} must be 0 or more, not {value}")
        if field != "budget_usd" and value > MAX_RATE:
            raise InvalidRequest(f"{field} must be at most {MAX_RATE} (clear the limit for none), not {value}")
        values[LIMIT_FIELDS[field]] = value
    values.update({LIMIT_FIELDS[field]: None for field in clear})
    if not values:
        raise InvalidRequest("nothing to change: give a limit to set (rpm, tpm, budget, cache TTL) or one to clear")
    now = utcnow()
    async with sessions.begin() as session:
        tenant = await _tenant(session, _check_name(tenant_name))
        upsert = _insert(session)(TenantModelLimit).values(tenant_id=tenant.id, model=model, updated_at=now, **values)
        await session.execute(
            upsert.on_conflict_do_update(index_elements=["tenant_id", "model"], set_={**values, "updated_at": now})
        )
        row = await session.scalar(
            select(TenantModelLimit).where(TenantModelLimit.tenant_id == tenant.id, TenantModelLimit.model == model)
        )
        assert row is not None
        limit = _limit(row)
        if limit.empty:
            await session.delete(row)
    return limit


async def get_limits(sessions: Sessions, tenant_name: str) -> dict[str, Limit]:
    """The guardrails of ``tenant_name`` by model (``"*"``: the whole tenant)."""
    async with sessions() as session:
        tenant = await _tenant(session, _check_name(tenant_name))
        return (await _limits_by_tenant(session, [tenant.id])).get(tenant.id, {})


def _version_query() -> Any:
    t, k, m = Tenant, ApiKey, TenantModelLimit
    aggregates = [
        (t, func.count()), (t, func.max(t.id)), (t, func.sum(case((t.active, 1), else_=0))),
        (k, func.count()), (k, func.max(k.id)), (k, func.count(k.revoked_at)), (k, func.max(k.revoked_at)),
        (m, func.count()), (m, func.max(m.id)), (m, func.max(m.updated_at)),
        (m, func.sum(m.allowed_rpm)), (m, func.count(m.allowed_rpm)),
        (m, func.sum(m.allowed_tpm)), (m, func.count(m.allowed_tpm)),
        (m, func.sum(m.monthly_budget_usd)), (m, func.count(m.monthly_budget_usd)),
        (m, func.sum(m.cache_ttl_s)), (m, func.count(m.cache_ttl_s)),
    ]
    return select(*(select(agg).select_from(table).scalar_subquery() for table, agg in aggregates))


async def _version(session: AsyncSession) -> str:
    row = (await session.execute(_version_query())).one()
    return hashlib.sha256(repr(tuple(row)).encode()).hexdigest()[:16]


async def auth_version(sessions: Sessions) -> str:
    """A short string that changes whenever keys, tenants or guardrails change.

    One query of aggregates over the three small tables: cheap enough to poll every
    second and reload the snapshot only when it differs.
    """
    async with sessions() as session:
        return await _version(session)


async def load_auth_snapshot(sessions: Sessions) -> AuthSnapshot:
    """Active tenants, their unrevoked keys (by digest) and guardrails, and the version."""
    async with sessions() as session:
        version = await _version(session)  # read first: a change racing the load only causes one more reload
        tenants = list(await session.scalars(select(Tenant).where(Tenant.active.is_(True))))
        limits = await _limits_by_tenant(session)
        keys = (
            await session.execute(
                select(ApiKey.key_hash, ApiKey.tenant_id)
                .join(Tenant, Tenant.id == ApiKey.tenant_id)
                .where(ApiKey.revoked_at.is_(None), Tenant.active.is_(True))
            )
        ).all()
    by_id = {t.id: TenantInfo.of(t.id, t.name, limits.get(t.id, {})) for t in tenants}
    return AuthSnapshot(
        version=version,
        keys={key_hash: by_id[tenant_id] for key_hash, tenant_id in keys},
        tenants={info.name: info for info in by_id.values()},
    )
