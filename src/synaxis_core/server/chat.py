"""``POST /v1/chat/completions``: decode, call the pipeline, encode.

``ChatEndpoint`` is a plain ASGI app (see ``server.asgi`` for why): ``GatewayApp``
sends every request for the path straight to it. It reads the headers it needs,
authenticates from memory, decodes the body once (``server.request``) and hands a
``ChatRequest`` to the pipeline (``runtime.pipeline``), which does everything else;
then it writes the answer as JSON or as server-sent events. No database query and no
blocking call happen here.
"""

from __future__ import annotations

import logging
from typing import AsyncIterator

import msgspec

from synaxis_core.errors import InvalidRequest, SynaxisError, UpstreamError
from synaxis_core.runtime.accounting import new_request_id
from synaxis_core.runtime.gateway import Gateway
from synaxis_core.runtime.pipeline import ChunkStream
from synaxis_core.server.asgi import (
    ClientDisconnected,
    RawHeaders,
    Receive,
    Scope,
    Send,
    check_header_size,
    read_body,
    send_bytes,
    send_stream,
)
from synaxis_core.server.errors import REQUEST_ID_HEADER, InternalError, send_error
from synaxis_core.server.request import decode_chat_request
from synaxis_core.sse import DONE_EVENT, encode_event

log = logging.getLogger("synaxis.server")
CHAT_PATH = "/v1/chat/completions"
REASONING_MODES = ("separate", "strip", "keep")
_encode = msgspec.json.encode
_JSON = (b"content-type", b"application/json")
_SSE = [(b"content-type", b"text/event-stream"), (b"cache-control", b"no-cache")]
_REQUEST_ID = REQUEST_ID_HEADER.encode()


def _headers(gateway: Gateway, provider: str, model: str, attempts: int, request_id: str) -> RawHeaders:
    headers = [(b"x-synaxis-provider", provider.encode()), (b"x-synaxis-model", model.encode()),
               (b"x-synaxis-attempts", str(attempts).encode()), (_REQUEST_ID, request_id.encode())]
    if gateway.demo:
        headers.append((b"x-synaxis-demo", b"true"))
    return headers


def _reasoning_mode(header: str | None, default: str) -> str:
    if header is None:
        return default
    mode = header.strip().lower()
    if mode not in REASONING_MODES:
        raise InvalidRequest(f"x-synaxis-reasoning must be one of {', '.join(REASONING_MODES)}, got {header!r}")
    return mode


def _check_content_type(value: str | None) -> None:
    """JSON bodies only. Unlabelled and form-labelled bodies (``curl -d``) are parsed as
    JSON; a body that declares another format (multipart, XML...) gets 415."""
    if value:
        kind = value.split(";", 1)[0].strip().lower()
        if "json" not in kind and kind not in ("application/x-www-form-urlencoded", "text/plain", ""):
            raise InvalidRequest(
                f"Content-Type must be application/json, got {value!r}", status=415, code="unsupported_media_type"
            )


_READ = frozenset((b"authorization", b"content-type", b"content-length", b"x-synaxis-reasoning"))


def _request_headers(raw: RawHeaders) -> dict[str, str]:
    """The request headers the route reads (names are lower case in ASGI)."""
    check_header_size(raw)
    return {name.decode("latin-1"): value.decode("latin-1") for name, value in raw if name in _READ}


class ChatEndpoint:
    """The ASGI app of ``POST /v1/chat/completions`` (OpenAI-compatible, streaming or not).

    Every failure is answered by the one error writer (``server.errors``); the gateway
    is ``state.gateway``, set when the app's lifespan has opened it.
    """

    def __init__(self, state: object) -> None:
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request_id = new_request_id()
        try:
            if scope["method"] != "POST":
                raise InvalidRequest(f"Method {scope['method']} is not allowed on {CHAT_PATH}",
                                     status=405, code="method_not_allowed")
            await _serve(self.state.gateway, request_id, scope, receive, send)  # type: ignore[attr-defined]
        except ClientDisconnected:
            return
        except SynaxisError as exc:
            await send_error(send, exc, request_id)
        except Exception:
            log.exception("unexpected error on POST %s", CHAT_PATH)
            await send_error(send, InternalError(), request_id)


async def _serve(gateway: Gateway, request_id: str, scope: Scope, receive: Receive, send: Send) -> None:
    headers = _request_headers(scope["headers"])
    tenant = gateway.authenticate(headers.get("authorization"))
    try:
        _check_content_type(headers.get("content-type"))
        length = headers.get("content-length")
        raw = await read_body(receive, gateway.settings.max_body_bytes, int(length) if length and length.isdigit() else None)
        mode = _reasoning_mode(headers.get("x-synaxis-reasoning"), gateway.settings.reasoning_mode)
        request = decode_chat_request(raw, mode)
    except SynaxisError as exc:  # an unreadable request is still one ledger row
        await gateway.pipeline.reject(tenant, request_id, exc)
        raise
    if not request.stream:
        answer = await gateway.pipeline.complete(tenant, request, request_id)
        d = answer.deployment
        await send_bytes(send, 200, [_JSON, *_headers(gateway, d.provider_name, d.id, answer.attempts, request_id)],
                         _encode(answer.response))
        return
    stream = await gateway.pipeline.stream(tenant, request, request_id)
    d = stream.deployment
    try:
        await send_stream(send, receive, [*_SSE, *_headers(gateway, d.provider_name, d.id, stream.attempts, request_id)],
                          _events(stream, request.include_usage))
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
