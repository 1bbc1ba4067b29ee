"""Anthropic Messages requests as ``ChatRequest``, and errors in Anthropic's shape."""

from __future__ import annotations

from typing import Any, Literal

import msgspec

from synaxis_core.errors import InvalidRequest, SynaxisError
from synaxis_core.ledger.cost import estimate_prompt_tokens
from synaxis_core.types import ChatRequest

DIALECT = "messages"
# --- errors ------------------------------------------------------------------------------

ERROR_TYPES = {
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    429: "rate_limit_error",
    503: "overloaded_error",
}
"""Anthropic's error type by status; any other 4xx is ``invalid_request_error``, 5xx ``api_error``."""


def error_body(status: int, message: str) -> dict[str, Any]:
    kind = ERROR_TYPES.get(status) or ("invalid_request_error" if status < 500 else "api_error")
    return {"type": "error", "error": {"type": kind, "message": message}}


def anthropic_error_shape(exc: SynaxisError) -> dict[str, Any]:
    """The error writer's ``shape`` for this dialect (``server.errors.send_error``)."""
    return error_body(exc.status, exc.message)


# --- request -----------------------------------------------------------------------------


class _Message(msgspec.Struct):
    role: Literal["user", "assistant", "system"]
    content: str | list[dict[str, Any]]


class _Request(msgspec.Struct):
    """The fields read; any other is ignored."""

    model: str
    messages: list[_Message]
    system: str | list[dict[str, Any]] | None = None
    max_tokens: int | None = None
    stream: bool | None = None
    stop_sequences: list[str] | None = None
    temperature: float | None = None
    top_p: float | None = None
    top_k: int | None = None
    tools: list[dict[str, Any]] | None = None
    tool_choice: dict[str, Any] | None = None
    metadata: dict[str, Any] | None = None
    thinking: dict[str, Any] | None = None
    output_config: dict[str, Any] | None = None


EFFORTS = {"low": "low", "medium": "medium", "high": "high", "xhigh": "high", "max": "high"}
"""``output_config.effort`` -> the chat ``reasoning_effort``."""
_encode = msgspec.json.encode
_decode = msgspec.json.decode


def translate_request(
    body: dict[str, Any], reasoning_mode: str = "separate", max_output_limit: int | None = None
) -> ChatRequest:
    """A Messages request as the pipeline's chat request; ``InvalidRequest`` when it is
    unusable (``max_tokens`` above ``max_output_limit`` included)."""
    for name in ("model", "messages"):
        if name not in body:
            raise InvalidRequest(f"{name}: Field required", param=name, code="missing_required_parameter")
    try:
        view = msgspec.convert(body, _Request)
    except msgspec.ValidationError as exc:
        raise InvalidRequest(f"Invalid request: {exc}") from None
    if not view.model.strip():
        raise InvalidRequest("model: must not be empty", param="model")
    if not view.messages:
        raise InvalidRequest("messages: at least one message is required", param="messages")
    if view.max_tokens is not None and view.max_tokens < 1:
        raise InvalidRequest(f"max_tokens: must be at least 1, got {view.max_tokens}", param="max_tokens")
    if view.max_tokens is not None and max_output_limit is not None and view.max_tokens > max_output_limit:
        raise InvalidRequest(f"max_tokens: {view.max_tokens} is beyond any model's output limit", param="max_tokens")
    chat: dict[str, Any] = {"model": view.model, "messages": _messages(view)}
    if not chat["messages"]:
        raise InvalidRequest("messages: no message has any content this gateway can send", param="messages")
    for name, value in (("max_tokens", view.max_tokens), ("temperature", view.temperature),
                        ("top_p", view.top_p), ("top_k", view.top_k), ("stop", view.stop_sequences)):
        if value is not None:
            chat[name] = value
    if view.stream:
        chat["stream"] = True
    user = (view.metadata or {}).get("user_id")
    if isinstance(user, str) and user:
        chat["user"] = user
    effort = _effort(view.thinking, view.output_config)
    if effort:
        chat["reasoning_effort"] = effort
    _add_tools(chat, view.tools, view.tool_choice)
    thinking = view.thinking or {}
    unwanted = thinking.get("type") == "disabled" or thinking.get("display") == "omitted"
    mode = "strip" if unwanted else "separate" if reasoning_mode == "keep" else reasoning_mode
    return ChatRequest(chat, model=view.model, stream=bool(view.stream), max_output=view.max_tokens,
                       reasoning_mode=mode, dialect=DIALECT)


def count_tokens(body: dict[str, Any]) -> dict[str, int]:
    """The answer of ``/v1/messages/count_tokens``: the estimate the pipeline admits with."""
    return {"input_tokens": estimate_prompt_tokens(translate_request(body).messages)}


def _effort(thinking: dict[str, Any] | None, output_config: dict[str, Any] | None) -> str | None:
    effort = (output_config or {}).get("effort")
    if isinstance(effort, str) and effort.lower() in EFFORTS:
        return EFFORTS[effort.lower()]
    budget = (thinking or {}).get("budget_tokens")
    if (thinking or {}).get("type") == "enabled" and isinstance(budget, int):
        return "low" if budget < 4096 else "medium" if budget < 16384 else "high"
    return None


def _add_tools(chat: dict[str, Any], tools: list[dict[str, Any]] | None, choice: dict[str, Any] | None) -> None:
    functions = []
    for i, tool in enumerate(tools or ()):
        if "input_schema" not in tool or tool.get("defer_loading") is True:
            continue  # a server tool (Anthropic runs those), or one only a tool search would load
        function = {"name": _string(tool, "name", f"tools[{i}]"), "parameters": tool["input_schema"]}
        if isinstance(tool.get("description"), str):
            function["description"] = tool["description"]
        functions.append({"type": "function", "function": function})
    if not functions:
        return
    chat["tools"] = functions
    kind = (choice or {}).get("type")
    if kind in ("auto", "none"):
        chat["tool_choice"] = kind
    elif kind == "any":
        chat["tool_choice"] = "required"
    elif kind == "tool":
        name = _string(choice, "name", "tool_choice")  # type: ignore[arg-type]
        chat["tool_choice"] = {"type": "function", "function": {"name": name}}
    if (choice or {}).get("disable_parallel_tool_use") is True:
        chat["parallel_tool_calls"] = False


def _messages(view: _Request) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    if view.system:
        system = _text(view.system, "system")
        if system:
            out.append({"role": "system", "content": system})
    for i, message in enumerate(view.messages):
        where = f"messages[{i}]"
        if message.role == "system":
            out.append({"role": "system", "content": _text(message.content, where)})
        elif message.role == "user":
            out.extend(_user(message.content, where))
        else:
            out.extend(_assistant(message.content, where))
    return out


def _string(block: dict[str, Any], key: str, where: str) -> str:
    value = block.get(key)
    if not isinstance(value, str):
        raise InvalidRequest(f"{where}.{key}: a string is required", param=f"{where}.{key}")
    return value


def _blocks(content: str | list[dict[str, Any]], where: str) -> list[tuple[str, dict[str, Any], str]]:
    """``(type, block, where)`` of each content block (a string is one text block)."""
    if isinstance(content, str):
        return [("text", {"type": "text", "text": content}, where)]
    return [(_string(block, "type", f"{where}.content[{j}]"), block, f"{where}.content[{j}]")
            for j, block in enumerate(content)]


def _text(content: str | list[dict[str, Any]], where: str) -> str:
    """The text blocks of ``content`` joined by a blank line (other blocks ignored)."""
    return "\n\n".join(_string(b, "text", w) for kind, b, w in _blocks(content, where) if kind == "text")


def _image(block: dict[str, Any], where: str) -> dict[str, Any] | None:
    source = block.get("source")
    if not isinstance(source, dict):
        raise InvalidRequest(f"{where}.source: an object is required", param=f"{where}.source")
    if source.get("type") == "base64":
        url = f"data:{_string(source, 'media_type', where)};base64,{_string(source, 'data', where)}"
    elif source.get("type") == "url":
        url = _string(source, "url", where)
    else:
        return None  # a Files API id: nothing to send
    return {"type": "image_url", "image_url": {"url": url}}


def _user(content: str | list[dict[str, Any]], where: str) -> list[dict[str, Any]]:
    """Tool results first (chat wants them right after the assistant's calls), then the rest."""
    results: list[dict[str, Any]] = []
    parts: list[dict[str, Any]] = []
    for kind, block, at in _blocks(content, where):
        if kind == "text":
            parts.append({"type": "text", "text": _string(block, "text", at)})
        elif kind == "image":
            parts.append(_image(block, at))
        elif kind == "tool_result":
            results.append(_tool_result(block, at, parts))
        elif kind == "document" and (block.get("source") or {}).get("type") == "text":
            parts.append({"type": "text", "text": _string(block["source"], "data", at)})
    parts = [p for p in parts if p is not None]
    if not parts:
        return results
    if all(p["type"] == "text" for p in parts):
        return [*results, {"role": "user", "content": "\n\n".join(p["text"] for p in parts)}]
    return [*results, {"role": "user", "content": parts}]


def _tool_result(block: dict[str, Any], where: str, parts: list[dict[str, Any]]) -> dict[str, Any]:
    """A ``tool`` message; the result's images go to ``parts`` (a chat tool message is text)."""
    content = block.get("content")
    if content is None or isinstance(content, str):
        text = content or ""
    elif isinstance(content, list):
        text = _text(content, where)
        parts.extend(_image(b, w) for kind, b, w in _blocks(content, where) if kind == "image")
    else:
        raise InvalidRequest(f"{where}.content: a string or a list of blocks is required", param=f"{where}.content")
    if block.get("is_error") is True:
        text = f"Error: {text}" if text else "Error"
    return {"role": "tool", "tool_call_id": _string(block, "tool_use_id", where), "content": text}


def _assistant(content: str | list[dict[str, Any]], where: str) -> list[dict[str, Any]]:
    """Text and tool calls; thinking blocks (replayed reasoning) are dropped."""
    texts, calls = [], []
    for kind, block, at in _blocks(content, where):
        if kind == "text":
            texts.append(_string(block, "text", at))
        elif kind == "tool_use":
            arguments = _encode(block.get("input") or {}).decode()
            function = {"name": _string(block, "name", at), "arguments": arguments}
            calls.append({"id": _string(block, "id", at), "type": "function", "function": function})
    text = "\n\n".join(t for t in texts if t)
    if not text and not calls:
        return []
    message: dict[str, Any] = {"role": "assistant", "content": text or None}
    if calls:
        message["tool_calls"] = calls
    return [message]
