"""``POST /v1/responses`` end to end: the official ``openai`` SDK and LangChain against the
gateway in the test, the fake upstream behind it."""

from __future__ import annotations

import json

import openai
import pytest
from pydantic import BaseModel

from synaxis_core.fake import Behavior, FakeUpstream
from synaxis_core.testing.gateway import gateway_harness

PINNED = "gpt-oss-120b-nvidia"
PINNED_UPSTREAM = "openai/gpt-oss-120b"
REASONER, REASONER_UPSTREAM = "deepseek-r1-0528-syn", "hf:deepseek-ai/DeepSeek-R1-0528"
WEATHER = {"type": "function", "name": "get_weather", "description": "The weather in a city",
           "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}


class Prediction(BaseModel):
    home_goals: int
    away_goals: int
    confidence: float


@pytest.fixture
async def h(sqlite_url):
    with FakeUpstream() as fake:
        async with gateway_harness(fake, database_url=sqlite_url) as harness:
            yield harness


def sent(h) -> dict:
    """The last chat-completions body the upstream received."""
    return h.fake.requests[-1].body


async def test_create_with_a_string_input_and_instructions(h):
    raw = await h.openai().responses.with_raw_response.create(
        model="gpt-oss-120b", input="Predict Arsenal v Chelsea", instructions="Answer in JSON"
    )
    response = raw.parse()
    assert response.id.startswith("resp_") and response.status == "completed"
    assert response.model == raw.headers["x-synaxis-model"] == PINNED  # the deployment that answered
    assert json.loads(response.output_text)["home_goals"] == 2
    assert response.usage.input_tokens > 0 and response.usage.output_tokens > 0
    assert response.usage.total_tokens == response.usage.input_tokens + response.usage.output_tokens
    assert response.usage.input_tokens_details.cached_tokens == 0
    assert response.usage.output_tokens_details.reasoning_tokens == 0
    assert response.store is False and response.instructions == "Answer in JSON"
    assert sent(h)["messages"] == [{"role": "system", "content": "Answer in JSON"},
                                   {"role": "user", "content": "Predict Arsenal v Chelsea"}]


async def test_create_with_items_sends_the_whole_conversation(h):
    await h.openai().responses.create(model=PINNED, input=[
        {"role": "developer", "content": "Be brief"},
        {"role": "user", "content": [{"type": "input_text", "text": "Score?"}]},
        {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "2-1"}]},
        {"role": "user", "content": "Sure?"},
    ], max_output_tokens=50, temperature=0.1)
    body = sent(h)
    assert [(m["role"], m["content"]) for m in body["messages"]] == [
        ("system", "Be brief"), ("user", "Score?"), ("assistant", "2-1"), ("user", "Sure?")]
    assert (body["max_tokens"], body["temperature"]) == (50, 0.1)


async def test_stream_gives_the_events_and_the_final_response(h):
    h.fake.set(PINNED_UPSTREAM, Behavior(kind="ok", content="The home side wins 2-1.", chunk_size=3))
    async with h.openai().responses.stream(model=PINNED, input="Predict") as stream:
        events = [event async for event in stream]
        final = await stream.get_final_response()
    names = [event.type for event in events]
    assert names[:4] == ["response.created", "response.in_progress", "response.output_item.added",
                         "response.content_part.added"]
    assert names[-4:] == ["response.output_text.done", "response.content_part.done", "response.output_item.done",
                          "response.completed"]
    assert names.count("response.output_text.delta") == 8  # the upstream's 3-character chunks
    assert [event.sequence_number for event in events] == list(range(len(events)))
    assert final.output_text == "The home side wins 2-1." and final.status == "completed"
    assert final.usage.output_tokens > 0
    assert sent(h)["stream"] is True


async def test_the_raw_stream_names_every_event(h):
    body = {"model": PINNED, "input": "Predict", "stream": True}
    async with h.client.stream("POST", "/v1/responses", json=body, headers=h.auth()) as reply:
        text = (await reply.aread()).decode()
    assert reply.headers["content-type"] == "text/event-stream"
    blocks = [block.split("\n") for block in text.strip().split("\n\n")]
    for event_line, data_line in blocks:
        assert event_line.removeprefix("event: ") == json.loads(data_line.removeprefix("data: "))["type"]
    assert "[DONE]" not in text


async def test_parse_into_a_pydantic_model(h):
    h.fake.set(PINNED_UPSTREAM, Behavior(kind="ok", content='{"home_goals": 3, "away_goals": 0, "confidence": 0.8}'))
    response = await h.openai().responses.parse(model=PINNED, input="Predict", text_format=Prediction)
    assert response.output_parsed == Prediction(home_goals=3, away_goals=0, confidence=0.8)
    response_format = sent(h)["response_format"]
    assert response_format["type"] == "json_schema" and response_format["json_schema"]["name"] == "Prediction"
    assert set(response_format["json_schema"]["schema"]["properties"]) == {"home_goals", "away_goals", "confidence"}


async def test_a_function_tool_round_trip(h):
    h.fake.set(PINNED_UPSTREAM, [Behavior(kind="tool_call", content='{"city": "Oslo"}'),
                                 Behavior(kind="ok", content="It is sunny in Oslo.")])
    client = h.openai()
    first = await client.responses.create(model=PINNED, input="Weather in Oslo?", tools=[WEATHER])
    (call,) = first.output
    assert (call.type, call.name, json.loads(call.arguments)) == ("function_call", "get_weather", {"city": "Oslo"})
    assert sent(h)["tools"][0]["function"]["name"] == "get_weather"
    second = await client.responses.create(model=PINNED, tools=[WEATHER], input=[
        {"role": "user", "content": "Weather in Oslo?"},
        call.model_dump(exclude_none=True),
        {"type": "function_call_output", "call_id": call.call_id, "output": '{"sky": "sunny"}'},
    ])
    assert second.output_text == "It is sunny in Oslo."
    assistant, tool = sent(h)["messages"][1:]
    assert assistant["tool_calls"][0]["id"] == call.call_id == tool["tool_call_id"]
    assert tool["content"] == '{"sky": "sunny"}'


async def test_a_streamed_function_call(h):
    h.fake.set(PINNED_UPSTREAM, Behavior(kind="tool_call", content='{"city": "Bergen"}', chunk_size=4))
    async with h.openai().responses.stream(model=PINNED, input="Weather?", tools=[WEATHER]) as stream:
        events = [event async for event in stream]
        final = await stream.get_final_response()
    deltas = [e.delta for e in events if e.type == "response.function_call_arguments.delta"]
    assert len(deltas) > 1 and "".join(deltas) == '{"city": "Bergen"}'
    (done,) = [e for e in events if e.type == "response.function_call_arguments.done"]
    (call,) = final.output
    assert done.arguments == call.arguments == '{"city": "Bergen"}' and call.call_id


async def test_reasoning_is_a_reasoning_item_never_think_tags(h):
    h.fake.set(REASONER_UPSTREAM, Behavior(kind="think_inline", chunk_size=3))
    client = h.openai()
    response = await client.responses.create(model=REASONER, input="Predict")
    reasoning, message = response.output
    assert reasoning.type == "reasoning" and "step by step" in reasoning.summary[0].text
    assert "<think>" not in response.output_text and response.output_text.startswith("{")

    async with client.responses.stream(model=REASONER, input="Predict") as stream:
        events = [event async for event in stream]
        final = await stream.get_final_response()
    summary = "".join(e.delta for e in events if e.type == "response.reasoning_summary_text.delta")
    assert summary == reasoning.summary[0].text
    assert final.output_text == response.output_text
    assert [item.type for item in final.output] == ["reasoning", "message"]


async def test_a_stream_broken_mid_answer_ends_with_response_failed(h):
    h.fake.set(PINNED_UPSTREAM, Behavior(kind="cut"))
    async with h.openai().responses.stream(model=PINNED, input="Predict") as stream:
        events = [event async for event in stream]
        with pytest.raises(RuntimeError, match="response.completed"):
            await stream.get_final_response()  # never a silent, truncated success
    assert [e.type for e in events[-2:]] == ["error", "response.failed"]
    assert "upstream stream failed" in events[-2].message
    assert events[-1].response.status == "failed" and events[-1].response.error.code == "server_error"


async def test_no_key_is_a_401(h):
    with pytest.raises(openai.AuthenticationError) as err:
        await h.openai(key="sk-syn-wrong").responses.create(model=PINNED, input="Hi")
    assert err.value.body["code"] == "invalid_api_key"


async def test_an_unknown_model_is_a_404_with_hints(h):
    with pytest.raises(openai.NotFoundError) as err:
        await h.openai().responses.create(model="gpt-oss-12b", input="Hi")
    assert "gpt-oss-120b" in err.value.message and err.value.body["param"] == "model"


async def test_previous_response_id_is_a_clear_400(h):
    with pytest.raises(openai.BadRequestError) as err:
        await h.openai().responses.create(model=PINNED, input="And then?", previous_response_id="resp_123")
    assert err.value.body["param"] == "previous_response_id" and "stateless" in err.value.message
    assert h.fake.calls[PINNED_UPSTREAM] == 0


async def test_hosted_tools_are_dropped_with_a_warning_header(h):
    raw = await h.openai().responses.with_raw_response.create(
        model=PINNED, input="Hi", tools=[{"type": "web_search"}, WEATHER]
    )
    assert raw.headers["x-synaxis-warning"] == "hosted tools dropped: web_search (Synaxis runs no hosted tools)"
    assert [t["function"]["name"] for t in sent(h)["tools"]] == ["get_weather"]
    assert [tool.type for tool in raw.parse().tools] == ["function"]


async def test_a_custom_tool_is_a_400(h):
    with pytest.raises(openai.BadRequestError) as err:
        await h.openai().responses.create(model=PINNED, input="Hi", tools=[{"type": "custom", "name": "apply_patch"}])
    assert err.value.body["param"] == "tools[0].type"


async def test_an_undecodable_body_is_a_400_and_get_a_405(h):
    reply = await h.client.post("/v1/responses", content=b"{not json", headers=h.auth())
    assert reply.status_code == 400 and reply.json()["error"]["type"] == "invalid_request_error"
    reply = await h.client.get("/v1/responses", headers=h.auth())
    assert reply.status_code == 405
    metrics = (await h.client.get("/metrics")).text  # the refused request is counted, as this dialect's
    assert 'synaxis_requests_total{dialect="responses",model="-",status="error"} 1.0' in metrics


async def served_as_responses(h) -> float:
    """``synaxis_requests_total`` of the responses dialect (``GET /metrics``)."""
    text = (await h.client.get("/metrics")).text
    lines = [line for line in text.splitlines()
             if line.startswith("synaxis_requests") and 'dialect="responses"' in line]
    assert all('status="ok"' in line for line in lines), lines
    return sum(float(line.rsplit(" ", 1)[1]) for line in lines)


async def test_metrics_count_the_responses_dialect(h):
    await h.openai().responses.create(model=PINNED, input="Hi")
    await h.openai().chat.completions.create(model=PINNED, messages=[{"role": "user", "content": "Hi"}])
    assert await served_as_responses(h) == 1
    text = (await h.client.get("/metrics")).text
    assert 'synaxis_requests_total{dialect="responses",model="gpt-oss-120b",status="ok"} 1.0' in text


async def test_the_schema_documents_the_route(h):
    schema = (await h.client.get("/schema/openapi.json")).json()
    operation = schema["paths"]["/v1/responses"]["post"]
    assert operation["operationId"] == "createResponse"
    body = operation["requestBody"]["content"]["application/json"]["schema"]
    assert body["required"] == ["model", "input"]


# --- LangChain (ChatOpenAI with use_responses_api=True) -------------------------------------


@pytest.fixture
def chat_model(h, monkeypatch):
    for name in ("LANGCHAIN_TRACING_V2", "LANGSMITH_TRACING", "LANGCHAIN_TRACING"):
        monkeypatch.setenv(name, "false")
    monkeypatch.delenv("LANGSMITH_API_KEY", raising=False)
    monkeypatch.delenv("LANGCHAIN_API_KEY", raising=False)
    from langchain_openai import ChatOpenAI

    return ChatOpenAI(model=PINNED, use_responses_api=True, base_url=f"{h.client.base_url}/v1", api_key=h.key,
                      http_async_client=h.client, max_retries=0)


async def test_langchain_invoke_and_stream(h, chat_model):
    h.fake.set(PINNED_UPSTREAM, Behavior(kind="ok", content="Two one to the home side.", chunk_size=5))
    message = await chat_model.ainvoke("Predict")
    assert message.text == "Two one to the home side."
    assert message.usage_metadata["total_tokens"] > 0
    streamed = ""
    async for chunk in chat_model.astream("Predict"):
        streamed += chunk.text
    assert streamed == "Two one to the home side."
    assert await served_as_responses(h) == 2  # through /v1/responses, not chat completions


async def test_langchain_tool_calls(h, chat_model):
    h.fake.set(PINNED_UPSTREAM, Behavior(kind="tool_call", content='{"city": "Oslo"}'))
    message = await chat_model.bind_tools([WEATHER]).ainvoke("Weather in Oslo?")
    (call,) = message.tool_calls
    assert (call["name"], call["args"]) == ("get_weather", {"city": "Oslo"}) and call["id"]
