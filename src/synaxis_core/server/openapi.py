"""OpenAPI descriptions for the routes that read their body themselves.

The chat route takes the raw request and decodes the body once with msgspec (the hot
path: no validation layer in between), and the admin routes decode small msgspec
structs; so Litestar cannot see their request bodies. These ``Operation`` subclasses
(``operation_class=`` on the route decorators) add the request body and the error
responses to ``/schema`` without touching how a request is handled: the schema is
built once, when ``/schema`` is first asked for.

Every error is described with the one shape the server writes (``server.errors``):
``{"error": {"message", "type", "param", "code"}}``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import msgspec
from litestar import post
from litestar.openapi.spec import (
    OpenAPIMediaType,
    OpenAPIResponse,
    Operation,
    RequestBody,
)

ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["message", "type", "param", "code"],
            "properties": {
                "message": {"type": "string"},
                "type": {"type": "string"},
                "param": {"type": ["string", "null"]},
                "code": {"type": ["string", "null"]},
            },
        }
    },
}

ROLES = ["system", "developer", "user", "assistant", "tool", "function"]
_COUNT = {"type": ["integer", "null"], "minimum": 1, "maximum": 1_000_000}

CHAT_REQUEST_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "An OpenAI chat-completion request. Fields not listed here (tools, response_format, "
    "reasoning_effort, vendor extras...) are passed to the upstream untouched.",
    "required": ["model", "messages"],
    "additionalProperties": True,
    "properties": {
        "model": {
            "type": "string",
            "minLength": 1,
            "description": "A provider-model id (pinned), a global id (routed) or an upstream id.",
            "examples": ["gpt-oss-120b", "gpt-oss-120b-nvidia", "deepseek-r1-0528-syn"],
        },
        "messages": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": ["role"],
                "additionalProperties": True,
                "properties": {
                    "role": {"type": "string", "enum": ROLES},
                    "content": {
                        "oneOf": [
                            {"type": "string"},
                            {"type": "array", "items": {"type": "object", "additionalProperties": True}},
                            {"type": "null"},
                        ]
                    },
                    "name": {"type": "string"},
                },
            },
        },
        "stream": {"type": ["boolean", "null"]},
        "stream_options": {
            "type": ["object", "null"],
            "properties": {"include_usage": {"type": ["boolean", "null"]}},
            "additionalProperties": True,
        },
        "max_tokens": _COUNT,
        "max_completion_tokens": _COUNT,
        "n": _COUNT,
        "temperature": {"type": "number", "minimum": 0, "maximum": 2},
        "top_p": {"type": "number", "minimum": 0, "maximum": 1},
        "stop": {"oneOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}, {"type": "null"}]},
        "tools": {"type": "array", "items": {"type": "object", "additionalProperties": True}},
        "response_format": {"type": "object", "additionalProperties": True},
    },
}

CHAT_RESPONSE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["id", "object", "created", "model", "choices"],
    "additionalProperties": True,
    "properties": {
        "id": {"type": "string"},
        "object": {"const": "chat.completion"},
        "created": {"type": "integer"},
        "model": {"type": "string", "description": "The deployment that answered."},
        "choices": {"type": "array", "items": {"type": "object", "additionalProperties": True}},
        "usage": {"type": ["object", "null"], "additionalProperties": True},
    },
}


def _json(schema: dict[str, Any]) -> dict[str, OpenAPIMediaType]:
    return {"application/json": OpenAPIMediaType(schema=schema)}  # type: ignore[arg-type]  # a JSON Schema dict


def _error(description: str) -> OpenAPIResponse:
    return OpenAPIResponse(description=description, content=_json(ERROR_SCHEMA))


CLIENT_ERRORS = {
    "400": _error("Invalid request: malformed JSON, a wrong field (`param` names it)"),
    "401": _error("No key, or an unknown or revoked key"),
    "404": _error("Unknown route or model"),
    "413": _error("Body over SYNAXIS_MAX_BODY_BYTES"),
    "415": _error("A body declared as something other than JSON"),
}
ADMIN_ERRORS = {**CLIENT_ERRORS, "403": _error("A tenant key on an admin route")}
CHAT_ERRORS = {
    **CLIENT_ERRORS,
    "429": _error("The tenant's rate limit or budget, or every deployment rate limited"),
    "502": _error("Every candidate deployment failed; the message lists each attempt"),
    "503": _error("No deployment can serve the model now; the message says why"),
}


@dataclass
class ChatCompletionOperation(Operation):
    """``POST /v1/chat/completions``: the request body, the answer (JSON or SSE) and errors."""

    def __post_init__(self) -> None:
        self.request_body = RequestBody(content=_json(CHAT_REQUEST_SCHEMA), required=True)
        self.responses = {
            "200": OpenAPIResponse(
                description="The completion, or with `stream: true` an SSE stream of `chat.completion.chunk` "
                "events ending with `data: [DONE]` (or, after a failure mid-stream, `data: {\"error\": ...}`)",
                content={
                    **_json(CHAT_RESPONSE_SCHEMA),
                    "text/event-stream": OpenAPIMediaType(schema={"type": "string"}),  # type: ignore[arg-type]
                },
            ),
            **CHAT_ERRORS,
        }


def admin_operation(body: type[msgspec.Struct] | None = None) -> type[Operation]:
    """An ``Operation`` class for an admin route: the OpenAI error responses (not Litestar's
    validation-error shape), and the JSON schema of ``body`` when the route reads one."""
    schema: dict[str, Any] | None = None
    if body is not None:
        (_,), components = msgspec.json.schema_components((body,))
        schema = components[body.__name__]

    @dataclass
    class AdminOperation(Operation):
        def __post_init__(self) -> None:
            if schema is not None:
                self.request_body = RequestBody(content=_json(schema), required=bool(schema.get("required")))
            self.responses = {**(self.responses or {}), **ADMIN_ERRORS}

    AdminOperation.__name__ = AdminOperation.__qualname__ = f"Admin{body.__name__ if body else ''}Operation"
    return AdminOperation


@post(
    "/v1/chat/completions",
    status_code=200,
    operation_id="createChatCompletion",
    tags=["OpenAI"],
    summary="Create a chat completion",
    operation_class=ChatCompletionOperation,
)
async def chat_completions() -> None:
    """OpenAI-compatible chat completions, streaming (SSE) or not.

    Only its description: ``GatewayApp`` sends every request for this path to the plain
    ASGI endpoint (``server.chat``) before Litestar routes anything, so this handler is
    never entered; it is here for ``/schema``.
    """
    raise AssertionError("served by server.chat.ChatEndpoint")  # pragma: no cover
