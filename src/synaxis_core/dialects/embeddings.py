"""``POST /v1/embeddings``: the OpenAI embeddings request checked, sized and finished.

A pure translator like the other dialects, but to ``types.EmbeddingRequest`` rather than
the chat form: embeddings are their own kind of deployment (``ModelSpec.kind``), routed,
limited and accounted by the same pipeline (``Pipeline.embed``).

- ``translate_request``: the body as the client sent it, checked where the gateway relies
  on it. ``input`` is a non-empty string, a list of non-empty strings, a list of token ids
  (integers >= 0) or a list of such lists, at most ``MAX_INPUTS`` items; ``encoding_format``
  is ``float`` or ``base64``; ``dimensions`` a positive integer; ``user`` a string. Every
  field (these and any other, such as NVIDIA's ``input_type``) goes to the upstream as is.
- ``check_input``: the input's estimated tokens: about four characters a token for text
  (``ledger.cost.estimate_tokens``, as ``count_tokens`` does), one a token id.
- ``finish``: the upstream's answer as the client gets it: ``model`` is the name the
  client asked for, ``usage`` the upstream's or else the estimate.
"""

from __future__ import annotations

from typing import Any

from synaxis_core.errors import InvalidRequest, missing_parameter
from synaxis_core.ledger.cost import estimate_tokens
from synaxis_core.types import EmbeddingRequest

DIALECT = "embeddings"
ENCODING_FORMATS = ("float", "base64")
MAX_INPUTS = 2048
"""Items an ``input`` list may hold (OpenAI's own limit)."""
_INPUT_SHAPES = "a non-empty string, a list of strings, a list of token ids or a list of token-id lists"


def _bad_input(problem: str) -> InvalidRequest:
    return InvalidRequest(f"`input` {problem}; it must be {_INPUT_SHAPES}", param="input")


def _is_token(value: Any) -> bool:
    return value.__class__ is int and value >= 0


def check_input(value: Any) -> int:
    """The estimated tokens of a valid ``input``; ``InvalidRequest`` (param ``input``) when
    it is none of the four shapes, is empty, or has more than ``MAX_INPUTS`` items."""
    if isinstance(value, str):
        if not value:
            raise _bad_input("is an empty string")
        return estimate_tokens(value)
    if not isinstance(value, list):
        raise _bad_input(f"is {type(value).__name__}")
    if not value:
        raise _bad_input("is an empty list")
    if len(value) > MAX_INPUTS:
        raise _bad_input(f"has {len(value)} items, more than the {MAX_INPUTS} allowed")
    first = value[0]
    if isinstance(first, str):
        for i, item in enumerate(value):
            if not isinstance(item, str) or not item:
                raise _bad_input(f"[{i}] is {'an empty string' if item == '' else type(item).__name__} in a list of strings")
        return sum(estimate_tokens(item) for item in value)
    if _is_token(first):
        if not all(_is_token(item) for item in value):
            raise _bad_input("mixes token ids (integers >= 0) with something else")
        return len(value)
    if isinstance(first, list):
        total = 0
        for i, item in enumerate(value):
            if not isinstance(item, list) or not item or not all(_is_token(t) for t in item):
                raise _bad_input(f"[{i}] is not a non-empty list of token ids (integers >= 0)")
            total += len(item)
        return total
    raise _bad_input(f"holds {type(first).__name__} items")


def translate_request(body: dict[str, Any]) -> EmbeddingRequest:
    """The checked request (``InvalidRequest`` naming the field at fault)."""
    for name in ("model", "input"):
        if name not in body:
            raise missing_parameter(name)
    model = body["model"]
    if not isinstance(model, str) or not model.strip():
        raise InvalidRequest("`model` must be a non-empty string", param="model")
    tokens = check_input(body["input"])
    encoding = body.get("encoding_format")
    if encoding is not None and encoding not in ENCODING_FORMATS:
        raise InvalidRequest(f"`encoding_format` must be 'float' or 'base64', got {encoding!r}", param="encoding_format")
    dimensions = body.get("dimensions")
    if dimensions is not None and (dimensions.__class__ is not int or dimensions < 1):
        raise InvalidRequest(f"`dimensions` must be a positive integer, got {dimensions!r}", param="dimensions")
    user = body.get("user")
    if user is not None and not isinstance(user, str):
        raise InvalidRequest(f"`user` must be a string, got {type(user).__name__}", param="user")
    return EmbeddingRequest(body, model=model, estimated_tokens=tokens)


def finish(response: dict[str, Any], request: EmbeddingRequest) -> dict[str, Any]:
    """The answer as the client gets it: ``model`` the name it asked for; ``usage`` the
    upstream's, with ``prompt_tokens`` estimated when the upstream sent none."""
    response["model"] = request.model
    usage = response.get("usage")
    if not isinstance(usage, dict) or not isinstance(usage.get("prompt_tokens"), int):
        tokens = request.estimated_tokens
        response["usage"] = {"prompt_tokens": tokens, "total_tokens": tokens}
    response.setdefault("object", "list")
    return response
