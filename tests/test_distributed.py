"""Several gateway instances sharing one PostgreSQL and one Redis, end to end.

Two real ``synaxis serve`` processes on two loopback ports, the fake upstream in a
thread, the local PostgreSQL (a database for this session) and the local Redis (a key
prefix for this test). What a user of several instances relies on:

- a tenant limit set through one instance is enforced by both, exactly, across both;
- a deployment that keeps failing on one instance is skipped and shown disabled by both;
- an operator's edit on one instance reaches the other without a restart;
- after a graceful stop of both, the ledger holds every request once;
- instances starting together never count the month's spend twice.
"""

from __future__ import annotations

import asyncio
import signal
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import datetime, timezone
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from synaxis_core.db.engine import create_engine
from synaxis_core.limits.tenant import TenantGate
from synaxis_core.runtime.gateway import Gateway
from synaxis_core.settings import Settings
from synaxis_core.tenants.service import set_limit
from synaxis_core.fake import Behavior, FakeUpstream
from synaxis_core.testing.gateway import fake_environ, gateway_harness
from synaxis_core.testing.server_process import GatewayProcess, run_cli
from synaxis_core.testing.waiting import wait_until

ADMIN_KEY = "admin-distributed-test"
MESSAGES = [{"role": "user", "content": "Predict the score."}]
NVIDIA_GPT_OSS = "openai/gpt-oss-120b"
PROPAGATION_CAP_S = 30.0
"""Safety cap of a wait for a change made through one instance to show on the other (each
instance polls the database once a second): generous, so that a loaded machine only makes
the test slower, and a change that never propagates fails the test."""


async def eventually(check: Callable[[], Awaitable[Any]], what: str) -> Any:
    """Wait until ``check`` returns something truthy (`wait_until` with the propagation cap)."""
    return await wait_until(check, what=what, timeout=PROPAGATION_CAP_S)


@pytest.fixture
def fixed_month(monkeypatch: pytest.MonkeyPatch) -> datetime:
    """Pin "this month" of the gateways run in this process to the month of one instant.

    Spend keys (``month_key()``) and the ledger rows a restart primes budgets from
    (``month_start()``) are both computed from that instant, whatever the calendar does
    during the test: a run across a month's end neither loses the spend nor reads
    another month's key. The ledger rows themselves are stamped later than the instant,
    so they fall in its month for the priming query (``created_at >= month_start``).
    """
    from synaxis_core.ledger import queries
    from synaxis_core.limits import tenant

    instant = datetime.now(timezone.utc)
    month_key, month_start = tenant.month_key, queries.month_start
    monkeypatch.setattr(tenant, "month_key", lambda now=None: month_key(now or instant))
    monkeypatch.setattr(queries, "month_start", lambda now=None: month_start(now or instant))
    return instant


class Cluster:
    """Two gateway processes, an HTTP client, and the id of every chat request sent."""

    def __init__(self, a: GatewayProcess, b: GatewayProcess, fake: FakeUpstream, client: httpx.AsyncClient) -> None:
        self.a, self.b, self.fake, self.client = a, b, fake, client
        self.sent: list[str] = []

    async def admin(self, gw: GatewayProcess, method: str, path: str, **kwargs: Any) -> Any:
        response = await self.client.request(
            method, gw.url + path, headers={"authorization": f"Bearer {ADMIN_KEY}"}, **kwargs
        )
        assert response.status_code in (200, 201), response.text
        return response.json()

    async def create_key(self, gw: GatewayProcess, tenant: str) -> str:
        return (await self.admin(gw, "POST", f"/admin/tenants/{tenant}/keys"))["key"]

    async def accepts(self, gw: GatewayProcess, key: str) -> bool:
        """True once ``gw`` knows ``key`` (a read-only route: nothing reaches the ledger)."""
        response = await self.client.get(gw.url + "/v1/usage", headers={"authorization": f"Bearer {key}"})
        assert response.status_code in (200, 401), response.text
        return response.status_code == 200

    async def chat(self, gw: GatewayProcess, key: str, model: str = "gpt-oss-120b") -> httpx.Response:
        response = await self.client.post(
            gw.url + "/v1/chat/completions",
            headers={"authorization": f"Bearer {key}"},
            json={"model": model, "messages": MESSAGES},
        )
        self.sent.append(response.headers["x-request-id"])
        return response

    async def routable(self, gw: GatewayProcess, key: str) -> set[str]:
        """The ids in ``gw``'s own routing table (``/v1/models``), not the database's."""
        response = await self.client.get(gw.url + "/v1/models", headers={"authorization": f"Bearer {key}"})
        assert response.status_code == 200, response.text
        return {m["id"] for m in response.json()["data"]}

    async def admin_row(self, gw: GatewayProcess, model_id: str) -> dict[str, Any]:
        return await self.admin(gw, "GET", f"/admin/models/{model_id}")

    def nvidia_calls(self) -> int:
        return sum(1 for r in self.fake.requests if r.flavor == "nvidia" and r.path.endswith("/chat/completions"))


@pytest.fixture
async def cluster(postgres_url: str, redis_url: str, tmp_path):
    import redis

    prefix = f"synaxis-test:{uuid.uuid4().hex}:"
    with FakeUpstream() as fake:
        environ = {
            **fake_environ(fake, ("nvidia", "synthetic")),
            "SYNAXIS_DATABASE_URL": postgres_url,
            "SYNAXIS_REDIS_URL": redis_url,
            "SYNAXIS_REDIS_PREFIX": prefix,
            "SYNAXIS_ADMIN_KEY": ADMIN_KEY,
            "SYNAXIS_LOAD_PLUGINS": "nvidia,synthetic",
        }
        await asyncio.to_thread(run_cli, ["db", "upgrade"], environ)
        a = GatewayProcess(environ, log_path=tmp_path / "a.log").start()
        b = GatewayProcess(environ, log_path=tmp_path / "b.log").start()  # both start at once
        try:
            await asyncio.gather(a.wait_ready(), b.wait_ready())
            async with httpx.AsyncClient(timeout=30.0) as client:
                yield Cluster(a, b, fake, client)
        finally:
            a.terminate()
            b.terminate()
            a.wait()
            b.wait()
            client_ = redis.Redis.from_url(redis_url)
            keys = list(client_.scan_iter(match=f"{prefix}*"))
            if keys:
                client_.delete(*keys)
            client_.close()


async def ledger_ids(database_url: str) -> Counter[str]:
    engine = create_engine(database_url)
    try:
        async with engine.connect() as conn:
            rows = (await conn.execute(text("SELECT request_id FROM usage_records"))).scalars().all()
    finally:
        await engine.dispose()
    return Counter(rows)


@pytest.mark.postgres
@pytest.mark.redis
async def test_two_instances_share_limits_health_registry_and_ledger(cluster: Cluster, postgres_url: str) -> None:
    c = cluster
    a, b = c.a, c.b

    # Keys made through A work on B without a restart.
    limited = await c.create_key(a, "limited")
    free = await c.create_key(a, "free")
    await eventually(lambda: c.accepts(b, limited), "B accepts a key created on A")
    await eventually(lambda: c.accepts(b, free), "B accepts a second key created on A")

    # (a) RPM 10 set through A holds across both: 50 concurrent requests, 25 per instance.
    await c.admin(a, "PUT", "/admin/tenants/limited/limits", json={"rpm": 10})
    marker = await c.create_key(a, "marker")  # written after the limit: once B knows it, B has the limit
    await eventually(lambda: c.accepts(b, marker), "B reloads the tenants after a change on A")
    replies = await asyncio.gather(*(c.chat((a, b)[i % 2], limited) for i in range(50)))
    statuses = Counter(r.status_code for r in replies)
    assert statuses == {200: 10, 429: 40}, statuses
    refused = [r for r in replies if r.status_code == 429]
    assert {r.json()["error"]["code"] for r in refused} == {"rate_limit_exceeded"}
    assert all(int(r.headers["retry-after"]) >= 1 for r in refused)

    # (b) NVIDIA answers 500: requests alternating between the instances all succeed
    # through Synthetic, and the shared failure counter stops NVIDIA after 3 calls.
    c.fake.reset()  # forget the calls of (a)
    c.fake.set(NVIDIA_GPT_OSS, Behavior(kind="error", status=500))
    replies = [await c.chat((a, b)[i % 2], free) for i in range(8)]
    assert [r.status_code for r in replies] == [200] * 8
    assert {r.headers["x-synaxis-model"] for r in replies[3:]} == {"gpt-oss-120b-syn"}
    assert c.nvidia_calls() == 3

    async def disabled_everywhere() -> bool:
        rows = [await c.admin_row(gw, "gpt-oss-120b-nvidia") for gw in (a, b)]
        tables = [await c.routable(gw, free) for gw in (a, b)]
        return all(not r["active"] and r["disabled_by"] == "health" for r in rows) and all(
            "gpt-oss-120b-nvidia" not in t for t in tables
        )

    await eventually(disabled_everywhere, "gpt-oss-120b-nvidia disabled in both instances' tables")
    row = await c.admin_row(b, "gpt-oss-120b-nvidia")
    assert "3 consecutive failures" in row["disabled_reason"] and "500" in row["disabled_reason"]
    replies = [await c.chat((a, b)[i % 2], free) for i in range(4)]
    assert [r.status_code for r in replies] == [200] * 4
    assert {r.headers["x-synaxis-model"] for r in replies} == {"gpt-oss-120b-syn"}
    assert c.nvidia_calls() == 3

    # (c) An operator disables a deployment through A; B stops routing to it.
    assert "deepseek-v3.2-syn" in await c.routable(b, free)
    await c.admin(a, "PATCH", "/admin/models/deepseek-v3.2-syn", json={"active": False, "reason": "maintenance"})

    async def gone_from_b() -> bool:
        return "deepseek-v3.2-syn" not in await c.routable(b, free)

    await eventually(gone_from_b, "B drops a deployment disabled through A")
    for gw in (a, b):
        response = await c.chat(gw, free, model="deepseek-v3.2-syn")
        assert response.status_code == 503, response.text
        assert "maintenance" in response.json()["error"]["message"]

    # (d) A graceful stop of both writes every request to the ledger exactly once.
    a.terminate()
    b.terminate()
    for gw in (a, b):  # uvicorn re-raises the signal once its shutdown is complete
        assert await asyncio.to_thread(gw.wait) in (0, -signal.SIGTERM), gw.log()
        assert "Application shutdown complete" in gw.log(), gw.log()
    found = await ledger_ids(postgres_url)
    assert len(c.sent) == 50 + 8 + 4 + 2
    assert set(found) == set(c.sent) and len(set(c.sent)) == len(c.sent)
    assert max(found.values()) == 1
    for gw in (a, b):
        assert "Traceback" not in gw.log(tail=10_000), gw.log()


# --- the month's spend at start-up ----------------------------------------------------------


async def _spend_through_a_gateway(fake: FakeUpstream, database_url: str) -> tuple[int, float]:
    """Two priced requests by tenant ``test`` (budget $100) through an in-process gateway.

    Returns the tenant id and the spend it counted; the ledger holds the same once closed.
    """
    async with gateway_harness(fake, database_url=database_url, providers=("synthetic",)) as h:
        await set_limit(h.gateway.sessions, "test", budget_usd=100)
        await h.gateway.reload_auth()
        for _ in range(2):
            response = await h.client.post(
                "/v1/chat/completions", headers=h.auth(), json={"model": "deepseek-v3.2-syn", "messages": MESSAGES}
            )
            assert response.status_code == 200, response.text
        tenant_id = h.gateway.auth.tenants["test"].id
        spent = await h.gateway.backend.get_spend(TenantGate.spend_key(tenant_id, "*"))
    assert spent > 0
    return tenant_id, spent


async def test_in_process_spend_is_restored_from_the_ledger_at_start_up(sqlite_url: str, fixed_month) -> None:
    with FakeUpstream() as fake:
        tenant_id, spent = await _spend_through_a_gateway(fake, sqlite_url)
        async with gateway_harness(fake, database_url=sqlite_url, providers=("synthetic",)) as h:
            restored = await h.gateway.backend.get_spend(TenantGate.spend_key(tenant_id, "*"))
    assert restored == pytest.approx(spent)


@pytest.mark.postgres
@pytest.mark.redis
async def test_instances_starting_together_never_count_the_ledger_twice(
    postgres_url: str, redis_url: str, fixed_month
) -> None:
    """Redis keeps the month's totals across restarts: nobody adds the ledger to them at start-up
    (two instances reading 0 and both adding the ledger's total would double it)."""
    prefix = f"synaxis-test:{uuid.uuid4().hex}:"
    with FakeUpstream() as fake:
        tenant_id, _ = await _spend_through_a_gateway(fake, postgres_url)  # the ledger has spend, Redis none
        settings = Settings.from_env({
            **fake_environ(fake, ("synthetic",)), "SYNAXIS_DATABASE_URL": postgres_url,
            "SYNAXIS_REDIS_URL": redis_url, "SYNAXIS_REDIS_PREFIX": prefix, "SYNAXIS_LOAD_PLUGINS": "synthetic",
        })
        first, second = await asyncio.gather(Gateway.open(settings), Gateway.open(settings))
        try:
            total = await first.backend.get_spend(TenantGate.spend_key(tenant_id, "*"))
            assert await first.backend.ping() and total == 0.0
        finally:
            await asyncio.gather(first.close(), second.close())
