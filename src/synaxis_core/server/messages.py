"""``POST /v1/messages`` and ``POST /v1/messages/count_tokens``: the Anthropic Messages API.

Plain ASGI endpoints like ``server.chat``: the key (``x-api-key`` or ``Authorization:
Bearer``), the body within the limit, the translation to the pipeline's chat request
(``dialects.anthropic``), then the pipeline's answer or chunk stream translated back
into a message or Anthropic's named events. ``anthropic-version``, ``anthropic-beta``
and the ``?beta=true`` query are accepted and not needed. Errors are Anthropic-shaped.
"""

from __future__ import annotations

from typing import Any, AsyncIterator

import msgspec

from synaxis_core.dialects.anthropic import (
    DIALECT,
    StreamTranslator,
    anthropic_error_shape,
    count_tokens,
    error_body,
    to_message,
    translate_request,
)
from synaxis_core.errors import UpstreamError
from synaxis_core.runtime.gateway import Gateway
from synaxis_core.runtime.answer import ChunkStream
from synaxis_core.server.asgi import Receive, Scope, Send, send_bytes
from synaxis_core.server.edge import (
    JSON_HEADER,
    READ_HEADERS,
    HotEndpoint,
    decode_json_object,
    read_dialect_request,
    read_json_body,
    request_headers,
    send_dialect_answer,
)
from synaxis_core.server.errors import REQUEST_ID_HEADER
from synaxis_core.server.request import MAX_OUTPUT_ESTIMATE
from synaxis_core.sse import encode_event

MESSAGES_PATH = "/v1/messages"
COUNT_TOKENS_PATH = "/v1/messages/count_tokens"
EXPECTED = "`model`, `max_tokens` and `messages`"
_encode = msgspec.json.encode
_READ = READ_HEADERS | {b"x-api-key"}  # Anthropic's SDKs send the key there
_X_REQUEST_ID = REQUEST_ID_HEADER.encode()


def _authorization(headers: dict[str, str]) -> str | None:
    """The key as ``Authorization: Bearer``: ``x-api-key`` (Anthropic's SDK) first."""
    key = headers.get("x-api-key", "").strip()
    return f"Bearer {key}" if key else headers.get("authorization")


class AnthropicEndpoint(HotEndpoint):
    """A route of the Messages dialect: errors in Anthropic's shape, and the request id
    also in ``request-id``, where Anthropic's SDKs read it (``message._request_id``)."""

    error_shape = staticmethod(anthropic_error_shape)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def sending(message: Any) -> None:
            if message["type"] == "http.response.start":
                headers = message.get("headers") or []
                request_id = next((value for name, value in headers if name == _X_REQUEST_ID), None)
                if request_id is not None:
                    message["headers"] = [*headers, (b"request-id", request_id)]
            await send(message)

        await super().__call__(scope, receive, sending)  # type: ignore[arg-type]


class MessagesEndpoint(AnthropicEndpoint):
    """``POST /v1/messages``: a message, or with ``stream: true`` its events."""

    path = MESSAGES_PATH

    async def serve(self, gateway: Gateway, request_id: str, scope: Scope, receive: Receive, send: Send) -> None:
        tenant, request, _ = await read_dialect_request(
            gateway, request_id, scope, receive, dialect=DIALECT, expected=EXPECTED, names=_READ,
            authorization=_authorization,
            translate=lambda body, mode: (translate_request(body, mode, MAX_OUTPUT_ESTIMATE), None),
        )
        message_id = f"msg_{request_id}"
        await send_dialect_answer(
            gateway, tenant, request, request_id, receive, send,
            encode=lambda response: _encode(to_message(response, request, message_id)),
            events=lambda stream: _events(stream, StreamTranslator(request, message_id)),
        )

async def _events(stream: ChunkStream, translator: StreamTranslator) -> AsyncIterator[bytes]:
    """The SSE body, each chunk's events in one write. A failure after the first byte ends
    the stream with an ``error`` event."""
    try:
        async for chunk in stream:
            events = translator.feed(chunk)
            if events:
                yield b"".join(encode_event(data, event=name) for name, data in events)
        events = translator.finish()
    except UpstreamError as exc:
        events = [("error", error_body(exc.status, f"The upstream stream failed after it started: {exc.message}"))]
    yield b"".join(encode_event(data, event=name) for name, data in events)


class CountTokensEndpoint(AnthropicEndpoint):
    """``POST /v1/messages/count_tokens``: Synaxis's estimate, no upstream call, no ledger row."""

    path = COUNT_TOKENS_PATH

    async def serve(self, gateway: Gateway, request_id: str, scope: Scope, receive: Receive, send: Send) -> None:
        headers = request_headers(scope["headers"], _READ)
        gateway.authenticate(_authorization(headers))
        raw = await read_json_body(receive, headers, gateway.settings.max_body_bytes)
        answer = count_tokens(decode_json_object(raw, "`model` and `messages`"))
        await send_bytes(send, 200, [JSON_HEADER, (REQUEST_ID_HEADER.encode(), request_id.encode())], _encode(answer))
