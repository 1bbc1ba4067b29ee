"""``POST /v1/completions``: the legacy OpenAI completions dialect, served by the one pipeline.

Read and decode like every hot path (``server.edge``), translate the request into the
pipeline's chat terms (``dialects.completions``: the prompt as one user message), call the
pipeline, and translate its answer back: a ``text_completion`` as JSON, or ``data:``
chunks of the same shape ending with ``data: [DONE]`` — or, when the upstream stream broke
after it started, an error event, as chat completions do.
"""

from __future__ import annotations

import time
from typing import Any, AsyncIterator

import msgspec

from synaxis_core.dialects.completions import DIALECT, CompletionShell, StreamTranslator, to_chat_request, to_completion
from synaxis_core.errors import UpstreamError
from synaxis_core.runtime.gateway import Gateway
from synaxis_core.runtime.answer import ChunkStream
from synaxis_core.server.asgi import Receive, Scope, Send
from synaxis_core.server.edge import (
    HotEndpoint,
    read_dialect_request,
    send_dialect_answer,
)
from synaxis_core.server.request import MAX_OUTPUT_ESTIMATE
from synaxis_core.types import ChatRequest
from synaxis_core.sse import DONE_EVENT, encode_event

COMPLETIONS_PATH = "/v1/completions"
_encode = msgspec.json.encode


class CompletionsEndpoint(HotEndpoint):
    """The ASGI app of ``POST /v1/completions`` (streaming or not)."""

    path = COMPLETIONS_PATH

    async def serve(self, gateway: Gateway, request_id: str, scope: Scope, receive: Receive, send: Send) -> None:
        def translate(body: dict[str, Any], mode: str) -> tuple[ChatRequest, CompletionShell]:
            return to_chat_request(body, completion_id=f"cmpl-{request_id}", created=int(time.time()),
                                   reasoning_mode=mode, max_output_limit=MAX_OUTPUT_ESTIMATE)

        tenant, request, shell = await read_dialect_request(
            gateway, request_id, scope, receive, dialect=DIALECT, expected="`model` and `prompt`", translate=translate
        )
        await send_dialect_answer(
            gateway, tenant, request, request_id, receive, send,
            encode=lambda response: _encode(to_completion(response, shell)),
            events=lambda stream: _events(stream, StreamTranslator(shell)),
        )

async def _events(stream: ChunkStream, translator: StreamTranslator) -> AsyncIterator[bytes]:
    """The SSE body: each chunk's ``text_completion`` chunks in one write, then ``[DONE]``.
    A failure after the first byte ends the stream with an error event."""
    try:
        async for chunk in stream:
            chunks = translator.feed(chunk)
            if chunks:
                yield b"".join(map(encode_event, chunks))
        yield b"".join(map(encode_event, translator.finish())) + DONE_EVENT
    except UpstreamError as exc:
        yield encode_event({"error": {"message": f"The upstream stream failed after it started: {exc.message}",
                                      "type": "upstream_error", "param": None, "code": exc.code}})
