"""``/v1/messages`` driven by the official ``anthropic`` SDK over a real socket, against the fake upstream."""

from __future__ import annotations

from unittest.mock import ANY

import anthropic
import httpx
import pytest

from synaxis_core.dialects.anthropic import translate_request
from synaxis_core.fake import Behavior, FakeUpstream
from synaxis_core.ledger.cost import estimate_prompt_tokens
from synaxis_core.testing.gateway import gateway_harness
from synaxis_core.testing.live_server import live_server

MESSAGES = [{"role": "user", "content": "Predict the score of the match."}]
WEATHER = {
    "name": "get_weather",
    "description": "The weather in a city",
    "input_schema": {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
    },
}
R1 = "hf:deepseek-ai/DeepSeek-R1-0528"
GLM = "hf:zai-org/GLM-4.6"


@pytest.fixture
async def gw(sqlite_url):
    """(harness, base URL) of a gateway on a loopback port."""
    with FakeUpstream() as fake:
        async with gateway_harness(fake, database_url=sqlite_url) as h, live_server(h.app) as url:
            yield h, url


@pytest.fixture
async def client(gw):
    h, url = gw
    async with anthropic.AsyncAnthropic(base_url=url, api_key=h.key, max_retries=0) as client:
        yield client  # closed on this loop (a client left to the GC closes itself on a dead one)


async def test_create_answers_a_message_and_says_where_it_went(gw, client):
    raw = await client.messages.with_raw_response.create(model="gpt-oss-120b", max_tokens=256, messages=MESSAGES)
    message = await raw.parse()
    assert message.id.startswith("msg_") and message.type == "message" and message.role == "assistant"
    assert [b.type for b in message.content] == ["text"] and '"home_goals"' in message.content[0].text
    assert message.stop_reason == "end_turn" and message.stop_sequence is None
    assert message.usage.input_tokens > 0 and message.usage.output_tokens > 0
    assert raw.headers["x-synaxis-model"] == message.model == "gpt-oss-120b-nvidia"
    sent = gw[0].fake.requests[-1].body
    assert sent["max_tokens"] == 256 and sent["messages"] == MESSAGES


async def test_the_sdk_reads_the_request_id_on_answers_streams_and_errors(gw, client):
    """Anthropic's SDKs read ``request-id`` (not ``x-request-id``): both carry Synaxis's id."""
    raw = await client.messages.with_raw_response.create(model="gpt-oss-120b", max_tokens=64, messages=MESSAGES)
    message = await raw.parse()
    assert message._request_id == raw.headers["x-request-id"] and message._request_id
    async with client.messages.stream(model="gpt-oss-120b", max_tokens=64, messages=MESSAGES) as stream:
        await stream.get_final_message()
        assert stream.response.headers["request-id"] == stream.response.headers["x-request-id"]
    with pytest.raises(anthropic.NotFoundError) as err:
        await client.messages.create(model="gpt-oss-12b", max_tokens=64, messages=MESSAGES)
    assert err.value.request_id == err.value.response.headers["x-request-id"]
    counted = await client.messages.with_raw_response.count_tokens(model="gpt-oss-120b", messages=MESSAGES)
    assert counted.headers["request-id"] == counted.headers["x-request-id"]


async def test_a_bearer_token_works_like_an_api_key(gw):
    h, url = gw
    async with anthropic.AsyncAnthropic(base_url=url, auth_token=h.key, api_key=None, max_retries=0) as client:
        message = await client.messages.create(model="glm-4.6-syn", max_tokens=64, messages=MESSAGES)
    assert message.content[0].text


async def test_stream_gives_the_text_as_it_comes_and_the_same_final_message(gw, client):
    gw[0].fake.set(GLM, Behavior(chunk_size=3))
    whole = await client.messages.create(model="glm-4.6-syn", max_tokens=64, messages=MESSAGES)
    async with client.messages.stream(model="glm-4.6-syn", max_tokens=64, messages=MESSAGES) as stream:
        kinds, pieces = [], []
        async for event in stream:
            kinds.append(event.type)
            if event.type == "text":
                pieces.append(event.text)
            if event.type == "message_start":
                assert event.message.usage.input_tokens > 0  # never the zero that broke Claude Code
        final = await stream.get_final_message()
    assert len(pieces) > 5 and "".join(pieces) == final.content[0].text == whole.content[0].text
    assert kinds[0] == "message_start" and kinds[-1] == "message_stop"
    assert final.stop_reason == "end_turn" and final.usage.output_tokens == whole.usage.output_tokens


async def test_a_tool_round_trip(gw, client):
    fake = gw[0].fake
    fake.set(GLM, [Behavior(kind="tool_call", content='{"city": "Paris"}'), Behavior(content="Sunny in Paris.")])
    asked = await client.messages.create(
        model="glm-4.6-syn", max_tokens=128, messages=[{"role": "user", "content": "Weather in Paris?"}],
        tools=[WEATHER], tool_choice={"type": "any"},
    )
    assert asked.stop_reason == "tool_use"
    (call,) = asked.content
    assert call.type == "tool_use" and call.id.startswith("toolu_") and call.name == "get_weather"
    assert call.input == {"city": "Paris"}
    sent = fake.requests[-1].body
    assert sent["tools"] == [{"type": "function", "function": {
        "name": "get_weather", "description": "The weather in a city", "parameters": WEATHER["input_schema"]}}]
    assert sent["tool_choice"] == "required"

    answer = await client.messages.create(
        model="glm-4.6-syn", max_tokens=128, tools=[WEATHER],
        messages=[
            {"role": "user", "content": "Weather in Paris?"},
            {"role": "assistant", "content": [block.model_dump(exclude_none=True) for block in asked.content]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": call.id, "content": "22°C, sunny"}]},
        ],
    )
    assert answer.stop_reason == "end_turn" and answer.content[0].text == "Sunny in Paris."
    history = fake.requests[-1].body["messages"]
    assert history[1]["tool_calls"][0]["id"] == call.id
    assert history[2] == {"role": "tool", "tool_call_id": call.id, "content": "22°C, sunny"}


async def test_a_streamed_tool_call_sends_its_arguments_in_pieces(gw, client):
    gw[0].fake.set(GLM, Behavior(kind="tool_call", content='{"city": "Reykjavik"}', chunk_size=4))
    async with client.messages.stream(model="glm-4.6-syn", max_tokens=64, messages=MESSAGES, tools=[WEATHER]) as stream:
        partial = [event.partial_json async for event in stream if event.type == "input_json"]
        final = await stream.get_final_message()
    assert len(partial) > 3 and "".join(partial) == '{"city": "Reykjavik"}'
    assert final.stop_reason == "tool_use" and final.content[0].input == {"city": "Reykjavik"}


async def test_reasoning_becomes_a_thinking_block_never_think_tags_in_text(gw, client):
    gw[0].fake.set(R1, Behavior(kind="think_inline", chunk_size=3))
    message = await client.messages.create(model="deepseek-r1-0528-syn", max_tokens=256, messages=MESSAGES)
    assert [b.type for b in message.content] == ["thinking", "text"]
    assert "step by step" in message.content[0].thinking
    assert "<think>" not in message.content[1].text and message.content[1].text.startswith("{")

    async with client.messages.stream(model="deepseek-r1-0528-syn", max_tokens=256, messages=MESSAGES) as stream:
        thinking = [event.thinking async for event in stream if event.type == "thinking"]
        final = await stream.get_final_message()
    assert len(thinking) > 3 and [b.model_dump() for b in final.content] == [b.model_dump() for b in message.content]


async def test_thinking_disabled_strips_the_reasoning(gw, client):
    gw[0].fake.set(R1, Behavior(kind="think_inline"))
    message = await client.messages.create(
        model="deepseek-r1-0528-syn", max_tokens=256, messages=MESSAGES, thinking={"type": "disabled"})
    assert [b.type for b in message.content] == ["text"] and "<think>" not in message.content[0].text


async def test_replayed_thinking_blocks_are_dropped_and_the_session_goes_on(gw, client):
    await client.messages.create(model="glm-4.6-syn", max_tokens=64, messages=[
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": [
            {"type": "thinking", "thinking": "Earlier reasoning.", "signature": "c2lnbmF0dXJl"},
            {"type": "text", "text": "Hello."}]},
        {"role": "user", "content": "Again"},
    ], thinking={"type": "enabled", "budget_tokens": 2048})
    sent = gw[0].fake.requests[-1].body
    assert sent["messages"][1] == {"role": "assistant", "content": "Hello."}
    assert sent["reasoning_effort"] == "low"


async def test_an_unknown_beta_and_the_beta_query_are_accepted(gw, client):
    message = await client.beta.messages.create(  # the beta client adds ?beta=true
        model="glm-4.6-syn", max_tokens=64, messages=MESSAGES, betas=["some-future-feature-2099-01-01"],
        extra_headers={"anthropic-version": "2023-06-01"},
    )
    assert message.content[0].text
    h, url = gw
    async with httpx.AsyncClient(base_url=url) as raw:
        reply = await raw.post("/v1/messages?beta=true", json={"model": "glm-4.6-syn", "max_tokens": 8, "messages": MESSAGES},
                               headers={"x-api-key": h.key, "anthropic-beta": "prompt-caching-2024-07-31,made-up-2030"})
    assert reply.status_code == 200 and reply.json()["type"] == "message"


async def test_count_tokens_is_synaxis_estimate(client):
    system = "You are a football pundit."
    counted = await client.messages.count_tokens(model="glm-4.6-syn", system=system, messages=MESSAGES)
    expected = estimate_prompt_tokens(translate_request({"model": "x", "system": system, "messages": MESSAGES}).messages)
    assert counted.input_tokens == expected > 0


async def test_a_bad_key_is_an_authentication_error(gw):
    async with anthropic.AsyncAnthropic(base_url=gw[1], api_key="sk-syn-wrong", max_retries=0) as client:
        with pytest.raises(anthropic.AuthenticationError) as err:
            await client.messages.create(model="glm-4.6-syn", max_tokens=64, messages=MESSAGES)
        assert err.value.body == {
            "type": "error", "error": {"type": "authentication_error", "message": "Invalid API key"},
        }
        with pytest.raises(anthropic.AuthenticationError):
            await client.messages.count_tokens(model="glm-4.6-syn", messages=MESSAGES)


async def test_an_unknown_model_is_not_found_in_anthropics_shape(client):
    with pytest.raises(anthropic.NotFoundError) as err:
        await client.messages.create(model="gpt-oss-12b", max_tokens=64, messages=MESSAGES)
    assert err.value.body["type"] == "error" and err.value.body["error"]["type"] == "not_found_error"
    assert "gpt-oss-120b" in err.value.body["error"]["message"]


@pytest.mark.parametrize("bad", [
    {"messages": [{"role": "wizard", "content": "Hi"}]},
    {"max_tokens": 0},
    {"messages": []},
])
async def test_bad_input_is_an_invalid_request_error(client, bad):
    fields = {"model": "glm-4.6-syn", "max_tokens": 64, "messages": MESSAGES, **bad}
    with pytest.raises(anthropic.BadRequestError) as err:
        await client.messages.create(**fields)
    assert err.value.body["error"]["type"] == "invalid_request_error"


async def test_unreadable_bodies_are_anthropic_errors(gw):
    h, url = gw
    auth = {"x-api-key": h.key}
    huge = {"model": "glm-4.6-syn", "max_tokens": 2_000_000, "messages": MESSAGES}  # beyond any model, as on chat
    async with httpx.AsyncClient(base_url=url) as raw:
        not_json = await raw.post("/v1/messages", content=b"{nope", headers=auth)
        too_many = await raw.post("/v1/messages", json=huge, headers=auth)
        wrong_method = await raw.get("/v1/messages", headers=auth)
        xml = await raw.post("/v1/messages", content=b"<a/>", headers={**auth, "content-type": "application/xml"})
    for reply, status in ((not_json, 400), (too_many, 400), (wrong_method, 405), (xml, 415)):
        assert reply.status_code == status
        assert reply.json() == {"type": "error", "error": {"type": "invalid_request_error", "message": ANY}}


async def test_the_tenant_rate_limit_is_a_rate_limit_error_with_retry_after(gw, client):
    from synaxis_core.tenants.service import set_limit

    h = gw[0]
    await set_limit(h.gateway.sessions, "test", "*", rpm=1)
    await h.gateway.reload_auth()
    await client.messages.create(model="glm-4.6-syn", max_tokens=64, messages=MESSAGES)
    with pytest.raises(anthropic.RateLimitError) as err:
        await client.messages.create(model="glm-4.6-syn", max_tokens=64, messages=MESSAGES)
    assert err.value.body["error"]["type"] == "rate_limit_error"
    assert int(err.value.response.headers["retry-after"]) >= 1


async def test_a_stream_cut_mid_answer_ends_with_an_error_event(gw, client):
    gw[0].fake.set(GLM, Behavior(kind="cut"))
    with pytest.raises(anthropic.APIError) as err:
        async with client.messages.stream(model="glm-4.6-syn", max_tokens=64, messages=MESSAGES) as stream:
            async for _ in stream:
                pass
    assert "stream" in err.value.message


async def test_the_requests_are_counted_under_the_messages_dialect(gw, client):
    await client.messages.create(model="glm-4.6-syn", max_tokens=64, messages=MESSAGES)
    h, url = gw
    async with httpx.AsyncClient(base_url=url) as raw:
        await raw.post("/v1/messages", content=b"[]", headers={"x-api-key": h.key})
        scrape = (await raw.get("/metrics")).text
    lines = set(scrape.splitlines())
    assert 'synaxis_requests_total{dialect="messages",model="glm-4.6",status="ok"} 1.0' in lines
    assert 'synaxis_requests_total{dialect="messages",model="-",status="error"} 1.0' in lines  # the unreadable body


async def test_the_ledger_records_each_requests_dialect(gw):
    """One request per dialect: each ledger row says which API the client spoke."""
    h, _ = gw
    from sqlalchemy import select

    from synaxis_core.db.models import UsageRecord
    from synaxis_core.testing.waiting import wait_until

    body = {"model": "gpt-oss-120b", "messages": [{"role": "user", "content": "Hi"}]}
    assert (await h.client.post("/v1/chat/completions", headers=h.auth(), json=body)).status_code == 200
    assert (await h.client.post("/v1/messages", headers=h.auth(), json={**body, "max_tokens": 64})).status_code == 200
    responses = {"model": "gpt-oss-120b", "input": "Hi"}
    assert (await h.client.post("/v1/responses", headers=h.auth(), json=responses)).status_code == 200

    async def dialects():
        async with h.gateway.sessions() as session:
            rows = (await session.execute(select(UsageRecord.dialect).order_by(UsageRecord.id))).scalars().all()
        return rows if len(rows) == 3 else None

    assert await wait_until(dialects, what="three ledger rows") == ["chat", "messages", "responses"]
