"""Wire formats of the fake upstream: bodies exactly as each provider flavor sends them.

Pure functions, no I/O. See /work/shared/PROVIDERS.md for the facts reproduced here:
OpenAI-shaped errors for openai/together, a flat ``{"error": "..."}`` string for
synthetic, problem-JSON for nvidia; four different ``/models`` listings.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from http import HTTPStatus
from typing import Any

import msgspec

from .behavior import Behavior

FLAVORS = ("openai", "synthetic", "together", "nvidia")
CREATED = 1767225600  # 2026-01-01T00:00:00Z: fixed, so bodies are deterministic
JSON = "application/json"
PROBLEM_JSON = "application/problem+json"
NVIDIA_NON_CHAT_MODELS = (
    "nvidia/nv-embedqa-e5-v5",  # embedding
    "black-forest-labs/flux.1-dev",  # image
    "nvidia/llama-3.2-nv-rerankqa-1b-v2",  # rerank
    "nvidia/parakeet-ctc-1.1b-asr",  # speech
)
"""Listed by the nvidia flavor's ``/models`` on top of the added models, to test filtering."""

SYNTHETIC_PREFIX_ERROR = "Your model name should start with an hf: prefix"
SYNTHETIC_RATE_LIMIT = "You've exceeded your subscription rate limits"
INVALID_JSON_BODY = b"<html><body><h1>502 Bad Gateway</h1></body></html>\n"
GARBAGE_MODELS = {"data": "unavailable", "models": [{"name": "no-id"}, 42, None]}

encode = msgspec.json.encode


@dataclass(slots=True)
class Reply:
    """A ready-to-send HTTP reply (status, body, content type, extra headers)."""

    status: int
    body: bytes
    content_type: str = JSON
    headers: dict[str, str] | None = None


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def error_reply(
    flavor: str,
    status: int,
    message: str | None = None,
    *,
    code: str | None = None,
    err_type: str | None = None,
    headers: dict[str, str] | None = None,
) -> Reply:
    """An error in the flavor's shape (``message`` defaults to the HTTP reason phrase)."""
    if flavor == "nvidia":
        problem: dict[str, Any] = {"status": status, "title": _phrase(status)}
        if message:
            problem["detail"] = message
        return Reply(status, encode(problem), PROBLEM_JSON, headers)
    message = message or _phrase(status)
    if flavor == "synthetic":
        return Reply(status, encode({"error": message}), JSON, headers)
    if err_type is None:
        err_type = "server_error" if status >= 500 else "invalid_request_error"
    body = {"error": {"message": message, "type": err_type, "param": None, "code": code}}
    return Reply(status, encode(body), JSON, headers)


def unauthorized(flavor: str) -> Reply:
    """The flavor's 401 for a missing or wrong API key."""
    message = {"nvidia": "Authentication failed", "synthetic": "Invalid API key"}.get(
        flavor, "Incorrect API key provided."
    )
    return error_reply(flavor, 401, message, code="invalid_api_key")


def rate_limited(flavor: str, behavior: Behavior) -> Reply:
    """The flavor's 429 (nvidia: bare problem-JSON; together: x-ratelimit-* headers)."""
    headers: dict[str, str] = {}
    if behavior.retry_after is not None:
        headers["Retry-After"] = behavior.retry_after
    if flavor == "nvidia":
        return error_reply("nvidia", 429, behavior.content, headers=headers)
    if flavor == "synthetic":
        message = behavior.content or SYNTHETIC_RATE_LIMIT
        return error_reply("synthetic", 429, message, headers=headers)
    if flavor == "together":
        reset = behavior.retry_after if behavior.retry_after is not None else "1"
        headers.update(
            {"x-ratelimit-limit": "10", "x-ratelimit-remaining": "0", "x-ratelimit-reset": reset}
        )
        message = behavior.content or "You have been rate limited. Please retry later."
        code, err_type = "dynamic_request_limited", "rate_limit_exceeded"
        return error_reply("together", 429, message, code=code, err_type=err_type, headers=headers)
    message = behavior.content or "Rate limit reached for requests. Please try again later."
    code, err_type = "rate_limit_exceeded", "requests"
    return error_reply("openai", 429, message, code=code, err_type=err_type, headers=headers)


def model_not_available(flavor: str, model: str, behavior: Behavior) -> Reply:
    """A model-level failure: together 400 ``model_not_available``, nvidia 404/410, ..."""
    custom = behavior.status if behavior.status != 500 else None
    if flavor == "nvidia":
        status = custom or 404
        if status == 410:
            detail = f"Model '{model}' has reached its end of life"
        else:
            detail = f"Function '{model}': Not found for account"
        return error_reply("nvidia", status, behavior.content or detail)
    if flavor == "together":
        message = (
            f"Unable to access non-serverless model {model}. Please visit "
            f"https://api.together.ai/models/{model} to create and start a new dedicated "
            "endpoint for the model."
        )
        message = behavior.content or message
        return error_reply("together", custom or 400, message, code="model_not_available")
    if flavor == "synthetic":
        message = behavior.content or f"Model {model} is not available"
        return error_reply("synthetic", custom or 404, message)
    message = f"The model `{model}` does not exist or you do not have access to it."
    return error_reply("openai", custom or 404, behavior.content or message, code="model_not_found")


def error_for(flavor: str, behavior: Behavior) -> Reply:
    """The reply of ``kind="error"`` (and of ``"stream_error"`` outside a stream)."""
    message = behavior.content
    if message is None and flavor == "together" and behavior.status == 503:
        message = "The server is overloaded or not ready yet."
    return error_reply(flavor, behavior.status, message)


# --- /models ---------------------------------------------------------------------


def _synthetic_price(per_million: float) -> str:
    value = Decimal(str(per_million)) / Decimal(1_000_000)
    return "$" + (format(value.normalize(), "f") if value else "0")


def _prices(extras: dict[str, Any]) -> tuple[float, float]:
    inp = extras.pop("input_price", extras.pop("prompt_price", 0.55))
    out = extras.pop("output_price", extras.pop("completion_price", 2.19))
    return float(inp), float(out)


def model_entry(flavor: str, model_id: str, extras: dict[str, Any]) -> dict[str, Any]:
    """One ``/models`` entry. Prices are USD per million tokens (``input_price``,
    ``output_price``; aliases ``prompt_price``, ``completion_price``); other extras are
    copied into the entry verbatim (``context_length``, ``type``, ``provider``, ...)."""
    extras = dict(extras)
    org = model_id.split(":", 1)[-1].split("/")[0] if "/" in model_id else flavor
    display_name = model_id.rsplit("/", 1)[-1].replace("-", " ")
    if flavor == "synthetic":
        inp, out = _prices(extras)
        entry = {
            "id": model_id,
            "object": "model",
            "provider": extras.pop("provider", "together"),
            "context_length": extras.pop("context_length", 131072),
            "supported_features": extras.pop("supported_features", ["tools", "json_mode"]),
            "pricing": {"prompt": _synthetic_price(inp), "completion": _synthetic_price(out)},
        }
    elif flavor == "together":
        inp, out = _prices(extras)
        entry = {
            "id": model_id,
            "object": "model",
            "created": extras.pop("created", CREATED),
            "type": extras.pop("type", "chat"),
            "display_name": extras.pop("display_name", display_name),
            "organization": extras.pop("organization", org),
            "context_length": extras.pop("context_length", 131072),
            "pricing": {"hourly": 0, "input": inp, "output": out, "base": 0, "finetune": 0},
        }
    else:
        entry = {"id": model_id, "object": "model", "created": CREATED, "owned_by": org}
    entry.update(extras)
    return entry


def models_body(flavor: str, models: dict[str, dict[str, Any]]) -> bytes:
    """The whole ``GET /{flavor}/v1/models`` body for the added models."""
    entries = [model_entry(flavor, mid, extras) for mid, extras in models.items()]
    if flavor == "together":
        return encode(entries)  # a bare JSON array
    if flavor == "synthetic":
        return encode({"data": entries})  # no top-level "object"
    if flavor == "nvidia":
        extra_ids = [mid for mid in NVIDIA_NON_CHAT_MODELS if mid not in models]
        entries += [model_entry("nvidia", mid, {}) for mid in extra_ids]
    return encode({"object": "list", "data": entries})


# --- chat completions -------------------------------------------------------------


def count_words(text: Any) -> int:
    """Deterministic token estimate: whitespace-separated words (text parts of lists too)."""
    if isinstance(text, str):
        return len(text.split())
    if isinstance(text, list):
        return sum(count_words(part.get("text")) for part in text if isinstance(part, dict))
    return 0


def prompt_tokens(messages: Any) -> int:
    """Words of all message contents plus one per message."""
    if not isinstance(messages, list):
        return 0
    return sum(count_words(m.get("content")) + 1 for m in messages if isinstance(m, dict))


def reasoning_key(flavor: str) -> str:
    """Where the ``reasoning_field`` kind puts reasoning: together ``reasoning``, others
    ``reasoning_content``."""
    return "reasoning" if flavor == "together" else "reasoning_content"
