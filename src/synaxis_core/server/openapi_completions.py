"""The OpenAPI description of ``POST /v1/completions`` (served by ``server.completions``).

Like the other hot routes' declarations in ``server.openapi``: a Litestar handler that is
never entered, with an ``Operation`` that adds the request body, the answer and the error
responses to ``/schema``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from litestar import post
from litestar.openapi.spec import OpenAPIMediaType, OpenAPIResponse, Operation, RequestBody

from synaxis_core.dialects.completions import DEFAULT_MAX_TOKENS, MAX_LOGPROBS
from synaxis_core.server.openapi import CHAT_ERRORS, CHAT_REQUEST_SCHEMA, _json

_CHAT = CHAT_REQUEST_SCHEMA["properties"]

COMPLETIONS_REQUEST_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "A legacy OpenAI completions request, served by chat deployments: the prompt is sent as one "
    "user message. Refused (400): token-array prompts, several prompts, a non-empty `suffix`, `best_of` other "
    "than `n`. Fields of neither API pass to the upstream untouched.",
    "required": ["model", "prompt"],
    "additionalProperties": True,
    "properties": {
        "model": _CHAT["model"],
        "prompt": {"oneOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}, "minItems": 1,
                                                  "maxItems": 1}]},
        "max_tokens": {**_CHAT["max_tokens"], "default": DEFAULT_MAX_TOKENS},
        "n": _CHAT["n"],
        "best_of": {**_CHAT["n"], "description": "Accepted when equal to `n`."},
        "echo": {"type": ["boolean", "null"], "description": "Prepend the prompt to each choice's text."},
        "logprobs": {"type": ["integer", "null"], "minimum": 0, "maximum": MAX_LOGPROBS},
        "suffix": {"type": ["string", "null"], "maxLength": 0, "description": "Refused when not empty."},
        "stream": _CHAT["stream"],
        "stream_options": _CHAT["stream_options"],
        "stop": _CHAT["stop"],
        "temperature": _CHAT["temperature"],
        "top_p": _CHAT["top_p"],
        "presence_penalty": {"type": ["number", "null"], "minimum": -2, "maximum": 2},
        "frequency_penalty": {"type": ["number", "null"], "minimum": -2, "maximum": 2},
        "seed": {"type": ["integer", "null"]},
        "logit_bias": {"type": ["object", "null"], "additionalProperties": {"type": "integer"}},
        "user": {"type": "string"},
    },
}

COMPLETION_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["id", "object", "created", "model", "choices"],
    "additionalProperties": True,
    "properties": {
        "id": {"type": "string", "pattern": "^cmpl-"},
        "object": {"const": "text_completion"},
        "created": {"type": "integer"},
        "model": {"type": "string", "description": "The deployment that answered."},
        "choices": {"type": "array", "items": {
            "type": "object", "required": ["text", "index", "logprobs", "finish_reason"], "additionalProperties": True,
            "properties": {"text": {"type": "string"}, "index": {"type": "integer"},
                           "logprobs": {"type": ["object", "null"], "additionalProperties": True},
                           "finish_reason": {"type": "string", "enum": ["stop", "length", "content_filter"]}},
        }},
        "usage": {"type": ["object", "null"], "additionalProperties": True},
    },
}


@dataclass
class CreateCompletionOperation(Operation):
    """``POST /v1/completions``: the request body, the answer (JSON or SSE) and errors."""

    def __post_init__(self) -> None:
        self.request_body = RequestBody(content=_json(COMPLETIONS_REQUEST_SCHEMA), required=True)
        self.responses = {
            "200": OpenAPIResponse(
                description="The completion, or with `stream: true` an SSE stream of `text_completion` chunks ending "
                "with `data: [DONE]` (or, after a failure mid-stream, `data: {\"error\": ...}`)",
                content={
                    **_json(COMPLETION_SCHEMA),
                    "text/event-stream": OpenAPIMediaType(schema={"type": "string"}),  # type: ignore[arg-type]
                },
            ),
            **CHAT_ERRORS,
        }


@post("/v1/completions", status_code=200, operation_id="createCompletion", tags=["OpenAI"],
      summary="Create a completion (legacy; served by chat models)", operation_class=CreateCompletionOperation)
async def create_completion() -> None:
    """Only its description, like ``chat_completions``: ``server.completions.CompletionsEndpoint`` serves the path."""
    raise AssertionError("served by server.completions.CompletionsEndpoint")  # pragma: no cover
