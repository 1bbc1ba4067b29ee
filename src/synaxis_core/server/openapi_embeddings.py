"""The OpenAPI description of ``POST /v1/embeddings`` (served by ``server.embeddings``).

Like the other hot routes' declarations in ``server.openapi``: a Litestar handler that is
never entered, with an ``Operation`` that adds the request body, the answer and the error
responses to ``/schema``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from litestar import post
from litestar.openapi.spec import OpenAPIResponse, Operation, RequestBody

from synaxis_core.dialects.embeddings import ENCODING_FORMATS, MAX_INPUTS
from synaxis_core.server.openapi import CHAT_ERRORS, CHAT_REQUEST_SCHEMA, _json

_TOKENS = {"type": "array", "minItems": 1, "items": {"type": "integer", "minimum": 0}}

EMBEDDINGS_REQUEST_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "An OpenAI embeddings request, served by deployments of kind `embedding` only. Every field "
    "(these and vendor extras such as `input_type`) is passed to the upstream as sent, `model` set to its id.",
    "required": ["model", "input"],
    "additionalProperties": True,
    "properties": {
        "model": {**CHAT_REQUEST_SCHEMA["properties"]["model"], "examples": ["demo-embed", "nv-embed-v1-nvidia"]},
        "input": {"oneOf": [
            {"type": "string", "minLength": 1},
            {"type": "array", "minItems": 1, "maxItems": MAX_INPUTS, "items": {"type": "string", "minLength": 1}},
            {**_TOKENS, "maxItems": MAX_INPUTS},
            {"type": "array", "minItems": 1, "maxItems": MAX_INPUTS, "items": _TOKENS},
        ], "description": "A text, texts, a token-id array, or token-id arrays."},
        "encoding_format": {"type": ["string", "null"], "enum": [*ENCODING_FORMATS, None],
                            "description": "Forwarded to the upstream, which encodes the vectors."},
        "dimensions": {"type": ["integer", "null"], "minimum": 1},
        "user": {"type": "string"},
    },
}

EMBEDDINGS_RESPONSE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["object", "data", "model"],
    "additionalProperties": True,
    "properties": {
        "object": {"const": "list"},
        "data": {"type": "array", "items": {
            "type": "object", "required": ["embedding", "index"], "additionalProperties": True,
            "properties": {"object": {"const": "embedding"}, "index": {"type": "integer"},
                           "embedding": {"oneOf": [{"type": "array", "items": {"type": "number"}},
                                                   {"type": "string", "contentEncoding": "base64"}]}},
        }},
        "model": {"type": "string", "description": "The model as the request named it."},
        "usage": {"type": "object", "additionalProperties": True,
                  "properties": {"prompt_tokens": {"type": "integer"}, "total_tokens": {"type": "integer"}}},
    },
}


@dataclass
class CreateEmbeddingOperation(Operation):
    """``POST /v1/embeddings``: the request body, the answer and errors."""

    def __post_init__(self) -> None:
        self.request_body = RequestBody(content=_json(EMBEDDINGS_REQUEST_SCHEMA), required=True)
        self.responses = {
            "200": OpenAPIResponse(description="The embeddings, one per input, in input order",
                                   content=_json(EMBEDDINGS_RESPONSE_SCHEMA)),
            **CHAT_ERRORS,
        }


@post(
    "/v1/embeddings",
    status_code=200,
    operation_id="createEmbedding",
    tags=["OpenAI"],
    summary="Create embeddings",
    operation_class=CreateEmbeddingOperation,
)
async def create_embedding() -> None:
    """OpenAI-compatible embeddings, routed among the embedding deployments.

    Only its description, like ``chat_completions``: ``server.embeddings.EmbeddingsEndpoint``
    serves the path.
    """
    raise AssertionError("served by server.embeddings.EmbeddingsEndpoint")  # pragma: no cover
