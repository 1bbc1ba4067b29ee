"""What the client sends and gets back, exactly: errors name what the client sent, every
429 says when to come back, and a 404 suggests only what can be served now."""

from __future__ import annotations

import pytest

from synaxis_core.fake import Behavior, FakeUpstream
from synaxis_core.testing.gateway import gateway_harness

MESSAGES = [{"role": "user", "content": "Hi"}]
PINNED = "gpt-oss-120b-nvidia"


@pytest.fixture
async def h(sqlite_url):
    async with FakeUpstream() as fake, gateway_harness(fake, database_url=sqlite_url) as harness:
        yield harness


@pytest.mark.parametrize("field", ["max_tokens", "max_completion_tokens"])
async def test_an_impossible_output_limit_names_the_field_sent(h, field):
    body = {"model": "gpt-oss-120b", "messages": MESSAGES, field: 2_000_000}
    response = await h.client.post("/v1/chat/completions", headers=h.auth(), json=body)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["param"] == field and f"`{field}`" in error["message"]


async def test_a_huge_model_name_is_not_echoed_back_whole(h):
    name = "m" * 3_000_000
    response = await h.client.post("/v1/chat/completions", headers=h.auth(), json={"model": name, "messages": MESSAGES})
    assert response.status_code == 404 and response.json()["error"]["code"] == "model_not_found"
    assert len(response.content) < 2_000


async def test_the_404_suggests_only_what_can_be_served_now(h):
    near = PINNED + "x"
    first = await h.client.post("/v1/chat/completions", headers=h.auth(), json={"model": near, "messages": MESSAGES})
    assert f"'{PINNED}'" in first.json()["error"]["message"]
    await h.client.patch(f"/admin/models/{PINNED}", headers=h.admin(), json={"active": False, "reason": "test"})
    second = await h.client.post("/v1/chat/completions", headers=h.auth(), json={"model": near, "messages": MESSAGES})
    assert second.status_code == 404 and f"'{PINNED}'" not in second.json()["error"]["message"]


@pytest.mark.parametrize("stream", [False, True])
async def test_a_pinned_upstream_429_keeps_its_retry_after(h, stream):
    h.fake.set("openai/gpt-oss-120b", Behavior(kind="rate_limit", retry_after="7"))
    body = {"model": PINNED, "messages": MESSAGES, "stream": stream}
    response = await h.client.post("/v1/chat/completions", headers=h.auth(), json=body)
    assert response.status_code == 429 and response.headers["retry-after"] == "7"


async def test_a_429_without_the_upstreams_retry_after_says_when_the_cool_down_ends(h):
    h.fake.set("openai/gpt-oss-120b", Behavior(kind="rate_limit", retry_after=None))
    response = await h.client.post("/v1/chat/completions", headers=h.auth(), json={"model": PINNED, "messages": MESSAGES})
    assert response.status_code == 429
    assert int(response.headers["retry-after"]) == round(h.settings.default_retry_after_s)


async def test_every_response_carries_a_request_id(h):
    chat = await h.client.post("/v1/chat/completions", headers=h.auth(), json={"model": "gpt-oss-120b", "messages": MESSAGES})
    refused = await h.client.post("/v1/chat/completions", json={"model": "gpt-oss-120b", "messages": MESSAGES})
    listed = await h.client.get("/v1/models", headers=h.auth())
    unknown = await h.client.get("/v1/nothing-here", headers=h.auth())
    ids = [r.headers.get("x-request-id") for r in (chat, refused, listed, unknown)]
    assert all(i and len(i) == 32 for i in ids) and len(set(ids)) == 4
    client = h.openai()
    reply = await client.chat.completions.create(model="gpt-oss-120b", messages=MESSAGES)
    assert reply._request_id and len(reply._request_id) == 32  # what the OpenAI SDK shows


UPSTREAM_400 = {"error": {"message": "messages[0].content must not be empty", "type": "invalid_request_error",
                          "param": "messages", "code": "mock_400"}}


@pytest.fixture
async def mock_openai(handler_deployment):
    """A gateway whose only deployment is an upstream that answers 400 with OpenAI's full
    error body."""
    from aiohttp import web

    async def chat(_: web.Request) -> web.Response:
        return web.json_response(UPSTREAM_400, status=400)

    async with handler_deployment(chat) as harness:
        yield harness


@pytest.mark.parametrize("stream", [False, True])
async def test_an_upstreams_400_reaches_the_client_as_it_was_sent(mock_openai, stream):
    h = mock_openai
    body = {"model": "mock-model", "messages": MESSAGES, "stream": stream}
    response = await h.client.post("/v1/chat/completions", headers=h.auth(), json=body)
    assert response.status_code == 400
    assert response.json() == UPSTREAM_400  # type, param, code and message kept, not rewritten
    assert response.headers["x-synaxis-model"] == "mock-model" and response.headers["x-synaxis-provider"] == "mockai"
