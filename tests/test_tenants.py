"""Tenants, API keys, guardrails and the auth snapshot, on SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
import re

import pytest
from sqlalchemy import select, update

from synaxis_core.db.models import ApiKey, Base, Tenant
from synaxis_core.errors import InvalidRequest, NotFound
from synaxis_core.tenants import AuthSnapshot, Limit, TenantInfo
from synaxis_core.tenants import service
from synaxis_core.tenants.keys import generate_key, hash_key, key_prefix, verify_key

KEY_SHAPE = re.compile(r"^sk-syn-[A-Za-z0-9_-]{40}$")


async def dump_database(sessions) -> str:
    """Every row of every table, as text."""
    rows = []
    async with sessions() as session:
        for table in Base.metadata.sorted_tables:
            rows.extend(map(tuple, (await session.execute(select(table))).all()))
    return repr(rows)


def test_key_format_hash_and_prefix():
    keys = {generate_key() for _ in range(200)}
    assert len(keys) == 200
    key = keys.pop()
    assert KEY_SHAPE.match(key)
    assert hash_key(key) == hashlib.sha256(key.encode()).hexdigest()
    assert key_prefix(key) == key[:12] and key_prefix(key).startswith("sk-syn-")
    assert verify_key(key, hash_key(key)) and not verify_key(key + "x", hash_key(key))


async def test_keys_are_stored_hashed_and_never_in_plaintext(sessions):
    info, key = await service.create_key(sessions, "acme")
    assert KEY_SHAPE.match(key) and info.name == "acme"
    dumped = await dump_database(sessions)
    assert key not in dumped and key[12:] not in dumped
    async with sessions() as session:
        row = await session.scalar(select(ApiKey))
    assert row.key_hash == hash_key(key) and row.prefix == key[:12]

    listed = await service.list_keys(sessions)
    assert listed == [
        {"prefix": key[:12], "tenant": "acme", "created_at": listed[0]["created_at"], "revoked_at": None, "active": True}
    ]
    assert row.key_hash not in repr(listed)


async def test_create_key_reuses_the_tenant(sessions):
    first, key1 = await service.create_key(sessions, "acme")
    second, key2 = await service.create_key(sessions, " acme ")
    other, _ = await service.create_key(sessions, "globex")
    assert first.id == second.id != other.id and key1 != key2
    assert [k["prefix"] for k in await service.list_keys(sessions, "acme")] == [key1[:12], key2[:12]]
    tenants = await service.list_tenants(sessions)
    assert [(t["name"], t["active_keys"]) for t in tenants] == [("acme", 2), ("globex", 1)]
    with pytest.raises(InvalidRequest):
        await service.create_key(sessions, "  ")
    with pytest.raises(NotFound):
        await service.list_keys(sessions, "nobody")


async def test_revoke_by_prefix_or_full_key(sessions):
    _, key1 = await service.create_key(sessions, "acme")
    _, key2 = await service.create_key(sessions, "acme")
    assert await service.revoke_key(sessions, key1[:12]) == 1
    assert await service.revoke_key(sessions, key1[:12]) == 0  # already revoked
    assert await service.revoke_key(sessions, key2) == 1
    assert await service.revoke_key(sessions, "sk-syn-Zzzzz") == 0
    assert [k["active"] for k in await service.list_keys(sessions)] == [False, False]
    with pytest.raises(InvalidRequest, match="12-character prefix"):
        await service.revoke_key(sessions, "sk-syn")


async def test_an_ambiguous_prefix_is_refused(sessions):
    info, key = await service.create_key(sessions, "acme")
    twin = key[:12] + "x" * 35
    async with sessions.begin() as session:
        session.add(ApiKey(tenant_id=info.id, key_hash=hash_key(twin), prefix=key[:12]))
    with pytest.raises(InvalidRequest, match="matches 2 active keys"):
        await service.revoke_key(sessions, key[:12])
    assert await service.revoke_key(sessions, twin) == 1
    assert await service.revoke_key(sessions, key[:12]) == 1


async def test_set_limit_upserts_keeps_and_clears(sessions):
    await service.create_key(sessions, "acme")
    assert await service.set_limit(sessions, "acme", rpm=60, budget_usd=100) == Limit(rpm=60, budget_usd=100.0)
    assert await service.set_limit(sessions, "acme", tpm=5000) == Limit(rpm=60, tpm=5000, budget_usd=100.0)
    assert await service.set_limit(sessions, "acme", "gpt-4o", rpm=0) == Limit(rpm=0)
    assert await service.set_limit(sessions, "acme", clear=["rpm"]) == Limit(tpm=5000, budget_usd=100.0)
    assert await service.get_limits(sessions, "acme") == {
        "*": Limit(tpm=5000, budget_usd=100.0),
        "gpt-4o": Limit(rpm=0),
    }
    assert await service.set_limit(sessions, "acme", "gpt-4o", clear=["all"]) == Limit()
    assert set(await service.get_limits(sessions, "acme")) == {"*"}

    with pytest.raises(NotFound, match="no tenant named 'nobody'"):
        await service.set_limit(sessions, "nobody", rpm=1)
    with pytest.raises(InvalidRequest, match="nothing to change"):
        await service.set_limit(sessions, "acme")
    with pytest.raises(InvalidRequest, match="0 or more"):
        await service.set_limit(sessions, "acme", rpm=-1)
    with pytest.raises(InvalidRequest, match="both set and cleared"):
        await service.set_limit(sessions, "acme", rpm=1, clear=["rpm"])
    with pytest.raises(InvalidRequest, match="cannot clear"):
        await service.set_limit(sessions, "acme", clear=["bogus"])


def test_scopes_put_the_tenant_wide_limit_first():
    info = TenantInfo(id=1, name="a", limits={"*": Limit(rpm=60), "m": Limit(tpm=10)})
    assert info.scopes("m") == [("*", Limit(rpm=60)), ("m", Limit(tpm=10))]
    assert info.scopes("other") == [("*", Limit(rpm=60))]
    assert TenantInfo(id=2, name="b").scopes("m") == []


def test_scopes_bind_whichever_name_the_request_resolved_to():
    """A limit on a deployment holds when the request named its upstream or global id."""
    info = TenantInfo(id=1, name="a", limits={"adv-pricey": Limit(rpm=2), "*": Limit(rpm=60), "g": Limit(tpm=5)})
    names = {"hf:adv/pricey", "adv-pricey", "pricey-global"}  # what "hf:adv/pricey" resolved to
    assert info.scopes(names) == [("*", Limit(rpm=60)), ("adv-pricey", Limit(rpm=2))]
    assert info.scopes({"g", "adv-pricey"}) == [("*", Limit(rpm=60)), ("adv-pricey", Limit(rpm=2)), ("g", Limit(tpm=5))]
    assert info.scopes(frozenset()) == [("*", Limit(rpm=60))]


async def test_auth_snapshot_contents(sessions):
    acme, acme_key = await service.create_key(sessions, "acme")
    _, revoked_key = await service.create_key(sessions, "acme")
    _, globex_key = await service.create_key(sessions, "globex")
    _, initech_key = await service.create_key(sessions, "initech")
    await service.revoke_key(sessions, revoked_key)
    await service.set_limit(sessions, "acme", rpm=60)
    await service.set_limit(sessions, "acme", "gpt-4o", budget_usd=5)
    async with sessions.begin() as session:
        await session.execute(update(Tenant).where(Tenant.name == "initech").values(active=False))

    snapshot = await service.load_auth_snapshot(sessions)
    assert isinstance(snapshot, AuthSnapshot)
    assert set(snapshot.keys) == {hash_key(acme_key), hash_key(globex_key)}
    assert set(snapshot.tenants) == {"acme", "globex"}
    tenant = snapshot.authenticate(acme_key)
    assert tenant == TenantInfo(
        id=acme.id, name="acme", limits={"*": Limit(rpm=60), "gpt-4o": Limit(budget_usd=5.0)}
    )
    assert snapshot.authenticate(globex_key).name == "globex"
    for refused in (revoked_key, initech_key, acme_key[:-1] + "?", "", "Bearer x" * 100):
        assert snapshot.authenticate(refused) is None
    assert snapshot.version == await service.auth_version(sessions)


async def test_auth_version_changes_only_when_something_changes(sessions):
    versions = [await service.auth_version(sessions)]

    async def changed() -> bool:
        versions.append(await service.auth_version(sessions))
        return versions[-1] != versions[-2]

    assert not await changed()
    _, key = await service.create_key(sessions, "acme")
    assert await changed()
    assert not await changed()
    await service.create_key(sessions, "acme")
    assert await changed()
    await service.set_limit(sessions, "acme", rpm=60)
    assert await changed()
    await service.set_limit(sessions, "acme", rpm=61)
    assert await changed()
    await service.set_limit(sessions, "acme", budget_usd=10)
    assert await changed()
    await service.set_limit(sessions, "acme", clear=["all"])
    assert await changed()
    await service.revoke_key(sessions, key)
    assert await changed()
    async with sessions.begin() as session:
        await session.execute(update(Tenant).values(active=False))
    assert await changed()
    assert (await service.load_auth_snapshot(sessions)).version == versions[-1]
    # the version describes the content: with every limit cleared again, the limits
    # part is as it was before the first one was set
    assert versions.index(versions[8]) == 4 and versions[8] != versions[7]
