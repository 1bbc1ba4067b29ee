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
from typing import Any, AsyncIterator

import msgspec

from synaxis_core.dialects.responses import ResponseShell, StreamTranslator, to_chat_request, to_response
from synaxis_core.errors import UpstreamError
from synaxis_core.runtime.gateway import Gateway
from synaxis_core.runtime.answer import ChunkStream
from synaxis_core.server.asgi import RawHeaders, Receive, Scope, Send
from synaxis_core.server.edge import (
    HotEndpoint,
    read_dialect_request,
    send_dialect_answer,
)
from synaxis_core.server.request import MAX_OUTPUT_ESTIMATE
from synaxis_core.types import ChatRequest
from synaxis_core.sse import encode_event

RESPONSES_PATH = "/v1/responses"
DIALECT = "responses"
_encode = msgspec.json.encode


class ResponsesEndpoint(HotEndpoint):
    """The ASGI app of ``POST /v1/responses`` (streaming or not; stateless)."""

    path = RESPONSES_PATH

    async def serve(self, gateway: Gateway, request_id: str, scope: Scope, receive: Receive, send: Send) -> None:
        def translate(body: dict[str, Any], mode: str) -> tuple[ChatRequest, ResponseShell]:
            return to_chat_request(body, response_id=f"resp_{request_id}", created_at=int(time.time()),
                                   reasoning_mode=mode, max_output_limit=MAX_OUTPUT_ESTIMATE)

        tenant, request, shell = await read_dialect_request(
            gateway, request_id, scope, receive, dialect=DIALECT, expected="`model` and `input`", translate=translate
        )
        await send_dialect_answer(
            gateway, tenant, request, request_id, receive, send,
            encode=lambda response: _encode(to_response(response, shell)),
            events=lambda stream: _events(stream, StreamTranslator(shell)), extra=_warnings(shell),
        )

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
