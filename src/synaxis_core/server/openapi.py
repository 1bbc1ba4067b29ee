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


# --- POST /v1/responses (the OpenAI Responses dialect, server.responses) -------------------

_ITEMS = {"type": "array", "items": {"type": "object", "additionalProperties": True}}

RESPONSES_REQUEST_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "An OpenAI Responses request, served statelessly: `store` is treated as false; "
    "`previous_response_id`, `conversation`, `prompt` and `background: true` are refused (400). Hosted tools "
    "(web_search, file_search, code_interpreter, image_generation, mcp...) are dropped and named in the "
    "`x-synaxis-warning` header; other non-function tool kinds are refused. Fields of neither API pass to "
    "the upstream untouched.",
    "required": ["model", "input"],
    "additionalProperties": True,
    "properties": {
        "model": CHAT_REQUEST_SCHEMA["properties"]["model"],
        "input": {
            "oneOf": [{"type": "string"}, _ITEMS],
            "description": "A user message, or items: `message` (roles user, assistant, system, developer; parts "
            "input_text, input_image, output_text), `function_call`, `function_call_output`, `reasoning`.",
        },
        "instructions": {"type": ["string", "null"]},
        "stream": {"type": ["boolean", "null"]},
        "tools": _ITEMS,
        "tool_choice": {"oneOf": [{"type": "string", "enum": ["auto", "none", "required"]}, {"type": "object"}]},
        "parallel_tool_calls": {"type": ["boolean", "null"]},
        "text": {"type": "object", "additionalProperties": True,
                 "properties": {"format": {"type": "object", "additionalProperties": True},
                                "verbosity": {"type": ["string", "null"], "enum": ["low", "medium", "high", None]}}},
        "reasoning": {"type": ["object", "null"], "additionalProperties": True},
        "max_output_tokens": _COUNT,
        "temperature": CHAT_REQUEST_SCHEMA["properties"]["temperature"],
        "top_p": CHAT_REQUEST_SCHEMA["properties"]["top_p"],
        "store": {"type": ["boolean", "null"], "description": "Accepted; always false (nothing is stored)."},
        "previous_response_id": {"type": "null", "description": "Refused when set: nothing is stored."},
        "include": {"type": ["array", "null"], "items": {"type": "string"}},
        "prompt_cache_key": {"type": ["string", "null"]},
        "metadata": {"type": ["object", "null"], "additionalProperties": {"type": "string"}},
        "user": {"type": "string"},
    },
}

RESPONSES_RESPONSE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["id", "object", "created_at", "status", "model", "output"],
    "additionalProperties": True,
    "properties": {
        "id": {"type": "string", "pattern": "^resp_"},
        "object": {"const": "response"},
        "created_at": {"type": "integer"},
        "status": {"type": "string", "enum": ["completed", "incomplete", "failed"]},
        "model": {"type": "string", "description": "The deployment that answered."},
        "output": {**_ITEMS, "description": "`reasoning` (with a summary), `message` (output_text), `function_call`."},
        "usage": {"type": ["object", "null"], "additionalProperties": True},
    },
}


@dataclass
class CreateResponseOperation(Operation):
    """``POST /v1/responses``: the request body, the answer (JSON or named SSE events) and errors."""

    def __post_init__(self) -> None:
        self.request_body = RequestBody(content=_json(RESPONSES_REQUEST_SCHEMA), required=True)
        self.responses = {
            "200": OpenAPIResponse(
                description="The Response object, or with `stream: true` named SSE events (`response.created` ... "
                "`response.completed`; after a failure mid-stream `error` then `response.failed`)",
                content={
                    **_json(RESPONSES_RESPONSE_SCHEMA),
                    "text/event-stream": OpenAPIMediaType(schema={"type": "string"}),  # type: ignore[arg-type]
                },
            ),
            **CHAT_ERRORS,
        }


@post(
    "/v1/responses",
    status_code=200,
    operation_id="createResponse",
    tags=["OpenAI"],
    summary="Create a model response (OpenAI Responses API, stateless)",
    operation_class=CreateResponseOperation,
)
async def create_response() -> None:
    """The OpenAI Responses API on the same pipeline, streaming (SSE) or not.

    Only its description, like ``chat_completions``: ``server.responses.ResponsesEndpoint``
    serves the path.
    """
    raise AssertionError("served by server.responses.ResponsesEndpoint")  # pragma: no cover


# --- POST /v1/messages[/count_tokens] (the Anthropic Messages dialect, server.messages) -----

ANTHROPIC_ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["type", "error"],
    "properties": {
        "type": {"const": "error"},
        "error": {
            "type": "object",
            "required": ["type", "message"],
            "properties": {
                "type": {"type": "string", "enum": [
                    "invalid_request_error", "authentication_error", "permission_error", "not_found_error",
                    "rate_limit_error", "api_error", "overloaded_error",
                ]},
                "message": {"type": "string"},
            },
        },
    },
}

_BLOCKS = {"type": "array", "items": {"type": "object", "required": ["type"], "additionalProperties": True}}

MESSAGES_REQUEST_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "An Anthropic Messages request, translated to a chat completion (see the manual's Anthropic Messages page for the mapping). "
    "Content blocks: text, image, tool_use, tool_result, thinking (replayed thinking is dropped); tools with an "
    "`input_schema` become function tools, server tools are dropped; `cache_control`, `anthropic-beta` and "
    "unknown fields are ignored.",
    "required": ["model", "messages"],
    "additionalProperties": True,
    "properties": {
        "model": CHAT_REQUEST_SCHEMA["properties"]["model"],
        "messages": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": ["role", "content"],
                "additionalProperties": True,
                "properties": {
                    "role": {"type": "string", "enum": ["user", "assistant", "system"]},
                    "content": {"oneOf": [{"type": "string"}, _BLOCKS]},
                },
            },
        },
        "system": {"oneOf": [{"type": "string"}, _BLOCKS]},
        "max_tokens": _COUNT,
        "stream": {"type": ["boolean", "null"]},
        "stop_sequences": {"type": "array", "items": {"type": "string"}},
        "temperature": {"type": "number", "minimum": 0, "maximum": 1},
        "top_p": {"type": "number", "minimum": 0, "maximum": 1},
        "top_k": {"type": "integer", "minimum": 0},
        "tools": _BLOCKS,
        "tool_choice": {"type": "object", "additionalProperties": True,
                        "properties": {"type": {"type": "string", "enum": ["auto", "any", "tool", "none"]}}},
        "metadata": {"type": "object", "additionalProperties": True, "properties": {"user_id": {"type": "string"}}},
        "thinking": {"type": "object", "additionalProperties": True,
                     "properties": {"type": {"type": "string", "enum": ["enabled", "adaptive", "disabled"]}}},
        "output_config": {"type": "object", "additionalProperties": True},
    },
}

MESSAGE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["id", "type", "role", "model", "content", "stop_reason", "usage"],
    "additionalProperties": True,
    "properties": {
        "id": {"type": "string", "pattern": "^msg_"},
        "type": {"const": "message"},
        "role": {"const": "assistant"},
        "model": {"type": "string", "description": "The deployment that answered."},
        "content": {**_BLOCKS, "description": "`thinking`, `text`, `tool_use` blocks."},
        "stop_reason": {"type": "string", "enum": ["end_turn", "max_tokens", "stop_sequence", "tool_use", "refusal"]},
        "stop_sequence": {"type": ["string", "null"]},
        "usage": {"type": "object", "required": ["input_tokens", "output_tokens"], "additionalProperties": True},
    },
}


def _anthropic_errors(errors: dict[str, OpenAPIResponse]) -> dict[str, OpenAPIResponse]:
    """The statuses of ``errors``, in Anthropic's error shape."""
    return {status: OpenAPIResponse(description=r.description, content=_json(ANTHROPIC_ERROR_SCHEMA))
            for status, r in errors.items()}


@dataclass
class CreateMessageOperation(Operation):
    """``POST /v1/messages``: the request body, the message (JSON or named SSE events) and errors."""

    def __post_init__(self) -> None:
        self.request_body = RequestBody(content=_json(MESSAGES_REQUEST_SCHEMA), required=True)
        self.responses = {
            "200": OpenAPIResponse(
                description="The message, or with `stream: true` named SSE events (`message_start`, `ping`, "
                "`content_block_start` / `_delta` / `_stop`, `message_delta`, `message_stop`; after a failure "
                "mid-stream an `error` event)",
                content={
                    **_json(MESSAGE_SCHEMA),
                    "text/event-stream": OpenAPIMediaType(schema={"type": "string"}),  # type: ignore[arg-type]
                },
            ),
            **_anthropic_errors(CHAT_ERRORS),
        }


@dataclass
class CountMessageTokensOperation(Operation):
    """``POST /v1/messages/count_tokens``: the request body, the estimate and errors."""

    def __post_init__(self) -> None:
        self.request_body = RequestBody(content=_json(MESSAGES_REQUEST_SCHEMA), required=True)
        count = {"type": "object", "required": ["input_tokens"], "properties": {"input_tokens": {"type": "integer"}}}
        self.responses = {
            "200": OpenAPIResponse(description="Synaxis's estimate of the prompt's tokens", content=_json(count)),
            **_anthropic_errors(CLIENT_ERRORS),
        }


@post("/v1/messages", status_code=200, operation_id="createMessage", tags=["Anthropic"],
      summary="Create a message (Anthropic Messages API)", operation_class=CreateMessageOperation)
async def create_message() -> None:
    """Only its description, like ``chat_completions``: ``server.messages.MessagesEndpoint`` serves the path."""
    raise AssertionError("served by server.messages.MessagesEndpoint")  # pragma: no cover


@post("/v1/messages/count_tokens", status_code=200, operation_id="countMessageTokens", tags=["Anthropic"],
      summary="Count a message's input tokens (Synaxis's estimate)", operation_class=CountMessageTokensOperation)
async def count_message_tokens() -> None:
    """Only its description: ``server.messages.CountTokensEndpoint`` serves the path."""
    raise AssertionError("served by server.messages.CountTokensEndpoint")  # pragma: no cover
