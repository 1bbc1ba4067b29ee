"""Synthetic's wire format for the fake upstream (demo mode, the conformance kit).

Errors are a flat ``{"error": "..."}`` string; ids must start with ``hf:`` (or the newer
``syn:``); ``GET /models`` is ``{"data": [...]}`` (no ``object``) with per-token prices
as dollar strings; a 429 says "exceeded your subscription rate limits", an account cap
whose counter ``GET /v2/quotas`` reports.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from synaxis_core.fake import ErrorText, Flavor, FlavorUsage
from synaxis_core.fake.flavor import pop_prices

PREFIX_ERROR = "Your model name should start with an hf: prefix"
RATE_LIMIT_MESSAGE = "You've exceeded your subscription rate limits"
QUOTA_LIMIT = 135
"""Subscription requests per period that ``/v2/quotas`` reports when no account cap is set."""


def dollar_string(per_million: float) -> str:
    """A price per million tokens as Synthetic writes it: per token, ``"$0.00000055"``."""
    value = Decimal(str(per_million)) / Decimal(1_000_000)
    return "$" + (format(value.normalize(), "f") if value else "0")


def model_entry(model_id: str, extras: dict[str, Any]) -> dict[str, Any]:
    """One ``/models`` entry: serving ``provider``, ``context_length``,
    ``supported_features``, ``pricing`` in dollar strings; other extras verbatim."""
    inp, out = pop_prices(extras)
    entry = {
        "id": model_id,
        "object": "model",
        "provider": extras.pop("provider", "together"),
        "context_length": extras.pop("context_length", 131072),
        "supported_features": extras.pop("supported_features", ["tools", "json_mode"]),
        "pricing": {"prompt": dollar_string(inp), "completion": dollar_string(out)},
    }
    entry.update(extras)
    return entry


def quotas(usage: FlavorUsage) -> dict[str, Any]:
    """``GET /v2/quotas``: the subscription requests used, the limit (the account cap
    when one is set) and the renewal time, an hour from now."""
    limit = usage.account_limit if usage.account_limit is not None else QUOTA_LIMIT
    renews = dt.datetime.now(dt.timezone.utc).replace(microsecond=0) + dt.timedelta(hours=1)
    subscription = {
        "limit": limit,
        "requests": min(usage.accepted, limit),
        "renewsAt": renews.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
    }
    return {"subscription": subscription}


SYNTHETIC_FLAVOR = Flavor(
    name="synthetic",
    error_shape="flat",
    unauthorized="Invalid API key",
    rate_limit=ErrorText(message=RATE_LIMIT_MESSAGE),
    model_missing=ErrorText(message="Model {model} is not available", status=404),
    model_id_prefixes=("hf:", "syn:"),
    model_id_error=PREFIX_ERROR,
    listing="data",
    model_entry=model_entry,
    routes={"/v2/quotas": quotas},
)
