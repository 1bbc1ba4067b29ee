"""Tenants and API keys: who may call the gateway, and with which guardrails.

The gateway authenticates from an in-memory ``AuthSnapshot`` (no database round trip
per request) that ``synaxis_core.tenants.service.load_auth_snapshot`` builds, and
reloads it when ``auth_version`` changes.

Guardrails (``tenant_model_limits``) are keyed by model. ``"*"`` is the tenant-wide
guardrail: its RPM, TPM and monthly budget count every request of the tenant, whatever
the model. A row for a named model is an extra guardrail on that model alone; both
apply. ``None`` means "no limit"; ``0`` is a real limit (no requests, no spend), which
blocks the model for the tenant.
"""

from __future__ import annotations

import msgspec

from synaxis_core.tenants.keys import KEY_LENGTH, hash_key

ALL_MODELS = "*"


class Limit(msgspec.Struct, frozen=True, kw_only=True):
    """One guardrail row: requests/minute, tokens/minute, USD per calendar month (UTC)."""

    rpm: int | None = None
    tpm: int | None = None
    budget_usd: float | None = None

    @property
    def empty(self) -> bool:
        return self.rpm is None and self.tpm is None and self.budget_usd is None

    def as_dict(self) -> dict[str, int | float | None]:
        return {"rpm": self.rpm, "tpm": self.tpm, "budget_usd": self.budget_usd}


class TenantInfo(msgspec.Struct, frozen=True, kw_only=True):
    """A tenant as the gateway sees it: id, name and guardrails by model (``"*"``: all)."""

    id: int
    name: str
    limits: dict[str, Limit] = msgspec.field(default_factory=dict)

    def scopes(self, model: str) -> list[tuple[str, Limit]]:
        """The guardrails that apply to a request for ``model``: ``"*"`` first, then its own.

        Each pair is ``(scope, limit)``; a limiter counts usage per ``(tenant id, scope)``.
        """
        found = []
        if ALL_MODELS in self.limits:
            found.append((ALL_MODELS, self.limits[ALL_MODELS]))
        if model != ALL_MODELS and model in self.limits:
            found.append((model, self.limits[model]))
        return found


class AuthSnapshot(msgspec.Struct, frozen=True, kw_only=True):
    """Everything needed to authenticate a request and find its guardrails, in memory.

    ``keys`` maps the SHA-256 hex digest of each unrevoked key of an active tenant to
    its tenant; ``tenants`` maps active tenant names to the same objects; ``version`` is
    the value ``auth_version`` returned when this snapshot was read.
    """

    version: str
    keys: dict[str, TenantInfo] = msgspec.field(default_factory=dict)
    tenants: dict[str, TenantInfo] = msgspec.field(default_factory=dict)

    def authenticate(self, key: str) -> TenantInfo | None:
        """The tenant owning ``key`` (the bearer token as sent), or None."""
        if len(key) != KEY_LENGTH:
            return None
        return self.keys.get(hash_key(key))


__all__ = ["ALL_MODELS", "AuthSnapshot", "Limit", "TenantInfo"]
