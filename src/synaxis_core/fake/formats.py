"""Wire formats of the fake upstream: bodies exactly as a `Flavor` says its vendor sends them.

Pure functions, no I/O. The three error shapes (OpenAI's, a flat ``{"error": "..."}``
string, RFC 9457 problem JSON), the three ``/models`` shapes, and the token estimates.
"""

from __future__ import annotations

from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

import msgspec

from .behavior import Behavior
from .flavor import Flavor

JSON = "application/json"
PROBLEM_JSON = "application/problem+json"
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
    flavor: Flavor,
    status: int,
    message: str | None = None,
    *,
    code: str | None = None,
    err_type: str | None = None,
    headers: dict[str, str] | None = None,
) -> Reply:
    """An error in the flavour's shape (``message`` defaults to the HTTP reason phrase;
    problem JSON then has no ``detail``)."""
    if flavor.error_shape == "problem":
        problem: dict[str, Any] = {"status": status, "title": _phrase(status)}
        if message:
            problem["detail"] = message
        return Reply(status, encode(problem), PROBLEM_JSON, headers)
    message = message or _phrase(status)
    if flavor.error_shape == "flat":
        return Reply(status, encode({"error": message}), JSON, headers)
    if err_type is None:
        err_type = "server_error" if status >= 500 else "invalid_request_error"
    body = {"error": {"message": message, "type": err_type, "param": None, "code": code}}
    return Reply(status, encode(body), JSON, headers)


def unauthorized(flavor: Flavor) -> Reply:
    """The flavour's 401 for a missing or wrong API key."""
    return error_reply(flavor, 401, flavor.unauthorized, code="invalid_api_key")


def rate_limited(flavor: Flavor, behavior: Behavior) -> Reply:
    """The flavour's 429, with ``Retry-After`` when scripted (and ``x-ratelimit-*``
    when the flavour sends them)."""
    headers: dict[str, str] = {}
    if behavior.retry_after is not None:
        headers["Retry-After"] = behavior.retry_after
    if flavor.rate_limit_headers:
        reset = behavior.retry_after if behavior.retry_after is not None else "1"
        headers.update({"x-ratelimit-limit": "10", "x-ratelimit-remaining": "0", "x-ratelimit-reset": reset})
    text = flavor.rate_limit
    message = behavior.content or text.message
    return error_reply(flavor, 429, message, code=text.code, err_type=text.type, headers=headers)


def model_not_available(flavor: Flavor, model: str, behavior: Behavior) -> Reply:
    """A model-level failure in the flavour's wording (`Flavor.model_missing`); a
    scripted status other than 500 overrides the flavour's."""
    text = flavor.model_missing
    status = (behavior.status if behavior.status != 500 else None) or text.status or 404
    template = flavor.model_gone if status == 410 and flavor.model_gone else text.message
    message = behavior.content or (template.replace("{model}", model) if template else None)
    return error_reply(flavor, status, message, code=text.code, err_type=text.type)


def error_for(flavor: Flavor, behavior: Behavior) -> Reply:
    """The reply of ``kind="error"`` (and of ``"stream_error"`` outside a stream)."""
    message = behavior.content or flavor.error_messages.get(behavior.status)
    return error_reply(flavor, behavior.status, message)


def models_body(flavor: Flavor, models: dict[str, dict[str, Any]]) -> bytes:
    """The whole ``GET /{flavor}/v1/models`` body for the added models (then the
    flavour's `Flavor.listing_extra_models` not added already)."""
    ids = [*models, *(mid for mid in flavor.listing_extra_models if mid not in models)]
    entries = [flavor.model_entry(mid, dict(models.get(mid, {}))) for mid in ids]
    if flavor.listing == "array":
        return encode(entries)
    if flavor.listing == "data":
        return encode({"data": entries})
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
