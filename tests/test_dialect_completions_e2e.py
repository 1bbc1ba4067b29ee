"""``POST /v1/completions`` and ``GET /v1/models/{id}`` end to end: the official ``openai``
SDK against the gateway in the test, the fake upstream behind it."""

from __future__ import annotations

import json

import openai
import pytest
from sqlalchemy import select

from synaxis_core.db.models import UsageRecord
from synaxis_core.fake import Behavior, FakeUpstream
from synaxis_core.testing.gateway import gateway_harness
from synaxis_core.testing.waiting import wait_until

PINNED, PINNED_UPSTREAM = "gpt-oss-120b-nvidia", "openai/gpt-oss-120b"
REASONER, REASONER_UPSTREAM = "deepseek-r1-0528-syn", "hf:deepseek-ai/DeepSeek-R1-0528"
PROMPT = "Predict Arsenal v Chelsea:"


@pytest.fixture
async def h(sqlite_url):
    with FakeUpstream() as fake:
        async with gateway_harness(fake, database_url=sqlite_url) as harness:
            yield harness


def sent(h) -> dict:
    """The last chat-completions body the upstream received."""
    return h.fake.requests[-1].body


async def test_create_sends_the_prompt_as_one_user_message(h):
    h.fake.set(PINNED_UPSTREAM, Behavior(kind="ok", content="Arsenal 2-1."))
    raw = await h.openai().completions.with_raw_response.create(model="gpt-oss-120b", prompt=PROMPT,
                                                                 stop=["\n"], temperature=0.2, seed=3)
    completion = raw.parse()
    assert completion.id == f"cmpl-{raw.headers['x-request-id']}" and completion.object == "text_completion"
    assert completion.model == raw.headers["x-synaxis-model"] == PINNED  # the deployment that answered
    (choice,) = completion.choices
    assert (choice.text, choice.index, choice.finish_reason, choice.logprobs) == ("Arsenal 2-1.", 0, "stop", None)
    assert completion.usage.total_tokens == completion.usage.prompt_tokens + completion.usage.completion_tokens > 0
    body = sent(h)
    assert body["messages"] == [{"role": "user", "content": PROMPT}]
    assert (body["max_tokens"], body["stop"], body["temperature"], body["seed"]) == (16, ["\n"], 0.2, 3)


async def test_stream_gives_text_completion_chunks_then_done(h):
    h.fake.set(PINNED_UPSTREAM, Behavior(kind="ok", content="The home side wins 2-1.", chunk_size=3))
    stream = await h.openai().completions.create(model=PINNED, prompt=PROMPT, stream=True,
                                                 stream_options={"include_usage": True})
    chunks = [chunk async for chunk in stream]
    assert all(c.object == "text_completion" and c.id == chunks[0].id for c in chunks)
    text = "".join(choice.text for c in chunks for choice in c.choices)
    assert text == "The home side wins 2-1."
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens > 0  # asked for: the usage chunk
    assert sent(h)["stream"] is True


async def test_the_raw_stream_ends_with_done_and_no_usage_unless_asked(h):
    body = {"model": PINNED, "prompt": PROMPT, "stream": True}
    async with h.client.stream("POST", "/v1/completions", json=body, headers=h.auth()) as reply:
        text = (await reply.aread()).decode()
    assert reply.headers["content-type"] == "text/event-stream"
    events = text.strip().split("\n\n")
    assert events[-1] == "data: [DONE]"
    payloads = [json.loads(event.removeprefix("data: ")) for event in events[:-1]]
    assert all(p["object"] == "text_completion" and p["choices"] and "usage" not in p for p in payloads)


async def test_n_echo_and_logprobs(h):
    h.fake.set(PINNED_UPSTREAM, Behavior(kind="model", content="Two one to the home side."))
    client = h.openai()
    completion = await client.completions.create(model=PINNED, prompt=PROMPT, n=2, echo=True, logprobs=2,
                                                 max_tokens=40)
    assert [c.index for c in completion.choices] == [0, 1]
    for choice in completion.choices:
        assert choice.text == PROMPT + "Two one to the home side."
        logprobs = choice.logprobs
        assert "".join(logprobs.tokens) == "Two one to the home side."
        assert logprobs.text_offset[0] == len(PROMPT)
        assert [choice.text[o:o + len(t)] for t, o in zip(logprobs.tokens, logprobs.text_offset)] == logprobs.tokens
        assert all(len(top) == 2 and lp <= 0 for top, lp in zip(logprobs.top_logprobs, logprobs.token_logprobs))
    body = sent(h)
    assert (body["n"], body["logprobs"], body["top_logprobs"], body["max_tokens"]) == (2, True, 2, 40)
    assert "echo" not in body

    stream = await client.completions.create(model=PINNED, prompt=PROMPT, n=2, echo=True, logprobs=2,
                                             max_tokens=40, stream=True)
    texts, tokens = {0: "", 1: ""}, {0: [], 1: []}
    async for chunk in stream:
        for choice in chunk.choices:
            texts[choice.index] += choice.text
            tokens[choice.index] += choice.logprobs.tokens if choice.logprobs else []
    assert texts == {0: completion.choices[0].text, 1: completion.choices[1].text}
    assert tokens == {0: completion.choices[0].logprobs.tokens, 1: completion.choices[1].logprobs.tokens}


async def test_a_reasoning_model_never_leaks_think_tags_into_the_text(h):
    h.fake.set(REASONER_UPSTREAM, Behavior(kind="think_inline", content="Arsenal 2-1.", chunk_size=3))
    client = h.openai()
    completion = await client.completions.create(model=REASONER, prompt=PROMPT, max_tokens=200)
    assert completion.choices[0].text == "Arsenal 2-1."
    stream = await client.completions.create(model=REASONER, prompt=PROMPT, max_tokens=200, stream=True)
    text = "".join([choice.text async for chunk in stream for choice in chunk.choices])
    assert text == "Arsenal 2-1."
    assert "step by step" not in text and "think>" not in text


async def test_a_stream_broken_mid_answer_ends_with_an_error_event(h):
    h.fake.set(PINNED_UPSTREAM, Behavior(kind="cut"))
    body = {"model": PINNED, "prompt": PROMPT, "stream": True}
    async with h.client.stream("POST", "/v1/completions", json=body, headers=h.auth()) as reply:
        text = (await reply.aread()).decode()
    last = json.loads(text.strip().split("\n\n")[-1].removeprefix("data: "))
    assert "upstream stream failed" in last["error"]["message"] and "[DONE]" not in text


async def test_what_a_chat_upstream_cannot_do_is_a_clear_400(h):
    client = h.openai()
    with pytest.raises(openai.BadRequestError) as err:
        await client.completions.create(model=PINNED, prompt=[[1, 2, 3]])
    assert err.value.body["param"] == "prompt" and "Token-array prompts" in err.value.message
    with pytest.raises(openai.BadRequestError) as err:
        await client.completions.create(model=PINNED, prompt=["one", "two"])
    assert "one request per prompt" in err.value.message
    with pytest.raises(openai.BadRequestError) as err:
        await client.completions.create(model=PINNED, prompt="def f(", suffix="return x")
    assert err.value.body["param"] == "suffix"
    with pytest.raises(openai.BadRequestError) as err:
        await client.completions.create(model=PINNED, prompt=PROMPT, best_of=3)
    assert err.value.body["param"] == "best_of"
    assert h.fake.calls[PINNED_UPSTREAM] == 0


async def test_errors_keep_the_openai_shape(h):
    with pytest.raises(openai.AuthenticationError) as err:
        await h.openai(key="sk-syn-wrong").completions.create(model=PINNED, prompt="Hi")
    assert err.value.body["code"] == "invalid_api_key"
    with pytest.raises(openai.NotFoundError) as err:
        await h.openai().completions.create(model="gpt-oss-12b", prompt="Hi")
    assert "gpt-oss-120b" in err.value.message and err.value.code == "model_not_found"
    reply = await h.client.get("/v1/completions", headers=h.auth())
    assert reply.status_code == 405 and reply.json()["error"]["code"] == "method_not_allowed"


async def test_the_ledger_and_the_metrics_record_the_completions_dialect(h):
    await h.openai().completions.create(model="gpt-oss-120b", prompt="Hi")
    reply = await h.client.post("/v1/completions", content=b"{not json", headers=h.auth())
    assert reply.status_code == 400 and reply.json()["error"]["type"] == "invalid_request_error"

    async def dialects():
        async with h.gateway.sessions() as session:
            rows = (await session.execute(select(UsageRecord.dialect, UsageRecord.status))).all()
        return sorted(tuple(row) for row in rows) if len(rows) == 2 else None

    assert await wait_until(dialects, what="two ledger rows") == [("completions", "error"), ("completions", "ok")]
    metrics = (await h.client.get("/metrics")).text
    assert 'synaxis_requests_total{dialect="completions",model="gpt-oss-120b",status="ok"} 1.0' in metrics
    assert 'synaxis_requests_total{dialect="completions",model="-",status="error"} 1.0' in metrics


async def test_the_schema_documents_the_routes(h):
    schema = (await h.client.get("/schema/openapi.json")).json()
    operation = schema["paths"]["/v1/completions"]["post"]
    assert operation["operationId"] == "createCompletion"
    assert operation["requestBody"]["content"]["application/json"]["schema"]["required"] == ["model", "prompt"]
    assert schema["paths"]["/v1/models/{model_id}"]["get"]["operationId"] == "retrieveModel"


# --- GET /v1/models/{id} ----------------------------------------------------------------------


async def test_retrieve_gives_the_list_entry_of_a_provider_or_global_id(h):
    client = h.openai()
    listed = {entry["id"]: entry for entry in (await h.client.get("/v1/models", headers=h.auth())).json()["data"]}
    for model_id in (PINNED, "gpt-oss-120b"):
        model = await client.models.retrieve(model_id)
        assert (model.id, model.object, model.owned_by) == (model_id, "model", listed[model_id]["owned_by"])
        reply = await h.client.get(f"/v1/models/{model_id}", headers=h.auth())
        assert reply.json() == listed[model_id]  # the very entry the list shows
    assert (await client.models.retrieve(PINNED)).owned_by == "nvidia"


async def test_retrieve_of_an_unknown_id_is_a_404_model_not_found(h):
    client = h.openai()
    with pytest.raises(openai.NotFoundError) as err:
        await client.models.retrieve("gpt-oss-12b")
    assert err.value.code == "model_not_found" and err.value.body["type"] == "invalid_request_error"
    assert "'gpt-oss-12b'" in err.value.message and "gpt-oss-120b" in err.value.message  # the closest id
    with pytest.raises(openai.NotFoundError) as err:
        await client.models.retrieve("x" * 5000)
    assert len(err.value.message) < 300 and "x" * 120 + "…" in err.value.message  # a long name is cut
    with pytest.raises(openai.AuthenticationError):
        await h.openai(key="sk-syn-wrong").models.retrieve(PINNED)


async def test_retrieve_an_id_with_slashes(tmp_path, sqlite_url):
    config = tmp_path / "local.toml"
    config.write_text(
        '[[providers]]\nname = "local"\nbase_url = "http://127.0.0.1:9/v1"\n\n'
        '[[providers.models]]\nid = "llama-3.3-70b-local"\nupstream_id = "meta-llama/Llama-3.3-70B-Instruct"\n'
        'global_id = "meta-llama/Llama-3.3-70B"\n'
    )
    with FakeUpstream() as fake:
        async with gateway_harness(fake, database_url=sqlite_url, providers=(),
                                   environ={"SYNAXIS_CONFIG": str(config)}) as h:
            model = await h.openai().models.retrieve("meta-llama/Llama-3.3-70B")
            assert (model.id, model.owned_by) == ("meta-llama/Llama-3.3-70B", "synaxis")
            reply = await h.client.get("/v1/models/meta-llama/Llama-3.3-70B", headers=h.auth())
            assert reply.status_code == 200 and reply.json()["deployments"] == ["llama-3.3-70b-local"]
            with pytest.raises(openai.NotFoundError):
                await h.openai().models.retrieve("meta-llama/Llama-3.3-70B/extra")
            with pytest.raises(openai.NotFoundError):
                await h.openai().models.retrieve("meta-llama")
