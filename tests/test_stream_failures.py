"""Streams that go wrong upstream, end to end through the pipeline: an answer that sends
its headers and then nothing, while the gateway's event loop is busy across the deadline,
and a chunk of the wrong shape mid-stream. Each is an upstream failure the client is told
about, one ledger row, and a health failure of the deployment."""

from __future__ import annotations

import asyncio
import json
import time

import pytest
from aiohttp import web

from synaxis_core.testing.waiting import wait_until

MESSAGES = [{"role": "user", "content": "Hi"}]
TIMEOUT_S = 0.5
FIRST = {"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": "m",
         "choices": [{"index": 0, "delta": {"role": "assistant", "content": "Hel"}, "finish_reason": None}]}
MALFORMED = {"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": "m", "choices": "abc"}


@pytest.fixture
async def upstream(handler_deployment):
    """A gateway whose one deployment (0.5 s timeout) streams as ``mode`` says."""
    mode = {"now": "silent"}

    async def chat(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"content-type": "text/event-stream"})
        await response.prepare(request)
        if mode["now"] == "silent":  # headers, then nothing at all
            await asyncio.Event().wait()
        await response.write(b"data: " + json.dumps(FIRST).encode() + b"\n\n")
        await response.write(b"data: " + json.dumps(MALFORMED).encode() + b"\n\n")
        await response.write(b"data: [DONE]\n\n")
        return response

    async with handler_deployment(chat, provider="dripper", model="drip-model", timeout_s=TIMEOUT_S) as h:
        yield h, mode


async def ledger(h):
    from sqlalchemy import select

    from synaxis_core.db.models import UsageRecord

    async with h.gateway.sessions() as session:
        return (await session.execute(select(UsageRecord.status, UsageRecord.http_status))).all()


async def test_headers_then_silence_times_out_on_time_even_with_a_busy_loop(upstream):
    h, _ = upstream
    loop = asyncio.get_running_loop()
    loop.call_later(TIMEOUT_S * 0.6, time.sleep, TIMEOUT_S)  # the loop blocked across the deadline
    body = {"model": "drip-model", "messages": MESSAGES, "stream": True}
    response = await asyncio.wait_for(
        h.client.post("/v1/chat/completions", headers=h.auth(), json=body), timeout=30
    )
    assert response.status_code == 502
    assert response.json()["error"]["code"] == "all_candidates_failed"
    assert "timed out" in response.json()["error"]["message"] or "timeout" in response.json()["error"]["message"]
    rows = await wait_until(lambda: ledger(h), what="the request's ledger row")
    assert [tuple(r) for r in rows] == [("error", 502)]
    assert h.gateway.health.failures["drip-model"] == 1


async def test_a_malformed_chunk_mid_stream_ends_with_an_error_event(upstream):
    h, mode = upstream
    mode["now"] = "malformed"
    body = {"model": "drip-model", "messages": MESSAGES, "stream": True}
    response = await h.client.post("/v1/chat/completions", headers=h.auth(), json=body)
    assert response.status_code == 200
    events = [line[6:] for line in response.text.splitlines() if line.startswith("data: ")]
    assert json.loads(events[0])["choices"][0]["delta"]["content"] == "Hel"
    error = json.loads(events[-1])["error"]
    assert error["code"] == "upstream_protocol_error" and "choices" in error["message"]
    assert "[DONE]" not in events
    rows = await wait_until(lambda: ledger(h), what="the request's ledger row")
    assert [tuple(r) for r in rows] == [("error", 502)]
    assert h.gateway.health.failures["drip-model"] == 1
