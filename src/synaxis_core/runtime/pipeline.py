"""The one request pipeline: admit, plan, call with failover, post-process, health, account.

Every API dialect reaches the gateway through here, in the chat-completions terms of
``types.ChatRequest``: ``complete`` for a whole answer, ``stream`` for a chunk stream;
``embed`` for a ``types.EmbeddingRequest`` (an embedding deployment's answer, as is).
The HTTP edge decodes the request before and encodes the answer after; nothing here
knows HTTP or a dialect.

Recorded here and nowhere else (see ARCHITECTURE.md):

- **health**: each failed attempt as it fails (``_attempt_failed``, the router's
  ``on_failure``), and the outcome of the attempt that answered once the answer is
  complete (``_ended``): a failure when the stream broke or a post-processor found a
  problem, else a success with its latency;
- **latency** (the p95 the latency scorer ranks on): the winning upstream attempt, until
  its whole body when not streamed and until its first chunk when streamed, so that
  neither the client's reading speed nor the gateway's own admission is in it;
- **accounting**: one ledger row per request, however it ended (``Accounting.record``).

Two things ride along, each off unless asked for: the **response cache** (``cache``:
looked up once the request is admitted, a hit answered as an ``Answer`` or replayed as a
``ChunkStream``; a complete, successful answer stored after post-processing) and the
**request's trace span** (``telemetry``: made current while the upstream is tried, so
the router's attempt spans are its children; ended by ``Accounting.record``). With both
off, what they cost here is a few ``is None`` checks.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, AsyncIterator

from synaxis_core import telemetry
from synaxis_core.cache import ResponseCache, cache_key, not_cacheable, resolved_target
from synaxis_core.cache.replay import Assembler, as_chunks
from synaxis_core.errors import LedgerFull, SynaxisError, UpstreamError
from synaxis_core.ledger.cost import estimate_prompt_tokens, output_chars, worst_case_cost
from synaxis_core.limits.tenant import resolved_names
from synaxis_core.postprocess.base import PostProcessContext
from synaxis_core.postprocess.pipeline import StreamPipeline, process_response
from synaxis_core.providers.headers import UpstreamReply
from synaxis_core.routing.router import close_quietly
from synaxis_core.routing.scoring import RouteRequest
from synaxis_core.runtime.accounting import RequestRecord
from synaxis_core.runtime.answer import Answer, ChunkStream
from synaxis_core.telemetry import spans

if TYPE_CHECKING:
    from synaxis_core.ledger.writer import LedgerWriter
    from synaxis_core.limits.tenant import TenantGate
    from synaxis_core.routing.health import HealthTracker
    from synaxis_core.routing.router import Attempt, Router
    from synaxis_core.routing.table import Deployment
    from synaxis_core.runtime.accounting import Accounting
    from synaxis_core.runtime.metrics import Metrics
    from synaxis_core.settings import Settings
    from synaxis_core.tenants import TenantInfo
    from synaxis_core.types import ChatRequest, EmbeddingRequest

DEFAULT_OUTPUT_ESTIMATE = 256
"""Output tokens assumed for routing and TPM when the request sets no ``max_tokens``."""


@dataclass(slots=True)
class CacheUse:
    """The response cache for one request: its key and how long its answer is kept."""

    key: str
    ttl_s: int


class Pipeline:
    def __init__(
        self,
        settings: Settings,
        router: Router,
        gate: TenantGate,
        health: HealthTracker,
        metrics: Metrics,
        accounting: Accounting,
        ledger: LedgerWriter,
        cache: ResponseCache | None = None,
    ) -> None:
        self.settings = settings
        self.cache = cache
        self.ledger = ledger
        self.router = router
        self.gate = gate
        self.health = health
        self.metrics = metrics
        self.accounting = accounting

    # --- entry points ------------------------------------------------------------------

    async def complete(self, tenant: TenantInfo, request: ChatRequest, request_id: str) -> Answer:
        """The whole answer; raises a ``SynaxisError`` (already recorded) when there is none."""
        span = token = None
        if telemetry.TRACER is not None:
            span, token = spans.start_request(request, tenant.name)
        try:
            record, route, plan, deadline = await self._start(tenant, request, request_id, span)
            use, hit = await self._cached(tenant, request, record, plan, span)
            if hit is not None:
                record.keep_response(hit[0])
                await self.accounting.record(record, "cached", 200)
                return Answer(hit[0], hit[1], 0, "hit")
            reply = UpstreamReply()
            try:
                response, d, failed, elapsed_ms = await self.router.complete(
                    request.body, plan, route, deadline, self._attempt_failed,
                    headers=request.upstream_headers, reply=reply,
                )
            except SynaxisError as exc:
                await self._refused(record, exc)
                raise
            self._won(record, d, failed)
            context = PostProcessContext(model=d.spec, reasoning_mode=request.reasoning_mode, messages=request.messages)  # type: ignore[arg-type]
            if d.postprocessors:
                response = process_response(d.postprocessors, response, context)
            await self._ended(d, elapsed_ms, context)
            response["model"] = d.id
            record.take_usage(response.get("usage"))
            if record.completion_tokens is None:
                record.output_chars = output_chars(response)
            if use is not None and not context.problems:
                self._store(use, d, response)
            if span is not None:
                spans.output(span, response)
            record.keep_response(response)
            await self.accounting.record(record, "ok", 200)
            return Answer(response, d, record.attempts, upstream_request_id=reply.request_id)
        finally:
            if token is not None:
                spans.deactivate(token)

    async def stream(self, tenant: TenantInfo, request: ChatRequest, request_id: str) -> ChunkStream:
        """A stream whose first chunk has arrived (failover happens until then); raises a
        ``SynaxisError`` (already recorded) when no deployment delivered one."""
        span = token = None
        if telemetry.TRACER is not None:
            span, token = spans.start_request(request, tenant.name)
        try:
            record, route, plan, deadline = await self._start(tenant, request, request_id, span)
            use, hit = await self._cached(tenant, request, record, plan, span)
            if hit is not None:
                return ChunkStream(hit[1], 0, record.keep_chunks(self._replay(record, hit[0])), "hit")
            body = request.body
            if not request.include_usage:  # ask for usage anyway: the ledger needs it
                body = {**body, "stream_options": {**(body.get("stream_options") or {}), "include_usage": True}}
            reply = UpstreamReply()
            try:
                (first, rest), d, failed, elapsed_ms = await self.router.open_stream(
                    body, plan, route, deadline, self._attempt_failed, headers=request.upstream_headers, reply=reply,
                )
            except SynaxisError as exc:
                await self._refused(record, exc)
                raise
            self._won(record, d, failed)
            context = PostProcessContext(model=d.spec, reasoning_mode=request.reasoning_mode, messages=request.messages)  # type: ignore[arg-type]
            chunks = record.keep_chunks(self._chunks(record, d, first, rest, context, elapsed_ms, use))
            return ChunkStream(d, record.attempts, chunks, upstream_request_id=reply.request_id)
        finally:
            if token is not None:
                spans.deactivate(token)

    async def embed(self, tenant: TenantInfo, request: EmbeddingRequest, request_id: str) -> Answer:
        """``complete`` for embeddings (input tokens only; no response cache, no post-processing)."""
        span, token = spans.start_request(request, tenant.name) if telemetry.TRACER is not None else (None, None)
        try:
            record, route, plan, deadline = await self._start(tenant, request, request_id, span)
            reply = UpstreamReply()
            try:
                response, d, failed, elapsed_ms = await self.router.embed(
                    request.body, plan, route, deadline, self._attempt_failed, headers=request.upstream_headers, reply=reply,
                )
            except SynaxisError as exc:
                await self._refused(record, exc)
                raise
            self._won(record, d, failed)
            await self.health.success(d, elapsed_ms)
            record.take_usage(response.get("usage"))
            record.completion_tokens = 0
            record.keep_response(response)
            await self.accounting.record(record, "ok", 200)
            return Answer(response, d, record.attempts, upstream_request_id=reply.request_id)
        finally:
            if token is not None:
                spans.deactivate(token)

    async def reject(self, tenant: TenantInfo, request_id: str, exc: SynaxisError, dialect: str = "chat") -> None:
        """The ledger row of a request whose body or headers could not be used (no model)."""
        record = RequestRecord(
            request_id=request_id, tenant=tenant, requested_model=None, estimated_prompt_tokens=0, stream=False,
            dialect=dialect,
        )
        await self.accounting.record(record, "error", exc.status)

    # --- steps ---------------------------------------------------------------------------

    async def _start(
        self, tenant: TenantInfo, request: ChatRequest | EmbeddingRequest, request_id: str, span: Any = None
    ) -> tuple[RequestRecord, RouteRequest, list[Deployment], float]:
        """The plan (the deployments to try, best first), then admission: the tenant's
        limits that bind to what the request resolved to (whatever name it used), its
        budget's hold on the worst case, and room in the ledger for the request's row."""
        chat = request.kind == "chat"  # else embeddings: the input's size, and no output
        estimated_in = estimate_prompt_tokens(request.messages) if chat else request.estimated_tokens  # type: ignore[union-attr]
        estimated_out = (request.max_output or DEFAULT_OUTPUT_ESTIMATE) if chat else 0
        record = RequestRecord(
            request_id=request_id, tenant=tenant, requested_model=request.model,
            estimated_prompt_tokens=estimated_in, stream=request.stream, dialect=request.dialect, span=span,
        )
        if self.accounting.keep_bodies:  # for the observers (SYNAXIS_OBSERVE_BODIES)
            record.request_body = request.body
        route = RouteRequest(
            model=request.model, estimated_input_tokens=estimated_in, estimated_output_tokens=estimated_out,
            tenant=tenant.name, stream=request.stream, kind=request.kind,
        )
        try:
            plan = await self.router.plan(route)
            if tenant.limits:  # the usual tenant has none: nothing to resolve, count or hold
                names = resolved_names(request.model, plan)
                record.scopes = await self.gate.admit(tenant, names, estimated_in + estimated_out, check_budget=False)
                worst = worst_case_cost(estimated_in, request.max_output, [d.spec for d in plan])
                record.reservation = await self.gate.reserve(tenant, record.scopes, worst)
            if self.ledger.full and not await self.ledger.wait_for_room(self.settings.ledger_full_wait_s):
                raise LedgerFull(
                    "The usage ledger cannot record requests right now (its database is not writing); "
                    "try again shortly", retry_after=max(1.0, self.settings.ledger_flush_interval_s * 4),
                )
        except LedgerFull as exc:
            if span is not None:
                spans.failed(span, exc)
            await self.accounting.record(record, "error", exc.status, wait=False)
            raise
        except SynaxisError as exc:
            await self._refused(record, exc)
            raise
        return record, route, plan, time.monotonic() + self.settings.request_deadline_s

    async def _refused(self, record: RequestRecord, exc: SynaxisError) -> None:
        """The request ends without an answer: refused, or every attempt failed."""
        record.attempts = len(getattr(exc, "attempts", None) or ())
        if record.span is not None:
            spans.failed(record.span, exc)
        await self.accounting.record(record, "error", exc.status)

    def _won(self, record: RequestRecord, d: Deployment, failed: list[Attempt]) -> None:
        """A deployment answered (its whole body, or a stream's first chunk)."""
        record.deployment, record.attempts = d, len(failed) + 1
        self.metrics.attempts.add((d.id, d.provider_name, "ok"))
        if failed:
            self.metrics.failovers.add()
        if record.span is not None:
            spans.answered(record.span, d.id, d.provider_name, record.attempts)

    # --- the response cache ----------------------------------------------------------------

    async def _cached(
        self, tenant: TenantInfo, request: ChatRequest, record: RequestRecord, plan: list[Deployment], span: Any
    ) -> tuple[CacheUse | None, tuple[dict[str, Any], Deployment] | None]:
        """The cache's part before any upstream call, for both entry points: how this request
        uses the cache (None: not at all) and the stored answer when there is one."""
        if request.cache is None and not request.cache_ttl_s and not tenant.cache_ttl_s:
            return None, None  # the usual request: the cache is off for it
        use = self._cache_use(tenant, request, span)
        if use is None:
            return None, None
        return use, await self._lookup(use, record, plan)

    def _cache_use(self, tenant: TenantInfo, request: ChatRequest, span: Any) -> CacheUse | None:
        """The cache for a request that may use it (``x-synaxis-cache``, a TTL header, or its
        tenant's TTL): None when it is off for this request or its answer is not reusable."""
        cache, mode = self.cache, request.cache
        if cache is None or mode == "off":
            return None
        ttl = request.cache_ttl_s or tenant.cache_ttl_s or cache.default_ttl_s
        if mode != "force" and not_cacheable(request.body) is not None:
            if span is not None:
                spans.cache_state(span, "bypass")
            return None
        resolved = self.router.table.resolve(request.model)
        if resolved is None:  # the plan found it a moment ago; a reload raced this request
            return None
        target = resolved_target(resolved[0], request.model, resolved[1])
        return CacheUse(cache_key(tenant.id, target, request.reasoning_mode, request.body), ttl)

    async def _lookup(
        self, use: CacheUse, record: RequestRecord, plan: list[Deployment]
    ) -> tuple[dict[str, Any], Deployment] | None:
        """A cached answer and the deployment it names (the plan's first if that one is
        gone), with the request's record filled in as that deployment's; None: a miss."""
        found = await self.cache.get(use.key)  # type: ignore[union-attr]
        metrics, span = self.metrics, record.span
        if found is None:
            metrics.cache.add(("miss",))
            if span is not None:
                spans.cache_state(span, "miss")
            return None
        entry, size = found
        metrics.cache.add(("hit",))
        metrics.cache_bytes.add(("hit",), size)
        d = self.router.table.by_id.get(entry.deployment) or plan[0]
        response = entry.response
        response["model"] = d.id
        record.deployment, record.attempts = d, 0
        record.take_usage(response.get("usage"))
        if record.completion_tokens is None:
            record.output_chars = output_chars(response)
        if span is not None:
            spans.cache_state(span, "hit")
            spans.answered(span, d.id, d.provider_name, 0)
            spans.output(span, response)
        return response, d

    def _store(self, use: CacheUse, d: Deployment, response: dict[str, Any]) -> None:
        size = self.cache.put(use.key, d.id, response, use.ttl_s)  # type: ignore[union-attr]
        if size:
            self.metrics.cache_bytes.add(("store",), size)

    async def _replay(self, record: RequestRecord, response: dict[str, Any]) -> AsyncIterator[dict[str, Any]]:
        """A cached answer as a stream; its ledger row says ``cached`` (499 if the client left)."""
        http_status = 499
        try:
            for chunk in as_chunks(response):
                yield chunk
            http_status = 200
        finally:
            await asyncio.shield(self.accounting.record(record, "cached", http_status))

    async def _attempt_failed(self, d: Deployment, error: UpstreamError) -> None:
        """One failed attempt, before failing over (the router's ``on_failure``)."""
        self.metrics.attempts.add((d.id, d.provider_name, error.code or "error"))
        await self.health.failure(d, error)

    async def _ended(
        self, d: Deployment, elapsed_ms: float, context: PostProcessContext, error: UpstreamError | None = None
    ) -> None:
        """The health outcome of the attempt that answered, once its answer is complete."""
        if error is not None:
            await self.health.failure(d, error)
        elif context.problems:
            await self.health.failure(d, context.problems[0])
        else:
            await self.health.success(d, elapsed_ms)

    async def _chunks(
        self,
        record: RequestRecord,
        d: Deployment,
        first: dict[str, Any],
        rest: AsyncIterator[dict[str, Any]],
        context: PostProcessContext,
        elapsed_ms: float,
        use: CacheUse | None = None,
    ) -> AsyncIterator[dict[str, Any]]:
        pipeline = StreamPipeline(d.postprocessors, context) if d.postprocessors else None
        model = d.id
        usage_chunk: dict[str, Any] | None = None
        status, http_status = "cancelled", 499
        span = record.span
        # the whole answer, built as it passes: to store it, or to record its content
        assembler = Assembler() if use is not None or (span is not None and telemetry.CAPTURE_CONTENT) else None
        reasons: list[str] | None = [] if span is not None and assembler is None else None
        try:
            chunk: dict[str, Any] | None = first
            while chunk is not None:
                usage = chunk.get("usage")
                if usage:
                    record.take_usage(usage)
                choices = chunk.get("choices")
                if not choices and usage:
                    usage_chunk = chunk
                else:
                    for choice in choices or ():
                        record.output_chars += len((choice.get("delta") or {}).get("content") or "")
                        if reasons is not None and choice.get("finish_reason"):
                            reasons.append(str(choice["finish_reason"]))
                    out = pipeline.feed_chunk(chunk) if pipeline is not None else chunk
                    if out is not None:
                        out["model"] = model
                        if assembler is not None:
                            assembler.feed(out)
                        yield out
                chunk = await anext(rest, None)
            if pipeline is not None:
                for out in pipeline.finish():
                    out["model"] = model
                    if assembler is not None:
                        assembler.feed(out)
                    yield out
            if usage_chunk is not None:
                usage_chunk["model"] = model
                yield usage_chunk
            status, http_status = "ok", 200
            await self._ended(d, elapsed_ms, context)
            if assembler is not None:
                response = assembler.response(usage_chunk.get("usage") if usage_chunk is not None else None)
                if use is not None and not context.problems:  # complete, and nothing wrong found in it
                    self._store(use, d, response)
                if span is not None:
                    spans.output(span, response)
            elif reasons is not None:
                spans.finish_reasons(span, reasons)
        except UpstreamError as exc:
            status, http_status = "error", 502
            if span is not None:
                spans.failed(span, exc)
            await self._ended(d, elapsed_ms, context, exc)
            raise
        finally:
            await close_quietly(rest)
            await asyncio.shield(self.accounting.record(record, status, http_status))
