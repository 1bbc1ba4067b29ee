"""The spans of a request and of its upstream attempts, and what they record.

Called only when ``telemetry.TRACER`` is set (the callers check). Attribute names follow
the OpenTelemetry GenAI semantic conventions (``gen_ai.*``, ``error.type``) plus
Synaxis's own (``synaxis.*``). Message contents are recorded only with
``telemetry.CAPTURE_CONTENT``.
"""

from __future__ import annotations

from typing import Any, AsyncIterator

import msgspec
from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.trace import Span, SpanKind, Status, StatusCode

import synaxis_core.telemetry as telemetry
from synaxis_core.errors import SynaxisError, UpstreamError

ROUTE_NAMES = {"messages": "POST /v1/messages", "responses": "POST /v1/responses", "embeddings": "POST /v1/embeddings"}
"""The request span's name by dialect; chat completions: ``chat <model>`` (GenAI)."""
MODEL_IN_NAME_CHARS = 120
REQUEST_PARAMETERS = {
    "temperature": "gen_ai.request.temperature", "top_p": "gen_ai.request.top_p", "seed": "gen_ai.request.seed",
    "max_tokens": "gen_ai.request.max_tokens", "max_completion_tokens": "gen_ai.request.max_tokens",
    "frequency_penalty": "gen_ai.request.frequency_penalty", "presence_penalty": "gen_ai.request.presence_penalty",
}
_json = msgspec.json.Encoder().encode


def start_request(request: Any, tenant: str) -> tuple[Span, object]:
    """The server span of a ``types.ChatRequest``, made current; returns it and the token
    for ``deactivate``. Its parent is the client's ``traceparent`` when it sent one."""
    parent = None
    if request.traceparent:
        carrier = {"traceparent": request.traceparent}
        if request.tracestate:
            carrier["tracestate"] = request.tracestate
        parent = propagate.extract(carrier)
    model = request.model[:MODEL_IN_NAME_CHARS]
    attributes: dict[str, Any] = {
        "gen_ai.operation.name": "embeddings" if request.dialect == "embeddings" else "chat",
        "gen_ai.request.model": model, "synaxis.tenant": tenant,
        "synaxis.dialect": request.dialect, "synaxis.stream": request.stream, "synaxis.cache": "off",
    }
    body = request.body
    for field, name in REQUEST_PARAMETERS.items():
        value = body.get(field)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            attributes[name] = value
    if telemetry.CAPTURE_CONTENT:
        attributes["gen_ai.input.messages"] = _json(request.messages).decode()
    name = ROUTE_NAMES.get(request.dialect) or f"chat {model}"
    span = telemetry.TRACER.start_span(name, context=parent, kind=SpanKind.SERVER, attributes=attributes)
    return span, otel_context.attach(trace.set_span_in_context(span))


def deactivate(token: object) -> None:
    otel_context.detach(token)  # type: ignore[arg-type]


def answered(span: Span, deployment: str, provider: str, attempts: int) -> None:
    """Who answered the request (``attempts`` 0: the cache)."""
    span.set_attributes({
        "synaxis.deployment": deployment, "gen_ai.provider.name": provider, "gen_ai.response.model": deployment,
        "synaxis.attempt": attempts,
    })


def cache_state(span: Span, state: str) -> None:
    span.set_attribute("synaxis.cache", state)


def output(span: Span, response: dict[str, Any]) -> None:
    """What a complete answer (or an assembled stream) says: finish reasons, id, and its
    messages when contents are captured."""
    choices = response.get("choices") or ()
    reasons = [str(c.get("finish_reason")) for c in choices if c.get("finish_reason")]
    if reasons:
        span.set_attribute("gen_ai.response.finish_reasons", reasons)
    if isinstance(response.get("id"), str):
        span.set_attribute("gen_ai.response.id", response["id"])
    if telemetry.CAPTURE_CONTENT:
        messages = [c.get("message") for c in choices]
        span.set_attribute("gen_ai.output.messages", _json(messages).decode())


def finish_reasons(span: Span, reasons: list[str]) -> None:
    if reasons:
        span.set_attribute("gen_ai.response.finish_reasons", reasons)


def failed(span: Span, error: BaseException) -> None:
    """The request (or attempt) ended in ``error``: ``error.type`` and an error status."""
    code = getattr(error, "code", None) or type(error).__name__
    span.set_attribute("error.type", str(code))
    status = getattr(error, "upstream_status", None)
    if status:
        span.set_attribute("http.response.status_code", status)
    message = error.message if isinstance(error, SynaxisError) else str(error)
    span.set_status(Status(StatusCode.ERROR, message[:500]))


def end_request(
    span: Span, status: str, http_status: int, prompt: int, completion: int, cost: float, saved: float | None
) -> None:
    """The request is accounted: its tokens, cost, outcome; the span ends."""
    attributes: dict[str, Any] = {
        "synaxis.status": status, "synaxis.http_status": http_status, "synaxis.cost_usd": cost,
        "gen_ai.usage.input_tokens": prompt, "gen_ai.usage.output_tokens": completion,
    }
    if saved is not None:
        attributes["synaxis.saved_usd"] = saved
    span.set_attributes(attributes)
    span.end()


def candidates(kept: list[str], dropped: list[str]) -> None:
    """On the current (request) span: the plan in rank order, and each deployment the
    filters dropped, as ``id: reason``."""
    span = trace.get_current_span()
    span.set_attribute("synaxis.candidates", kept)
    if dropped:
        span.set_attribute("synaxis.candidates.dropped", dropped)


# --- upstream attempts ----------------------------------------------------------------


def start_attempt(deployment: str, provider: str, upstream_model: str, attempt: int) -> Span:
    """A client span for one upstream attempt, under the current (request) span."""
    return telemetry.TRACER.start_span(
        f"chat {upstream_model}", kind=SpanKind.CLIENT,
        attributes={
            "gen_ai.operation.name": "chat", "gen_ai.provider.name": provider, "gen_ai.request.model": upstream_model,
            "synaxis.deployment": deployment, "synaxis.attempt": attempt,
        },
    )


def upstream_headers(span: Span) -> dict[str, str]:
    """``traceparent`` (and ``tracestate``) naming ``span``, for the upstream request."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier, context=trace.set_span_in_context(span))
    return carrier


def attempt_failed(span: Span, error: UpstreamError) -> None:
    failed(span, error)
    span.end()


def attempt_answered(span: Span, response: dict[str, Any]) -> dict[str, Any]:
    """A complete upstream answer: its model, usage and finish reasons; the span ends."""
    _observe(span, response)
    finish_reasons(span, _reasons(response))
    span.end()
    return response


def attempt_stream(
    span: Span, opened: tuple[dict[str, Any], AsyncIterator[dict[str, Any]]]
) -> tuple[dict[str, Any], AsyncIterator[dict[str, Any]]]:
    """A stream whose first chunk came: the span lasts until the stream ends."""
    first, rest = opened
    return first, _traced(span, first, rest)


async def _traced(span: Span, first: dict[str, Any], rest: AsyncIterator[dict[str, Any]]) -> AsyncIterator[dict[str, Any]]:
    reasons: list[str] = []
    _observe(span, first, reasons)
    try:
        async for chunk in rest:
            _observe(span, chunk, reasons, model=False)
            yield chunk
    except UpstreamError as exc:
        failed(span, exc)
        raise
    finally:
        finish_reasons(span, reasons)
        span.end()
        aclose = getattr(rest, "aclose", None)
        if aclose is not None:
            try:
                await aclose()
            except Exception:  # noqa: BLE001 - closing must not mask how the stream ended
                pass


def _observe(span: Span, part: dict[str, Any], reasons: list[str] | None = None, *, model: bool = True) -> None:
    if model and isinstance(part.get("model"), str):
        span.set_attribute("gen_ai.response.model", part["model"])
    usage = part.get("usage")
    if isinstance(usage, dict):
        for field, name in (("prompt_tokens", "gen_ai.usage.input_tokens"), ("completion_tokens", "gen_ai.usage.output_tokens")):
            if isinstance(usage.get(field), int):
                span.set_attribute(name, usage[field])
    if reasons is not None:
        reasons.extend(_reasons(part))


def _reasons(part: dict[str, Any]) -> list[str]:
    return [str(c["finish_reason"]) for c in part.get("choices") or () if c.get("finish_reason")]
