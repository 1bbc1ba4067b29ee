"""Demo mode answers like a model: tools, response_format, n and logprobs are honoured.

Every test runs the real gateway wired to the fake upstream exactly as demo mode sets it
up (`runtime.demo.start_fake_upstream`: ``kind="model"``, reasoning models
``"model_think"``), and talks to it as users do: the OpenAI SDK (``parse``, tools,
streams), instructor, LangChain's structured output, pydantic-ai; the bodies are checked
against OpenAI's chat-completion response schema; one test runs ``synaxis serve`` in
demo mode as a real process.
"""

from __future__ import annotations

import datetime as dt
import enum
import json
import re
from typing import Annotated, Any, Optional

import httpx
import jsonschema
import openai
import pytest
from openai.types.chat import ChatCompletion, ChatCompletionChunk
from pydantic import BaseModel, Field

from synaxis_core.plugins import load_extensions
from synaxis_core.runtime.demo import start_fake_upstream
from synaxis_core.testing.gateway import gateway_harness
from synaxis_core.testing.plugin_manager import make_settings
from synaxis_core.testing.server_process import GatewayProcess

PLAIN, REASONING = "llama-3.3-70b-instruct", "gpt-oss-120b"
MODELS = pytest.mark.parametrize("model", [PLAIN, REASONING])
ASK = [{"role": "user", "content": "Predict Arsenal v Chelsea."}]


class Outcome(enum.Enum):
    HOME = "home"
    DRAW = "draw"
    AWAY = "away"


class Scorer(BaseModel):
    name: Annotated[str, Field(min_length=2)]
    minute: Annotated[int, Field(ge=1, le=120)]


class Prediction(BaseModel):
    outcome: Outcome
    kickoff: dt.date
    home_goals: Annotated[int, Field(ge=0)]
    confidence: Annotated[float, Field(gt=0, lt=1)]
    scorers: Annotated[list[Scorer], Field(min_length=1)]
    note: Optional[str] = None


class GetWeather(BaseModel):
    """The weather in a city."""

    city: str
    unit: Outcome  # an enum the arguments must honour
    days: Annotated[int, Field(ge=1, le=7)]


WEATHER_SCHEMA = GetWeather.model_json_schema()
WEATHER_TOOL = {"type": "function", "function": {"name": "get_weather", "parameters": WEATHER_SCHEMA}}
CLOCK_TOOL = {"type": "function", "function": {"name": "get_time", "parameters": {"type": "object", "properties": {}}}}


@pytest.fixture
async def h(sqlite_url, monkeypatch):
    for name, value in {"LANGCHAIN_TRACING_V2": "false", "LANGSMITH_TRACING": "false",
                        "LOGFIRE_SEND_TO_LOGFIRE": "false", "OTEL_SDK_DISABLED": "true"}.items():
        monkeypatch.setenv(name, value)
    settings = make_settings()
    ext = load_extensions(settings)
    fake, _ = await start_fake_upstream(settings, ext)  # demo mode's own set-up of the fake
    try:
        async with gateway_harness(fake, database_url=sqlite_url) as harness:
            yield harness
    finally:
        await ext.aclose()
        await fake.astop()


# --- OpenAI's published schema: the required fields, nullable ones included --------------

_INT, _STR = {"type": "integer"}, {"type": "string"}
_BYTES = {"type": ["array", "null"], "items": _INT}
_TOP = {"type": "object", "required": ["token", "logprob", "bytes"],
        "properties": {"token": _STR, "logprob": {"type": "number", "maximum": 0}, "bytes": _BYTES}}
_TOKEN = {"type": "object", "required": ["token", "logprob", "bytes", "top_logprobs"],
          "properties": {**_TOP["properties"], "top_logprobs": {"type": "array", "items": _TOP}}}
_LOGPROBS = {"type": ["object", "null"], "required": ["content", "refusal"],
             "properties": {"content": {"type": ["array", "null"], "items": _TOKEN},
                            "refusal": {"type": ["array", "null"], "items": _TOKEN}}}
_USAGE = {"type": "object", "required": ["prompt_tokens", "completion_tokens", "total_tokens"],
          "properties": {"prompt_tokens": _INT, "completion_tokens": _INT, "total_tokens": _INT}}
_FINISH = {"enum": ["stop", "length", "tool_calls", "content_filter", "function_call"]}
_CALL = {"type": "object", "required": ["id", "type", "function"],
         "properties": {"id": _STR, "type": {"const": "function"},
                        "function": {"type": "object", "required": ["name", "arguments"],
                                     "properties": {"name": _STR, "arguments": _STR}}}}
_HEAD = {"id": _STR, "created": _INT, "model": _STR}
COMPLETION_SCHEMA = {
    "type": "object", "required": ["id", "object", "created", "model", "choices"],
    "properties": {**_HEAD, "object": {"const": "chat.completion"}, "usage": _USAGE, "choices": {
        "type": "array", "minItems": 1, "items": {
            "type": "object", "required": ["index", "message", "finish_reason", "logprobs"],
            "properties": {"index": _INT, "finish_reason": _FINISH, "logprobs": _LOGPROBS, "message": {
                "type": "object", "required": ["role", "content", "refusal"],
                "properties": {"role": {"const": "assistant"}, "content": {"type": ["string", "null"]},
                               "refusal": {"type": ["string", "null"]},
                               "tool_calls": {"type": "array", "items": _CALL}}}}}}}}
CHUNK_SCHEMA = {
    "type": "object", "required": ["id", "object", "created", "model", "choices"],
    "properties": {**_HEAD, "object": {"const": "chat.completion.chunk"},
                   "usage": {"anyOf": [_USAGE, {"type": "null"}]}, "choices": {
        "type": "array", "items": {
            "type": "object", "required": ["index", "delta", "finish_reason"],
            "properties": {"index": _INT, "logprobs": _LOGPROBS,
                           "finish_reason": {"anyOf": [_FINISH, {"type": "null"}]}, "delta": {
                "type": "object", "properties": {
                    "role": {"enum": ["developer", "system", "user", "assistant", "tool"]},
                    "content": {"type": ["string", "null"]}, "refusal": {"type": ["string", "null"]},
                    "tool_calls": {"type": "array", "items": {
                        "type": "object", "required": ["index"],
                        "properties": {"index": _INT, "id": _STR, "type": {"const": "function"},
                                       "function": {"type": "object",
                                                    "properties": {"name": _STR, "arguments": _STR}}}}}}}}}}}}


def valid_completion(body: dict[str, Any]) -> dict[str, Any]:
    jsonschema.validate(body, COMPLETION_SCHEMA)
    ChatCompletion.model_validate(body, strict=True)
    return body


def valid_chunks(text: str) -> list[dict[str, Any]]:
    lines = [line[len("data: "):] for line in text.splitlines() if line.startswith("data: ")]
    assert lines[-1] == "[DONE]", lines[-3:]
    chunks = [json.loads(line) for line in lines[:-1]]
    for chunk in chunks:
        jsonschema.validate(chunk, CHUNK_SCHEMA)
        ChatCompletionChunk.model_validate(chunk, strict=True)
    return chunks


BODIES = {
    "plain": {},
    "tools": {"tools": [WEATHER_TOOL]},
    "schema": {"response_format": {"type": "json_schema", "json_schema": {"name": "prediction", "schema": Prediction.model_json_schema()}}},
    "n and logprobs": {"n": 2, "logprobs": True, "top_logprobs": 3},
}


@pytest.mark.parametrize("extra", BODIES.values(), ids=list(BODIES))
@MODELS
async def test_bodies_are_valid_against_openais_schema_from_the_fake_and_the_gateway(h, model, extra):
    body = {"model": model, "messages": ASK, **extra}
    fake_body = {**body, "model": "openai/gpt-oss-120b" if model == REASONING else "meta/llama-3.3-70b-instruct"}
    async with httpx.AsyncClient(headers={"authorization": "Bearer k"}) as upstream:
        url = h.fake.base_url("nvidia") + "/chat/completions"
        valid_completion((await upstream.post(url, json=fake_body)).json())
        valid_chunks((await upstream.post(url, json={**fake_body, "stream": True})).text)
    whole = valid_completion((await h.client.post("/v1/chat/completions", json=body, headers=h.auth())).json())
    assert all(choice["logprobs"] is None for choice in whole["choices"]) == ("logprobs" not in extra)
    assert all(choice["message"]["refusal"] is None for choice in whole["choices"])
    streamed = {**body, "stream": True, "stream_options": {"include_usage": True}}
    chunks = valid_chunks((await h.client.post("/v1/chat/completions", json=streamed, headers=h.auth())).text)
    assert chunks[-1]["usage"] == whole["usage"]  # the same tokens, counted the same way


@MODELS
async def test_sdk_parse_returns_the_pydantic_object(h, model):
    client = h.openai()
    completion = await client.chat.completions.parse(model=model, messages=ASK, response_format=Prediction)
    message = completion.choices[0].message
    assert isinstance(message.parsed, Prediction) and message.refusal is None
    assert message.parsed.scorers and 1 <= message.parsed.scorers[0].minute <= 120
    assert "<think>" not in message.content
    if model == REASONING:  # reasoning stays visible, apart from the answer
        assert message.model_extra.get("reasoning_content")


@MODELS
async def test_a_tool_round_trip(h, model):
    client = h.openai()
    first = await client.chat.completions.create(model=model, messages=ASK, tools=[CLOCK_TOOL, WEATHER_TOOL],
                                                 tool_choice={"type": "function", "function": {"name": "get_weather"}})
    choice = first.choices[0]
    assert choice.finish_reason == "tool_calls"
    call = choice.message.tool_calls[0]
    assert call.type == "function" and call.function.name == "get_weather" and call.id.startswith("call_")
    jsonschema.validate(json.loads(call.function.arguments), WEATHER_SCHEMA)
    history = [*ASK, choice.message.model_dump(exclude_none=True),
               {"role": "tool", "tool_call_id": call.id, "content": "Sunny, 21 degrees"}]
    second = await client.chat.completions.create(model=model, messages=history, tools=[CLOCK_TOOL, WEATHER_TOOL])
    assert second.choices[0].finish_reason == "stop" and not second.choices[0].message.tool_calls
    assert second.choices[0].message.content == "get_weather returned: Sunny, 21 degrees"


@MODELS
async def test_a_streamed_tool_call_arrives_as_argument_deltas(h, model):
    client = h.openai()
    stream = await client.chat.completions.create(model=model, messages=ASK, tools=[WEATHER_TOOL], stream=True)
    deltas = [c.choices[0].delta.tool_calls[0] async for c in stream if c.choices and c.choices[0].delta.tool_calls]
    head, rest = deltas[0], deltas[1:]
    assert (head.index, head.type, head.function.name) == (0, "function", "get_weather") and head.id
    assert len(rest) > 3 and all(d.index == 0 and d.id is None and d.function.name is None for d in rest)
    arguments = "".join(d.function.arguments or "" for d in deltas)
    jsonschema.validate(json.loads(arguments), WEATHER_SCHEMA)
    # the SDK's own accumulator, with a strict pydantic tool: the arguments parse
    tool = openai.pydantic_function_tool(GetWeather, name="get_weather")
    async with client.chat.completions.stream(model=model, messages=ASK, tools=[tool]) as events:
        final = await events.get_final_completion()
    assert final.choices[0].finish_reason == "tool_calls"
    assert isinstance(final.choices[0].message.tool_calls[0].function.parsed_arguments, GetWeather)


async def test_tool_choice_none_answers_in_text_and_a_named_choice_calls_that_function(h):
    client = h.openai()
    plain = await client.chat.completions.create(model=PLAIN, messages=ASK, tools=[WEATHER_TOOL], tool_choice="none")
    assert plain.choices[0].message.tool_calls is None
    assert json.loads(plain.choices[0].message.content)["home_goals"] == 2  # the demo's prediction
    named = await client.chat.completions.create(model=PLAIN, messages=ASK, tools=[WEATHER_TOOL, CLOCK_TOOL],
                                                 tool_choice={"type": "function", "function": {"name": "get_time"}})
    assert named.choices[0].message.tool_calls[0].function.name == "get_time"
    assert named.choices[0].message.tool_calls[0].function.arguments == "{}"


@MODELS
async def test_n_gives_that_many_choices(h, model):
    client = h.openai()
    reply = await client.chat.completions.create(model=model, messages=ASK, n=3)
    assert [c.index for c in reply.choices] == [0, 1, 2]
    assert len({c.message.content for c in reply.choices}) == 1 and "<think>" not in reply.choices[2].message.content
    stream = await client.chat.completions.create(model=model, messages=ASK, n=3, stream=True)
    texts: dict[int, str] = {}
    async for chunk in stream:
        for c in chunk.choices:
            texts[c.index] = texts.get(c.index, "") + (c.delta.content or "")
    assert texts == {i: reply.choices[0].message.content for i in range(3)}


@MODELS
async def test_logprobs_cover_the_answer_tokens(h, model):
    client = h.openai()
    reply = await client.chat.completions.create(model=model, messages=ASK, logprobs=True, top_logprobs=2)
    choice = reply.choices[0]
    entries = choice.logprobs.content
    assert "".join(e.token for e in entries) == choice.message.content  # the visible answer, no reasoning
    for e in entries:
        assert e.logprob <= 0 and bytes(e.bytes).decode() == e.token
        assert [t.token for t in e.top_logprobs][0] == e.token and len(e.top_logprobs) == 2
        assert e.top_logprobs[1].logprob < e.top_logprobs[0].logprob
    assert reply.usage.completion_tokens >= len(entries)
    stream = await client.chat.completions.create(model=model, messages=ASK, logprobs=True, top_logprobs=2, stream=True)
    streamed = [e async for chunk in stream for c in chunk.choices if c.logprobs for e in c.logprobs.content or ()]
    assert [e.token for e in streamed] == [e.token for e in entries]
    plain = await client.chat.completions.create(model=model, messages=ASK)
    assert plain.choices[0].logprobs is None


async def test_the_same_request_gets_the_same_answer(h):
    body = {"model": PLAIN, "messages": ASK, "tools": [WEATHER_TOOL], "n": 2}
    answers = [(await h.client.post("/v1/chat/completions", json=body, headers=h.auth())).json() for _ in range(2)]
    assert answers[0]["choices"] == answers[1]["choices"]


# --- the libraries users reach for --------------------------------------------------------


@pytest.mark.parametrize("mode", ["TOOLS", "JSON"])
async def test_instructor(h, mode):
    instructor = pytest.importorskip("instructor", reason="instructor pins jiter<0.15, the openai SDK needs >=0.16")
    client = instructor.from_openai(h.openai(), mode=getattr(instructor.Mode, mode))
    prediction = await client.chat.completions.create(model=PLAIN, messages=ASK, response_model=Prediction, max_retries=0)
    assert isinstance(prediction, Prediction) and prediction.scorers


@pytest.mark.parametrize("method", ["json_schema", "function_calling"])
@MODELS
async def test_langchain_structured_output(h, model, method):
    from langchain_openai import ChatOpenAI

    llm = ChatOpenAI(model=model, base_url=f"{h.client.base_url}/v1", api_key=h.key,
                     http_async_client=h.client, max_retries=0)
    prediction = await llm.with_structured_output(Prediction, method=method).ainvoke("Predict Arsenal v Chelsea.")
    assert isinstance(prediction, Prediction) and prediction.kickoff == dt.date(2026, 1, 1)


@MODELS
async def test_pydantic_ai_agent_runs_its_tool_then_returns_the_output_type(h, model):
    from pydantic_ai import Agent
    from pydantic_ai.models.openai import OpenAIChatModel
    from pydantic_ai.providers.openai import OpenAIProvider

    agent = Agent(OpenAIChatModel(model, provider=OpenAIProvider(openai_client=h.openai())), output_type=Prediction)
    asked: list[str] = []

    @agent.tool_plain
    def team_form(team: str) -> str:
        """The recent form of a team."""
        asked.append(team)
        return "WWDLW"

    result = await agent.run("Predict Arsenal v Chelsea.")
    assert isinstance(result.output, Prediction)
    assert asked == ["string"]  # the agent's tool ran once, with schema-valid arguments


# --- `synaxis serve` in demo mode, a real process --------------------------------------------


async def test_synaxis_serve_in_demo_mode_answers_tools_with_a_valid_tool_call(sqlite_url, tmp_path):
    gateway = GatewayProcess({"SYNAXIS_DATABASE_URL": sqlite_url}, args=("--demo",), log_path=tmp_path / "serve.log")
    gateway.start()
    try:
        await gateway.wait_ready()
        key = re.search(r"Demo tenant key: (\S+)", gateway.log(tail=200))
        assert key, gateway.log()
        body = {"model": PLAIN, "messages": ASK, "tools": [WEATHER_TOOL]}
        async with httpx.AsyncClient(timeout=30) as http:
            reply = await http.post(f"{gateway.url}/v1/chat/completions", json=body,
                                    headers={"authorization": f"Bearer {key.group(1)}"})
    finally:
        gateway.stop()
    assert reply.status_code == 200 and reply.headers["x-synaxis-demo"] == "true"
    call = valid_completion(reply.json())["choices"][0]["message"]["tool_calls"][0]
    assert call["function"]["name"] == "get_weather"
    GetWeather.model_validate_json(call["function"]["arguments"])
