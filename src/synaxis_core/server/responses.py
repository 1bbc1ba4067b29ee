"""``POST /v1/responses``: the OpenAI Responses dialect, served by the one pipeline.

Read and decode like every hot path (``server.edge``), translate the request into the
pipeline's chat terms (``dialects.responses``), call the pipeline, and translate its
answer back: a Response object as JSON, or named SSE events (``event: response.*``)
ending with ``response.completed`` — or, when the upstream stream broke after it started,
an ``error`` event and ``response.failed``.

Hosted tools the request named (web search...) are dropped: the answer says so in
``x-synaxis-warning``.
"""

from __future__ import annotations

import time
from typing import AsyncIterator

import msgspec

from synaxis_core.dialects.responses import ResponseShell, StreamTranslator, to_chat_request, to_response
from synaxis_core.errors import SynaxisError, UpstreamError
from synaxis_core.runtime.gateway import Gateway
from synaxis_core.runtime.pipeline import ChunkStream
from synaxis_core.server.asgi import RawHeaders, Receive, Scope, Send, send_bytes, send_stream
from synaxis_core.server.edge import (
    JSON_HEADER,
    SSE_HEADERS,
    HotEndpoint,
    READ_HEADERS,
    answer_headers,
    decode_json_object,
    read_json_body,
    reasoning_mode,
    request_headers,
    request_options,
)
from synaxis_core.server.request import MAX_OUTPUT_ESTIMATE
from synaxis_core.sse import encode_event

RESPONSES_PATH = "/v1/responses"
DIALECT = "responses"
_encode = msgspec.json.encode


class ResponsesEndpoint(HotEndpoint):
    """The ASGI app of ``POST /v1/responses`` (streaming or not; stateless)."""

    path = RESPONSES_PATH

    async def serve(self, gateway: Gateway, request_id: str, scope: Scope, receive: Receive, send: Send) -> None:
        headers = request_headers(scope["headers"], READ_HEADERS)
        tenant = gateway.authenticate(headers.get("authorization"))
        try:
            raw = await read_json_body(receive, headers, gateway.settings.max_body_bytes)
            mode = reasoning_mode(headers.get("x-synaxis-reasoning"), gateway.settings.reasoning_mode)
            request, shell = to_chat_request(
                decode_json_object(raw, "`model` and `input`"), response_id=f"resp_{request_id}",
                created_at=int(time.time()), reasoning_mode=mode, max_output_limit=MAX_OUTPUT_ESTIMATE,
            )
            request_options(request, headers)
        except SynaxisError as exc:  # an unreadable request is still one ledger row
            await gateway.pipeline.reject(tenant, request_id, exc, dialect=DIALECT)
            raise
        if not request.stream:
            answer = await gateway.pipeline.complete(tenant, request, request_id)
            out = [JSON_HEADER, *answer_headers(gateway, answer, request_id)]
            await send_bytes(send, 200, [*out, *_warnings(shell)], _encode(to_response(answer.response, shell)))
            return
        stream = await gateway.pipeline.stream(tenant, request, request_id)
        out = [*SSE_HEADERS, *answer_headers(gateway, stream, request_id)]
        try:
            await send_stream(send, receive, [*out, *_warnings(shell)], _events(stream, StreamTranslator(shell)))
        finally:
            await stream.aclose()


def _warnings(shell: ResponseShell) -> RawHeaders:
    if not shell.dropped_tools:
        return []
    kinds = ", ".join(dict.fromkeys(shell.dropped_tools))
    return [(b"x-synaxis-warning", f"hosted tools dropped: {kinds} (Synaxis runs no hosted tools)".encode())]


async def _events(stream: ChunkStream, translator: StreamTranslator) -> AsyncIterator[bytes]:
    """The SSE body: each chunk's events in one write."""
    try:
        async for chunk in stream:
            events = translator.feed(chunk)
            if events:
                yield b"".join(encode_event(data, event=name) for name, data in events)
        events = translator.finish()
    except UpstreamError as exc:
        events = translator.fail(f"The upstream stream failed after it started: {exc.message}")
    yield b"".join(encode_event(data, event=name) for name, data in events)
