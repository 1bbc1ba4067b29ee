"""Tenant limits and budgets as the pipeline applies them: bound to what a request
resolves to, budgets holding each request's worst case while it runs, and a ledger that
cannot take a row refusing the request quickly instead of holding the client."""

from __future__ import annotations

import asyncio

import pytest

from synaxis_core.fake import FakeUpstream
from synaxis_core.testing.gateway import gateway_harness
from synaxis_core.testing.waiting import wait_until

MESSAGES = [{"role": "user", "content": "Hi"}]
PRICEY = "deepseek-r1-0528-syn"  # $3 / $8 per million tokens
PRICEY_UPSTREAM = "hf:deepseek-ai/DeepSeek-R1-0528"


@pytest.fixture
async def h(sqlite_url):
    async with FakeUpstream() as fake, gateway_harness(fake, database_url=sqlite_url) as harness:
        yield harness


async def limit(h, **body):
    response = await h.client.put("/admin/tenants/test/limits", headers=h.admin(), json=body)
    assert response.status_code == 200, response.text


async def chat(h, model, **extra):
    return await h.client.post("/v1/chat/completions", headers=h.auth(), json={"model": model, "messages": MESSAGES, **extra})


@pytest.mark.parametrize("spelling", [PRICEY, PRICEY_UPSTREAM, "deepseek-r1-0528"])
async def test_a_per_model_limit_binds_whatever_name_the_request_uses(h, spelling):
    await limit(h, model=PRICEY, rpm=2)
    statuses = [(await chat(h, spelling)).status_code for _ in range(3)]
    assert statuses == [200, 200, 429]
    assert (await chat(h, PRICEY_UPSTREAM)).status_code == 429  # the same deployment by another name
    assert (await chat(h, "gpt-oss-120b")).status_code == 200  # another model is not limited


async def test_concurrent_requests_hold_their_worst_case_against_the_budget(h, monkeypatch):
    """$2 budget, each request's worst case ~$0.80 (100,000 output tokens at $8/M): of 20
    concurrent requests exactly 2 fit while they run; the rest get 429 insufficient_quota."""
    await limit(h, model="*", budget_usd=2.0)
    provider = h.gateway.router.table.by_id[PRICEY].provider
    release, calls = asyncio.Event(), []
    original = provider.chat

    async def held(body, **kw):
        calls.append(body["model"])
        await release.wait()
        return await original(body, **kw)

    monkeypatch.setattr(provider, "chat", held)
    tasks = [asyncio.create_task(chat(h, PRICEY, max_tokens=100_000)) for _ in range(20)]
    refused = []

    def settled():
        refused[:] = [t for t in tasks if t.done()]
        return len(refused) + len(calls) == 20

    await wait_until(settled, what="every request admitted or refused")
    release.set()
    responses = await asyncio.gather(*tasks)
    assert len(calls) == 2
    assert sorted(r.status_code for r in responses) == [200] * 2 + [429] * 18
    quota = [r for r in responses if r.status_code == 429]
    assert all(r.json()["error"]["code"] == "insufficient_quota" for r in quota)
    # settled to the real (small) cost: the budget takes new requests again
    assert (await chat(h, PRICEY, max_tokens=100_000)).status_code == 200


async def test_a_full_ledger_answers_503_at_once_and_calls_no_upstream(h, monkeypatch):
    ledger = h.gateway.ledger
    waited, handed_over = [], []

    async def no_room(timeout_s):
        waited.append(timeout_s)
        return False

    monkeypatch.setattr(type(ledger), "full", property(lambda self: True))
    monkeypatch.setattr(ledger, "wait_for_room", no_room)
    monkeypatch.setattr(ledger, "record_nowait", lambda entry: handed_over.append(entry) or False)
    before = dict(h.fake.calls)
    response = await chat(h, "gpt-oss-120b")
    assert response.status_code == 503 and response.headers["retry-after"]
    assert response.json()["error"]["code"] == "ledger_unavailable"
    assert waited == [h.settings.ledger_full_wait_s]
    assert dict(h.fake.calls) == before
    # its own row is offered without waiting (the writer logs what finds no room)
    assert [(e.status, e.http_status) for e in handed_over] == [("error", 503)]


async def test_health_says_when_the_ledger_cannot_write(h):
    h.gateway.ledger.last_error = "OperationalError: database or disk is full"
    body = (await h.client.get("/health")).json()
    assert body["status"] == "degraded" and "disk is full" in body["ledger"]
