"""``validate``: send the sample prompt to every active model through the whole gateway.

"The whole gateway" is the Litestar app itself, called in-process over
``httpx.ASGITransport`` with a key of the tenant ``synaxis-validate`` (created for the
run and revoked after it): authentication, routing (a provider-model id is pinned, so
there is no failover), post-processing (think tags, language monitor) and accounting
all run as they do for a client. Each chat model is asked twice, non-streamed and streamed;
both answers must pass the checks of ``validation.checks``. An embedding model is asked
once, on ``POST /v1/embeddings``.

Every model gets one ``validation_results`` row per run. A model that failed through
its own fault is disabled (``active=False``, ``disabled_by="validate"``, the reason)
and the running routing table is reloaded. Failures that say nothing about the model
(a rate limit, a cool-down, a provider refusing our key) fail the run but disable
nothing. Validate only checks active models and never re-enables one: a model it
disabled comes back with ``PATCH /admin/models/{id} {"active": true}``.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Iterable

import httpx
from sqlalchemy import update

from synaxis_core.db.models import ProviderModel, ValidationResult, utcnow
from synaxis_core.routing.health import provider_key
from synaxis_core.routing.table import Deployment, RoutingTable
from synaxis_core.tenants.service import create_key, revoke_key
from synaxis_core.validation.checks import (
    EMBEDDING_INPUT,
    MESSAGES,
    Answer,
    Verdict,
    judge,
    judge_status,
    parse_completion,
    parse_embedding,
    parse_stream,
)

if TYPE_CHECKING:
    from synaxis_core.runtime.gateway import Gateway

log = logging.getLogger("synaxis.validate")

TENANT = "synaxis-validate"
BASE_URL = "http://synaxis-validate"
SAMPLE_CHARS = 500
DEADLINE_MARGIN_S = 10.0
"""Added to ``request_deadline_s`` before a request of the run is given up."""


@dataclass
class ModelResult:
    """What validating one model found."""

    model: str
    provider: str
    upstream_id: str
    ok: bool
    reason: str | None
    """The first failed check (non-streamed first; a streamed one ends in ``(streamed)``)."""
    latency_ms: float
    """Of the non-streamed request, seen from the client (gateway included)."""
    stream_ok: bool
    stream_reason: str | None
    reasoning_chars: int
    """Characters of reasoning the gateway separated from the non-streamed answer."""
    stream_reasoning_chars: int
    sample: str
    disabled: bool = False
    """Validate disabled the model (it failed through its own fault)."""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class ValidationReport:
    """One run: its id, a result per model (sorted by provider and id), what was skipped."""

    run_id: str
    results: list[ModelResult] = field(default_factory=list)
    skipped: list[dict[str, str]] = field(default_factory=list)
    """Active models that match but cannot be called: ``{model, provider, reason}``."""

    @property
    def passed(self) -> int:
        return sum(1 for r in self.results if r.ok)

    @property
    def failed(self) -> int:
        return sum(1 for r in self.results if not r.ok)

    def as_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "results": [r.as_dict() for r in self.results],
            "skipped": self.skipped,
            "passed": self.passed,
            "failed": self.failed,
        }


ProgressCallback = Callable[[int, int, "ModelResult | None"], None]
"""``progress(done, total, result)``: once with ``(0, total, None)``, then after each model."""


def select_models(
    table: RoutingTable, *, provider: str | None = None, model: str | None = None
) -> tuple[list[Deployment], list[dict[str, str]]]:
    """The active deployments to validate, and the active ones that cannot be called.

    ``model`` matches a provider-model id, a global id or an upstream id.
    """
    chosen: list[Deployment] = []
    skipped: list[dict[str, str]] = []
    for d in table.by_id.values():
        if not d.active or (provider is not None and d.provider_name != provider):
            continue
        if model is not None and model not in (d.id, d.global_id, d.upstream_id):
            continue
        why = None
        if d.provider.missing_key:
            why = f"no API key: set {d.provider.missing_key}"
        elif not d.is_available:
            why = "not listed by its provider at the last discovery"
        if why is None:
            chosen.append(d)
        else:
            skipped.append({"model": d.id, "provider": d.provider_name, "reason": why})
    return chosen, skipped


async def validate(
    gateway: Gateway,
    *,
    provider: str | None = None,
    model: str | None = None,
    concurrency: int = 4,
    progress: ProgressCallback | None = None,
) -> ValidationReport:
    """Validate the active models of a running ``gateway`` (see the module docstring).

    :param provider: only this provider's models.
    :param model: only this model (provider-model, global or upstream id).
    :param concurrency: how many models are validated at the same time.
    :param progress: called as models finish (for a progress bar).
    :returns: the report; the results are already in ``validation_results``.
    """
    from synaxis_core.server.app import create_app

    targets, skipped = select_models(gateway.router.table, provider=provider, model=model)
    report = ValidationReport(run_id=uuid.uuid4().hex, skipped=skipped)
    if progress is not None:
        progress(0, len(targets), None)
    if not targets:
        return report
    app = create_app(gateway.settings, gateway=gateway)
    app.state.gateway = gateway  # the lifespan that would set it does not run in-process
    _, key = await create_key(gateway.sessions, TENANT)
    await gateway.reload_auth()
    semaphore = asyncio.Semaphore(max(1, concurrency))
    done = 0

    async def one(client: httpx.AsyncClient, d: Deployment) -> ModelResult:
        nonlocal done
        async with semaphore:
            result = await _validate_model(gateway, client, d)
        done += 1
        if progress is not None:
            progress(done, len(targets), result)
        return result

    headers = {"authorization": f"Bearer {key}", "x-synaxis-reasoning": "separate"}
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=BASE_URL, headers=headers) as client:
            results = await asyncio.gather(*(one(client, d) for d in targets))
    finally:
        await revoke_key(gateway.sessions, key)
        await gateway.reload_auth()
    report.results = sorted(results, key=lambda r: (r.provider, r.model))
    await _record(gateway, report)
    return report


async def _ask(gateway: Gateway, client: httpx.AsyncClient, d: Deployment, stream: bool) -> tuple[Answer, float]:
    """One request of the sample prompt (or input); returns the answer and its latency in ms."""
    if d.spec.kind == "embedding":
        path, body, parse = "/v1/embeddings", {"model": d.id, "input": EMBEDDING_INPUT}, parse_embedding
    else:
        path, body = "/v1/chat/completions", {"model": d.id, "messages": MESSAGES, "stream": stream}
        parse = parse_stream if stream else parse_completion
    limit = gateway.settings.request_deadline_s + DEADLINE_MARGIN_S
    started = time.perf_counter()
    try:
        async with asyncio.timeout(limit):
            response = await client.post(path, json=body)
    except TimeoutError:
        answer = Answer(504, error=f"no complete answer within {limit:g}s")
    except Exception as exc:  # noqa: BLE001 - a gateway bug is reported, not raised
        log.exception("validating %s: the gateway failed", d.id)
        answer = Answer(500, error=f"the gateway failed: {type(exc).__name__}: {exc}")
    else:
        answer = parse(response.status_code, response.content)
    return answer, (time.perf_counter() - started) * 1000


async def _provider_cooling(gateway: Gateway, d: Deployment) -> str | None:
    """Why ``d``'s whole provider is cooling down (a refused key, many errors), if it is."""
    key = provider_key(d.provider_name)
    found = await gateway.backend.get_cooldowns([key])
    return found[key][1] if key in found else None


async def _validate_model(gateway: Gateway, client: httpx.AsyncClient, d: Deployment) -> ModelResult:
    answer, latency_ms = await _ask(gateway, client, d, stream=False)
    if d.spec.kind == "embedding":  # not streamed: its one answer stands for both
        streamed, verdict = answer, judge_status(answer)
        stream_verdict = verdict
    else:
        streamed, _ = await _ask(gateway, client, d, stream=True)
        verdict, stream_verdict = judge(answer), judge(streamed)
    first = verdict
    if first is None and stream_verdict is not None:
        first = Verdict(f"{stream_verdict.reason} (streamed)", stream_verdict.model_fault)
    reason, model_fault = (first.reason, first.model_fault) if first else (None, False)
    if model_fault and (answer.status != 200 or streamed.status != 200):
        cooling = await _provider_cooling(gateway, d)
        if cooling is not None:  # the provider failed, not this model
            reason, model_fault = f"{reason} (provider cooling down: {cooling})", False
    return ModelResult(
        model=d.id,
        provider=d.provider_name,
        upstream_id=d.upstream_id,
        ok=first is None,
        reason=reason,
        latency_ms=round(latency_ms, 1),
        stream_ok=stream_verdict is None,
        stream_reason=stream_verdict.reason if stream_verdict else None,
        reasoning_chars=len(answer.reasoning),
        stream_reasoning_chars=len(streamed.reasoning),
        sample=(answer.text or streamed.text)[:SAMPLE_CHARS],
        disabled=model_fault,
    )


async def _record(gateway: Gateway, report: ValidationReport) -> None:
    """Write the run's rows, disable the models at fault, and reload the routing table."""
    now = utcnow()
    disabled = [r for r in report.results if r.disabled]
    async with gateway.sessions.begin() as session:
        session.add_all(_rows(report.run_id, report.results, now))
        for r in disabled:
            await session.execute(
                update(ProviderModel)
                .where(ProviderModel.id == r.model)
                .values(active=False, disabled_by="validate", disabled_reason=r.reason, disabled_at=now)
            )
    for r in disabled:
        log.warning("validate disabled deployment %s: %s", r.model, r.reason)
        gateway.metrics.disables.labels(r.model).inc()
    if disabled:
        await gateway.reload_registry()


def _rows(run_id: str, results: Iterable[ModelResult], at: Any) -> list[ValidationResult]:
    return [
        ValidationResult(
            run_id=run_id, provider_model_id=r.model, ok=r.ok, reason=r.reason,
            sample=r.sample, latency_ms=r.latency_ms, at=at,
        )
        for r in results
    ]
