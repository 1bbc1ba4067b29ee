"""The exact response cache, as a client and an operator notice it.

A tenant (or a request) turns it on; the same request then gets the same answer from
the cache, in its own dialect, streamed or not, without an upstream call; the ledger
says ``cached`` with cost 0 and what it saved. Tenants never share entries, entries
expire, a Redis outage is a miss, and a stream cut upstream is never stored.
"""

from __future__ import annotations

import json
import logging
import re

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from synaxis_core.cache import MemoryCache, RedisCache
from synaxis_core.cli import cli
from synaxis_core.db.models import UsageRecord
from synaxis_core.fake import Behavior, FakeUpstream
from synaxis_core.tenants.service import create_key
from synaxis_core.testing.gateway import GatewayHarness, gateway_harness
from synaxis_core.testing.waiting import wait_until

MODEL = "glm-4.6-syn"  # a priced deployment, pinned: one upstream, so a call is easy to count
UPSTREAM = "hf:zai-org/GLM-4.6"
MESSAGES = [{"role": "user", "content": "Predict Arsenal v Chelsea."}]
BODY = {"model": MODEL, "messages": MESSAGES, "temperature": 0}


@pytest.fixture
def fake():
    with FakeUpstream() as upstream:
        yield upstream


async def cache_on(h: GatewayHarness, tenant: str = "test", ttl: int = 600) -> None:
    response = await h.client.put(f"/admin/tenants/{tenant}/limits", headers=h.admin(), json={"cache_ttl_s": ttl})
    assert response.status_code == 200, response.text
    assert response.json()["cache_ttl_s"] == ttl


async def chat(h: GatewayHarness, body: dict | None = None, key: str | None = None, **headers: str):
    return await h.client.post("/v1/chat/completions", headers={**h.auth(key), **headers}, json=body or BODY)


def sse_content(text: str) -> tuple[str, list[dict]]:
    """The streamed answer's text, and its chunks (``[DONE]`` checked)."""
    events = [line[len("data: "):] for line in text.splitlines() if line.startswith("data: ")]
    assert events[-1] == "[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    content = "".join((c.get("delta") or {}).get("content") or "" for chunk in chunks for c in chunk["choices"])
    return content, chunks


async def written(h: GatewayHarness, n: int) -> list[UsageRecord]:
    async def rows():
        async with h.gateway.sessions() as session:
            found = list((await session.scalars(select(UsageRecord).order_by(UsageRecord.id))).all())
        return found if len(found) >= n else None

    return await wait_until(rows, what=f"{n} ledger rows")


async def test_the_same_request_is_answered_from_the_cache_with_cost_zero(fake, sqlite_url):
    async with gateway_harness(fake, database_url=sqlite_url, providers=("synthetic",)) as h:
        await cache_on(h)
        first, second = await chat(h), await chat(h)
        assert first.status_code == second.status_code == 200
        assert (first.headers["x-synaxis-cache"], second.headers["x-synaxis-cache"]) == ("miss", "hit")
        assert second.json() == first.json()  # the same answer, model (the deployment) included
        assert second.headers["x-synaxis-model"] == MODEL and second.headers["x-synaxis-attempts"] == "0"
        assert fake.calls[UPSTREAM] == 1
        rows = await written(h, 2)
        metrics = (await h.client.get("/metrics")).text
    ok, cached = rows
    assert (ok.status, cached.status) == ("ok", "cached")
    assert ok.cost_usd > 0 and ok.saved_usd is None
    assert cached.cost_usd == 0 and cached.saved_usd == pytest.approx(ok.cost_usd)
    assert cached.provider_model_id == MODEL and cached.attempts == 0
    assert 'synaxis_cache_lookups_total{result="hit"} 1.0' in metrics
    assert 'synaxis_cache_lookups_total{result="miss"} 1.0' in metrics
    stored = next(line for line in metrics.splitlines() if line.startswith('synaxis_cache_bytes_total{op="store"}'))
    served = next(line for line in metrics.splitlines() if line.startswith('synaxis_cache_bytes_total{op="hit"}'))
    assert float(stored.split()[-1]) == float(served.split()[-1]) > 0


async def test_a_streamed_request_hits_what_a_plain_one_stored_and_back(fake, sqlite_url):
    async with gateway_harness(fake, database_url=sqlite_url, providers=("synthetic",)) as h:
        await cache_on(h)
        plain = await chat(h)
        streamed = await chat(h, {**BODY, "stream": True})
        assert streamed.headers["x-synaxis-cache"] == "hit"
        assert streamed.headers["content-type"].startswith("text/event-stream")
        content, chunks = sse_content(streamed.text)
        assert content == plain.json()["choices"][0]["message"]["content"]
        assert chunks[-1]["choices"][0]["finish_reason"] == plain.json()["choices"][0]["finish_reason"]
        assert all("usage" not in c for c in chunks)  # not asked for: not sent
        with_usage = await chat(h, {**BODY, "stream": True, "stream_options": {"include_usage": True}})
        assert sse_content(with_usage.text)[1][-1]["usage"] == plain.json()["usage"]

        other = {**BODY, "messages": [{"role": "user", "content": "And Liverpool v Everton?"}]}
        streamed_first = await chat(h, {**other, "stream": True})
        assert streamed_first.headers["x-synaxis-cache"] == "miss"
        plain_after = await chat(h, other)
        assert plain_after.headers["x-synaxis-cache"] == "hit"
        assert plain_after.json()["choices"][0]["message"]["content"] == sse_content(streamed_first.text)[0]
        assert plain_after.json()["usage"]["completion_tokens"] > 0
        assert fake.calls[UPSTREAM] == 2


async def test_every_dialect_gets_the_cache(fake, sqlite_url):
    body = {"model": MODEL, "max_tokens": 64, "messages": [{"role": "user", "content": "Hi"}]}
    async with gateway_harness(fake, database_url=sqlite_url, providers=("synthetic",)) as h:
        await cache_on(h)
        first = await h.client.post("/v1/messages", headers=h.auth(), json=body)
        again = await h.client.post("/v1/messages", headers=h.auth(), json={**body, "stream": True})
        responses = await h.client.post("/v1/responses", headers=h.auth(), json={"model": MODEL, "input": "Hi"})
        responses_again = await h.client.post("/v1/responses", headers=h.auth(), json={"model": MODEL, "input": "Hi"})
    assert first.headers["x-synaxis-cache"] == "miss" and again.headers["x-synaxis-cache"] == "hit"
    text = first.json()["content"][0]["text"]
    assert "event: message_stop" in again.text and json.dumps(text)[1:-1] in again.text
    assert responses.headers["x-synaxis-cache"] == "miss" and responses_again.headers["x-synaxis-cache"] == "hit"
    assert responses_again.json()["output"][0]["content"] == responses.json()["output"][0]["content"]
    assert fake.calls[UPSTREAM] == 2


async def test_two_tenants_never_see_each_others_entries(fake, sqlite_url):
    async with gateway_harness(fake, database_url=sqlite_url, providers=("synthetic",)) as h:
        _, other_key = await create_key(h.gateway.sessions, "other")
        await h.gateway.reload_auth()
        await cache_on(h)
        await cache_on(h, "other")
        assert (await chat(h)).headers["x-synaxis-cache"] == "miss"
        assert (await chat(h, key=other_key)).headers["x-synaxis-cache"] == "miss"
        assert (await chat(h, key=other_key)).headers["x-synaxis-cache"] == "hit"
        assert fake.calls[UPSTREAM] == 2


async def test_an_entry_expires_after_its_ttl(fake, sqlite_url):
    async with gateway_harness(fake, database_url=sqlite_url, providers=("synthetic",)) as h:
        backend = h.gateway.cache.backend
        assert isinstance(backend, MemoryCache)
        now = [1000.0]
        backend.clock = lambda: now[0]
        await cache_on(h, ttl=60)
        await chat(h)
        now[0] += 59
        assert (await chat(h)).headers["x-synaxis-cache"] == "hit"
        now[0] += 1
        assert (await chat(h)).headers["x-synaxis-cache"] == "miss"  # expired: asked again, stored again
        assert (await chat(h, **{"x-synaxis-cache-ttl": "5"})).headers["x-synaxis-cache"] == "hit"
        assert fake.calls[UPSTREAM] == 2


async def test_requests_turn_it_on_off_and_force_it(fake, sqlite_url):
    sampled = {**BODY, "temperature": 0.7}
    async with gateway_harness(fake, database_url=sqlite_url, providers=("synthetic",)) as h:
        off = [await chat(h), await chat(h)]  # the tenant has it off: no header, no cache
        on = [await chat(h, **{"x-synaxis-cache": "on"}) for _ in range(2)]
        bypassed = [await chat(h, sampled, **{"x-synaxis-cache": "on"}) for _ in range(2)]
        forced = [await chat(h, sampled, **{"x-synaxis-cache": "force"}) for _ in range(2)]
        seeded = [await chat(h, {**sampled, "seed": 7}, **{"x-synaxis-cache": "on"}) for _ in range(2)]
        several = [await chat(h, {**BODY, "n": 2}, **{"x-synaxis-cache": "on"}) for _ in range(2)]
        await cache_on(h)
        refused = await chat(h, **{"x-synaxis-cache": "off"})
        bad = await chat(h, **{"x-synaxis-cache": "sometimes"})
        bad_ttl = await chat(h, **{"x-synaxis-cache-ttl": "-3"})
    assert [r.headers["x-synaxis-cache"] for r in off] == ["miss", "miss"]
    assert [r.headers["x-synaxis-cache"] for r in on] == ["miss", "hit"]
    assert [r.headers["x-synaxis-cache"] for r in bypassed] == ["miss", "miss"]  # temperature > 0, no seed
    assert [r.headers["x-synaxis-cache"] for r in forced] == ["miss", "hit"]
    assert [r.headers["x-synaxis-cache"] for r in seeded] == ["miss", "hit"]
    assert [r.headers["x-synaxis-cache"] for r in several] == ["miss", "miss"]  # n > 1
    assert refused.headers["x-synaxis-cache"] == "miss"  # the one request opted out though its tenant is on
    assert bad.status_code == 400 and "x-synaxis-cache" in bad.json()["error"]["message"]
    assert bad_ttl.status_code == 400 and "x-synaxis-cache-ttl" in bad_ttl.json()["error"]["message"]


async def test_a_stream_cut_upstream_is_not_stored(fake, sqlite_url):
    fake.set(UPSTREAM, [Behavior(kind="cut"), Behavior(kind="stream_error"), Behavior()])
    async with gateway_harness(fake, database_url=sqlite_url, providers=("synthetic",), upstream_retries=0) as h:
        await cache_on(h)
        cut = await chat(h, {**BODY, "stream": True})
        broken = await chat(h, {**BODY, "stream": True})
        whole = await chat(h, {**BODY, "stream": True})
        again = await chat(h)
    assert '"error"' in cut.text or cut.status_code != 200
    assert '"error"' in broken.text
    assert whole.headers["x-synaxis-cache"] == "miss"  # neither failure was stored
    assert again.headers["x-synaxis-cache"] == "hit"  # the complete one was
    assert fake.calls[UPSTREAM] == 3


async def test_an_error_is_never_stored(fake, sqlite_url):
    fake.set(UPSTREAM, [Behavior(kind="error", status=500), Behavior()])
    async with gateway_harness(fake, database_url=sqlite_url, providers=("synthetic",), upstream_retries=0) as h:
        await cache_on(h)
        failed = await chat(h)
        answered = await chat(h)
    assert failed.status_code == 502
    assert answered.status_code == 200 and answered.headers["x-synaxis-cache"] == "miss"


@pytest.fixture
async def redis_environ(redis_url):
    """Redis for the gateway under a prefix of its own, whose keys are deleted afterwards."""
    import uuid

    import redis.asyncio as aioredis

    prefix = f"synaxis-cache-test-{uuid.uuid4().hex[:8]}:"
    yield {"SYNAXIS_REDIS_URL": redis_url, "SYNAXIS_REDIS_PREFIX": prefix}
    client = aioredis.Redis.from_url(redis_url)
    keys = [key async for key in client.scan_iter(f"{prefix}*")]
    if keys:
        await client.delete(*keys)
    await client.aclose()


@pytest.mark.redis
async def test_redis_shares_entries_between_instances(fake, sqlite_url, redis_environ):
    environ = redis_environ
    async with gateway_harness(fake, database_url=sqlite_url, providers=("synthetic",), environ=environ) as one:
        assert isinstance(one.gateway.cache.backend, RedisCache)
        await cache_on(one)
        await chat(one)
        await one.gateway.cache.drain()  # the write is off the request path
        async with gateway_harness(fake, database_url=sqlite_url, providers=("synthetic",), environ=environ) as two:
            await two.gateway.reload_auth()
            hit = await chat(two, key=two.key)
            # the second harness made its own key for "test": the same tenant, the same entry
            assert hit.headers["x-synaxis-cache"] == "hit"
        assert fake.calls[UPSTREAM] == 1


@pytest.mark.redis
async def test_redis_down_is_a_miss_and_a_warning(fake, sqlite_url, redis_environ, caplog):
    environ = redis_environ
    async with gateway_harness(fake, database_url=sqlite_url, providers=("synthetic",), environ=environ) as h:
        await cache_on(h)
        cache = h.gateway.cache.backend
        assert isinstance(cache, RedisCache)
        await chat(h)
        await h.gateway.cache.drain()
        import redis.asyncio as aioredis

        cache.client = aioredis.Redis.from_url("redis://127.0.0.1:1/0")  # nothing listens there: an outage
        with caplog.at_level(logging.WARNING, logger="synaxis.cache"):
            down = await chat(h)
        metrics = (await h.client.get("/metrics")).text
        await cache.client.aclose()
    assert down.status_code == 200 and down.headers["x-synaxis-cache"] == "miss"
    assert any("Redis read failed" in r.getMessage() for r in caplog.records), caplog.text
    assert "synaxis_cache_errors_total 1.0" in metrics
    assert fake.calls[UPSTREAM] == 2


def test_the_cli_turns_a_tenants_cache_on_and_off(sqlite_url):
    env = {"SYNAXIS_DATABASE_URL": sqlite_url}
    runner = CliRunner()
    assert runner.invoke(cli, ["db", "upgrade"], env=env).exit_code == 0
    assert runner.invoke(cli, ["keys", "create", "--tenant", "acme"], env=env).exit_code == 0
    on = runner.invoke(cli, ["tenants", "limit", "acme", "--cache-ttl", "300", "--json"], env=env)
    assert on.exit_code == 0, on.output
    assert json.loads(on.stdout)["cache_ttl_s"] == 300
    listed = json.loads(runner.invoke(cli, ["tenants", "list", "--json"], env=env).stdout)
    assert listed[0]["limits"]["*"] == {"rpm": None, "tpm": None, "budget_usd": None, "cache_ttl_s": 300}
    shown = runner.invoke(cli, ["tenants", "list"], env=env)
    assert "cache 300s" in shown.stdout
    model = runner.invoke(cli, ["tenants", "limit", "acme", "--model", "gpt-oss-120b", "--cache-ttl", "5"], env=env)
    assert model.exit_code == 1 and "model *" in model.output
    cleared = runner.invoke(cli, ["tenants", "limit", "acme", "--clear", "cache"], env=env)
    assert cleared.exit_code == 0
    assert json.loads(runner.invoke(cli, ["tenants", "list", "--json"], env=env).stdout)[0]["limits"] == {}


async def test_the_console_sets_the_cache(fake, sqlite_url):
    """The tenants page's limits form, as the browser posts it."""
    async with gateway_harness(fake, database_url=sqlite_url, providers=("synthetic",)) as h:
        client = h.client
        login = await client.get("/ui/login")
        token = re.search(r'name="_login" value="([^"]+)"', login.text).group(1)
        signed = await client.post("/ui/login", data={"_login": token, "key": h.admin_key, "next": "/ui"})
        assert signed.status_code == 303
        page = await client.get("/ui/tenants")
        csrf = re.search(r'name="_csrf" value="([^"]+)"', page.text).group(1)
        saved = await client.post("/ui/tenants/limits", data={
            "_csrf": csrf, "tenant": "test", "model": "*", "cache_ttl_s": "120",
        }, headers={"origin": "http://gateway.test"})
        assert saved.status_code == 303, saved.text
        page = await client.get("/ui/tenants")
        assert h.gateway.auth.tenants["test"].cache_ttl_s == 120
        assert "on, 120 s" in page.text
        assert (await chat(h)).headers["x-synaxis-cache"] == "miss"
        assert (await chat(h)).headers["x-synaxis-cache"] == "hit"


async def test_the_memory_cache_is_bounded_by_entries_and_bytes():
    cache = MemoryCache(max_entries=2, max_bytes=100)
    await cache.set("a", b"x" * 10, 60)
    await cache.set("b", b"y" * 10, 60)
    assert await cache.get("a") == b"x" * 10  # "a" is now the most recently used
    await cache.set("c", b"z" * 10, 60)  # a third entry: the least recently used ("b") goes
    assert await cache.get("b") is None and await cache.get("a") and await cache.get("c")
    await cache.set("d", b"w" * 80, 60)  # 81 bytes: room is made by evicting the oldest
    assert cache.bytes <= 100 and await cache.get("d") == b"w" * 80 and len(cache) <= 2
    await cache.set("huge", b"h" * 200, 60)  # larger than the whole cache: not kept
    assert await cache.get("huge") is None and await cache.get("d")
