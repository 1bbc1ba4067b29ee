"""Tests of the fake upstream (`synaxis_core.fake.FakeUpstream`).

Every behaviour kind, every flavor's error and /models shape (the installed plugins'
flavours, served by default), a flavour the core has never heard of, sequencing,
counters, the control API, and the three ways of running it. Clients are httpx,
talking to 127.0.0.1 only.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from collections.abc import Iterator

import httpx
import pytest

from synaxis_core.fake import Behavior, ErrorText, FakeUpstream, Flavor
from synaxis_core.fake.behavior import CHINESE_ANSWER, DEFAULT_ANSWER, DEFAULT_REASONING
from synaxis_nvidia.fake_flavor import NON_CHAT_MODELS as NVIDIA_NON_CHAT_MODELS

FLAVORS = ("openai", "synthetic", "together", "nvidia")
"""The built-in flavour and those of the installed provider plugins (the fake's default)."""

AUTH = {"Authorization": "Bearer test-key"}
MODEL = {"openai": "gpt-x", "synthetic": "hf:org/Model", "together": "org/Model", "nvidia": "org/model"}
MESSAGES = [{"role": "system", "content": "Be brief"}, {"role": "user", "content": "Who wins today?"}]
PROMPT_TOKENS = 2 + 3 + 2  # words of both messages + one per message


@pytest.fixture
def fake() -> Iterator[FakeUpstream]:
    with FakeUpstream() as upstream:
        yield upstream


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with httpx.Client(headers=AUTH, timeout=5.0) as http:
        yield http


def chat(client: httpx.Client, fake: FakeUpstream, flavor: str = "openai", **extra) -> httpx.Response:
    body = {"model": MODEL[flavor], "messages": MESSAGES, **extra}
    return client.post(fake.base_url(flavor) + "/chat/completions", json=body)


def events(text: str) -> list[dict | str]:
    """The ``data:`` payloads of an SSE body: parsed JSON, or the raw string when not JSON."""
    out: list[dict | str] = []
    for line in text.split("\n"):
        if line.startswith("data: "):
            raw = line[len("data: ") :]
            try:
                out.append(json.loads(raw))
            except ValueError:
                out.append(raw)
    return out


def content_of(chunks: list, key: str = "content") -> str:
    return "".join(
        c["choices"][0]["delta"].get(key) or ""
        for c in chunks
        if isinstance(c, dict) and c.get("choices")
    )


# --- successful kinds ----------------------------------------------------------------


@pytest.mark.parametrize("flavor", FLAVORS)
def test_ok_non_stream(fake, client, flavor):
    response = chat(client, fake, flavor, some_vendor_field={"x": 1})
    assert response.status_code == 200
    assert response.headers["x-request-id"]
    body = response.json()
    assert body["object"] == "chat.completion"
    assert body["model"] == MODEL[flavor]
    (choice,) = body["choices"]
    assert choice["message"]["role"] == "assistant"
    assert choice["message"]["content"] == DEFAULT_ANSWER
    assert json.loads(choice["message"]["content"])["home_goals"] == 2
    assert choice["finish_reason"] == ("eos" if flavor == "together" else "stop")
    completion = len(DEFAULT_ANSWER.split())
    assert body["usage"] == {
        "prompt_tokens": PROMPT_TOKENS,
        "completion_tokens": completion,
        "total_tokens": PROMPT_TOKENS + completion,
    }
    if flavor == "nvidia":
        assert choice["message"]["reasoning_content"] is None
    assert fake.requests[-1].body["some_vendor_field"] == {"x": 1}  # passed through, recorded


def test_stream_ok(fake, client):
    response = chat(client, fake, stream=True)
    assert response.headers["content-type"].startswith("text/event-stream")
    assert response.text.startswith(": keep-alive\n\n")
    chunks = events(response.text)
    assert chunks[-1] == "[DONE]"
    data = chunks[:-1]
    assert all(c["object"] == "chat.completion.chunk" for c in data)
    assert data[0]["choices"][0]["delta"]["role"] == "assistant"
    assert content_of(data) == DEFAULT_ANSWER
    assert data[-1]["choices"][0]["finish_reason"] == "stop"
    assert all("usage" not in c for c in data)
    assert response.text.endswith("data: [DONE]\n\n")


def test_stream_include_usage(fake, client):
    response = chat(client, fake, stream=True, stream_options={"include_usage": True})
    chunks = events(response.text)
    assert chunks[-1] == "[DONE]"
    *regular, last = chunks[:-1]
    assert all(c["usage"] is None for c in regular)
    assert last["choices"] == []
    plain = chat(client, fake).json()
    assert last["usage"] == plain["usage"]


def test_chunk_size(fake, client):
    fake.set(MODEL["openai"], Behavior(content="abcdefghij", chunk_size=3))
    chunks = events(chat(client, fake, stream=True).text)
    pieces = [c["choices"][0]["delta"].get("content") for c in chunks[1:-2]]
    assert pieces == ["abc", "def", "ghi", "j"]


def test_think_inline(fake, client):
    fake.set(MODEL["openai"], "think_inline")
    expected = f"<think>{DEFAULT_REASONING}</think>{DEFAULT_ANSWER}"
    assert chat(client, fake).json()["choices"][0]["message"]["content"] == expected
    chunks = events(chat(client, fake, stream=True).text)
    assert content_of(chunks) == expected
    pieces = [c["choices"][0]["delta"].get("content") or "" for c in chunks[:-1]]
    assert not any("<think>" in p or "</think>" in p for p in pieces)  # tags are split


def test_think_close_only(fake, client):
    fake.set(MODEL["openai"], "think_close_only")
    expected = f"{DEFAULT_REASONING}</think>{DEFAULT_ANSWER}"
    assert chat(client, fake).json()["choices"][0]["message"]["content"] == expected
    assert content_of(events(chat(client, fake, stream=True).text)) == expected


@pytest.mark.parametrize("flavor", FLAVORS)
def test_reasoning_field(fake, client, flavor):
    key = "reasoning" if flavor == "together" else "reasoning_content"
    fake.set(MODEL[flavor], Behavior(kind="reasoning_field", reasoning="Hmm, home side."))
    message = chat(client, fake, flavor).json()["choices"][0]["message"]
    assert message[key] == "Hmm, home side."
    assert message["content"] == DEFAULT_ANSWER
    chunks = events(chat(client, fake, flavor, stream=True).text)
    assert content_of(chunks, key) == "Hmm, home side."
    assert content_of(chunks) == DEFAULT_ANSWER


def test_chinese(fake, client):
    fake.set(MODEL["openai"], "chinese")
    assert chat(client, fake).json()["choices"][0]["message"]["content"] == CHINESE_ANSWER
    assert content_of(events(chat(client, fake, stream=True).text)) == CHINESE_ANSWER


def test_tool_call(fake, client):
    fake.set(MODEL["openai"], "tool_call")
    tools = [{"type": "function", "function": {"name": "submit", "parameters": {}}}]
    choice = chat(client, fake, tools=tools).json()["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    (call,) = choice["message"]["tool_calls"]
    assert call["function"] == {"name": "submit", "arguments": DEFAULT_ANSWER}
    chunks = events(chat(client, fake, tools=tools, stream=True).text)
    deltas = [c["choices"][0]["delta"].get("tool_calls") for c in chunks[:-1]]
    calls = [d[0] for d in deltas if d]
    assert all(c["index"] == 0 for c in calls)
    assert calls[0]["function"]["name"] == "submit"
    assert "".join(c["function"]["arguments"] for c in calls) == DEFAULT_ANSWER
    assert chunks[-2]["choices"][0]["finish_reason"] == "tool_calls"


def test_delay_then_ok(fake, client):
    fake.set(MODEL["openai"], Behavior(delay_s=0.05))
    assert chat(client, fake).status_code == 200


def test_finish_reason_override(fake, client):
    fake.set(MODEL["together"], Behavior(finish_reason="length"))
    assert chat(client, fake, "together").json()["choices"][0]["finish_reason"] == "length"


# --- errors ----------------------------------------------------------------------------


def test_error_shapes(fake, client):
    for flavor in FLAVORS:
        fake.set(MODEL[flavor], Behavior(kind="error", status=503))
    openai = chat(client, fake, "openai")
    assert openai.status_code == 503
    assert set(openai.json()["error"]) == {"message", "type", "param", "code"}
    together = chat(client, fake, "together").json()
    assert together["error"]["message"] == "The server is overloaded or not ready yet."
    synthetic = chat(client, fake, "synthetic")
    assert synthetic.status_code == 503 and isinstance(synthetic.json()["error"], str)
    nvidia = chat(client, fake, "nvidia")
    assert nvidia.headers["content-type"].startswith("application/problem+json")
    assert nvidia.json() == {"status": 503, "title": "Service Unavailable"}


def test_error_message_override(fake, client):
    fake.set(MODEL["synthetic"], Behavior(kind="error", status=400, content="bad things"))
    assert chat(client, fake, "synthetic").json() == {"error": "bad things"}


def test_rate_limit_shapes(fake, client):
    for flavor in FLAVORS:
        fake.set(MODEL[flavor], Behavior(kind="rate_limit", retry_after="7"))
    responses = {flavor: chat(client, fake, flavor) for flavor in FLAVORS}
    assert all(r.status_code == 429 and r.headers["retry-after"] == "7" for r in responses.values())
    assert responses["openai"].json()["error"]["code"] == "rate_limit_exceeded"
    together = responses["together"]
    assert together.json()["error"]["code"] == "dynamic_request_limited"
    assert together.headers["x-ratelimit-remaining"] == "0"
    assert {"x-ratelimit-limit", "x-ratelimit-reset"} <= set(together.headers)
    synthetic = responses["synthetic"].json()
    assert synthetic == {"error": "You've exceeded your subscription rate limits"}
    assert responses["nvidia"].json() == {"status": 429, "title": "Too Many Requests"}
    assert "x-ratelimit-limit" not in responses["nvidia"].headers


def test_rate_limit_without_retry_after(fake, client):
    fake.set(MODEL["openai"], "rate_limit")
    assert "retry-after" not in chat(client, fake).headers


def test_model_not_available(fake, client):
    for flavor in FLAVORS:
        fake.set(MODEL[flavor], "model_not_available")
    together = chat(client, fake, "together")
    assert together.status_code == 400
    assert together.json()["error"]["code"] == "model_not_available"
    nvidia = chat(client, fake, "nvidia")
    assert nvidia.status_code == 404
    assert nvidia.json() == {
        "status": 404,
        "title": "Not Found",
        "detail": f"Function '{MODEL['nvidia']}': Not found for account",
    }
    assert chat(client, fake, "openai").json()["error"]["code"] == "model_not_found"
    fake.set(MODEL["nvidia"], Behavior(kind="model_not_available", status=410))
    gone = chat(client, fake, "nvidia")
    assert gone.status_code == 410 and gone.json()["title"] == "Gone"


def test_stream_error(fake, client):
    fake.set(MODEL["openai"], "stream_error")
    chunks = events(chat(client, fake, stream=True).text)
    assert chunks[-1]["error"]["type"] == "server_error"
    assert "[DONE]" not in chunks
    assert chat(client, fake).status_code == 500  # not streaming: a plain HTTP error


def test_stream_error_with_openai_sdk(fake):
    openai = pytest.importorskip("openai")
    fake.set(MODEL["openai"], "stream_error")
    with openai.OpenAI(base_url=fake.base_url("openai"), api_key="k", max_retries=0) as sdk:
        stream = sdk.chat.completions.create(model=MODEL["openai"], messages=MESSAGES, stream=True)
        with pytest.raises(openai.APIError):
            for _ in stream:
                pass


def test_openai_sdk_parses_answers(fake):
    openai = pytest.importorskip("openai")
    with openai.OpenAI(base_url=fake.base_url("openai"), api_key="k", max_retries=0) as sdk:
        reply = sdk.chat.completions.create(model=MODEL["openai"], messages=MESSAGES)
        assert reply.choices[0].message.content == DEFAULT_ANSWER
        stream = sdk.chat.completions.create(
            model=MODEL["openai"], messages=MESSAGES, stream=True, stream_options={"include_usage": True}
        )
        chunks = list(stream)
        assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == DEFAULT_ANSWER
        assert chunks[-1].usage.total_tokens == reply.usage.total_tokens


# --- broken connections and bodies ----------------------------------------------------------


def test_stall_times_out(fake, client):
    fake.set(MODEL["openai"], Behavior(kind="stall", delay_s=2.0))
    body = {"model": MODEL["openai"], "messages": MESSAGES}
    with pytest.raises(httpx.TimeoutException):
        client.post(fake.base_url("openai") + "/chat/completions", json=body, timeout=0.2)


def test_cut_non_stream(fake, client):
    fake.set(MODEL["openai"], "cut")
    with pytest.raises(httpx.RemoteProtocolError):
        chat(client, fake)


def test_cut_stream(fake, client):
    fake.set(MODEL["openai"], "cut")
    body = {"model": MODEL["openai"], "messages": MESSAGES, "stream": True}
    lines: list[str] = []
    with pytest.raises(httpx.RemoteProtocolError):
        with client.stream("POST", fake.base_url("openai") + "/chat/completions", json=body) as response:
            assert response.status_code == 200
            for line in response.iter_lines():
                lines.append(line)
    data = [line for line in lines if line.startswith("data: ")]
    assert data and "data: [DONE]" not in data  # some chunks arrived, then the cut


def test_reset(fake, client):
    fake.set(MODEL["openai"], "reset")
    with pytest.raises(httpx.TransportError):
        chat(client, fake)
    with pytest.raises(httpx.TransportError):
        chat(client, fake, stream=True)


def test_no_done(fake, client):
    fake.set(MODEL["openai"], "no_done")
    response = chat(client, fake, stream=True)
    assert response.status_code == 200
    chunks = events(response.text)
    assert "[DONE]" not in chunks
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"
    assert content_of(chunks) == DEFAULT_ANSWER


def test_invalid_json(fake, client):
    fake.set(MODEL["openai"], "invalid_json")
    response = chat(client, fake)
    assert response.status_code == 200
    with pytest.raises(ValueError):
        response.json()
    chunks = events(chat(client, fake, stream=True).text)
    assert any(isinstance(c, str) and c != "[DONE]" for c in chunks)


# --- scripting, counters, recording, auth ------------------------------------------------


def test_sequence_then_last_repeats(fake, client):
    fake.set(MODEL["openai"], [Behavior(kind="error", status=502), "rate_limit", {"kind": "ok"}])
    statuses = [chat(client, fake).status_code for _ in range(4)]
    assert statuses == [502, 429, 200, 200]
    fake.set(MODEL["openai"], None)
    assert chat(client, fake).status_code == 200


def test_calls_counter_and_reset(fake, client):
    fake.add_model("openai", MODEL["openai"])
    fake.set(MODEL["openai"], "error")
    chat(client, fake)
    chat(client, fake)
    chat(client, fake, "together")
    assert fake.calls == {MODEL["openai"]: 2, MODEL["together"]: 1}
    assert len(fake.requests) == 3
    fake.reset()
    assert not fake.calls and not fake.requests
    assert chat(client, fake).status_code == 200  # behaviours are gone
    listed = client.get(fake.base_url("openai") + "/models").json()["data"]
    assert [m["id"] for m in listed] == [MODEL["openai"]]  # models stay


def test_recorded_request(fake, client):
    chat(client, fake, "together", top_k=5)
    recorded = fake.requests[-1]
    assert recorded.flavor == "together"
    assert recorded.path == "/together/v1/chat/completions"
    assert recorded.headers["authorization"] == recorded.headers["Authorization"] == AUTH["Authorization"]
    assert recorded.body["top_k"] == 5


@pytest.mark.parametrize("flavor", FLAVORS)
def test_missing_key_is_401(fake, flavor):
    body = {"model": MODEL[flavor], "messages": MESSAGES}
    with httpx.Client() as anonymous:
        response = anonymous.post(fake.base_url(flavor) + "/chat/completions", json=body)
    assert response.status_code == 401
    error = response.json()
    if flavor == "synthetic":
        assert isinstance(error["error"], str)
    elif flavor == "nvidia":
        assert error["status"] == 401
    else:
        assert error["error"]["code"] == "invalid_api_key"


def test_api_key_is_checked():
    with FakeUpstream(api_key="right") as fake, httpx.Client() as http:
        url = fake.base_url("openai") + "/chat/completions"
        body = {"model": "m", "messages": MESSAGES}
        assert http.post(url, json=body, headers={"Authorization": "Bearer wrong"}).status_code == 401
        assert http.post(url, json=body, headers={"Authorization": "Bearer right"}).status_code == 200
        assert http.get(fake.base_url("nvidia") + "/models").status_code == 200  # needs no key
        assert http.get(fake.base_url("openai") + "/models").status_code == 401


def test_synthetic_needs_prefixed_ids(fake, client):
    bad = client.post(
        fake.base_url("synthetic") + "/chat/completions", json={"model": "org/Model", "messages": MESSAGES}
    )
    assert bad.status_code == 400
    assert bad.json() == {"error": "Your model name should start with an hf: prefix"}
    ok = client.post(
        fake.base_url("synthetic") + "/chat/completions", json={"model": "syn:alias", "messages": MESSAGES}
    )
    assert ok.status_code == 200


def test_bad_request_body(fake, client):
    response = client.post(fake.base_url("openai") + "/chat/completions", content=b"nope")
    assert response.status_code == 400
    assert fake.requests[-1].body is None


def test_synthetic_quotas(fake, client):
    chat(client, fake, "synthetic")
    quota = client.get(f"{fake.url}/synthetic/v2/quotas").json()["subscription"]
    assert quota["requests"] == 1 and quota["limit"] > 0 and quota["renewsAt"].endswith("Z")


def test_account_limit(fake, client):
    fake.set_account_limit("synthetic", 2, retry_after="3600")
    other = {"model": "hf:org/Other", "messages": MESSAGES}
    statuses = [chat(client, fake, "synthetic").status_code for _ in range(2)]
    capped = client.post(fake.base_url("synthetic") + "/chat/completions", json=other)
    assert statuses == [200, 200] and capped.status_code == 429  # account-wide, any model
    assert capped.json() == {"error": "You've exceeded your subscription rate limits"}
    assert capped.headers["retry-after"] == "3600"
    quota = client.get(f"{fake.url}/synthetic/v2/quotas").json()["subscription"]
    assert (quota["requests"], quota["limit"]) == (2, 2)
    assert chat(client, fake, "nvidia").status_code == 200  # other flavors unaffected
    fake.set_account_limit("synthetic", None)
    assert chat(client, fake, "synthetic").status_code == 200
    payload = {"flavor": "nvidia", "requests": 0}
    assert client.post(fake.url + "/_fake/account_limit", json=payload).is_success
    assert chat(client, fake, "nvidia").json() == {"status": 429, "title": "Too Many Requests"}
    fake.reset()
    assert chat(client, fake, "nvidia").status_code == 200


def test_behavior_validation():
    with pytest.raises(ValueError):
        Behavior(kind="nope")
    with pytest.raises(TypeError):
        Behavior("ok")  # keyword-only
    assert Behavior.coerce({"kind": "error", "status": 418}) == Behavior(kind="error", status=418)
    with pytest.raises(ValueError):
        Behavior.coerce({"kinds": "error"})


# --- /models -------------------------------------------------------------------------


def test_models_synthetic(fake, client):
    fake.add_model("synthetic", "hf:org/Model", context_length=200000, max_output_length=8192)
    body = client.get(fake.base_url("synthetic") + "/models").json()
    assert "object" not in body
    (entry,) = body["data"]
    assert entry["id"] == "hf:org/Model" and entry["object"] == "model"
    assert entry["context_length"] == 200000 and entry["max_output_length"] == 8192
    assert entry["pricing"] == {"prompt": "$0.00000055", "completion": "$0.00000219"}
    assert {"provider", "supported_features"} <= set(entry)


def test_models_together_is_a_bare_array(fake, client):
    fake.add_model("together", "org/Model", input_price=0.2, output_price=0.6, type="chat")
    fake.add_model("together", "org/Embed", type="embedding")
    body = client.get(fake.base_url("together") + "/models").json()
    assert isinstance(body, list)
    first = body[0]
    assert {"id", "object", "created", "type", "display_name", "organization", "context_length"} <= set(first)
    assert first["pricing"]["input"] == 0.2 and first["pricing"]["output"] == 0.6
    assert body[1]["type"] == "embedding"


@pytest.mark.parametrize("flavor", ["openai", "nvidia"])
def test_models_openai_and_nvidia(fake, client, flavor):
    fake.add_model(flavor, "org/chat-model")
    body = client.get(fake.base_url(flavor) + "/models").json()
    assert body["object"] == "list"
    assert all({"id", "object", "created", "owned_by"} <= set(m) for m in body["data"])
    ids = [m["id"] for m in body["data"]]
    assert ids[0] == "org/chat-model"
    if flavor == "nvidia":
        assert set(NVIDIA_NON_CHAT_MODELS) <= set(ids)
    else:
        assert ids == ["org/chat-model"]


@pytest.mark.parametrize("flavor", FLAVORS)
def test_models_behaviors(fake, client, flavor):
    url = fake.base_url(flavor) + "/models"
    fake.set_models_behavior(flavor, "error")
    error = client.get(url)
    assert error.status_code == 500
    if flavor == "nvidia":
        assert error.headers["content-type"].startswith("application/problem+json")
    fake.set_models_behavior(flavor, "invalid_json")
    with pytest.raises(ValueError):
        client.get(url).json()
    fake.set_models_behavior(flavor, "garbage")
    garbage = client.get(url)
    assert garbage.status_code == 200 and isinstance(garbage.json(), dict)
    fake.set_models_behavior(flavor, "ok")
    assert client.get(url).status_code == 200
    with pytest.raises(ValueError):
        fake.set_models_behavior(flavor, "sometimes")


# --- control API -----------------------------------------------------------------------


def test_control_api(fake, client):
    control = fake.url + "/_fake"
    seq = [{"kind": "error", "status": 503}, "ok"]
    assert client.post(control + "/behaviors", json={MODEL["openai"]: seq}).status_code == 200
    assert [chat(client, fake).status_code for _ in range(3)] == [503, 200, 200]
    assert client.get(control + "/calls").json() == {"calls": {MODEL["openai"]: 3}}
    model = {"flavor": "together", "id": "a/b", "context_length": 9}
    assert client.post(control + "/models", json=model).is_success
    listed = client.get(fake.base_url("together") + "/models").json()
    assert listed[0]["id"] == "a/b" and listed[0]["context_length"] == 9
    listing = {"flavor": "together", "behavior": "error"}
    assert client.post(control + "/models_behavior", json=listing).is_success
    assert client.get(fake.base_url("together") + "/models").status_code == 500
    recorded = client.get(control + "/requests").json()["requests"]
    assert recorded[0]["path"] == "/openai/v1/chat/completions"
    assert client.post(control + "/behaviors", json={"m": {"kind": "bogus"}}).status_code == 400
    assert client.post(control + "/reset").status_code == 200
    assert client.get(control + "/calls").json() == {"calls": {}}


# --- flavours the core does not know -------------------------------------------------------


def acme_entry(model_id: str, extras: dict) -> dict:
    return {"name": model_id, "price_per_million": extras.pop("input_price", 0.0), **extras}


ACME = Flavor(
    name="acme",
    error_shape="problem",
    unauthorized="No entry",
    rate_limit=ErrorText(message="Slow down"),
    model_missing=ErrorText(message="No {model} here", status=422),
    error_messages={502: "Upstream of upstream failed"},
    model_id_prefixes=("acme/",),
    model_id_error="Ids start with acme/",
    listing="array",
    model_entry=acme_entry,
    listing_extra_models=("acme/embedder",),
    finish_reason="end_turn",
    reasoning_field="thinking",
    routes={"/v2/balance": lambda usage: {"spent": usage.accepted, "cap": usage.account_limit}},
)


@pytest.fixture
def acme() -> Iterator[FakeUpstream]:
    with FakeUpstream(flavors=[ACME]) as upstream:
        yield upstream


def acme_chat(client: httpx.Client, fake: FakeUpstream, model: str = "acme/one", **extra) -> httpx.Response:
    body = {"model": model, "messages": MESSAGES, **extra}
    return client.post(fake.base_url("acme") + "/chat/completions", json=body)


def test_a_new_vendors_flavor_is_served_as_described(acme, client):
    acme.set("acme/one", Behavior(kind="reasoning_field", reasoning="Hmm."))
    answer = acme_chat(client, acme).json()["choices"][0]
    assert answer["finish_reason"] == "end_turn"
    assert answer["message"]["thinking"] == "Hmm." and "reasoning_content" not in answer["message"]
    streamed = events(acme_chat(client, acme, stream=True).text)
    assert content_of(streamed, "thinking") == "Hmm."
    wrong_id = acme_chat(client, acme, model="other/one")
    assert wrong_id.status_code == 400
    assert wrong_id.headers["content-type"].startswith("application/problem+json")
    assert wrong_id.json() == {"status": 400, "title": "Bad Request", "detail": "Ids start with acme/"}


def test_a_new_vendors_errors_use_its_shape_and_wording(acme, client):
    acme.set("acme/one", [Behavior(kind="error", status=502), "model_not_available", "rate_limit"])
    failed = acme_chat(client, acme).json()
    assert failed == {"status": 502, "title": "Bad Gateway", "detail": "Upstream of upstream failed"}
    missing = acme_chat(client, acme)
    assert missing.status_code == 422 and missing.json()["detail"] == "No acme/one here"
    assert acme_chat(client, acme).json() == {"status": 429, "title": "Too Many Requests", "detail": "Slow down"}
    with httpx.Client() as anonymous:
        body = {"model": "acme/one", "messages": MESSAGES}
        refused = anonymous.post(acme.base_url("acme") + "/chat/completions", json=body)
    assert refused.status_code == 401 and refused.json()["detail"] == "No entry"


def test_a_new_vendors_listing_and_extra_route(acme, client):
    acme.add_model("acme", "acme/one", input_price=0.4, context=8192)
    assert client.get(acme.base_url("acme") + "/models").json() == [
        {"name": "acme/one", "price_per_million": 0.4, "context": 8192},
        {"name": "acme/embedder", "price_per_million": 0.0},
    ]
    acme_chat(client, acme)
    acme.set_account_limit("acme", 5)
    assert client.get(f"{acme.url}/acme/v2/balance").json() == {"spent": 1, "cap": 5}
    assert client.get(f"{acme.url}/acme/v2/elsewhere").status_code == 404
    with httpx.Client() as anonymous:
        assert anonymous.get(f"{acme.url}/acme/v2/balance").status_code == 401
    assert acme.requests[-1].flavor == "acme" and acme.requests[-1].path == "/acme/v2/balance"


def test_given_flavors_are_the_only_ones_besides_openai(acme, client):
    assert set(acme.flavors) == {"openai", "acme"}
    with pytest.raises(ValueError, match="synthetic"):
        acme.base_url("synthetic")
    assert client.get(f"{acme.url}/synthetic/v1/models").status_code == 404
    assert chat(client, acme).status_code == 200  # openai is always there


def test_a_flavor_added_while_running_is_served_at_once(acme, client):
    acme.add_flavor(Flavor(name="late", error_shape="flat"))
    acme.set("m", Behavior(kind="error", status=503, content="later"))
    response = client.post(acme.base_url("late") + "/chat/completions", json={"model": "m", "messages": MESSAGES})
    assert response.status_code == 503 and response.json() == {"error": "later"}
    with pytest.raises(TypeError):
        acme.add_flavor("late")


def test_the_default_flavors_are_the_installed_plugins():
    from synaxis_core.plugins import load_extensions
    from synaxis_core.settings import Settings

    contributed = load_extensions(Settings.from_env({})).fake_flavors
    assert set(contributed) == set(FLAVORS) - {"openai"}
    with FakeUpstream() as fake:
        assert dict(fake.flavors) == {"openai": fake.flavors["openai"], **contributed}
        assert fake.banner()[: len(FLAVORS)] == [f"{name:<10} {fake.base_url(name)}" for name in fake.flavors]


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({"name": "_fake"}, "flavour name"),
        ({"name": "a/b"}, "flavour name"),
        ({"name": "x", "error_shape": "xml"}, "error_shape"),
        ({"name": "x", "listing": "csv"}, "listing"),
        ({"name": "x", "routes": {"quota": lambda usage: {}}}, "must start with '/'"),
    ],
)
def test_a_malformed_flavor_is_refused(fields, problem):
    with pytest.raises(ValueError, match=problem):
        Flavor(**fields)


# --- ways of running ---------------------------------------------------------------------


def test_start_stop_and_url():
    fake = FakeUpstream()
    with pytest.raises(RuntimeError):
        _ = fake.url
    fake.start()
    try:
        assert fake.url.startswith("http://127.0.0.1:")
        assert fake.base_url("nvidia") == fake.url + "/nvidia/v1"
        with pytest.raises(RuntimeError):
            fake.start()
    finally:
        fake.stop()
    fake.stop()  # idempotent


async def test_in_loop_mode():
    async with FakeUpstream() as fake, httpx.AsyncClient(headers=AUTH) as http:
        fake.set("m", [Behavior(kind="stall", delay_s=2.0), "ok"])
        body = {"model": "m", "messages": MESSAGES, "stream": True}
        url = fake.base_url("openai") + "/chat/completions"
        with pytest.raises(httpx.TimeoutException):
            await http.post(url, json=body, timeout=0.2)
        response = await http.post(url, json=body, timeout=5)
        assert events(response.text)[-1] == "[DONE]"
        assert fake.calls["m"] == 2


async def test_thread_mode_from_a_running_loop():
    with FakeUpstream() as fake:
        async with httpx.AsyncClient(headers=AUTH) as http:
            body = {"model": "m", "messages": MESSAGES}
            response = await http.post(fake.base_url("openai") + "/chat/completions", json=body)
        assert response.status_code == 200


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_command_line_serves_until_interrupted(signum):
    """The signal handlers are in place before the banner is printed, so a signal sent once
    it is read always ends in an orderly stop (``stopped``, exit 0); the wait's cap is only
    a safety net for a loaded machine."""
    code = "from synaxis_core.fake.upstream import main; raise SystemExit(main())"
    proc = subprocess.Popen(
        [sys.executable, "-c", code, "--port", "0"], stdout=subprocess.PIPE, text=True
    )
    try:
        first = proc.stdout.readline().split()
        assert first[0] == "openai" and first[1].endswith("/openai/v1")
        models = httpx.get(first[1] + "/models", headers=AUTH, timeout=5)
        assert models.json() == {"object": "list", "data": []}
        proc.send_signal(signum)
        assert proc.stdout.read().splitlines()[-1] == "stopped"  # read to EOF: the process closed it
        assert proc.wait(timeout=120) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()


def test_open_connections_counts_clients_per_flavor(fake):
    """What the fault tests' leak check reads: a keep-alive client holds one connection,
    a second client a second one, and a closed client's connection goes away."""
    import time

    first, second = httpx.Client(headers=AUTH, timeout=5.0), httpx.Client(headers=AUTH, timeout=5.0)
    for _ in range(3):
        assert chat(first, fake, "nvidia").status_code == 200
    assert fake.open_connections() == {"nvidia": 1}
    assert chat(second, fake, "nvidia").status_code == 200
    assert chat(second, fake, "synthetic").status_code == 200  # the same connection, now last used for synthetic
    assert fake.open_connections() == {"nvidia": 1, "synthetic": 1}
    first.close()
    deadline = time.monotonic() + 2
    while fake.open_connections().get("nvidia") and time.monotonic() < deadline:
        time.sleep(0.01)
    assert fake.open_connections() == {"synthetic": 1}
    second.close()
