"""Tenant guardrails: RPM, TPM and a monthly budget per tenant, for all its models
together (scope ``*``) and per model (scope = the requested model name); every scope
that applies to a request is checked.

Over RPM/TPM: 429 ``rate_limit_exceeded`` with Retry-After. Over the monthly budget:
429 ``insufficient_quota``. Counting happens in the shared state backend, so it is
exact under concurrency and across instances. A request refused by a later scope has
already used its slot in the earlier ones: that is the price of one round trip per
check, and it errs on the side of the limit.
"""

from __future__ import annotations

import time
from datetime import datetime, timezone

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from synaxis_core.errors import QuotaExceeded, RateLimitExceeded
from synaxis_core.limits.base import StateBackend
from synaxis_core.tenants import ALL_MODELS, AuthSnapshot, TenantInfo


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
    def __init__(self, backend: StateBackend) -> None:
        self.backend = backend

    @staticmethod
    def spend_key(tenant_id: int, scope: str, month: str | None = None) -> str:
        return f"spend:{tenant_id}:{month or month_key()}:{scope}"

    async def admit(self, tenant: TenantInfo, model: str, estimated_tokens: int) -> list[str]:
        """Count this request against every guardrail that applies; returns their scopes."""
        if not tenant.limits:
            return []  # no guardrail at all (the usual tenant): nothing to look up or count
        scopes = tenant.scopes(model)
        for scope, limit in scopes:
            if limit.budget_usd is not None:
                spent = await self.backend.get_spend(self.spend_key(tenant.id, scope))
                if spent >= limit.budget_usd:
                    raise QuotaExceeded(
                        f"Tenant {tenant.name!r} has spent its monthly budget of "
                        f"${limit.budget_usd:g} for {_where(scope)}"
                    )
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

    async def spend(self, tenant: TenantInfo, scopes: list[str], usd: float) -> None:
        if usd > 0:
            for scope in scopes:
                await self.backend.add_spend(self.spend_key(tenant.id, scope), usd)

    async def prime(self, sessions: async_sessionmaker[AsyncSession], auth: AuthSnapshot) -> None:
        """Start this month's spend from the ledger, for an in-process backend only.

        An in-process backend starts empty at every restart and is filled from
        ``usage_records``. A shared backend (Redis) is left alone: its running totals
        survive gateway restarts, and a read-then-add by several instances starting
        together would count the month's spend more than once. (If Redis itself loses
        its data, budgets start again from zero for the month: run it with persistence.)
        """
        from synaxis_core.ledger.queries import month_spend, month_start
        from synaxis_core.limits.memory import MemoryBackend

        if not isinstance(self.backend, MemoryBackend):
            return
        start = month_start()
        for tenant in auth.tenants.values():
            budgets = [scope for scope, limit in tenant.limits.items() if limit.budget_usd is not None]
            if not budgets:
                continue
            by_model = await month_spend(sessions, tenant.id, start, by="requested_model")
            for scope in budgets:
                key = self.spend_key(tenant.id, scope)
                if await self.backend.get_spend(key) > 0:
                    continue
                total = sum(by_model.values()) if scope == ALL_MODELS else by_model.get(scope, 0.0)
                if total > 0:
                    await self.backend.add_spend(key, total)
