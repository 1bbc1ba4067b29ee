"""``POST /v1/completions``: the legacy OpenAI completions dialect, served by the one pipeline.

Read and decode like every hot path (``server.edge``), translate the request into the
pipeline's chat terms (``dialects.completions``: the prompt as one user message), call the
pipeline, and translate its answer back: a ``text_completion`` as JSON, or ``data:``
chunks of the same shape ending with ``data: [DONE]`` — or, when the upstream stream broke
after it started, an error event, as chat completions do.
"""

from __future__ import annotations

import time
from typing import AsyncIterator

import msgspec

from synaxis_core.dialects.completions import DIALECT, StreamTranslator, to_chat_request, to_completion
from synaxis_core.errors import SynaxisError, UpstreamError
from synaxis_core.runtime.gateway import Gateway
from synaxis_core.runtime.pipeline import ChunkStream
from synaxis_core.server.asgi import Receive, Scope, Send, send_bytes, send_stream
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
from synaxis_core.sse import DONE_EVENT, encode_event

COMPLETIONS_PATH = "/v1/completions"
_encode = msgspec.json.encode


class CompletionsEndpoint(HotEndpoint):
    """The ASGI app of ``POST /v1/completions`` (streaming or not)."""

    path = COMPLETIONS_PATH

    async def serve(self, gateway: Gateway, request_id: str, scope: Scope, receive: Receive, send: Send) -> None:
        headers = request_headers(scope["headers"], READ_HEADERS)
        tenant = gateway.authenticate(headers.get("authorization"))
        try:
            raw = await read_json_body(receive, headers, gateway.settings.max_body_bytes)
            mode = reasoning_mode(headers.get("x-synaxis-reasoning"), gateway.settings.reasoning_mode)
            request, shell = to_chat_request(
                decode_json_object(raw, "`model` and `prompt`"), completion_id=f"cmpl-{request_id}",
                created=int(time.time()), reasoning_mode=mode, max_output_limit=MAX_OUTPUT_ESTIMATE,
            )
            request_options(request, headers)
        except SynaxisError as exc:  # an unreadable request is still one ledger row
            await gateway.pipeline.reject(tenant, request_id, exc, dialect=DIALECT)
            raise
        if not request.stream:
            answer = await gateway.pipeline.complete(tenant, request, request_id)
            out = [JSON_HEADER, *answer_headers(gateway, answer, request_id)]
            await send_bytes(send, 200, out, _encode(to_completion(answer.response, shell)))
            return
        stream = await gateway.pipeline.stream(tenant, request, request_id)
        out = [*SSE_HEADERS, *answer_headers(gateway, stream, request_id)]
        try:
            await send_stream(send, receive, out, _events(stream, StreamTranslator(shell)))
        finally:
            await stream.aclose()


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
