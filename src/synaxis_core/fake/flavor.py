"""`Flavor`: how one vendor's API differs from OpenAI's, as the fake upstream imitates it.

A flavour is a declarative description: the shape of error bodies, how the usual errors
are worded, the shape of ``GET /models``, the finish reason and reasoning field of
answers, model-id rules and extra routes. The core knows one flavour, `OPENAI`; each
provider plugin describes its own vendor (hook ``register_fake_flavors``), so a new
vendor's quirks are imitated, and its plugin tested with the conformance kit, without
any change in the core. The fake serves flavour ``name`` under ``/{name}/v1``.

Pure data and small pure functions, no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

CREATED = 1767225600  # 2026-01-01T00:00:00Z: fixed, so bodies are deterministic

ErrorShape = Literal["openai", "flat", "problem"]
"""``openai``: ``{"error": {"message", "type", "param", "code"}}``; ``flat``:
``{"error": "message"}``; ``problem``: RFC 9457 problem JSON ``{"status", "title",
"detail"}`` sent as ``application/problem+json``."""

ListingShape = Literal["list", "data", "array"]
"""``GET /models``: ``list`` is ``{"object": "list", "data": [...]}``, ``data`` is
``{"data": [...]}`` (no ``object``), ``array`` a bare JSON array of entries."""

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


@dataclass(frozen=True, kw_only=True, slots=True)
class ErrorText:
    """How a vendor words one kind of error. ``message`` may contain ``{model}``;
    ``None`` fields are left out (a message then defaults to the HTTP reason phrase,
    except in problem JSON, which then has no ``detail``)."""

    message: str | None = None
    code: str | None = None
    type: str | None = None
    status: int | None = None


@dataclass(frozen=True, slots=True)
class FlavorUsage:
    """What an extra route can read: the chat calls the flavour accepted since the last
    reset, and its account-wide cap (``FakeUpstream.set_account_limit``; None: none)."""

    accepted: int
    account_limit: int | None


ExtraRoute = Callable[[FlavorUsage], Any]
"""An extra ``GET`` route of a flavour: returns the JSON body of a 200 answer."""

ModelEntry = Callable[[str, dict[str, Any]], dict[str, Any]]
"""One ``/models`` entry from an upstream id and the extras given to ``add_model`` (a
copy the function may pop from; prices are USD per million tokens)."""


def owner_of(model_id: str, default: str = "system") -> str:
    """The organisation part of ``org/Model`` (also after an id scheme: ``scheme:org/Model``), else ``default``."""
    return model_id.split(":", 1)[-1].split("/")[0] if "/" in model_id else default


def pop_prices(extras: dict[str, Any]) -> tuple[float, float]:
    """``(input, output)`` USD per million tokens taken out of ``extras`` (keys
    ``input_price``/``output_price``, aliases ``prompt_price``/``completion_price``;
    defaults 0.55 and 2.19)."""
    inp = extras.pop("input_price", extras.pop("prompt_price", 0.55))
    out = extras.pop("output_price", extras.pop("completion_price", 2.19))
    return float(inp), float(out)


def openai_entry(model_id: str, extras: dict[str, Any]) -> dict[str, Any]:
    """OpenAI's ``{"id", "object", "created", "owned_by"}``; extras copied verbatim."""
    entry = {"id": model_id, "object": "model", "created": CREATED, "owned_by": owner_of(model_id)}
    entry.update(extras)
    return entry


@dataclass(frozen=True, kw_only=True, slots=True)
class Flavor:
    """One vendor's wire format, as the fake upstream serves it under ``/{name}/v1``.

    Every field but ``name`` defaults to what OpenAI does.

    Attributes:
        name: the URL segment, and the name of the provider it imitates.
        error_shape: the shape of every error body (see `ErrorShape`).
        unauthorized: the message of a 401 (missing or wrong key).
        rate_limit: the wording of a 429.
        rate_limit_headers: a 429 carries ``x-ratelimit-limit/-remaining/-reset``.
        model_missing: the wording and default status of ``kind="model_not_available"``.
        model_gone: the message when that status is 410 (None: ``model_missing``'s).
        error_messages: default message of ``kind="error"`` by HTTP status (else the
            reason phrase).
        model_id_prefixes: chat calls whose model id starts with none of these get a
            400 with ``model_id_error`` (empty: any id).
        model_id_error: see ``model_id_prefixes``.
        listing: the shape of ``GET /models`` (see `ListingShape`).
        model_entry: builds one ``/models`` entry (see `ModelEntry`).
        listing_extra_models: ids listed on top of the added models (non-chat models
            a provider must filter out, say).
        listing_needs_key: ``GET /models`` answers 401 without a key.
        finish_reason: the finish reason of a normal answer.
        reasoning_field: where ``kind="reasoning_field"`` puts the reasoning.
        null_reasoning: plain answers carry ``"reasoning_content": null``.
        routes: extra ``GET /{name}{path}`` routes (path -> `ExtraRoute`); they need
            the key like chat calls.
    """

    name: str
    error_shape: ErrorShape = "openai"
    unauthorized: str = "Incorrect API key provided."
    rate_limit: ErrorText = ErrorText(
        message="Rate limit reached for requests. Please try again later.",
        code="rate_limit_exceeded",
        type="requests",
    )
    rate_limit_headers: bool = False
    model_missing: ErrorText = ErrorText(
        message="The model `{model}` does not exist or you do not have access to it.",
        code="model_not_found",
        status=404,
    )
    model_gone: str | None = None
    error_messages: Mapping[int, str] = field(default_factory=dict)
    model_id_prefixes: tuple[str, ...] = ()
    model_id_error: str = "Invalid model id"
    listing: ListingShape = "list"
    model_entry: ModelEntry = openai_entry
    listing_extra_models: tuple[str, ...] = ()
    listing_needs_key: bool = True
    finish_reason: str = "stop"
    reasoning_field: str = "reasoning_content"
    null_reasoning: bool = False
    routes: Mapping[str, ExtraRoute] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not _NAME.match(self.name):
            raise ValueError(f"a flavour name is letters, digits, '.', '_', '-': not {self.name!r}")
        if self.error_shape not in get_args(ErrorShape):
            raise ValueError(f"unknown error_shape {self.error_shape!r}; expected one of {get_args(ErrorShape)}")
        if self.listing not in get_args(ListingShape):
            raise ValueError(f"unknown listing {self.listing!r}; expected one of {get_args(ListingShape)}")
        for path in self.routes:
            if not path.startswith("/"):
                raise ValueError(f"flavour {self.name!r}: extra route {path!r} must start with '/'")


OPENAI = Flavor(name="openai")
"""OpenAI itself: the one flavour the core knows (any OpenAI-compatible server)."""
