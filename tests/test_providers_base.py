"""The OpenAI-compatible base: requests as sent, responses, streams, discovery, the client."""

from __future__ import annotations

import asyncio
import json
import logging

import httpx
import pytest
from tenacity import wait_none

from synaxis_core.errors import (
    ModelUnavailable,
    ProviderAuthError,
    RateLimited,
    UpstreamError,
    UpstreamProtocolError,
    UpstreamTimeout,
)
from synaxis_core.providers.base import OpenAICompatibleProvider, Provider
from synaxis_core.providers.discovery import (
    looks_like_chat_model,
    per_million,
    per_token,
)
from synaxis_core.providers.http import create_client, quiet_httpx_logging
from synaxis_core.settings import Settings
from synaxis_core.types import ModelSpec

MESSAGE = {"role": "assistant", "content": "hi"}
OK = {"id": "c", "object": "chat.completion", "choices": [{"index": 0, "message": MESSAGE, "finish_reason": "stop"}]}
BODY = {"model": "org/model", "messages": [{"role": "user", "content": "hi"}], "top_k": 3, "x_vendor": {"a": [1]}}


class Acme(OpenAICompatibleProvider):
    name = "acme"
    default_base_url = "https://api.acme.test/v1/"
    api_key_env = "ACME_API_KEY"
    base_url_env = "ACME_BASE_URL"
    static_models = (ModelSpec(id="model-acme", upstream_id="org/model"),)


def make(handler, env=None) -> Acme:
    provider = Acme(Settings.from_env({"ACME_API_KEY": "sekrit-key", **(env or {})}))
    provider.transport = httpx.MockTransport(handler)
    provider.retry_wait = wait_none()
    return provider


def sse(*events: bytes, done: bool = True) -> httpx.Response:
    body = b"".join(b"data: " + e + b"\n\n" for e in events) + (b"data: [DONE]\n\n" if done else b"")
    return httpx.Response(200, content=body, headers={"content-type": "text/event-stream"})


def test_constructor_and_attributes():
    settings = Settings.from_env({"ACME_BASE_URL": "http://127.0.0.1:9/v1/"})
    provider = Acme(settings)
    assert Provider is OpenAICompatibleProvider
    assert provider.base_url == "http://127.0.0.1:9/v1"
    assert provider.missing_key == "ACME_API_KEY" and provider.api_key is None
    assert provider.timeout_s == settings.timeout_s
    assert Acme(Settings.from_env({})).base_url == "https://api.acme.test/v1"
    custom = OpenAICompatibleProvider(
        settings, name="local", base_url="http://h/v1", models=[], timeout_s=5, catalog_provider="x"
    )
    assert (custom.name, custom.base_url, custom.models, custom.timeout_s) == ("local", "http://h/v1", (), 5)
    assert custom.missing_key is None and custom.api_key is None
    assert "sekrit" not in repr(make(lambda r: httpx.Response(200)))


async def test_chat_sends_the_body_untouched_with_the_key():
    seen = {}

    def handler(request: httpx.Request) -> httpx.Response:
        seen.update(url=str(request.url), auth=request.headers["authorization"], body=json.loads(request.content))
        seen["ctype"] = request.headers["content-type"]
        return httpx.Response(200, json=OK)

    response = await make(handler).chat(BODY)
    assert response == OK
    assert seen == {
        "url": "https://api.acme.test/v1/chat/completions",
        "auth": "Bearer sekrit-key",
        "body": BODY,
        "ctype": "application/json",
    }


async def test_chat_drops_stream_fields():
    bodies = []
    provider = make(lambda r: bodies.append(json.loads(r.content)) or httpx.Response(200, json=OK))
    await provider.chat({**BODY, "stream": True, "stream_options": {"include_usage": True}})
    assert bodies == [BODY]


async def test_chat_protocol_errors():
    with pytest.raises(UpstreamProtocolError, match="no 'choices'"):
        await make(lambda r: httpx.Response(200, json={"id": "x"})).chat(BODY)
    with pytest.raises(UpstreamProtocolError, match="invalid JSON"):
        await make(lambda r: httpx.Response(200, content=b"<html>")).chat(BODY)
    with pytest.raises(ModelUnavailable):  # an error object in a 200 body
        error = {"error": {"message": "m", "code": "model_not_available"}}
        await make(lambda r: httpx.Response(200, json=error)).chat(BODY)


async def test_chat_deadline_covers_the_whole_call():
    async def slow(request):
        await asyncio.sleep(5)
        return httpx.Response(200, json=OK)

    with pytest.raises(UpstreamTimeout, match="0.05"):
        await make(slow).chat(BODY, timeout=0.05)


async def test_missing_key_raises_before_any_request():
    calls = []
    provider = Acme(Settings.from_env({}))
    provider.transport = httpx.MockTransport(lambda r: calls.append(r) or httpx.Response(200, json=OK))
    with pytest.raises(ProviderAuthError, match="ACME_API_KEY"):
        await provider.chat(BODY)
    with pytest.raises(ProviderAuthError):
        async for _ in provider.stream(BODY):
            pass
    assert calls == []


async def test_stream_yields_chunks_and_sets_stream():
    bodies = []

    def handler(request):
        bodies.append(json.loads(request.content))
        assert request.headers["accept"] == "text/event-stream"
        return sse(b'{"choices": [{"index": 0, "delta": {"content": "a"}}]}', b'{"choices": []}')

    chunks = [c async for c in make(handler).stream(BODY)]
    assert chunks == [{"choices": [{"index": 0, "delta": {"content": "a"}}]}, {"choices": []}]
    assert bodies == [{**BODY, "stream": True}]


@pytest.mark.parametrize(
    ("response", "error"),
    [
        (sse(b'{"choices": []}', done=False), UpstreamProtocolError),
        (sse(b'{"choices": [', b'{"choices": []}'), UpstreamProtocolError),
        (sse(b"[1, 2]"), UpstreamProtocolError),
        (sse(b'{"error": {"message": "overloaded"}}'), UpstreamError),
        (sse(b'{"error": {"message": "slow", "code": 429}}'), RateLimited),
        (httpx.Response(200, content=b'event: error\ndata: {"message": "x"}\n\n'), UpstreamError),
        (httpx.Response(404, json={"status": 404, "title": "Not Found"}), ModelUnavailable),
        (httpx.Response(401, json={"error": "Invalid API key"}), ProviderAuthError),
    ],
)
async def test_stream_errors(response, error):
    with pytest.raises(error):
        async for _ in make(lambda r: response).stream(BODY):
            pass


async def test_stream_closes_the_response_when_abandoned():
    closed = []

    class Body(httpx.AsyncByteStream):
        async def __aiter__(self):
            yield b'data: {"choices": []}\n\n'
            yield b'data: {"choices": []}\n\n'

        async def aclose(self):
            closed.append(True)

    gen = make(lambda r: httpx.Response(200, stream=Body())).stream(BODY)
    assert await gen.__anext__() == {"choices": []}
    await gen.aclose()
    assert closed == [True]


async def test_discover_shapes_and_non_chat_dropped():
    entries = [{"id": "org/model", "context_length": 8192}, {"id": "org/nv-embed-v1"}, {"name": "no id"}, 7]
    listing = {"object": "list", "data": entries}
    seen = {}

    def handler(request):
        seen["path"] = request.url.path
        return httpx.Response(200, json=listing)

    models = await make(handler).discover()
    assert seen["path"] == "/v1/models"
    assert [(m.upstream_id, m.context_window, m.chat) for m in models] == [("org/model", 8192, True)]
    assert len(make(handler).parse_models(listing)) == 2  # parse_models keeps non-chat, marked
    bare = await make(lambda r: httpx.Response(200, json=[{"id": "a/b"}])).discover()
    assert [m.upstream_id for m in bare] == ["a/b"]
    with pytest.raises(UpstreamProtocolError):
        await make(lambda r: httpx.Response(200, json={"models": []})).discover()


def test_price_and_chat_helpers():
    assert per_token("$0.00000055") == 0.55
    assert per_token(0.000002) == 2.0
    assert per_token("free") is None and per_token(None) is None and per_token(-1) is None
    assert per_million(0.6) == 0.6 and per_million("1.25") == 1.25 and per_million(True) is None
    for model_id in ("nvidia/nv-embedqa-e5-v5", "black-forest-labs/flux.1-dev", "baai/bge-m3",
                     "nvidia/llama-3.2-nv-rerankqa-1b-v2", "nvidia/parakeet-ctc-1.1b-asr", "openai/whisper-large-v3"):
        assert not looks_like_chat_model(model_id), model_id
    for model_id in ("openai/gpt-oss-120b", "meta/llama-guard-4-12b", "nvidia/cosmos-reason1-7b", "hf:zai-org/GLM-4.7"):
        assert looks_like_chat_model(model_id), model_id


async def test_one_client_per_provider_reused_and_closed():
    provider = make(lambda r: httpx.Response(200, json=OK))
    await provider.chat(BODY)
    client = provider.client()
    await provider.chat(BODY)
    assert provider.client() is client
    await provider.aclose()
    assert client.is_closed and provider.exchange._client is None
    await provider.chat(BODY)
    assert provider.client() is not client
    await provider.aclose()
    await provider.aclose()  # idempotent


def test_a_new_event_loop_gets_a_new_client():
    provider = make(lambda r: httpx.Response(200, json=OK))

    async def call():
        await provider.chat(BODY)
        return provider.client()

    first = asyncio.run(call())
    second = asyncio.run(call())
    assert first is not second


async def test_create_client_transports():
    from synaxis_core.providers.http import ReqwestTransport

    settings = Settings.from_env({})
    client = create_client(settings)
    assert isinstance(client._transport, ReqwestTransport) and client._transport.read_timeout_s == settings.timeout_s
    assert client.timeout.connect == settings.connect_timeout_s and client.timeout.read == settings.timeout_s
    await client.aclose()
    client = create_client(settings, transport="httpx", timeout_s=3)
    assert isinstance(client._transport, httpx.AsyncHTTPTransport) and client.timeout.read == 3
    await client.aclose()
    with pytest.raises(ValueError):
        create_client(settings, transport="curl")


def test_httpx_info_logging_is_off_unless_configured():
    logger = logging.getLogger("httpx")
    old = logger.level
    try:
        logger.setLevel(logging.NOTSET)
        quiet_httpx_logging()
        assert logger.level == logging.WARNING
        logger.setLevel(logging.DEBUG)  # an application's explicit choice stays
        quiet_httpx_logging()
        assert logger.level == logging.DEBUG
    finally:
        logger.setLevel(old)


# --- malformed and oversized answers (any transport) --------------------------------------------


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (b'{"choices": "abc"}', "'choices' is str"),
        (b'{"choices": [{"index": 0, "delta": "abc"}]}', "'delta' is str"),
        (b'{"choices": [{"index": 0, "delta": {"content": 42}}]}', "'delta.content' is int"),
        (b'{"choices": [7]}', "a choice is int"),
        (b'{"choices": [{"index": [0], "delta": {}}]}', "'index' is list"),
        (b'{"choices": [{"delta": {"role": "assistant", "reasoning": {"x": 1}}}]}', "'delta.reasoning' is dict"),
        (b'{"choices": [{"delta": {"role": "assistant", "tool_calls": [1]}}]}', "tool_calls"),
    ],
)
async def test_stream_a_malformed_later_chunk_is_a_protocol_error(bad, message):
    good = b'{"choices": [{"index": 0, "delta": {"content": "a"}}]}'
    gen = make(lambda r: sse(good, bad)).stream(BODY)
    assert (await anext(gen))["choices"][0]["delta"] == {"content": "a"}
    with pytest.raises(UpstreamProtocolError, match="malformed stream chunk") as info:
        await anext(gen)
    assert message in info.value.message


async def test_stream_chunks_the_gateway_can_read_pass():
    chunks = [
        b'{"choices": []}',
        b'{"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}], "usage": {"prompt_tokens": 1}}',
        b'{"choices": [{"index": 0, "delta": null}]}',
        b'{"choices": [{"index": 0, "delta": {"role": "assistant", "content": null, "reasoning_content": "r"}}]}',
        b'{"choices": [{"index": 1, "delta": {"content": [{"type": "text", "text": "parts"}]}}]}',
        b'{"choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0, "function": {"arguments": "{"}}]}}]}',
        b'{"choices": null, "usage": {"completion_tokens": 3}}',
    ]
    assert len([c async for c in make(lambda r: sse(*chunks)).stream(BODY)]) == len(chunks)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"choices": [1]}, "a choice is int"),
        ({"choices": [{"message": "abc"}]}, "'message' is str"),
        ({"choices": [{"message": {"role": "assistant", "content": 42}}]}, "'message.content' is int"),
        ({"choices": "abc"}, "no 'choices'"),
    ],
)
async def test_chat_a_malformed_response_is_a_protocol_error(body, message):
    with pytest.raises(UpstreamProtocolError, match=message):
        await make(lambda r: httpx.Response(200, json=body)).chat(BODY)


async def test_chat_an_oversized_answer_is_a_protocol_error():
    env = {"SYNAXIS_MAX_UPSTREAM_RESPONSE_BYTES": "1000"}
    big = {**OK, "padding": "x" * 2000}
    with pytest.raises(UpstreamProtocolError, match="larger than 1000 bytes"):
        await make(lambda r: httpx.Response(200, json=big), env).chat(BODY)

    class Endless(httpx.AsyncByteStream):  # no Content-Length, never ends
        async def __aiter__(self):
            while True:
                yield b" " * 500

    with pytest.raises(UpstreamProtocolError, match="larger than 1000 bytes"):
        await make(lambda r: httpx.Response(200, stream=Endless()), env).chat(BODY)
    assert (await make(lambda r: httpx.Response(200, json=OK), env).chat(BODY)) == OK
    error = {"error": {"message": "m" * 5000}}  # an error body is cut, not refused
    with pytest.raises(UpstreamError) as info:
        await make(lambda r: httpx.Response(400, json=error), env).chat(BODY)
    assert not isinstance(info.value, UpstreamProtocolError)


async def test_stream_an_oversized_event_is_a_protocol_error():
    env = {"SYNAXIS_MAX_SSE_EVENT_BYTES": "1000"}
    huge = b'{"choices": [{"index": 0, "delta": {"content": "' + b"x" * 2000 + b'"}}]}'
    with pytest.raises(UpstreamProtocolError, match="longer than 1000 bytes"):
        async for _ in make(lambda r: sse(huge), env).stream(BODY):
            pass


async def test_stream_first_chunk_by_on_an_httpx_transport():
    class KeepAlives(httpx.AsyncByteStream):
        async def __aiter__(self):
            while True:
                yield b": ping\n\n"
                await asyncio.sleep(0.02)

    loop = asyncio.get_running_loop()
    provider = make(lambda r: httpx.Response(200, stream=KeepAlives()))
    start = loop.time()
    with pytest.raises(UpstreamTimeout, match="no first chunk within 0.2 s"):
        async for _ in provider.stream(BODY, first_chunk_by=start + 0.2):
            pass
    assert loop.time() - start < 1.0
