"""The one request pipeline: admit, plan, call with failover, post-process, health, account.

Every API dialect reaches the gateway through here, in the chat-completions terms of
``types.ChatRequest``: ``complete`` for a whole answer, ``stream`` for a chunk stream.
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
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, AsyncIterator

from synaxis_core.errors import LedgerFull, SynaxisError, UpstreamError
from synaxis_core.ledger.cost import estimate_prompt_tokens, worst_case_cost
from synaxis_core.limits.tenant import resolved_names
from synaxis_core.postprocess.base import PostProcessContext
from synaxis_core.postprocess.pipeline import StreamPipeline, process_response
from synaxis_core.routing.router import close_quietly
from synaxis_core.routing.scoring import RouteRequest
from synaxis_core.runtime.accounting import RequestRecord

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
    from synaxis_core.types import ChatRequest

DEFAULT_OUTPUT_ESTIMATE = 256
"""Output tokens assumed for routing and TPM when the request sets no ``max_tokens``."""


@dataclass(slots=True)
class Answer:
    """A complete answer: the chat completion (``model`` is the deployment that answered)."""

    response: dict[str, Any]
    deployment: Deployment
    attempts: int


class ChunkStream:
    """A streamed answer: ``chat.completion.chunk`` dicts, post-processed, each with
    ``model`` set to the deployment; a usage-only chunk comes last when the upstream sent
    one (a dialect that was not asked for it drops it).

    Iterate it once. An ``UpstreamError`` raised while iterating means the stream broke
    after it started (it is already recorded). Call ``aclose()`` when done, however it
    ended: a stream closed before its end is recorded as ``cancelled`` (the client went
    away) with the output relayed so far, and its upstream connection is released.
    """

    __slots__ = ("deployment", "attempts", "_chunks")

    def __init__(self, deployment: Deployment, attempts: int, chunks: AsyncIterator[dict[str, Any]]) -> None:
        self.deployment = deployment
        self.attempts = attempts
        self._chunks = chunks

    def __aiter__(self) -> AsyncIterator[dict[str, Any]]:
        return self._chunks

    async def aclose(self) -> None:
        await self._chunks.aclose()  # type: ignore[attr-defined]  # an async generator


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
    ) -> None:
        self.settings = settings
        self.ledger = ledger
        self.router = router
        self.gate = gate
        self.health = health
        self.metrics = metrics
        self.accounting = accounting

    # --- entry points ------------------------------------------------------------------

    async def complete(self, tenant: TenantInfo, request: ChatRequest, request_id: str) -> Answer:
        """The whole answer; raises a ``SynaxisError`` (already recorded) when there is none."""
        record, route, plan, deadline = await self._start(tenant, request, request_id)
        try:
            response, d, failed, elapsed_ms = await self.router.complete(
                request.body, plan, route, deadline, self._attempt_failed
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
            record.output_chars = sum(
                len(str((c.get("message") or {}).get("content") or "")) for c in response.get("choices") or []
            )
        await self.accounting.record(record, "ok", 200)
        return Answer(response, d, record.attempts)

    async def stream(self, tenant: TenantInfo, request: ChatRequest, request_id: str) -> ChunkStream:
        """A stream whose first chunk has arrived (failover happens until then); raises a
        ``SynaxisError`` (already recorded) when no deployment delivered one."""
        record, route, plan, deadline = await self._start(tenant, request, request_id)
        body = request.body
        if not request.include_usage:  # ask for usage anyway: the ledger needs it
            body = {**body, "stream_options": {**(body.get("stream_options") or {}), "include_usage": True}}
        try:
            (first, rest), d, failed, elapsed_ms = await self.router.open_stream(
                body, plan, route, deadline, self._attempt_failed
            )
        except SynaxisError as exc:
            await self._refused(record, exc)
            raise
        self._won(record, d, failed)
        context = PostProcessContext(model=d.spec, reasoning_mode=request.reasoning_mode, messages=request.messages)  # type: ignore[arg-type]
        return ChunkStream(d, record.attempts, self._chunks(record, d, first, rest, context, elapsed_ms))

    async def reject(self, tenant: TenantInfo, request_id: str, exc: SynaxisError, dialect: str = "chat") -> None:
        """The ledger row of a request whose body or headers could not be used (no model)."""
        record = RequestRecord(
            request_id=request_id, tenant=tenant, requested_model=None, estimated_prompt_tokens=0, stream=False,
            dialect=dialect,
        )
        await self.accounting.record(record, "error", exc.status)

    # --- steps ---------------------------------------------------------------------------

    async def _start(
        self, tenant: TenantInfo, request: ChatRequest, request_id: str
    ) -> tuple[RequestRecord, RouteRequest, list[Deployment], float]:
        """The plan (the deployments to try, best first), then admission: the tenant's
        limits that bind to what the request resolved to (whatever name it used), its
        budget's hold on the worst case, and room in the ledger for the request's row."""
        estimated_in = estimate_prompt_tokens(request.messages)
        estimated_out = request.max_output or DEFAULT_OUTPUT_ESTIMATE
        record = RequestRecord(
            request_id=request_id, tenant=tenant, requested_model=request.model,
            estimated_prompt_tokens=estimated_in, stream=request.stream, dialect=request.dialect,
        )
        route = RouteRequest(
            model=request.model, estimated_input_tokens=estimated_in, estimated_output_tokens=estimated_out,
            tenant=tenant.name, stream=request.stream,
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
            await self.accounting.record(record, "error", exc.status, wait=False)
            raise
        except SynaxisError as exc:
            await self._refused(record, exc)
            raise
        return record, route, plan, time.monotonic() + self.settings.request_deadline_s

    async def _refused(self, record: RequestRecord, exc: SynaxisError) -> None:
        """The request ends without an answer: refused, or every attempt failed."""
        record.attempts = len(getattr(exc, "attempts", None) or ())
        await self.accounting.record(record, "error", exc.status)

    def _won(self, record: RequestRecord, d: Deployment, failed: list[Attempt]) -> None:
        """A deployment answered (its whole body, or a stream's first chunk)."""
        record.deployment, record.attempts = d, len(failed) + 1
        self.metrics.attempts.add((d.id, d.provider_name, "ok"))
        if failed:
            self.metrics.failovers.add()

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
    ) -> AsyncIterator[dict[str, Any]]:
        pipeline = StreamPipeline(d.postprocessors, context) if d.postprocessors else None
        model = d.id
        usage_chunk: dict[str, Any] | None = None
        status, http_status = "cancelled", 499
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
                    out = pipeline.feed_chunk(chunk) if pipeline is not None else chunk
                    if out is not None:
                        out["model"] = model
                        yield out
                chunk = await anext(rest, None)
            if pipeline is not None:
                for out in pipeline.finish():
                    out["model"] = model
                    yield out
            if usage_chunk is not None:
                usage_chunk["model"] = model
                yield usage_chunk
            status, http_status = "ok", 200
            await self._ended(d, elapsed_ms, context)
        except UpstreamError as exc:
            status, http_status = "error", 502
            await self._ended(d, elapsed_ms, context, exc)
            raise
        finally:
            await close_quietly(rest)
            await asyncio.shield(self.accounting.record(record, status, http_status))

