"""The routing table: every deployment the gateway knows, in memory, indexed three ways.

The runtime builds it (``runtime.registry``: the database's ``provider_models`` joined
with ``global_models`` for fallback prices, and the installed providers) at start-up and
whenever the registry changes, and hands it to the router. The hot path only does
dictionary lookups here.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Iterable, Sequence


from synaxis_core.postprocess.base import PostProcessor
from synaxis_core.providers.base import OpenAICompatibleProvider
from synaxis_core.types import ModelSpec


SUGGEST_FROM_CHARS = 200
"""A requested name is compared by its first this many characters."""


def deployment_key(deployment_id: str) -> str:
    """The state-backend key of a deployment's cool-down and failure count."""
    return f"dep:{deployment_id}"


def provider_key(provider: str) -> str:
    """The state-backend key of a provider's cool-down and error window."""
    return f"prov:{provider}"


@dataclass(eq=False)
class Deployment:
    """One provider model as the router sees it (mutable: health decisions update it)."""

    id: str
    provider: OpenAICompatibleProvider
    spec: ModelSpec
    active: bool = True
    is_available: bool = True
    disabled_reason: str | None = None
    disabled_by: str | None = None
    postprocessors: list[PostProcessor] = field(default_factory=list)
    cooldown_keys: tuple[str, str] = ("", "")
    """The state-backend keys of this deployment's and its provider's cool-downs."""

    def __post_init__(self) -> None:
        self.cooldown_keys = (deployment_key(self.id), provider_key(self.provider.name))

    @property
    def provider_name(self) -> str:
        return self.provider.name

    @property
    def upstream_id(self) -> str:
        return self.spec.upstream_id

    @property
    def global_id(self) -> str | None:
        return self.spec.global_id


class RoutingTable:
    def __init__(self, deployments: Iterable[Deployment] = (), version: str = "") -> None:
        self.version = version
        self.by_id: dict[str, Deployment] = {}
        self.by_global: dict[str, list[Deployment]] = {}
        self.by_upstream: dict[str, list[Deployment]] = {}
        for d in sorted(deployments, key=lambda d: d.id):
            self.by_id[d.id] = d
            if d.global_id:
                self.by_global.setdefault(d.global_id, []).append(d)
            self.by_upstream.setdefault(d.upstream_id, []).append(d)

    def __len__(self) -> int:
        return len(self.by_id)

    def resolve(self, model: str) -> tuple[str, Sequence[Deployment]] | None:
        """``(kind, deployments)`` for a requested model, or None when nothing matches.

        ``kind`` is ``"pinned"`` for a provider-model id, ``"global"`` for a global id,
        ``"upstream"`` for an upstream id (``hf:...``). A pinned id never fails over to
        another deployment.
        """
        deployment = self.by_id.get(model)
        if deployment is not None:
            return "pinned", (deployment,)
        found = self.by_global.get(model)
        if found:
            return "global", found
        found = self.by_upstream.get(model)
        if found:
            return "upstream", found
        return None

    def suggestions(self, model: str, n: int = 3) -> list[str]:
        """The ids closest to ``model`` that can be served now (for a helpful 404): active,
        listed by their provider, the provider's key present."""
        names: dict[str, None] = {}
        for d in self.routable():
            if d.provider.missing_key is None:
                names[d.id] = None
                if d.global_id:
                    names[d.global_id] = None
        lowered = model[:SUGGEST_FROM_CHARS].lower()  # difflib is quadratic in the length
        return difflib.get_close_matches(lowered, list(names), n=n, cutoff=0.5)

    def routable(self) -> list[Deployment]:
        return [d for d in self.by_id.values() if d.active and d.is_available]
