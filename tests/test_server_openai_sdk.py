"""The gateway driven by the official ``openai`` SDK, against the fake upstream."""

from __future__ import annotations

import openai
import pytest

from synaxis_core.fake import Behavior, FakeUpstream
from synaxis_core.testing.gateway import gateway_harness

MESSAGES = [{"role": "user", "content": "Predict the score of the match."}]


@pytest.fixture
async def h(sqlite_url):
    with FakeUpstream() as fake:
        async with gateway_harness(fake, database_url=sqlite_url) as harness:
            yield harness


async def test_list_models_has_deployments_and_global_ids(h):
    page = await h.openai().models.list()
    ids = {m.id for m in page.data}
    assert {"gpt-oss-120b", "gpt-oss-120b-syn", "deepseek-r1-0528-syn"} <= ids
    entry = next(m for m in page.data if m.id == "gpt-oss-120b-syn")
    assert entry.model_extra["provider"] == "synthetic" and entry.model_extra["context_window"]


async def test_create_completion_routes_to_the_cheapest_and_says_where(h):
    raw = await h.openai().chat.completions.with_raw_response.create(model="gpt-oss-120b", messages=MESSAGES)
    reply = raw.parse()
    assert raw.headers["x-synaxis-provider"] == "nvidia"  # free at NVIDIA
    assert raw.headers["x-synaxis-model"] == reply.model == "gpt-oss-120b-nvidia"
    assert raw.headers["x-synaxis-attempts"] == "1"
    assert '"home_goals"' in reply.choices[0].message.content
    assert reply.usage.total_tokens > 0


async def test_unknown_request_fields_pass_through_untouched(h):
    await h.openai().chat.completions.create(
        model="glm-4.6-syn", messages=MESSAGES, extra_body={"top_k": 7, "vendor_extra": {"a": [1, 2]}}
    )
    sent = h.fake.requests[-1].body
    assert sent["top_k"] == 7 and sent["vendor_extra"] == {"a": [1, 2]}
    assert sent["model"] == "hf:zai-org/GLM-4.6"


async def test_stream_with_usage(h):
    stream = await h.openai().chat.completions.create(
        model="kimi-k2.5-syn", messages=MESSAGES, stream=True, stream_options={"include_usage": True}
    )
    chunks = [chunk async for chunk in stream]
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert '"confidence"' in text
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens > 0
    assert all(c.usage is None for c in chunks[:-1])


async def test_stream_without_include_usage_sends_no_usage_chunk(h):
    stream = await h.openai().chat.completions.create(model="kimi-k2.5-syn", messages=MESSAGES, stream=True)
    chunks = [chunk async for chunk in stream]
    assert all(c.choices for c in chunks)


async def test_reasoning_is_separated_streamed_and_not(h):
    h.fake.set("hf:deepseek-ai/DeepSeek-R1-0528", Behavior(kind="think_inline", chunk_size=3))
    client = h.openai()
    reply = await client.chat.completions.create(model="deepseek-r1-0528-syn", messages=MESSAGES)
    message = reply.choices[0].message
    assert "<think>" not in message.content and message.content.startswith("{")
    assert "step by step" in message.model_extra["reasoning_content"]

    stream = await client.chat.completions.create(model="deepseek-r1-0528-syn", messages=MESSAGES, stream=True)
    content, reasoning = "", ""
    async for chunk in stream:
        for choice in chunk.choices:
            content += choice.delta.content or ""
            reasoning += (choice.delta.model_extra or {}).get("reasoning_content") or ""
    assert content == message.content and reasoning == message.model_extra["reasoning_content"]


async def test_reasoning_header_strips_it(h):
    h.fake.set("hf:deepseek-ai/DeepSeek-R1-0528", Behavior(kind="think_inline"))
    reply = await h.openai().chat.completions.create(
        model="deepseek-r1-0528-syn", messages=MESSAGES, extra_headers={"x-synaxis-reasoning": "strip"}
    )
    assert "reasoning_content" not in (reply.choices[0].message.model_extra or {})


async def test_no_key_is_an_authentication_error(h):
    with pytest.raises(openai.AuthenticationError) as err:
        await h.openai(key="sk-syn-wrong").chat.completions.create(model="gpt-oss-120b", messages=MESSAGES)
    assert err.value.body["code"] == "invalid_api_key"


async def test_unknown_model_is_not_found_with_hints(h):
    with pytest.raises(openai.NotFoundError) as err:
        await h.openai().chat.completions.create(model="gpt-oss-12b", messages=MESSAGES)
    assert "gpt-oss-120b" in err.value.message and err.value.body["param"] == "model"


async def test_bad_request_names_the_field(h):
    with pytest.raises(openai.BadRequestError) as err:
        await h.openai().chat.completions.create(model="gpt-oss-120b", messages=[{"role": "wizard", "content": "x"}])
    assert err.value.body["param"] == "messages[0].role"


async def test_tenant_rate_limit_is_a_rate_limit_error(h):
    from synaxis_core.tenants.service import set_limit

    await set_limit(h.gateway.sessions, "test", "*", rpm=1)
    await h.gateway.reload_auth()
    client = h.openai()
    await client.chat.completions.create(model="gpt-oss-120b", messages=MESSAGES)
    with pytest.raises(openai.RateLimitError) as err:
        await client.chat.completions.create(model="gpt-oss-120b", messages=MESSAGES)
    assert err.value.body["code"] == "rate_limit_exceeded"
    assert int(err.value.response.headers["retry-after"]) >= 1


async def test_a_stream_cut_mid_answer_reaches_the_sdk_as_an_error(h):
    h.fake.set("hf:zai-org/GLM-4.6", Behavior(kind="cut"))
    stream = await h.openai().chat.completions.create(model="glm-4.6-syn", messages=MESSAGES, stream=True)
    with pytest.raises(openai.APIError) as err:
        async for _ in stream:
            pass
    assert "stream" in err.value.message


async def test_a_failing_pinned_deployment_is_a_502_with_a_summary(h):
    h.fake.set("hf:zai-org/GLM-4.6", Behavior(kind="error", status=500))
    with pytest.raises(openai.InternalServerError) as err:
        await h.openai().chat.completions.create(model="glm-4.6-syn", messages=MESSAGES)
    assert err.value.status_code == 502
    assert "glm-4.6-syn (synthetic): 500" in err.value.message
    assert "test-key" not in err.value.message
