"""The cache key: a hash of the tenant and of everything that shapes the answer.

What shapes the answer is the model the request resolved to (a pinned deployment, or
the global model its candidates serve), the reasoning mode (the post-processors run
before an answer is stored), and the whole body but ``model`` (replaced by what it
resolved to), ``stream`` and ``stream_options`` (streamed or not, the answer is the
same). Every other field counts, known or not (``temperature``, ``tools``,
``response_format``, ``seed``, a vendor's own...), in a canonical JSON form: dict keys
sorted at every depth, so the order a client wrote them in does not matter; values as
they were sent (``0`` and ``0.0`` are different values).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

import msgspec

IGNORED_FIELDS = frozenset(("model", "stream", "stream_options"))
"""Body fields that do not shape the answer."""

_canonical = msgspec.json.Encoder(order="deterministic").encode


class _Deployment(Protocol):
    id: str
    global_id: str | None


def resolved_target(kind: str, model: str, deployments: Sequence[_Deployment]) -> str:
    """What a requested model resolved to (``RoutingTable.resolve``'s ``kind`` and
    deployments): ``deployment:<id>`` when pinned; ``model:<global id>`` when every
    candidate serves the same global model (whichever name the client used for it);
    else ``<kind>:<the name asked for>``."""
    if kind == "pinned":
        return f"deployment:{deployments[0].id}"
    globals_ = {d.global_id for d in deployments}
    if len(globals_) == 1:
        (global_id,) = globals_
        if global_id:
            return f"model:{global_id}"
    return f"{kind}:{model}"


def canonical_form(target: str, reasoning_mode: str, body: Mapping[str, Any]) -> bytes:
    """The bytes hashed for a key (without the tenant): stable under key order."""
    shaped = {name: value for name, value in body.items() if name not in IGNORED_FIELDS}
    return _canonical([target, reasoning_mode, shaped])


def cache_key(tenant_id: int, target: str, reasoning_mode: str, body: Mapping[str, Any]) -> str:
    """``<tenant id>:<sha256>``: the tenant is in the hashed bytes and in the key's prefix,
    so two tenants never share an entry."""
    digest = hashlib.sha256(b"%d\x00" % tenant_id + canonical_form(target, reasoning_mode, body)).hexdigest()
    return f"{tenant_id}:{digest}"


def not_cacheable(body: Mapping[str, Any]) -> str | None:
    """Why an answer to ``body`` should not be reused (None: it may be): several choices
    (``n`` > 1), or sampling (``temperature`` > 0) without a ``seed``. A request that
    sends ``x-synaxis-cache: force`` is cached anyway."""
    n = body.get("n")
    if isinstance(n, int) and n > 1:
        return "n > 1"
    temperature = body.get("temperature")
    if isinstance(temperature, (int, float)) and temperature > 0 and body.get("seed") is None:
        return "temperature > 0 without a seed"
    return None
