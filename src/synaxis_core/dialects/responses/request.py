"""A Responses request as the pipeline's ``ChatRequest``, and the ``ResponseShell`` its answer echoes."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from synaxis_core.dialects.fields import check_fields
from synaxis_core.errors import InvalidRequest
from synaxis_core.types import ChatRequest

HOSTED_TOOLS = frozenset({
    "web_search", "web_search_preview", "web_search_2025_08_26", "web_search_preview_2025_03_11",
    "file_search", "code_interpreter", "image_generation", "mcp", "tool_search",
})
"""Tool kinds run by OpenAI's servers: no chat upstream can run them, so they are dropped."""

STATEFUL = {
    "previous_response_id": "Synaxis keeps no responses (it is stateless): `previous_response_id` cannot be "
    "resolved; send the whole conversation in `input`",
    "conversation": "Synaxis keeps no conversations (it is stateless): send the whole conversation in `input`",
    "prompt": "Synaxis keeps no stored prompts: send the instructions in `instructions` or `input`",
}
"""Request fields that need a response store, refused with a 400 when set."""

IGNORED = frozenset({
    "store", "include", "metadata", "client_metadata", "truncation", "max_tool_calls", "service_tier",
    "stream_options", "prompt_cache_retention", "prompt_cache_options", "background", "background_options",
    "context_management", "access_programs", "image", "moderation", "top_logprobs",
})
"""Responses fields accepted without an upstream equivalent (``metadata`` is echoed)."""

MAPPED = frozenset({
    "model", "input", "instructions", "tools", "tool_choice", "text", "reasoning", "max_output_tokens",
})
"""Responses fields translated into chat-completions fields. Every other field (those of
the same name in both APIs: ``temperature``, ``top_p``, ``user``, ``parallel_tool_calls``,
``prompt_cache_key``, ``safety_identifier``, ``stream``; and a vendor extra such as
``top_k``) goes to the upstream as it came."""

CONSUMED = MAPPED | IGNORED | STATEFUL.keys()

TYPES: dict[str, tuple[type, ...]] = {
    "model": (str,), "instructions": (str,), "stream": (bool,), "text": (dict,), "reasoning": (dict,),
    "metadata": (dict,), "temperature": (int, float), "top_p": (int, float), "parallel_tool_calls": (bool,),
    "user": (str,), "prompt_cache_key": (str,),
}
"""The types of the fields Synaxis reads or echoes (a wrong one is a 400 naming it)."""

ROLES = {"user": "user", "assistant": "assistant", "system": "system", "developer": "system"}
NAMESPACE_SEPARATOR = "__"


@dataclass
class ResponseShell:
    """What a Response object echoes of its request, and the names to map back."""

    id: str
    created_at: int
    model: str
    echo: dict[str, Any]
    namespaces: dict[str, tuple[str, str]] = field(default_factory=dict)
    """Flattened tool name -> (namespace, name) of the tools of a namespace tool."""
    dropped_tools: list[str] = field(default_factory=list)
    """Hosted tool kinds left out of the request (the endpoint warns about them)."""

    def item_id(self, prefix: str, index: int) -> str:
        return f"{prefix}_{self.id.removeprefix('resp_')}{index:03d}"

    def response(self, status: str, output: list[dict[str, Any]], **fields: Any) -> dict[str, Any]:
        return {"id": self.id, "object": "response", "created_at": self.created_at, "status": status,
                "model": self.model, "output": output, "error": None, "incomplete_details": None,
                "usage": None, **self.echo, **fields}


# --- the request ---------------------------------------------------------------------------


def to_chat_request(
    body: dict[str, Any],
    *,
    response_id: str,
    created_at: int,
    reasoning_mode: str = "separate",
    max_output_limit: int | None = None,
) -> tuple[ChatRequest, ResponseShell]:
    """The chat request for the pipeline, and the shell of its answer; ``InvalidRequest``
    (naming the field) for what cannot be served."""
    check_fields(body, ("model", "input"), TYPES)
    _check_parts(body)
    model = body["model"]
    if not model.strip():
        raise InvalidRequest("`model` must not be empty", param="model")
    for name, why in STATEFUL.items():
        if body.get(name) is not None:
            raise InvalidRequest(why, param=name, code="unsupported_parameter")
    if body.get("background"):
        raise InvalidRequest("Background responses need a response store, which Synaxis does not keep",
                             param="background", code="unsupported_parameter")
    shell = ResponseShell(id=response_id, created_at=created_at, model=model, echo={})
    chat: dict[str, Any] = {k: v for k, v in body.items() if k not in CONSUMED}
    chat["model"] = model
    chat["messages"] = _messages(body)
    tools = _tools(body.get("tools"), shell)
    if tools:
        chat["tools"] = tools
    if body.get("tool_choice") is not None:
        _tool_choice(body["tool_choice"], chat)
    text = body.get("text") or {}
    response_format = _response_format(text.get("format"))
    if response_format is not None:
        chat["response_format"] = response_format
    if text.get("verbosity") is not None:
        chat["verbosity"] = text["verbosity"]
    reasoning = body.get("reasoning") or {}
    if reasoning.get("effort") is not None:
        chat["reasoning_effort"] = reasoning["effort"]
    max_output = _max_output(body, max_output_limit)
    if max_output is not None:
        chat["max_tokens"] = max_output
    shell.echo = _echo(body, text, reasoning, max_output)
    request = ChatRequest(chat, model=model, stream=bool(body.get("stream")), max_output=max_output,
                          reasoning_mode=reasoning_mode, dialect="responses")
    return request, shell


def _check_parts(body: dict[str, Any]) -> None:
    """The nested fields Synaxis reads: ``text.verbosity``, ``reasoning.*``, ``metadata``."""
    for name, part in (("text", "verbosity"), ("reasoning", "effort"), ("reasoning", "summary")):
        if not isinstance((body.get(name) or {}).get(part), (str, type(None))):
            raise InvalidRequest(f"`{name}.{part}` must be a string", param=f"{name}.{part}")
    metadata = body.get("metadata") or {}
    if not all(isinstance(value, str) for value in metadata.values()):
        raise InvalidRequest("`metadata` values must be strings", param="metadata")


def _max_output(body: dict[str, Any], limit: int | None) -> int | None:
    value = body.get("max_output_tokens")
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise InvalidRequest(f"`max_output_tokens` must be an integer of at least 1, got {value!r}",
                             param="max_output_tokens")
    if limit is not None and value > limit:
        raise InvalidRequest(f"`max_output_tokens` of {value} is beyond any model's output limit",
                             param="max_output_tokens")
    return value


def _echo(
    body: dict[str, Any], text: dict[str, Any], reasoning: dict[str, Any], max_output: int | None
) -> dict[str, Any]:
    """The request fields every Response object repeats."""
    return {
        "instructions": body.get("instructions"), "max_output_tokens": max_output,
        "metadata": body.get("metadata") or {}, "parallel_tool_calls": body.get("parallel_tool_calls", True),
        "previous_response_id": None,
        "reasoning": {"effort": reasoning.get("effort"), "summary": reasoning.get("summary")},
        "store": False, "temperature": body.get("temperature"), "top_p": body.get("top_p"),
        "text": {"format": text.get("format") or {"type": "text"}, "verbosity": text.get("verbosity")},
        "tool_choice": body.get("tool_choice") or "auto",
        "tools": [t for t in body.get("tools") or () if _kind(t) not in HOSTED_TOOLS],
        "truncation": "disabled", "user": body.get("user"), "prompt_cache_key": body.get("prompt_cache_key"),
    }


def _messages(body: dict[str, Any]) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = []
    instructions = body.get("instructions")
    if instructions:
        messages.append({"role": "system", "content": instructions})
    items = body["input"]
    if isinstance(items, str):
        messages.append({"role": "user", "content": items})
    elif isinstance(items, list):
        for index, item in enumerate(items):
            _add_item(messages, item, f"input[{index}]")
    else:
        raise InvalidRequest("`input` must be a string or a list of items", param="input")
    if not messages:
        raise InvalidRequest("`input` must contain at least one item", param="input")
    return messages


def _add_item(messages: list[dict[str, Any]], item: Any, where: str) -> None:
    if not isinstance(item, dict):
        raise InvalidRequest(f"`{where}` must be an object", param=where)
    kind = _kind(item) or ("message" if "role" in item else None)
    if kind == "message":
        role = ROLES.get(item["role"]) if isinstance(item.get("role"), str) else None
        if role is None:
            raise InvalidRequest(f"`{where}.role` must be one of {', '.join(ROLES)}", param=f"{where}.role")
        content = _content(item.get("content"), f"{where}.content", images=role == "user")
        last = messages[-1] if messages else None
        if role == "system" and last is not None and last["role"] == "system":
            last["content"] += "\n\n" + content  # one system message: many chat templates take no more
        else:
            messages.append({"role": role, "content": content})
    elif kind == "function_call":
        call = {"id": _text(item, "call_id", where), "type": "function",
                "function": {"name": _flat(item.get("namespace"), _text(item, "name", where)),
                             "arguments": _text(item, "arguments", where)}}
        last = messages[-1] if messages else None
        if last is None or last["role"] != "assistant":
            last = {"role": "assistant", "content": None}
            messages.append(last)
        last.setdefault("tool_calls", []).append(call)
    elif kind == "function_call_output":
        output = item.get("output")
        content = output if isinstance(output, str) else _content(output, f"{where}.output", images=False)
        messages.append({"role": "tool", "tool_call_id": _text(item, "call_id", where), "content": content})
    elif kind == "reasoning":
        pass  # echoed back by stateless clients; chat upstreams take no reasoning back
    elif kind == "item_reference":
        raise InvalidRequest(f"`{where}`: item references need a response store, which Synaxis does not keep",
                             param=where, code="unsupported_parameter")
    else:
        raise InvalidRequest(f"`{where}`: input items of type {kind!r} are not supported (message, function_call, "
                             "function_call_output and reasoning are)", param=f"{where}.type")


def _text(item: dict[str, Any], name: str, where: str) -> str:
    value = item.get(name)
    if not isinstance(value, str):
        raise InvalidRequest(f"`{where}.{name}` must be a string", param=f"{where}.{name}")
    return value


def _content(content: Any, where: str, *, images: bool) -> Any:
    """Message content as chat content: a string, or (with an image) a list of parts."""
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        raise InvalidRequest(f"`{where}` must be a string or a list of content parts", param=where)
    parts: list[dict[str, Any]] = []
    for index, part in enumerate(content):
        at = f"{where}[{index}]"
        kind = _kind(part)
        if kind in ("input_text", "output_text", "text"):
            parts.append({"type": "text", "text": _text(part, "text", at)})
        elif kind == "refusal":
            parts.append({"type": "text", "text": _text(part, "refusal", at)})
        elif kind == "input_image" and images and isinstance(part.get("image_url"), str):
            image = {"url": part["image_url"], **({"detail": part["detail"]} if part.get("detail") else {})}
            parts.append({"type": "image_url", "image_url": image})
        elif kind == "input_image" and images:
            raise InvalidRequest(f"`{at}`: images by `file_id` need a file store; send `image_url` (a URL or a "
                                 "data URL)", param=f"{at}.file_id", code="unsupported_parameter")
        else:
            raise InvalidRequest(f"`{at}`: content of type {kind!r} is not supported here (input_text, output_text"
                                 f"{', input_image' if images else ''} are)", param=f"{at}.type")
    if all(part["type"] == "text" for part in parts):
        return "\n".join(part["text"] for part in parts)
    return parts


def _kind(value: Any) -> str | None:
    """The ``type`` of an object of the request, when it is a string."""
    kind = value.get("type") if isinstance(value, dict) else None
    return kind if isinstance(kind, str) else None


def _flat(namespace: Any, name: str) -> str:
    return f"{namespace}{NAMESPACE_SEPARATOR}{name}" if namespace else name


def _tools(tools: Any, shell: ResponseShell) -> list[dict[str, Any]]:
    """Function tools as chat tools; a namespace's tools flattened to ``namespace__name``."""
    if tools is None:
        return []
    if not isinstance(tools, list):
        raise InvalidRequest("`tools` must be a list", param="tools")
    out: list[dict[str, Any]] = []
    for index, tool in enumerate(tools):
        kind = _kind(tool)
        if kind == "namespace" and isinstance(tool.get("tools"), list):
            namespace = _text(tool, "name", f"tools[{index}]")
            for inner, member in enumerate(tool["tools"]):
                function = _function(member, f"tools[{index}].tools[{inner}]", namespace)
                shell.namespaces[function["function"]["name"]] = (namespace, member["name"])
                out.append(function)
        elif kind in HOSTED_TOOLS:
            shell.dropped_tools.append(kind)  # type: ignore[arg-type]
        else:
            out.append(_function(tool, f"tools[{index}]"))
    return out


def _function(tool: Any, where: str, namespace: str | None = None) -> dict[str, Any]:
    kind = _kind(tool)
    if kind != "function":
        raise InvalidRequest(f"`{where}`: tools of type {kind!r} are not supported: chat upstreams only call "
                             "functions (send it as a `function` tool)", param=f"{where}.type")
    function = {"name": _flat(namespace, _text(tool, "name", where))}
    for key in ("description", "parameters", "strict"):
        if tool.get(key) is not None:
            function[key] = tool[key]
    return {"type": "function", "function": function}


def _tool_choice(choice: Any, chat: dict[str, Any]) -> None:
    if choice in ("auto", "none", "required"):
        chat["tool_choice"] = choice
        return
    if not isinstance(choice, dict):
        raise InvalidRequest("`tool_choice` must be auto, none, required or an object", param="tool_choice")
    kind = _kind(choice)
    if kind == "function" and isinstance(choice.get("name"), str):
        chat["tool_choice"] = {"type": "function", "function": {"name": _flat(choice.get("namespace"), choice["name"])}}
    elif kind == "allowed_tools" and isinstance(choice.get("tools"), list):
        allowed = {_flat(t.get("namespace"), t.get("name", "")) for t in choice["tools"] if isinstance(t, dict)}
        chat["tools"] = [t for t in chat.get("tools", ()) if t["function"]["name"] in allowed]
        chat["tool_choice"] = choice.get("mode") or "auto"
    else:
        why = "a hosted tool Synaxis does not run" if kind in HOSTED_TOOLS else "not a function tool"
        raise InvalidRequest(f"`tool_choice` of type {kind!r} is {why}", param="tool_choice")


def _response_format(format_: Any) -> dict[str, Any] | None:
    """``text.format`` as ``response_format``."""
    kind = _kind(format_)
    if format_ is None or kind == "text":
        return None
    if kind == "json_object":
        return {"type": "json_object"}
    if kind == "json_schema" and isinstance(format_.get("schema"), dict):
        schema = {k: format_[k] for k in ("name", "schema", "strict", "description") if format_.get(k) is not None}
        return {"type": "json_schema", "json_schema": {"name": "response", **schema}}
    raise InvalidRequest("`text.format` must be text, json_object or json_schema with a `schema`",
                         param="text.format")
