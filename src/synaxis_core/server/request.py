"""Decoding a chat-completion request once, validating only what Synaxis relies on.

The body is decoded to a dict exactly once (msgspec); unknown fields stay in it and go
to the upstream untouched. The few fields the gateway reads are checked with a typed
view so a wrong type is a 400 naming the field.
"""

from __future__ import annotations

from typing import Any, Literal

import msgspec

from synaxis_core.errors import InvalidRequest, missing_parameter
from synaxis_core.server.edge import decode_json_object
from synaxis_core.types import ChatRequest

Role = Literal["system", "developer", "user", "assistant", "tool", "function"]


class _Message(msgspec.Struct):
    role: Role
    content: str | list[dict[str, Any]] | None = None


class _StreamOptions(msgspec.Struct):
    include_usage: bool | None = None


class _ChatRequest(msgspec.Struct):
    model: str
    messages: list[_Message]
    stream: bool | None = None
    stream_options: _StreamOptions | None = None
    max_tokens: int | None = None
    max_completion_tokens: int | None = None
    n: int | None = None



MAX_OUTPUT_ESTIMATE = 1_000_000


def decode_chat_request(raw: bytes, reasoning_mode: str = "separate") -> ChatRequest:
    body = decode_json_object(raw, "`model` and `messages`")
    for name in ("model", "messages"):
        if name not in body:
            raise missing_parameter(name)
    try:
        view = msgspec.convert(body, _ChatRequest)
    except msgspec.ValidationError as exc:
        raise InvalidRequest(f"Invalid request: {exc}", param=_param(str(exc))) from None
    except RecursionError:
        raise InvalidRequest("The request body is nested too deeply") from None
    if not view.model.strip():
        raise InvalidRequest("`model` must not be empty", param="model")
    if not view.messages:
        raise InvalidRequest("`messages` must contain at least one message", param="messages")
    for name in ("max_tokens", "max_completion_tokens", "n"):
        value = getattr(view, name)
        if value is not None and value < 1:
            raise InvalidRequest(f"`{name}` must be at least 1, got {value}", param=name)
    field = "max_completion_tokens" if view.max_completion_tokens else "max_tokens"
    max_output = view.max_completion_tokens or view.max_tokens
    if max_output is not None and max_output > MAX_OUTPUT_ESTIMATE:
        raise InvalidRequest(f"`{field}` of {max_output} is beyond any model's output limit", param=field)
    return ChatRequest(
        body, model=view.model, stream=bool(view.stream), max_output=max_output, reasoning_mode=reasoning_mode,
        include_usage=bool(view.stream_options and view.stream_options.include_usage),
    )


def _param(message: str) -> str | None:
    """``... - at `$.messages[0].role``` -> ``messages[0].role``."""
    marker = "at `$."
    if marker not in message:
        return None
    return message.split(marker, 1)[1].rstrip("`")
