"""What every hot-path endpoint does the same way, whatever API dialect it speaks.

``HotEndpoint`` is the plain ASGI shell (see ``server.asgi``): a request id, the
method check, and every failure answered by the one error writer in the dialect's
shape. The helpers read the headers a route needs, the JSON body within the body limit,
the ``x-synaxis-reasoning`` header, the per-request options every hot route reads
(``x-synaxis-cache``, ``x-synaxis-cache-ttl``, ``traceparent``, and the client headers that
go upstream: ``request_options``, ``forwarded_headers``), and write the headers of an
answer (``answer_headers``: ``x-synaxis-*``, ``x-request-id``, ``x-upstream-request-id``).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, AsyncIterator, Callable, TypeVar

import msgspec

from synaxis_core.errors import InvalidRequest, SynaxisError
from synaxis_core.runtime.accounting import new_request_id
from synaxis_core.runtime.gateway import Gateway
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
from synaxis_core.server.errors import (
    REQUEST_ID_HEADER,
    UPSTREAM_REQUEST_ID_HEADER,
    ErrorShape,
    InternalError,
    openai_shape,
    send_error,
)

if TYPE_CHECKING:
    from synaxis_core.runtime.answer import Answer, ChunkStream
    from synaxis_core.tenants import TenantInfo
    from synaxis_core.types import ChatRequest, EmbeddingRequest

log = logging.getLogger("synaxis.server")
REASONING_MODES = ("separate", "strip", "keep")
JSON_HEADER = (b"content-type", b"application/json")
SSE_HEADERS = [(b"content-type", b"text/event-stream"), (b"cache-control", b"no-cache")]
_REQUEST_ID = REQUEST_ID_HEADER.encode()
UPSTREAM_REQUEST_ID = UPSTREAM_REQUEST_ID_HEADER.encode()
CACHE_MODES = ("on", "off", "force")
MAX_CACHE_TTL_S = 30 * 86400
FORWARDED_HEADERS = {"openai-beta": "OpenAI-Beta", "idempotency-key": "Idempotency-Key",
                     "openai-organization": "OpenAI-Organization", "openai-project": "OpenAI-Project"}
"""The client headers that may reach the upstream (name: how it is written), the same on
every attempt; the two account headers only at a provider that takes them
(``providers.headers``). No other header of the client's is ever sent upstream."""
MAX_FORWARDED_VALUE = 256
"""Characters a forwarded header's value may have (printable ASCII only)."""
OPTION_HEADERS = frozenset((b"x-synaxis-cache", b"x-synaxis-cache-ttl", b"traceparent", b"tracestate")) | frozenset(
    name.encode() for name in FORWARDED_HEADERS
)
"""The headers ``request_options`` reads: every hot route adds them to the ones it reads."""
READ_HEADERS = frozenset((b"authorization", b"content-type", b"content-length", b"x-synaxis-reasoning")) | OPTION_HEADERS
"""What a hot route reads of a request's headers (a dialect may add its own)."""
_decoder = msgspec.json.Decoder()


class HotEndpoint:
    """The ASGI app of one hot path: ``serve`` does the work; a ``SynaxisError`` it raises
    becomes the answer (``error_shape``), anything else a logged 500. The gateway is
    ``state.gateway``, set when the app's lifespan has opened it."""

    path = ""
    error_shape: ErrorShape = staticmethod(openai_shape)

    def __init__(self, state: object) -> None:
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request_id = new_request_id()
        try:
            if scope["method"] != "POST":
                raise InvalidRequest(f"Method {scope['method']} is not allowed on {self.path}",
                                     status=405, code="method_not_allowed")
            await self.serve(self.state.gateway, request_id, scope, receive, send)  # type: ignore[attr-defined]
        except ClientDisconnected:
            return
        except SynaxisError as exc:
            await send_error(send, exc, request_id, shape=self.error_shape)
        except Exception:
            log.exception("unexpected error on POST %s", self.path)
            await send_error(send, InternalError(), request_id, shape=self.error_shape)

    async def serve(self, gateway: Gateway, request_id: str, scope: Scope, receive: Receive, send: Send) -> None:
        raise NotImplementedError


def request_headers(raw: RawHeaders, names: frozenset[bytes]) -> dict[str, str]:
    """The request headers among ``names`` (lower case, as in ASGI)."""
    check_header_size(raw)
    return {name.decode("latin-1"): value.decode("latin-1") for name, value in raw if name in names}


def check_content_type(value: str | None) -> None:
    """JSON bodies only. Unlabelled and form-labelled bodies (``curl -d``) are parsed as
    JSON; a body that declares another format (multipart, XML...) gets 415."""
    if value:
        kind = value.split(";", 1)[0].strip().lower()
        if "json" not in kind and kind not in ("application/x-www-form-urlencoded", "text/plain", ""):
            raise InvalidRequest(
                f"Content-Type must be application/json, got {value!r}", status=415, code="unsupported_media_type"
            )


async def read_json_body(receive: Receive, headers: dict[str, str], limit: int) -> bytes:
    """The raw body of a JSON request (``content-type`` and ``content-length`` read from
    ``headers``), at most ``limit`` bytes."""
    check_content_type(headers.get("content-type"))
    length = headers.get("content-length")
    return await read_body(receive, limit, int(length) if length and length.isdigit() else None)


def decode_json_object(raw: bytes, expected: str) -> dict:
    """``raw`` as a JSON object; ``expected`` says what it should hold (for the 400)."""
    if not raw:
        raise InvalidRequest(f"The request body is empty; send a JSON object with {expected}")
    try:
        body = _decoder.decode(raw)
    except msgspec.DecodeError as exc:
        raise InvalidRequest(f"The request body is not valid JSON: {exc}") from None
    except UnicodeDecodeError:  # msgspec raises it (not DecodeError) for invalid UTF-8
        raise InvalidRequest("The request body is not valid UTF-8 JSON") from None
    except RecursionError:
        raise InvalidRequest("The request body is nested too deeply") from None
    if not isinstance(body, dict):
        raise InvalidRequest(f"The request body must be a JSON object with {expected}")
    return body


def reasoning_mode(header: str | None, default: str) -> str:
    """The ``x-synaxis-reasoning`` header's mode, else ``default``."""
    if header is None:
        return default
    mode = header.strip().lower()
    if mode not in REASONING_MODES:
        raise InvalidRequest(f"x-synaxis-reasoning must be one of {', '.join(REASONING_MODES)}, got {header!r}")
    return mode


def call_options(request: ChatRequest | EmbeddingRequest, headers: dict[str, str]) -> None:
    """What every request takes from ``headers``: the trace context (``traceparent``,
    ``tracestate``) and the client headers that go upstream (``forwarded_headers``; a
    malformed one is a 400)."""
    request.traceparent = headers.get("traceparent")
    request.tracestate = headers.get("tracestate")
    request.upstream_headers = forwarded_headers(headers)


def request_options(request: ChatRequest, headers: dict[str, str]) -> ChatRequest:
    """The per-request options of ``headers`` on a chat ``request``: the response cache
    (``x-synaxis-cache: on|off|force``, ``x-synaxis-cache-ttl: SECONDS``), then
    ``call_options``. A malformed cache or forwarded header is a 400."""
    mode = headers.get("x-synaxis-cache")
    if mode is not None:
        mode = mode.strip().lower()
        if mode not in CACHE_MODES:
            raise InvalidRequest(f"x-synaxis-cache must be one of {', '.join(CACHE_MODES)}, got {headers['x-synaxis-cache']!r}")
        request.cache = mode
    ttl = headers.get("x-synaxis-cache-ttl")
    if ttl is not None:
        ttl = ttl.strip()
        if not ttl.isdigit() or not 1 <= int(ttl) <= MAX_CACHE_TTL_S:
            raise InvalidRequest(f"x-synaxis-cache-ttl must be whole seconds from 1 to {MAX_CACHE_TTL_S}, got {ttl!r}")
        request.cache_ttl_s = int(ttl)
    call_options(request, headers)
    return request


def forwarded_headers(headers: dict[str, str]) -> dict[str, str] | None:
    """The ``FORWARDED_HEADERS`` among ``headers`` (None: none sent). A value longer than
    ``MAX_FORWARDED_VALUE`` or with anything but printable ASCII (CR, LF, any control
    character) is a 400: never passed on, never cut."""
    if headers.keys().isdisjoint(FORWARDED_HEADERS):  # the usual request: none of them
        return None
    forwarded = None
    for name, shown in FORWARDED_HEADERS.items():
        value = headers.get(name)
        if value:
            if len(value) > MAX_FORWARDED_VALUE or not (value.isascii() and value.isprintable()):
                raise InvalidRequest(
                    f"The {shown} header must be at most {MAX_FORWARDED_VALUE} printable ASCII characters, "
                    f"without CR, LF or other control characters (got {len(value)} characters)",
                    param=shown, code="invalid_header",
                )
            if forwarded is None:
                forwarded = {}
            forwarded[name] = value
    return forwarded


def answer_headers(gateway: Gateway, answer: Answer | ChunkStream, request_id: str) -> RawHeaders:
    """Where an answer went: ``x-synaxis-provider``, ``-model``, ``-attempts`` (0 for a
    cached answer), ``x-synaxis-cache`` (``hit`` or ``miss``), the request id, and the
    answering upstream's own (``x-upstream-request-id``) when it sent one."""
    d = answer.deployment
    headers = [(b"x-synaxis-provider", d.provider_name.encode()), (b"x-synaxis-model", d.id.encode()),
               (b"x-synaxis-attempts", str(answer.attempts).encode()), (b"x-synaxis-cache", answer.cache.encode()),
               (_REQUEST_ID, request_id.encode())]
    upstream_id = answer.upstream_request_id
    if upstream_id is not None:
        headers.append((UPSTREAM_REQUEST_ID, upstream_id.encode()))
    if gateway.demo:
        headers.append((b"x-synaxis-demo", b"true"))
    return headers


Shell = TypeVar("Shell")


async def read_dialect_request(
    gateway: Gateway, request_id: str, scope: Scope, receive: Receive, *, dialect: str, expected: str,
    translate: Callable[[dict[str, Any], str], tuple[ChatRequest, Shell]],
    names: frozenset[bytes] = READ_HEADERS, authorization: Callable[[dict[str, str]], str | None] | None = None,
) -> tuple[TenantInfo, ChatRequest, Shell]:
    """The front half of a dialect's hot route: the tenant from the key (``authorization``
    finds it, ``Authorization`` by default), the body within the limit, decoded (a JSON
    object with ``expected``), ``translate(body, reasoning mode)`` into a chat request and
    the dialect's shell of the answer, and the per-request options. A request that cannot
    be read is still one ledger row (``dialect``) before its error is raised."""
    headers = request_headers(scope["headers"], names)
    tenant = gateway.authenticate(authorization(headers) if authorization else headers.get("authorization"))
    try:
        raw = await read_json_body(receive, headers, gateway.settings.max_body_bytes)
        mode = reasoning_mode(headers.get("x-synaxis-reasoning"), gateway.settings.reasoning_mode)
        request, shell = translate(decode_json_object(raw, expected), mode)
        request_options(request, headers)
    except SynaxisError as exc:
        await gateway.pipeline.reject(tenant, request_id, exc, dialect=dialect)
        raise
    return tenant, request, shell


async def send_dialect_answer(
    gateway: Gateway, tenant: TenantInfo, request: ChatRequest, request_id: str, receive: Receive, send: Send, *,
    encode: Callable[[dict[str, Any]], bytes], events: Callable[[ChunkStream], AsyncIterator[bytes]],
    extra: RawHeaders = (),  # type: ignore[assignment]
) -> None:
    """The back half: the pipeline's whole answer as ``encode(response)`` (JSON), or with
    ``stream: true`` its chunk stream as ``events(stream)`` (SSE); ``extra`` headers on both."""
    if not request.stream:
        answer = await gateway.pipeline.complete(tenant, request, request_id)
        headers = [JSON_HEADER, *answer_headers(gateway, answer, request_id), *extra]
        await send_bytes(send, 200, headers, encode(answer.response))
        return
    stream = await gateway.pipeline.stream(tenant, request, request_id)
    headers = [*SSE_HEADERS, *answer_headers(gateway, stream, request_id), *extra]
    try:
        await send_stream(send, receive, headers, events(stream))
    finally:
        await stream.aclose()
