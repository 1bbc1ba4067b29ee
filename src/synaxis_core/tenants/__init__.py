"""Tenants and API keys: who may call the gateway, and with which guardrails.

The gateway authenticates from an in-memory ``AuthSnapshot`` (no database round trip
per request) that ``synaxis_core.tenants.service.load_auth_snapshot`` builds, and
reloads it when ``auth_version`` changes.

Guardrails (``tenant_model_limits``) are keyed by model. ``"*"`` is the tenant-wide
guardrail: its RPM, TPM and monthly budget count every request of the tenant, whatever
the model. A row for a named model is an extra guardrail on that model alone; both
apply. A model's guardrail binds to what a request resolves to — a deployment id, a
global model id or an upstream id — whichever of them the request named. ``None`` means "no limit"; ``0`` is a real limit (no requests, no spend), which
blocks the model for the tenant.
"""

from __future__ import annotations

from collections.abc import Collection

import msgspec

from synaxis_core.tenants.keys import KEY_LENGTH, hash_key

ALL_MODELS = "*"


class Limit(msgspec.Struct, frozen=True, kw_only=True):
    """One guardrail row: requests/minute, tokens/minute, USD per calendar month (UTC);
    on the ``*`` row also the tenant's response-cache TTL in seconds (None or 0: off)."""

    rpm: int | None = None
    tpm: int | None = None
    budget_usd: float | None = None
    cache_ttl_s: int | None = None

    @property
    def empty(self) -> bool:
        return self.guards_nothing and self.cache_ttl_s is None

    @property
    def guards_nothing(self) -> bool:
        """No RPM, TPM or budget (a row that only sets the cache)."""
        return self.rpm is None and self.tpm is None and self.budget_usd is None

    def as_dict(self) -> dict[str, int | float | None]:
        """``rpm``, ``tpm``, ``budget_usd``, and ``cache_ttl_s`` when it is set."""
        found: dict[str, int | float | None] = {"rpm": self.rpm, "tpm": self.tpm, "budget_usd": self.budget_usd}
        if self.cache_ttl_s is not None:
            found["cache_ttl_s"] = self.cache_ttl_s
        return found


class TenantInfo(msgspec.Struct, frozen=True, kw_only=True):
    """A tenant as the gateway sees it: id, name and guardrails by model (``"*"``: all)."""

    id: int
    name: str
    limits: dict[str, Limit] = msgspec.field(default_factory=dict)
    """Only rows that guard something (RPM, TPM, budget): the usual tenant has none."""
    cache_ttl_s: int = 0
    """Its answers are cached this many seconds (the ``*`` row's ``cache_ttl_s``); 0: off."""

    @classmethod
    def of(cls, id: int, name: str, rows: dict[str, Limit]) -> "TenantInfo":
        """A tenant from its ``tenant_model_limits`` rows by model."""
        everything = rows.get(ALL_MODELS)
        return cls(
            id=id, name=name, limits={model: limit for model, limit in rows.items() if not limit.guards_nothing},
            cache_ttl_s=(everything.cache_ttl_s or 0) if everything is not None else 0,
        )

    def scopes(self, names: str | Collection[str]) -> list[tuple[str, Limit]]:
        """The guardrails that apply to a request: ``"*"`` first, then each one whose model
        is among ``names``, in the order of ``limits``.

        ``names`` is every id the request resolves to (the string it asked for, each
        candidate deployment's id, global id and upstream id), so a limit holds whichever
        of them the client used; a single string is one name. Each pair is
        ``(scope, limit)``; a limiter counts usage per ``(tenant id, scope)``.
        """
        if isinstance(names, str):
            names = (names,)
        limits = self.limits
        found = [(ALL_MODELS, limits[ALL_MODELS])] if ALL_MODELS in limits else []
        found.extend((model, limit) for model, limit in limits.items() if model != ALL_MODELS and model in names)
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
