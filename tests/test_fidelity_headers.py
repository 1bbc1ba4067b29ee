"""Headers across the gateway, as the client and the upstream see them: the allow-listed
client headers reach the upstream that answers (the same on a failover), the client's
credentials never do, the upstream's own request id comes back as
``x-upstream-request-id`` (JSON, stream, an upstream 4xx passed on), the upstream's
rate-limit headers do not, and a header value that could not be passed on safely is a
400 in the dialect's shape."""

from __future__ import annotations

import json
from contextlib import asynccontextmanager

import anthropic
import pytest
from aiohttp import web
from tenacity import wait_none

from synaxis_core.fake import FakeUpstream
from synaxis_core.testing.gateway import gateway_harness
from synaxis_core.testing.live_server import live_server

MESSAGES = [{"role": "user", "content": "Hi"}]
OPERATOR_KEY = "operator-upstream-key"
MODEL = "header-model"  # the global id both deployments serve; "first" is the cheaper
UPSTREAM_400 = {"error": {"message": "unsupported beta", "type": "invalid_request_error", "param": None,
                          "code": "bad_beta"}}


def _chunk(delta: dict, finish: str | None = None) -> bytes:
    chunk = {"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": "m",
             "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
    return b"data: " + json.dumps(chunk).encode() + b"\n\n"


USAGE = {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4}
STREAM = (_chunk({"role": "assistant", "content": "Hello"}) + _chunk({}, "stop")
          + b"data: " + json.dumps({"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": "m",
                                    "choices": [], "usage": USAGE}).encode() + b"\n\n" + b"data: [DONE]\n\n")
COMPLETION = {"id": "c1", "object": "chat.completion", "created": 1, "model": "m", "usage": USAGE,
              "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hello"}, "finish_reason": "stop"}]}
OPERATOR_HEADERS = {"x-ratelimit-remaining-requests": "7", "x-ratelimit-limit-tokens": "100000",
                    "openai-processing-ms": "12"}


class Upstream:
    """An upstream that records the headers of every request and answers as ``status``
    says (200: a completion or a stream), with ``x-request-id: <name>-<n>``."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.status = 200
        self.seen: list[dict[str, str]] = []

    async def handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        self.seen.append({k.lower(): v for k, v in request.headers.items()})
        headers = {"x-request-id": f"{self.name}-{len(self.seen)}", **OPERATOR_HEADERS}
        if self.status != 200:
            return web.json_response(UPSTREAM_400 if self.status < 500 else {"error": "down"},
                                     status=self.status, headers=headers)
        if not body.get("stream"):
            return web.json_response(COMPLETION, headers=headers)
        response = web.StreamResponse(headers={**headers, "content-type": "text/event-stream"})
        await response.prepare(request)
        await response.write(STREAM)
        return response


@pytest.fixture
def gateway(tmp_path, sqlite_url):
    """``async with gateway(accounts=...) as (h, first, second)``: a gateway whose model
    ``header-model`` has two config-file deployments, each served by its ``Upstream``
    (``first`` is tried first); ``accounts``: whether both take the account headers."""

    @asynccontextmanager
    async def serve(accounts: bool = False):
        upstreams, runners, tables = [Upstream("first"), Upstream("second")], [], []
        for price, upstream in zip((0.1, 0.2), upstreams):
            app = web.Application()
            app.router.add_post("/v1/chat/completions", upstream.handle)
            runner = web.AppRunner(app)
            await runner.setup()
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            runners.append(runner)
            port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
            tables.append(
                f'[[providers]]\nname = "{upstream.name}"\nbase_url = "http://127.0.0.1:{port}/v1"\n'
                f'api_key_env = "OPERATOR_KEY"\nforward_account_headers = {str(accounts).lower()}\n\n'
                f'[[providers.models]]\nid = "{upstream.name}-model"\nupstream_id = "up/{upstream.name}"\n'
                f'global_id = "{MODEL}"\ninput_price = {price}\noutput_price = {price}\n'
            )
        config = tmp_path / "headers.toml"
        config.write_text("\n".join(tables))
        environ = {"SYNAXIS_CONFIG": str(config), "OPERATOR_KEY": OPERATOR_KEY}
        try:
            async with FakeUpstream() as fake, gateway_harness(
                fake, database_url=sqlite_url, providers=(), environ=environ, upstream_retries=1
            ) as h:
                for d in h.gateway.router.table.by_id.values():
                    d.provider.retry_wait = wait_none()
                yield h, upstreams[0], upstreams[1]
        finally:
            for runner in runners:
                await runner.cleanup()

    return serve


CLIENT_HEADERS = {"OpenAI-Beta": "assistants=v2", "Idempotency-Key": "key-123", "OpenAI-Organization": "org-client",
                  "OpenAI-Project": "proj_client", "Cookie": "session=secret", "x-api-key": "client-secret",
                  "x-synaxis-reasoning": "keep", "X-Custom": "private", "Accept-Encoding": "identity"}


@pytest.mark.parametrize("stream", [False, True])
async def test_the_allow_listed_headers_reach_the_upstream_and_the_clients_credentials_never_do(gateway, stream):
    async with gateway() as (h, first, _):
        reply = await h.openai().chat.completions.with_raw_response.create(
            model=MODEL, messages=MESSAGES, stream=stream, extra_headers=CLIENT_HEADERS
        )
        reply.parse()
        [seen] = first.seen
    assert seen["openai-beta"] == "assistants=v2" and seen["idempotency-key"] == "key-123"
    assert seen["authorization"] == f"Bearer {OPERATOR_KEY}"  # the operator's key, never the tenant's
    assert h.key not in json.dumps(seen)
    for never in ("cookie", "x-api-key", "x-synaxis-reasoning", "x-custom", "openai-organization", "openai-project"):
        assert never not in seen
    assert not any(name.startswith("x-stainless") for name in seen)  # the SDK's own telemetry stays here


async def test_the_account_headers_reach_only_a_provider_that_takes_them(gateway):
    async with gateway(accounts=True) as (h, first, _):
        client = h.openai(organization="org-client", project="proj_client")
        await client.chat.completions.create(model=MODEL, messages=MESSAGES)
    assert first.seen[0]["openai-organization"] == "org-client"
    assert first.seen[0]["openai-project"] == "proj_client"


@pytest.mark.parametrize("stream", [False, True])
async def test_the_idempotency_key_is_the_same_on_every_retry_and_on_the_failover(gateway, stream):
    async with gateway() as (h, first, second):
        first.status = 503
        reply = await h.openai().chat.completions.with_raw_response.create(
            model=MODEL, messages=MESSAGES, stream=stream, extra_headers={"Idempotency-Key": "order-42"}
        )
        reply.parse()
    assert reply.headers["x-synaxis-model"] == "second-model" and reply.headers["x-synaxis-attempts"] == "2"
    keys = [seen["idempotency-key"] for seen in first.seen + second.seen]
    assert len(first.seen) == 2 and len(second.seen) == 1  # a quick retry, then the failover
    assert keys == ["order-42"] * 3
    assert reply.headers["x-upstream-request-id"] == "second-1"  # the id of the upstream that answered


async def _chat(h, stream: bool):
    reply = await h.openai().chat.completions.with_raw_response.create(model=MODEL, messages=MESSAGES, stream=stream)
    reply.parse()
    return reply.headers


async def _messages(h, stream: bool):
    async with live_server(h.app) as url:  # the Anthropic SDK brings its own HTTP client: a real socket
        async with anthropic.AsyncAnthropic(base_url=url, api_key=h.key, max_retries=0) as client:
            reply = await client.messages.with_raw_response.create(
                model=MODEL, max_tokens=16, messages=MESSAGES, stream=stream
            )
            parsed = await reply.parse()
            if stream:
                assert [event.type async for event in parsed][-1] == "message_stop"
            else:
                assert parsed.content[0].text == "Hello"
            return reply.headers


async def _responses(h, stream: bool):
    reply = await h.openai().responses.with_raw_response.create(model=MODEL, input="Hi", stream=stream)
    reply.parse()
    return reply.headers


ROUTES = {"chat": _chat, "messages": _messages, "responses": _responses}


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("route", list(ROUTES))
async def test_every_answer_names_the_upstreams_request_id_and_not_the_operators_limits(gateway, route, stream):
    async with gateway() as (h, _, __):
        headers = await ROUTES[route](h, stream)
    assert headers["x-upstream-request-id"] == "first-1"
    assert len(headers["x-request-id"]) == 32  # Synaxis's own id stays the request id
    for name in OPERATOR_HEADERS:
        assert name not in headers


PATHS = {"chat": ("/v1/chat/completions", {"messages": MESSAGES}),
         "messages": ("/v1/messages", {"messages": MESSAGES, "max_tokens": 16}),
         "responses": ("/v1/responses", {"input": "Hi"})}


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("route", list(PATHS))
async def test_an_upstream_4xx_passed_on_carries_the_upstreams_request_id(gateway, route, stream):
    path, body = PATHS[route]
    async with gateway() as (h, first, second):
        first.status = 400
        response = await h.client.post(path, headers=h.auth(), json={"model": MODEL, "stream": stream, **body})
    assert response.status_code == 400 and not second.seen  # the request's own fault: not failed over
    assert response.headers["x-upstream-request-id"] == "first-1"
    assert response.headers["x-synaxis-model"] == "first-model"
    error = response.json()
    if route == "messages":
        assert error["type"] == "error" and "unsupported beta" in error["error"]["message"]
    else:
        assert error["error"]["code"] == "bad_beta"


BAD_VALUES = {"crlf": "a\r\nX-Injected: 1", "control": "a\x01b", "overlong": "k" * 257,
              "not ascii": "clé".encode("latin-1")}


@pytest.mark.parametrize("value", list(BAD_VALUES))
@pytest.mark.parametrize("route", list(PATHS))
async def test_a_header_value_that_cannot_be_passed_on_safely_is_a_400_in_the_dialects_shape(gateway, route, value):
    path, body = PATHS[route]
    async with gateway() as (h, first, _):
        headers = {**h.auth(), "idempotency-key": BAD_VALUES[value]}
        response = await h.client.post(path, headers=headers, json={"model": MODEL, **body})
    assert response.status_code == 400 and not first.seen
    error = response.json()
    if route == "messages":
        assert error["type"] == "error" and error["error"]["type"] == "invalid_request_error"
        message = error["error"]["message"]
    else:
        assert error["error"]["param"] == "Idempotency-Key" and error["error"]["code"] == "invalid_header"
        message = error["error"]["message"]
    assert "Idempotency-Key" in message and "256 printable ASCII" in message
    assert "X-Injected" not in message


async def test_a_value_of_the_longest_allowed_length_is_passed_on_whole(gateway):
    async with gateway() as (h, first, _):
        await h.openai().chat.completions.create(model=MODEL, messages=MESSAGES,
                                                 extra_headers={"OpenAI-Beta": "b" * 256})
    assert first.seen[0]["openai-beta"] == "b" * 256
