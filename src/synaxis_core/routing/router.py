"""The router: resolve the requested model, filter, rank, and try candidates in order.

Failover: on a retryable failure (429, 5xx, timeout, connection error, a model the
deployment cannot serve) the next candidate is tried, within the provider's
per-attempt timeout and the request's overall deadline. An error that blames the
request itself (400 from the upstream) is returned to the client at once. In a
stream, failover happens only until the first chunk has been received; the pipeline
(``runtime.pipeline``) owns everything after that.

The router decides and tries; it records nothing. Each failed attempt is handed to the
caller's ``on_failure`` and the winner comes back with the time its attempt took, so
health, latency and accounting are recorded in one place, the pipeline.

With tracing on (``telemetry.TRACER``), each upstream attempt is a client span under the
current (request) span, and the plan records its candidates, with the reasons the
filtered ones were dropped (worked out only then).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any, AsyncIterator, Awaitable, Callable, Mapping, Sequence, TypeVar

from synaxis_core import telemetry
from synaxis_core.errors import (
    AllCandidatesFailed,
    InvalidRequest,
    ModelNotFound,
    NoCandidates,
    RateLimited,
    SynaxisError,
    UpstreamError,
    UpstreamProtocolError,
    UpstreamTimeout,
)
from synaxis_core.limits.base import StateBackend
from synaxis_core.providers.headers import UpstreamReply, for_provider
from synaxis_core.routing.health import HealthTracker
from synaxis_core.routing.scoring import Candidate, RouteRequest, Scorer, order, score_pairs
from synaxis_core.routing.table import Deployment, RoutingTable
from synaxis_core.telemetry import spans


T = TypeVar("T")
FailureHook = Callable[["Deployment", UpstreamError], Awaitable[None]]
"""Called once per failed attempt (the pipeline records it: health, metrics)."""


@dataclass
class Attempt:
    deployment: str
    provider: str
    error: UpstreamError

    def summary(self) -> str:
        status = self.error.upstream_status
        return f"{self.deployment} ({self.provider}): {status or self.error.code}"


class Router:
    def __init__(
        self,
        table: RoutingTable,
        scorers: Sequence[Scorer],
        health: HealthTracker,
        backend: StateBackend,
        *,
        weights: Mapping[str, float] | None = None,
    ) -> None:
        self.table = table
        self.scorers = list(scorers)
        self.weights = dict(weights or {})
        self._pairs = score_pairs(self.scorers, self.weights)  # once: scorers and weights are fixed
        self.health = health
        self.backend = backend

    # --- planning ------------------------------------------------------------------

    async def plan(self, request: RouteRequest) -> list[Deployment]:
        """The deployments to try, best first; raises when none can serve."""
        resolved = self.table.resolve(request.model)
        if resolved is None:
            raise unknown_model(self.table, request.model)
        _, deployments = resolved
        kind = request.kind
        for d in deployments:  # usually one check each: every deployment of a name is one kind
            if d.spec.kind != kind:
                deployments = [d for d in deployments if d.spec.kind == kind]
                if not deployments:
                    raise _wrong_kind(request.model, kind)
                break
        cooling = await self.health.cooldowns(deployments)
        ineligible = self._ineligible
        eligible = [d for d in deployments if ineligible(d, request, cooling) is None]
        if not eligible:
            if telemetry.TRACER is not None:
                self._trace_candidates(request, deployments, eligible, cooling)
            raise self._refusal(request, deployments, cooling)
        if len(eligible) > 1:
            candidate = self._candidate
            eligible = [eligible[i] for i in order(request, [candidate(d) for d in eligible], self._pairs)]
        if telemetry.TRACER is not None:
            self._trace_candidates(request, deployments, eligible, cooling)
        return eligible

    def _trace_candidates(
        self, request: RouteRequest, deployments: Sequence[Deployment], kept: list[Deployment],
        cooling: Mapping[str, tuple[float, str]],
    ) -> None:
        dropped = [f"{d.id}: {self._ineligible(d, request, cooling)}" for d in deployments if d not in kept]
        spans.candidates([d.id for d in kept], dropped)

    def _refusal(
        self, request: RouteRequest, deployments: Sequence[Deployment], cooling: Mapping[str, tuple[float, str]]
    ) -> SynaxisError:
        """Why no deployment can serve (reasons worked out only now: the usual request needs none)."""
        reasons = [f"{d.id}: {self._ineligible(d, request, cooling)}" for d in deployments]
        if all(_TOO_LONG in r for r in reasons):
            # only the size of the request stands in the way: the client's fault (OpenAI: 400)
            return InvalidRequest(
                f"The request (~{request.estimated_input_tokens} tokens) is longer than the context window "
                f"of every deployment of {_shown(request.model)}: " + "; ".join(reasons),
                param="input" if request.kind == "embedding" else "messages", code="context_length_exceeded",
            )
        return NoCandidates(
            f"No deployment can serve {_shown(request.model)} right now: " + "; ".join(reasons),
            param="model",
        )

    def _ineligible(
        self, d: Deployment, request: RouteRequest, cooling: Mapping[str, tuple[float, str]]
    ) -> str | None:
        if not d.active:
            return f"disabled ({d.disabled_reason or 'by an operator'})"
        if not d.is_available:
            return "not listed by its provider at the last discovery"
        missing = d.provider.missing_key
        if missing:
            return f"provider {d.provider_name!r} has no API key: set {missing}"
        if cooling:  # usually empty: skip the loop
            for key in d.cooldown_keys:
                if key in cooling:
                    seconds, why = cooling[key]
                    return f"cooling down for {seconds:.0f}s ({why})"
        window = d.spec.context_window
        needed = request.estimated_input_tokens
        if window and needed > window:
            return f"{_TOO_LONG}{window} tokens is smaller than the ~{needed} tokens of the request"
        return None

    def _candidate(self, d: Deployment) -> Candidate:
        spec = d.spec
        return Candidate(
            id=d.id,
            provider=d.provider_name,
            upstream_id=spec.upstream_id,
            global_id=spec.global_id,
            input_price=spec.input_price,
            output_price=spec.output_price,
            is_premium=spec.is_premium,
            context_window=spec.context_window,
            p95_latency_ms=self.health.p95(d.id),
            consecutive_failures=self.health.failures.get(d.id, 0),
        )

    # --- attempts --------------------------------------------------------------------

    async def _admit(self, d: Deployment, request: RouteRequest) -> UpstreamError | None:
        """The deployment's own RPM/TPM limit: an ineligible deployment, not an error."""
        spec = d.spec
        if spec.rpm and (wait := await self.backend.try_acquire(f"rpm:{d.id}", spec.rpm)) is not None:
            return _at_limit(d, f"{spec.rpm} requests per minute", "deployment_rpm_limit", wait)
        tokens = request.estimated_input_tokens + request.estimated_output_tokens
        if spec.tpm and (wait := await self.backend.try_acquire(f"tpm:{d.id}", spec.tpm, amount=tokens)) is not None:
            return _at_limit(d, f"{spec.tpm} tokens per minute", "deployment_tpm_limit", wait)
        return None

    async def _first_success(
        self,
        plan: Sequence[Deployment],
        request: RouteRequest,
        deadline: float,
        call: Callable[[Deployment, float, dict[str, str] | None], Awaitable[T]],
        on_failure: FailureHook,
        traced: Callable[[Any, T], T] | None = None,
        forwarded: Mapping[str, str] | None = None,
    ) -> tuple[T, Deployment, list[Attempt], float]:
        """Try ``call(deployment, seconds, headers)`` on each candidate in order, where
        ``call`` keeps to the time it is given; returns (result, deployment, failed
        attempts, the winning attempt's milliseconds). With tracing on, each call is an
        attempt span whose trace context goes upstream (``headers``; None when off), and
        ``traced(span, result)`` records the winner's result (and ends its span). The
        client's ``forwarded`` headers go to every attempt, the same on each (an
        ``Idempotency-Key`` stays the key of the one request): ``providers.headers``."""
        attempts: list[Attempt] = []
        tried = 0
        for d in plan:
            refused = await self._admit(d, request)
            if refused is not None:
                attempts.append(Attempt(d.id, d.provider_name, refused))
                continue
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            tried += 1
            span = headers = None
            if telemetry.TRACER is not None:
                span = spans.start_attempt(d.id, d.provider_name, d.upstream_id, tried)
                headers = spans.upstream_headers(span)
            if forwarded is not None:
                headers = for_provider(d.provider, forwarded, headers)
            started = time.perf_counter()
            try:
                result = await call(d, min(d.provider.timeout_s, remaining), headers)
            except (UpstreamError, TimeoutError, StopAsyncIteration) as exc:
                error = _as_upstream_error(exc, d)
                if span is not None:
                    spans.attempt_failed(span, error)
                attempts.append(Attempt(d.id, d.provider_name, error))
                if error.scope == "request":
                    error.deployment = d.id  # the client is told who said so (a header)
                    raise error from None
                await on_failure(d, error)
                continue
            except BaseException:  # cancelled: the client went away
                if span is not None:
                    span.end()
                raise
            elapsed_ms = (time.perf_counter() - started) * 1000
            if span is not None:
                result = traced(span, result) if traced is not None else result
            return result, d, attempts, elapsed_ms
        raise _all_failed(request.model, attempts, self.health.settings.default_retry_after_s)

    async def complete(
        self, body: dict[str, Any], plan: Sequence[Deployment], request: RouteRequest, deadline: float,
        on_failure: FailureHook, *, headers: Mapping[str, str] | None = None, reply: UpstreamReply | None = None,
    ) -> tuple[dict[str, Any], Deployment, list[Attempt], float]:
        """Call candidates in order until one answers; returns (response, deployment, failed
        attempts, milliseconds of the winning attempt until its whole body). ``headers``:
        the client's forwarded ones; ``reply`` gets the answering upstream's request id."""

        def call(d: Deployment, seconds: float, sent: Mapping[str, str] | None) -> Awaitable[dict[str, Any]]:
            # seconds bounds the whole call
            return d.provider.chat({**body, "model": d.upstream_id}, timeout=seconds, headers=sent, reply=reply)

        return await self._first_success(plan, request, deadline, call, on_failure, spans.attempt_answered, headers)

    async def open_stream(
        self, body: dict[str, Any], plan: Sequence[Deployment], request: RouteRequest, deadline: float,
        on_failure: FailureHook, *, headers: Mapping[str, str] | None = None, reply: UpstreamReply | None = None,
    ) -> tuple[tuple[dict[str, Any], AsyncIterator[dict[str, Any]]], Deployment, list[Attempt], float]:
        """Open a stream on the first candidate that delivers its first chunk.

        Returns ((first chunk, the rest of the stream), deployment, failed attempts,
        milliseconds of the winning attempt until its first chunk). Whoever consumes the
        rest of the stream records how it ended. ``headers`` and ``reply``: as ``complete``.
        """

        async def call(
            d: Deployment, seconds: float, sent: Mapping[str, str] | None
        ) -> tuple[dict[str, Any], AsyncIterator[dict[str, Any]]]:
            # the provider keeps the first-chunk deadline itself: it fires on time even when
            # the event loop was busy across it (an asyncio.timeout around a pyreqwest read
            # can lose its cancellation: see providers.http.guarded)
            first_chunk_by = asyncio.get_running_loop().time() + seconds
            stream = d.provider.stream(
                {**body, "model": d.upstream_id}, timeout=d.provider.timeout_s, first_chunk_by=first_chunk_by,
                headers=sent, reply=reply,
            )
            try:
                return await anext(stream), stream
            except BaseException:
                await close_quietly(stream)
                raise

        return await self._first_success(plan, request, deadline, call, on_failure, spans.attempt_stream, headers)

    async def embed(
        self, body: dict[str, Any], plan: Sequence[Deployment], request: RouteRequest, deadline: float,
        on_failure: FailureHook, *, headers: Mapping[str, str] | None = None, reply: UpstreamReply | None = None,
    ) -> tuple[dict[str, Any], Deployment, list[Attempt], float]:
        """``complete`` for embeddings: the same failover, ``provider.embed`` per attempt."""

        def call(d: Deployment, seconds: float, sent: Mapping[str, str] | None) -> Awaitable[dict[str, Any]]:
            return d.provider.embed({**body, "model": d.upstream_id}, timeout=seconds, headers=sent, reply=reply)

        return await self._first_success(plan, request, deadline, call, on_failure, spans.attempt_answered, headers)


def _as_upstream_error(exc: BaseException, d: Deployment) -> UpstreamError:
    if isinstance(exc, UpstreamError):
        return exc
    if isinstance(exc, StopAsyncIteration):
        return UpstreamProtocolError("the stream ended before its first chunk", provider=d.provider_name)
    return UpstreamTimeout(f"no answer within {d.provider.timeout_s:g}s", provider=d.provider_name)


def _wrong_kind(model: str, kind: str) -> InvalidRequest:
    """A model of the other kind: an embedding model asked for chat, or the reverse (400)."""
    if kind == "embedding":
        message = (f"The model {_shown(model)} is not an embedding model: POST /v1/embeddings serves "
                   "deployments of kind 'embedding' only")
    else:
        message = (f"The model {_shown(model)} is an embedding model, not a chat model: "
                   "call POST /v1/embeddings with it")
    return InvalidRequest(message, param="model", code="model_not_supported")


def _at_limit(d: Deployment, limit: str, code: str, wait: float) -> UpstreamError:
    error = UpstreamError(f"{d.id} is at its own limit of {limit}", provider=d.provider_name, code=code)
    error.retry_after = wait
    return error


def _all_failed(model: str, attempts: list[Attempt], default_retry_after: float) -> AllCandidatesFailed:
    """502, or 429 when every deployment was only rate limited (the client may retry later:
    ``Retry-After`` is the soonest any of them is expected back)."""
    if not attempts:
        return AllCandidatesFailed(f"The request deadline passed before {_shown(model)} could be tried", attempts=[])
    summary = "; ".join(a.summary() for a in attempts)
    error = AllCandidatesFailed(
        f"Every deployment of {_shown(model)} failed ({len(attempts)} attempts): {summary}",
        attempts=[(a.deployment, a.error) for a in attempts],
    )
    if all(isinstance(a.error, RateLimited) or a.error.code in _LIMIT_CODES for a in attempts):
        error.status, error.type, error.code = 429, "rate_limit_error", "rate_limit_exceeded"
        error.retry_after = min(
            a.error.retry_after if a.error.retry_after is not None else default_retry_after for a in attempts
        )
    return error


MODEL_NAME_SHOWN = 120
"""Characters of a requested model name that an error message repeats (the rest is cut)."""


def _shown(model: str) -> str:
    return repr(model if len(model) <= MODEL_NAME_SHOWN else model[:MODEL_NAME_SHOWN] + "…")


def unknown_model(table: RoutingTable, model: str) -> ModelNotFound:
    """The 404 of a model name nothing here serves (chat and ``GET /v1/models/{id}``): the
    name cut to ``MODEL_NAME_SHOWN``, the closest ids that can be served now as hints."""
    hint = table.suggestions(model)
    tail = f"; did you mean {', '.join(repr(h) for h in hint)}?" if hint else ""
    return ModelNotFound(f"The model {_shown(model)} does not exist or is not served here{tail}", param="model")


_LIMIT_CODES = ("deployment_rpm_limit", "deployment_tpm_limit")
_TOO_LONG = "context window of "


async def close_quietly(stream: AsyncIterator[Any]) -> None:
    """Close an upstream stream; a failure to close must not mask how it ended."""
    aclose = getattr(stream, "aclose", None)
    if aclose is not None:
        try:
            await aclose()
        except Exception:  # noqa: BLE001 - closing a failed stream must not mask its error
            pass
