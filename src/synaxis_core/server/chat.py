"""``POST /v1/chat/completions``: decode, call the pipeline, encode.

``ChatEndpoint`` is a plain ASGI app (see ``server.asgi`` for why): ``GatewayApp``
sends every request for the path straight to it. It reads the headers it needs,
authenticates from memory, decodes the body once (``server.request``) and hands a
``ChatRequest`` to the pipeline (``runtime.pipeline``), which does everything else;
then it writes the answer as JSON or as server-sent events. No database query and no
blocking call happen here.
"""

from __future__ import annotations

from typing import AsyncIterator

import msgspec

from synaxis_core.errors import SynaxisError, UpstreamError
from synaxis_core.runtime.gateway import Gateway
from synaxis_core.runtime.answer import ChunkStream
from synaxis_core.server.asgi import Receive, Scope, Send, send_bytes, send_stream
from synaxis_core.server.edge import (
    JSON_HEADER,
    SSE_HEADERS,
    HotEndpoint,
    READ_HEADERS,
    answer_headers,
    read_json_body,
    reasoning_mode,
    request_headers,
    request_options,
)
from synaxis_core.server.request import decode_chat_request
from synaxis_core.sse import DONE_EVENT, encode_event

CHAT_PATH = "/v1/chat/completions"
_encode = msgspec.json.encode


class ChatEndpoint(HotEndpoint):
    """The ASGI app of ``POST /v1/chat/completions`` (OpenAI-compatible, streaming or not)."""

    path = CHAT_PATH

    async def serve(self, gateway: Gateway, request_id: str, scope: Scope, receive: Receive, send: Send) -> None:
        headers = request_headers(scope["headers"], READ_HEADERS)
        tenant = gateway.authenticate(headers.get("authorization"))
        try:
            raw = await read_json_body(receive, headers, gateway.settings.max_body_bytes)
            mode = reasoning_mode(headers.get("x-synaxis-reasoning"), gateway.settings.reasoning_mode)
            request = request_options(decode_chat_request(raw, mode), headers)
        except SynaxisError as exc:  # an unreadable request is still one ledger row
            await gateway.pipeline.reject(tenant, request_id, exc)
            raise
        if not request.stream:
            answer = await gateway.pipeline.complete(tenant, request, request_id)
            headers_out = [JSON_HEADER, *answer_headers(gateway, answer, request_id)]
            await send_bytes(send, 200, headers_out, _encode(answer.response))
            return
        stream = await gateway.pipeline.stream(tenant, request, request_id)
        headers_out = [*SSE_HEADERS, *answer_headers(gateway, stream, request_id)]
        try:
            await send_stream(send, receive, headers_out, _events(stream, request.include_usage))
        finally:
            await stream.aclose()


async def _events(stream: ChunkStream, client_wants_usage: bool) -> AsyncIterator[bytes]:
    """The SSE body. A failure after the first byte ends the stream with an error event."""
    try:
        async for chunk in stream:
            if not client_wants_usage:
                if not chunk.get("choices") and chunk.get("usage"):
                    continue  # the usage chunk the pipeline asked for on the ledger's behalf
                chunk.pop("usage", None)
            yield encode_event(chunk)
        yield DONE_EVENT
    except UpstreamError as exc:
        yield encode_event({"error": {"message": f"The upstream stream failed after it started: {exc.message}",
                                      "type": "upstream_error", "param": None, "code": exc.code}})
