"""OpenTelemetry traces: one server span per request, one client span per upstream attempt.

Most tests read the spans from the SDK's in-memory exporter; one sends them over OTLP/HTTP
to a real receiver on a loopback port (``testing.otlp``), as a collector would get them.
"""

from __future__ import annotations

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

import synaxis_core.telemetry as telemetry
from synaxis_core.fake import Behavior, FakeUpstream
from synaxis_core.settings import Settings
from synaxis_core.telemetry import setup, spans
from synaxis_core.testing.gateway import gateway_harness
from synaxis_core.testing.otlp import OTLPReceiver
from synaxis_core.testing.waiting import wait_until

MESSAGES = [{"role": "user", "content": "Predict Arsenal v Chelsea: a secret prompt."}]
NVIDIA_GPT_OSS = "openai/gpt-oss-120b"
TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
TRACEPARENT = f"00-{TRACE_ID}-00f067aa0ba902b7-01"
PROVIDERS = ("nvidia", "synthetic", "together")


@pytest.fixture
def fake():
    with FakeUpstream() as upstream:
        yield upstream


@pytest.fixture
def exporter():
    provider = TracerProvider()
    memory = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    setup.install(provider)
    yield memory
    setup.uninstall()
    provider.shutdown()


def by_kind(exporter: InMemorySpanExporter, kind: SpanKind) -> list:
    return [s for s in exporter.get_finished_spans() if s.kind == kind]


async def failover(h) -> object:
    """gpt-oss-120b with NVIDIA (the first candidate) answering 503 and Together disabled."""
    patched = await h.client.patch(
        "/admin/models/gpt-oss-120b-together", headers=h.admin(), json={"active": False, "reason": "maintenance"}
    )
    assert patched.status_code == 200
    return await h.client.post(
        "/v1/chat/completions", headers={**h.auth(), "traceparent": TRACEPARENT},
        json={"model": "gpt-oss-120b", "messages": MESSAGES, "temperature": 0.2},
    )


async def test_a_failover_is_two_attempt_spans_under_one_request_span(fake, sqlite_url, exporter):
    fake.set(NVIDIA_GPT_OSS, Behavior(kind="error", status=503))
    async with gateway_harness(fake, database_url=sqlite_url, providers=PROVIDERS, upstream_retries=0) as h:
        response = await failover(h)
    assert response.status_code == 200 and response.headers["x-synaxis-attempts"] == "2"
    (server,) = by_kind(exporter, SpanKind.SERVER)
    first, second = sorted(by_kind(exporter, SpanKind.CLIENT), key=lambda s: s.attributes["synaxis.attempt"])
    assert server.name == "chat gpt-oss-120b"
    assert format(server.context.trace_id, "032x") == TRACE_ID  # the client's traceparent is the parent
    assert format(server.parent.span_id, "016x") == "00f067aa0ba902b7"
    for attempt in (first, second):
        assert attempt.parent.span_id == server.context.span_id and attempt.context.trace_id == server.context.trace_id
    assert first.name == "chat openai/gpt-oss-120b" and first.attributes["gen_ai.provider.name"] == "nvidia"
    assert first.status.status_code == StatusCode.ERROR and first.attributes["http.response.status_code"] == 503
    assert first.attributes["error.type"]
    assert second.status.status_code != StatusCode.ERROR
    assert second.attributes["synaxis.deployment"] == "gpt-oss-120b-syn"
    assert second.attributes["gen_ai.usage.output_tokens"] > 0 and second.attributes["gen_ai.response.finish_reasons"]
    attributes = server.attributes
    usage = response.json()["usage"]
    assert attributes["gen_ai.operation.name"] == "chat" and attributes["gen_ai.request.model"] == "gpt-oss-120b"
    assert attributes["gen_ai.request.temperature"] == 0.2
    assert attributes["synaxis.tenant"] == "test" and attributes["synaxis.deployment"] == "gpt-oss-120b-syn"
    assert attributes["gen_ai.provider.name"] == "synthetic" and attributes["gen_ai.response.model"] == "gpt-oss-120b-syn"
    assert attributes["synaxis.attempt"] == 2 and attributes["synaxis.cache"] == "off"
    assert attributes["gen_ai.usage.input_tokens"] == usage["prompt_tokens"]
    assert attributes["gen_ai.usage.output_tokens"] == usage["completion_tokens"]
    assert attributes["synaxis.cost_usd"] > 0
    assert list(attributes["synaxis.candidates"]) == ["gpt-oss-120b-nvidia", "gpt-oss-120b-syn"]
    assert list(attributes["synaxis.candidates.dropped"]) == ["gpt-oss-120b-together: disabled (maintenance)"]
    # each attempt sent its own span as the upstream's parent, in the caller's trace
    sent = [r.headers.get("traceparent") for r in fake.requests if r.path.endswith("/chat/completions")]
    assert sent == [f"00-{TRACE_ID}-{format(a.context.span_id, '016x')}-01" for a in (first, second)]
    for span in exporter.get_finished_spans():  # no message content unless asked for
        assert "secret prompt" not in str(dict(span.attributes)) and "home_goals" not in str(dict(span.attributes))


async def test_a_stream_is_one_attempt_span_until_its_end(fake, sqlite_url, exporter):
    async with gateway_harness(fake, database_url=sqlite_url, providers=PROVIDERS) as h:
        response = await h.client.post("/v1/chat/completions", headers=h.auth(), json={
            "model": "gpt-oss-120b", "messages": MESSAGES, "stream": True,
        })
    assert response.status_code == 200 and "[DONE]" in response.text
    (server,) = by_kind(exporter, SpanKind.SERVER)
    (attempt,) = by_kind(exporter, SpanKind.CLIENT)
    assert server.parent is None  # no traceparent: a new trace
    assert attempt.attributes["gen_ai.response.finish_reasons"] == ("stop",)
    assert attempt.attributes["gen_ai.usage.output_tokens"] > 0
    assert server.attributes["synaxis.stream"] is True and server.attributes["gen_ai.response.finish_reasons"] == ("stop",)
    assert server.attributes["synaxis.status"] == "ok"
    assert attempt.end_time <= server.end_time
    (sent,) = [r for r in fake.requests if r.path.endswith("/chat/completions")]
    assert sent.headers["traceparent"].split("-")[1:3] == [
        format(attempt.context.trace_id, "032x"), format(attempt.context.span_id, "016x")]


async def test_every_dialect_has_its_request_span(fake, sqlite_url, exporter):
    async with gateway_harness(fake, database_url=sqlite_url, providers=PROVIDERS) as h:
        await h.client.post("/v1/messages", headers=h.auth(), json={
            "model": "gpt-oss-120b", "max_tokens": 32, "messages": MESSAGES})
        await h.client.post("/v1/responses", headers=h.auth(), json={"model": "gpt-oss-120b", "input": "Hi"})
    names = sorted(s.name for s in by_kind(exporter, SpanKind.SERVER))
    assert names == ["POST /v1/messages", "POST /v1/responses"]
    assert {s.attributes["synaxis.dialect"] for s in by_kind(exporter, SpanKind.SERVER)} == {"messages", "responses"}


async def test_contents_are_recorded_only_when_asked(fake, sqlite_url, exporter):
    telemetry.CAPTURE_CONTENT = True
    async with gateway_harness(fake, database_url=sqlite_url, providers=PROVIDERS) as h:
        for stream in (False, True):
            await h.client.post("/v1/chat/completions", headers=h.auth(), json={
                "model": "gpt-oss-120b", "messages": MESSAGES, "stream": stream})
    for server in by_kind(exporter, SpanKind.SERVER):
        assert "secret prompt" in server.attributes["gen_ai.input.messages"]
        assert "home_goals" in server.attributes["gen_ai.output.messages"]
    for attempt in by_kind(exporter, SpanKind.CLIENT):
        assert "gen_ai.input.messages" not in attempt.attributes


async def test_a_cache_hit_is_a_request_span_without_attempts(fake, sqlite_url, exporter):
    async with gateway_harness(fake, database_url=sqlite_url, providers=PROVIDERS) as h:
        body = {"model": "gpt-oss-120b", "messages": MESSAGES}
        for _ in range(2):
            await h.client.post("/v1/chat/completions", headers={**h.auth(), "x-synaxis-cache": "on"}, json=body)
    miss, hit = sorted(by_kind(exporter, SpanKind.SERVER), key=lambda s: s.start_time)
    assert (miss.attributes["synaxis.cache"], hit.attributes["synaxis.cache"]) == ("miss", "hit")
    assert hit.attributes["synaxis.status"] == "cached" and hit.attributes["synaxis.cost_usd"] == 0
    assert hit.attributes["synaxis.attempt"] == 0
    assert len(by_kind(exporter, SpanKind.CLIENT)) == 1  # the miss's attempt only


async def test_an_error_is_on_the_request_span(fake, sqlite_url, exporter):
    async with gateway_harness(fake, database_url=sqlite_url, providers=PROVIDERS) as h:
        response = await h.client.post("/v1/chat/completions", headers=h.auth(), json={
            "model": "no-such-model", "messages": MESSAGES})
    assert response.status_code == 404
    (server,) = by_kind(exporter, SpanKind.SERVER)
    assert server.status.status_code == StatusCode.ERROR and server.attributes["error.type"] == response.json()["error"]["code"]
    assert server.attributes["synaxis.status"] == "error"


async def test_with_tracing_off_no_span_is_made(fake, sqlite_url, monkeypatch):
    assert telemetry.TRACER is None

    def refuse(*_, **__):
        raise AssertionError("a span helper was called with tracing off")

    for name in ("start_request", "start_attempt", "candidates", "end_request"):
        monkeypatch.setattr(spans, name, refuse)
    async with gateway_harness(fake, database_url=sqlite_url, providers=PROVIDERS) as h:
        for stream in (False, True):
            response = await h.client.post("/v1/chat/completions", headers={**h.auth(), "traceparent": TRACEPARENT},
                                           json={"model": "gpt-oss-120b", "messages": MESSAGES, "stream": stream})
            assert response.status_code == 200
    assert all("traceparent" not in r.headers for r in fake.requests)  # nothing propagated when off


def test_what_turns_tracing_on():
    endpoint = setup.traces_endpoint
    assert endpoint(Settings.from_env({})) is None
    assert endpoint(Settings.from_env({"SYNAXIS_OTEL_ENDPOINT": "http://c:4318"})) == "http://c:4318/v1/traces"
    assert endpoint(Settings.from_env({"SYNAXIS_OTEL_ENDPOINT": "http://c:4318/v1/traces"})) == "http://c:4318/v1/traces"
    assert endpoint(Settings.from_env({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318/"})) == "http://c:4318/v1/traces"
    assert endpoint(Settings.from_env({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://c/t"})) == "http://c/t"
    assert endpoint(Settings.from_env({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c", "OTEL_SDK_DISABLED": "true"})) is None


async def test_spans_reach_an_otlp_receiver(fake, sqlite_url):
    """End to end: the gateway's own exporter (BatchSpanProcessor, OTLP/HTTP protobuf)."""
    fake.set(NVIDIA_GPT_OSS, Behavior(kind="error", status=503))
    async with OTLPReceiver() as receiver:
        environ = {"SYNAXIS_OTEL_ENDPOINT": receiver.endpoint}
        async with gateway_harness(
            fake, database_url=sqlite_url, providers=PROVIDERS, upstream_retries=0, environ=environ
        ) as h:
            assert telemetry.TRACER is not None and h.gateway.tracing is not None
            response = await failover(h)
            assert response.status_code == 200
        assert telemetry.TRACER is None  # closing the gateway flushed the batch and turned tracing off
        received = await wait_until(lambda: receiver.spans if len(receiver.spans) >= 3 else None,
                                    what="the request's three spans at the receiver")
    server = next(s for s in received if s.kind == 2)
    attempts = sorted((s for s in received if s.kind == 3), key=lambda s: s.attributes["synaxis.attempt"])
    assert server.trace_id == TRACE_ID and server.name == "chat gpt-oss-120b"
    assert server.resource["service.name"] == "synaxis"
    assert [a.parent_span_id for a in attempts] == [server.span_id, server.span_id]
    assert attempts[0].status_code == 2 and attempts[0].attributes["http.response.status_code"] == 503
    assert attempts[0].attributes["gen_ai.provider.name"] == "nvidia"
    assert attempts[1].attributes["synaxis.deployment"] == "gpt-oss-120b-syn" and attempts[1].status_code != 2
    assert server.attributes["synaxis.candidates.dropped"] == ["gpt-oss-120b-together: disabled (maintenance)"]
