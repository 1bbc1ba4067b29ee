"""Tenant guardrails: RPM, TPM and a monthly budget per tenant, for all its models
together (scope ``*``) and per model; every scope that applies to a request is checked.

A model's guardrail binds to what the request resolves to, whatever name it used: the
pipeline passes every id the request resolves to (:func:`resolved_names`: the requested
string, and each candidate deployment's id, global id and upstream id), and each limit
whose model is among them applies.

The pipeline's calls, in order::

    scopes = await gate.admit(tenant, names, estimated_tokens, check_budget=False)  # RPM/TPM
    reservation = await gate.reserve(tenant, scopes, worst_case_usd)               # budgets
    ...  # call upstream
    await gate.settle(reservation, actual_usd)  # always: on errors too (0 if nothing spent)

Over RPM/TPM: 429 ``rate_limit_exceeded`` with Retry-After. Over the monthly budget:
429 ``insufficient_quota``. Counting happens in the shared state backend, so it is
exact under concurrency and across instances. A request refused by a later scope has
already used its slot in the earlier ones: that is the price of one round trip per
check, and it errs on the side of the limit.

Budgets are enforced by reservation: admission reserves the request's worst-case cost
(``synaxis_core.ledger.cost.worst_case_cost``) on every budget scope at once, and only
if spent + reserved + this request fit; the real cost replaces the reservation at
:meth:`TenantGate.settle`. So concurrent requests cannot overshoot a budget together:
the month's spend exceeds a budget only by what the requests in flight cost *above*
their reservation: the prompt tokens above the 4-characters-per-token estimate at the
input price, and output beyond the bound if a provider ignores ``max_tokens`` (or, when
neither the request nor the deployment bounds the output, beyond
``UNKNOWN_MAX_OUTPUT_TOKENS``). A reservation never settled (its process died) stops
counting after ``reservation_ttl_s`` (``SYNAXIS_BUDGET_RESERVATION_TTL_S``, 15 min); a
request still running then (longer than that) may see its headroom given to others.
During a Redis outage each instance counts from zero in its own memory (see
``synaxis_core.limits.fallback``).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Collection, Iterable
from datetime import datetime, timezone
from typing import Any

import msgspec
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from synaxis_core.errors import QuotaExceeded, RateLimitExceeded
from synaxis_core.limits.base import StateBackend
from synaxis_core.limits.fallback import StateBusy
from synaxis_core.tenants import ALL_MODELS, AuthSnapshot, TenantInfo

log = logging.getLogger("synaxis.limits")

DEFAULT_RESERVATION_TTL_S = 900.0
SETTLE_ATTEMPTS = 3


class Reservation(msgspec.Struct, frozen=True):
    """Budget held for one request until :meth:`TenantGate.settle`."""

    id: str
    keys: tuple[str, ...]
    """The spend key of every scope of the request (the real cost goes to each)."""
    usd: float
    """What was reserved (the worst case)."""


NO_RESERVATION = Reservation("", (), 0.0)
"""For a request without guardrails: settling it does nothing."""


def resolved_names(requested: str, deployments: Iterable[Any]) -> frozenset[str]:
    """Every id a request resolves to: ``requested`` and each deployment's id, global id
    and upstream id (objects with those attributes, e.g. routing ``Deployment``s)."""
    names = {requested}
    for d in deployments:
        names.update(n for n in (d.id, getattr(d, "global_id", None), getattr(d, "upstream_id", None)) if n)
    return frozenset(names)


def month_key(now: datetime | None = None) -> str:
    """``YYYY-MM`` of ``now`` (default: the current UTC month)."""
    if now is not None:
        return f"{now.year:04d}-{now.month:02d}"
    key, start, end = _this_month
    if start <= time.time() < end:  # datetime.now() and formatting cost ~0.6 us per request
        return key
    return _new_month()


_this_month = ("", 0.0, 0.0)
"""The current month's key and its bounds (epoch seconds, UTC): ``[start, end)``."""


def _new_month() -> str:
    global _this_month
    now = datetime.now(timezone.utc)
    start = datetime(now.year, now.month, 1, tzinfo=timezone.utc)
    end = datetime(now.year + now.month // 12, now.month % 12 + 1, 1, tzinfo=timezone.utc)
    key = f"{now.year:04d}-{now.month:02d}"
    _this_month = (key, start.timestamp(), end.timestamp())
    return key


def _where(scope: str) -> str:
    return "all models" if scope == ALL_MODELS else repr(scope)


class TenantGate:
    """Admission, budget reservations and spend for tenants, in ``backend``.

    :param reservation_ttl_s: a reservation stops counting after this (its request
        ended without :meth:`settle`: the process died). Longer than any request.
    """

    def __init__(self, backend: StateBackend, *, reservation_ttl_s: float = DEFAULT_RESERVATION_TTL_S) -> None:
        self.backend = backend
        self.reservation_ttl_s = reservation_ttl_s
        self.unsettled = 0
        """Settlements that could not be counted (logged): spend missing from budgets."""

    @staticmethod
    def spend_key(tenant_id: int, scope: str, month: str | None = None) -> str:
        return f"spend:{tenant_id}:{month or month_key()}:{scope}"

    async def admit(
        self, tenant: TenantInfo, names: str | Collection[str], estimated_tokens: int, *, check_budget: bool = True
    ) -> list[str]:
        """Count this request against every RPM/TPM guardrail that applies; returns their scopes.

        ``names``: every id the request resolves to (:func:`resolved_names`); a single
        string is the requested model alone. With ``check_budget`` a scope whose budget is
        already spent refuses the request (the check of callers that do not
        :meth:`reserve`; those pass False).
        """
        if not tenant.limits:
            return []  # no guardrail at all (the usual tenant): nothing to look up or count
        scopes = tenant.scopes(names)
        for scope, limit in scopes:
            if check_budget and limit.budget_usd is not None:
                spent = await self.backend.get_spend(self.spend_key(tenant.id, scope))
                if spent >= limit.budget_usd:
                    raise QuotaExceeded(_spent_message(tenant, scope, limit.budget_usd))
            if limit.rpm is not None:
                wait = await self.backend.try_acquire(f"t:{tenant.id}:rpm:{scope}", limit.rpm)
                if wait is not None:
                    raise RateLimitExceeded(
                        f"Rate limit of {limit.rpm} requests per minute reached for tenant "
                        f"{tenant.name!r} ({_where(scope)})",
                        retry_after=wait,
                    )
            if limit.tpm is not None:
                wait = await self.backend.try_acquire(
                    f"t:{tenant.id}:tpm:{scope}", limit.tpm, amount=max(estimated_tokens, 1)
                )
                if wait is not None:
                    raise RateLimitExceeded(
                        f"Rate limit of {limit.tpm} tokens per minute reached for tenant "
                        f"{tenant.name!r} ({_where(scope)})",
                        retry_after=wait,
                    )
        return [scope for scope, _ in scopes]

    async def reserve(self, tenant: TenantInfo, scopes: list[str], usd: float) -> Reservation:
        """Hold ``usd`` (the request's worst-case cost) on every budget among ``scopes``.

        All or nothing, atomically in the backend: it fits only if each budget's spent +
        reserved + ``usd`` stays within it.

        :raises QuotaExceeded: a budget cannot take it (429 ``insufficient_quota``).
        """
        if not scopes:
            return NO_RESERVATION
        month = month_key()
        keys = tuple(self.spend_key(tenant.id, scope, month) for scope in scopes)
        reservation = Reservation(f"{tenant.id}:{os.urandom(9).hex()}", keys, max(float(usd), 0.0))
        budgets = [(key, scope, tenant.limits[scope].budget_usd) for key, scope in zip(keys, scopes)]
        budgets = [item for item in budgets if item[2] is not None]
        if budgets:
            refused = await self.backend.reserve_spend(
                [key for key, _, _ in budgets], [b for _, _, b in budgets], reservation.id, reservation.usd,
                ttl_s=self.reservation_ttl_s,
            )
            if refused is not None:
                index, committed = refused
                _, scope, budget = budgets[index]
                raise QuotaExceeded(_refusal_message(tenant, scope, budget, committed, reservation.usd))  # type: ignore[arg-type]
        return reservation

    async def settle(self, reservation: Reservation, usd: float) -> None:
        """Replace ``reservation`` by the real cost ``usd`` (0 when nothing was spent).

        Call it once per :meth:`reserve`, however the request ended. It never raises:
        spend that cannot be counted (the shared state stayed busy) is logged and counted
        in :attr:`unsettled`; the reservation then expires on its own.
        """
        usd = max(float(usd), 0.0)
        if not reservation.keys or (usd == 0 and reservation.usd == 0):
            return  # nothing held, nothing spent
        for attempt in range(1, SETTLE_ATTEMPTS + 1):
            try:
                return await self.backend.settle_spend(reservation.keys, reservation.id, usd)
            except StateBusy:
                if attempt < SETTLE_ATTEMPTS:
                    continue
                why = f"the shared state stayed busy {SETTLE_ATTEMPTS} times"
            except Exception as exc:  # noqa: BLE001 - accounting after the response must not fail it
                why = f"{type(exc).__name__}: {exc}"
            self.unsettled += 1
            log.error("spend of $%.6f not counted against %s (%s)", usd, ", ".join(reservation.keys), why)
            return

    async def spend(self, tenant: TenantInfo, scopes: list[str], usd: float) -> None:
        """Add ``usd`` to every scope's spend (callers that do not :meth:`reserve`)."""
        if usd > 0:
            for scope in scopes:
                await self.backend.add_spend(self.spend_key(tenant.id, scope), usd)

    async def prime(self, sessions: async_sessionmaker[AsyncSession], auth: AuthSnapshot) -> None:
        """Start this month's spend from the ledger, for an in-process backend only.

        A scope's spend is the cost of the month's rows whose deployment, global model or
        requested model is that scope (``"*"``: all rows).

        An in-process backend starts empty at every restart and is filled from
        ``usage_records``. A shared backend (Redis) is left alone: its running totals
        survive gateway restarts, and a read-then-add by several instances starting
        together would count the month's spend more than once. (If Redis itself loses
        its data, budgets start again from zero for the month: run it with persistence.)
        """
        from synaxis_core.ledger.queries import month_start, scope_spend
        from synaxis_core.limits.memory import MemoryBackend

        if not isinstance(self.backend, MemoryBackend):
            return
        start = month_start()
        for tenant in auth.tenants.values():
            budgets = [scope for scope, limit in tenant.limits.items() if limit.budget_usd is not None]
            if not budgets:
                continue
            totals = await scope_spend(sessions, tenant.id, start, budgets)
            for scope in budgets:
                key = self.spend_key(tenant.id, scope)
                if await self.backend.get_spend(key) > 0:
                    continue
                if totals[scope] > 0:
                    await self.backend.add_spend(key, totals[scope])


def _spent_message(tenant: TenantInfo, scope: str, budget: float) -> str:
    return f"Tenant {tenant.name!r} has spent its monthly budget of ${budget:g} for {_where(scope)}"


def _refusal_message(tenant: TenantInfo, scope: str, budget: float, committed: float, usd: float) -> str:
    if committed >= budget:
        return _spent_message(tenant, scope, budget) + " (or holds it for requests in progress)"
    return (
        f"Tenant {tenant.name!r} has ${budget - committed:.6g} left of its monthly budget of ${budget:g} for "
        f"{_where(scope)}, and this request may cost up to ${usd:.6g}: lower max_tokens to ask for less"
    )
