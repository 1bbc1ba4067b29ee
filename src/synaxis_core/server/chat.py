"""``POST /v1/chat/completions``: the hot path.

Decode once, authenticate from memory, check the tenant's limits, plan, call with
failover, post-process, account. No database query and no blocking call happen here.

``ChatEndpoint`` is a plain ASGI app (see ``server.asgi`` for why): ``GatewayApp``
sends ``POST /v1/chat/completions`` straight to it, and the Litestar route of the same
path (which documents it in ``/schema`` and answers other methods with 405) hands the
request to it as well.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any, AsyncIterator

import msgspec
from litestar import Request, post
from litestar.datastructures import State
from litestar.types import ASGIApp

from synaxis_core.errors import InvalidRequest, SynaxisError, UpstreamError
from synaxis_core.ledger.cost import estimate_prompt_tokens
from synaxis_core.postprocess.base import PostProcessContext
from synaxis_core.postprocess.pipeline import StreamPipeline, process_response
from synaxis_core.routing.scoring import RouteRequest
from synaxis_core.routing.table import Deployment
from synaxis_core.runtime.accounting import RequestRecord, account, new_request_id
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
from synaxis_core.server.errors import INTERNAL_ERROR, error_headers
from synaxis_core.runtime.gateway import Gateway
from synaxis_core.server.openapi import ChatCompletionOperation
from synaxis_core.server.request import decode_chat_request
from synaxis_core.tenants import TenantInfo

log = logging.getLogger("synaxis.server")
CHAT_PATH = "/v1/chat/completions"
DEFAULT_OUTPUT_ESTIMATE = 256
REASONING_MODES = ("separate", "strip", "keep")
_encode = msgspec.json.encode
_DONE = b"data: [DONE]\n\n"
_JSON = (b"content-type", b"application/json")
_SSE = [(b"content-type", b"text/event-stream"), (b"cache-control", b"no-cache")]


def _headers(d: Deployment, record: RequestRecord, gateway: Gateway) -> RawHeaders:
    headers = [(b"x-synaxis-provider", d.provider_name.encode()), (b"x-synaxis-model", d.id.encode()),
               (b"x-synaxis-attempts", str(record.attempts).encode()),
               (b"x-synaxis-request-id", record.request_id.encode())]
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

    Every failure is answered in the OpenAI error shape (``server.errors``); the gateway
    is ``state.gateway``, set when the app's lifespan has opened it.
    """

    def __init__(self, state: State) -> None:
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await _serve(self.state.gateway, scope, receive, send)
        except ClientDisconnected:
            return
        except SynaxisError as exc:
            headers = [(k.encode(), v.encode()) for k, v in error_headers(exc).items()]
            await send_bytes(send, exc.status, [_JSON, *headers], _encode(exc.to_dict()))
        except Exception:
            log.exception("unexpected error on POST %s", CHAT_PATH)
            await send_bytes(send, 500, [_JSON], _encode(INTERNAL_ERROR))


@post(
    CHAT_PATH,
    status_code=200,
    operation_id="createChatCompletion",
    tags=["OpenAI"],
    summary="Create a chat completion",
    operation_class=ChatCompletionOperation,  # the body is read raw: describe it for /schema
)
async def chat_completions(request: Request) -> ASGIApp:
    """OpenAI-compatible chat completions, streaming (SSE) or not."""
    return request.app.chat  # type: ignore[attr-defined, no-any-return]  # GatewayApp.chat


async def _serve(gateway: Gateway, scope: Scope, receive: Receive, send: Send) -> None:
    headers = _request_headers(scope["headers"])
    tenant = gateway.authenticate(headers.get("authorization"))
    try:
        _check_content_type(headers.get("content-type"))
        length = headers.get("content-length")
        raw = await read_body(receive, gateway.settings.max_body_bytes, int(length) if length and length.isdigit() else None)
        chat = decode_chat_request(raw)
        mode = _reasoning_mode(headers.get("x-synaxis-reasoning"), gateway.settings.reasoning_mode)
    except SynaxisError as exc:  # an unreadable request is still one ledger row
        await _account_rejected(gateway, tenant, exc)
        raise
    estimated_in = estimate_prompt_tokens(chat.messages)
    estimated_out = chat.max_output or DEFAULT_OUTPUT_ESTIMATE
    record = RequestRecord(
        request_id=new_request_id(), tenant=tenant, requested_model=chat.model,
        estimated_prompt_tokens=estimated_in, stream=chat.stream,
    )
    route = RouteRequest(
        model=chat.model, estimated_input_tokens=estimated_in, estimated_output_tokens=estimated_out,
        tenant=tenant.name, stream=chat.stream,
    )
    try:
        record.scopes = await gateway.gate.admit(tenant, chat.model, estimated_in + estimated_out)
        plan = await gateway.router.plan(route)
        deadline = time.monotonic() + gateway.settings.request_deadline_s
        context = PostProcessContext(model=plan[0].spec, reasoning_mode=mode, messages=chat.messages)  # type: ignore[arg-type]
        if chat.stream:
            body = chat.body
            if not chat.include_usage:  # ask for usage anyway: the ledger needs it
                body = {**body, "stream_options": {**(body.get("stream_options") or {}), "include_usage": True}}
            first, rest, d, failed, _ = await gateway.router.open_stream(body, plan, route, deadline)
            record.deployment, record.attempts = d, len(failed) + 1
            _count_failover(gateway, d, failed)
            context.model = d.spec
            events = _events(gateway, record, first, rest, d, context, chat.include_usage)
            await send_stream(send, receive, [*_SSE, *_headers(d, record, gateway)], events)
            return
        response, d, failed = await gateway.router.complete(chat.body, plan, route, deadline)
    except SynaxisError as exc:
        record.attempts = len(getattr(exc, "attempts", ()) or ())
        exc.request_id = record.request_id  # type: ignore[attr-defined]  # -> x-synaxis-request-id
        await account(gateway, record, "error", exc.status)
        raise
    record.deployment, record.attempts = d, len(failed) + 1
    _count_failover(gateway, d, failed)
    context.model = d.spec
    if d.postprocessors:
        response = process_response(d.postprocessors, response, context)
    if context.problems:
        await gateway.health.failure(d, context.problems[0])
    response["model"] = d.id
    record.take_usage(response.get("usage"))
    if record.completion_tokens is None:
        record.output_chars = sum(len(str((c.get("message") or {}).get("content") or "")) for c in response.get("choices") or [])
    await account(gateway, record, "ok", 200)
    await send_bytes(send, 200, [_JSON, *_headers(d, record, gateway)], _encode(response))


async def _account_rejected(gateway: Gateway, tenant: TenantInfo, exc: SynaxisError) -> None:
    """The ledger row of a request whose body or headers could not be used (no model)."""
    record = RequestRecord(
        request_id=new_request_id(), tenant=tenant, requested_model=None, estimated_prompt_tokens=0, stream=False
    )
    exc.request_id = record.request_id  # type: ignore[attr-defined]  # -> x-synaxis-request-id
    await account(gateway, record, "error", exc.status)


def _count_failover(gateway: Gateway, d: Deployment, failed: list[Any]) -> None:
    attempts = gateway.metrics.attempts
    for attempt in failed:
        attempts.add((attempt.deployment, attempt.provider, attempt.error.code or "error"))
    attempts.add((d.id, d.provider_name, "ok"))
    if failed:
        gateway.metrics.failovers.add()


async def _events(
    gateway: Gateway,
    record: RequestRecord,
    first: dict[str, Any],
    rest: AsyncIterator[dict[str, Any]],
    d: Deployment,
    context: PostProcessContext,
    client_wants_usage: bool,
) -> AsyncIterator[bytes]:
    """The SSE body. A failure after the first byte ends the stream with an error event."""
    pipeline = StreamPipeline(d.postprocessors, context) if d.postprocessors else None
    usage_chunk: dict[str, Any] | None = None
    status, http_status = "cancelled", 499
    try:
        chunk: dict[str, Any] | None = first
        while chunk is not None:
            if chunk.get("usage"):
                record.take_usage(chunk["usage"])
            choices = chunk.get("choices")
            if not choices and chunk.get("usage"):
                usage_chunk = chunk
            else:
                for choice in choices or ():
                    delta = choice.get("delta") or {}
                    record.output_chars += len(delta.get("content") or "")
                out = pipeline.feed_chunk(chunk) if pipeline is not None else chunk
                if out is not None:
                    out["model"] = d.id
                    if not client_wants_usage:
                        out.pop("usage", None)
                    yield b"data: " + _encode(out) + b"\n\n"
            chunk = await anext(rest, None)
        if pipeline is not None:
            for out in pipeline.finish():
                out["model"] = d.id
                yield b"data: " + _encode(out) + b"\n\n"
        if usage_chunk is not None and client_wants_usage:
            usage_chunk["model"] = d.id
            yield b"data: " + _encode(usage_chunk) + b"\n\n"
        yield _DONE
        status, http_status = "ok", 200
        if context.problems:
            await gateway.health.failure(d, context.problems[0])
        else:
            await gateway.health.success(d, (time.perf_counter() - record.started) * 1000)
    except UpstreamError as exc:
        status, http_status = "error", 502
        await gateway.health.failure(d, exc)
        error = {"error": {"message": f"The upstream stream failed after it started: {exc.message}",
                           "type": "upstream_error", "param": None, "code": exc.code}}
        yield b"data: " + _encode(error) + b"\n\n"
    finally:
        aclose = getattr(rest, "aclose", None)
        if aclose is not None:
            try:
                await aclose()
            except Exception:  # noqa: BLE001
                pass
        await asyncio.shield(account(gateway, record, status, http_status))
