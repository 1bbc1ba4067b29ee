"""The Anthropic Messages dialect (``/v1/messages``), translated to and from chat terms.

- ``translate_request``: a Messages request (decoded JSON) -> ``ChatRequest``
  (``dialect="messages"``); ``count_tokens`` -> ``{"input_tokens": N}``, Synaxis's own
  estimate of the translated messages.
- ``to_message``: a whole chat completion -> an Anthropic ``message``.
- ``StreamTranslator``: ``chat.completion.chunk`` dicts in, ``(event name, data)`` out,
  then ``finish()``: ``message_start``, ``ping``, ``content_block_start`` / ``_delta`` /
  ``_stop`` per block, ``message_delta``, ``message_stop``. Folding its events back into
  a message gives exactly what ``to_message`` gives for the same answer unstreamed.
- ``anthropic_error_shape`` / ``error_body``: errors as ``{"type": "error", "error":
  {"type", "message"}}``.

Choices made where chat completions have no equivalent (README, "Anthropic Messages"):
thinking blocks sent back by the client (with their ``signature``) are dropped, since
chat upstreams have no common field for an earlier turn's reasoning and some refuse it;
the thinking blocks answered carry an empty ``signature``; ``cache_control``, server
tools (no ``input_schema``) and unknown fields and blocks are ignored; ``is_error`` on a
tool result prefixes its text with ``Error:``.
"""

from __future__ import annotations

from typing import Any, Literal

import msgspec

from synaxis_core.errors import InvalidRequest, SynaxisError
from synaxis_core.ledger.cost import estimate_prompt_tokens, tokens_for_chars
from synaxis_core.types import ChatRequest

DIALECT = "messages"
Event = tuple[str, dict[str, Any]]
"""One server-sent event: its ``event:`` name and its data."""

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


# --- response ----------------------------------------------------------------------------


def to_message(response: dict[str, Any], request: ChatRequest, message_id: str) -> dict[str, Any]:
    """A whole chat completion (post-processed, ``model`` set) as an Anthropic message."""
    choices = response.get("choices") or [{}]
    choice = choices[0] if isinstance(choices[0], dict) else {}
    message = choice.get("message") or {}
    content: list[dict[str, Any]] = []
    reasoning, text = _reasoning(message), message.get("content")
    text = text if isinstance(text, str) else ""
    if reasoning:
        content.append({"type": "thinking", "thinking": reasoning, "signature": ""})
    if text:
        content.append({"type": "text", "text": text})
    chars = len(reasoning) + len(text)
    calls = message.get("tool_calls") or ()
    for i, call in enumerate(calls):
        function = call.get("function") or {}
        arguments = function.get("arguments") if isinstance(function.get("arguments"), str) else ""
        content.append({**_tool_use(call.get("id"), function.get("name"), message_id, i), "input": _input(arguments)})
        chars += len(arguments)
    end = _Ending(request)
    end.take(choice)
    stop_reason, stop_sequence = end.stop(bool(calls))
    return {
        "id": message_id, "type": "message", "role": "assistant", "model": response.get("model"),
        "content": content, "stop_reason": stop_reason, "stop_sequence": stop_sequence,
        "usage": end.usage(response.get("usage"), chars),
    }


def _reasoning(part: dict[str, Any]) -> str:
    """The separated reasoning of a message or delta (the post-processors put the same
    text in ``reasoning_content`` and ``reasoning``; an upstream may send either)."""
    value = part.get("reasoning_content")
    if not isinstance(value, str) or not value:
        value = part.get("reasoning")
    return value if isinstance(value, str) else ""


def _tool_use(call_id: Any, name: Any, message_id: str, position: int) -> dict[str, Any]:
    if not isinstance(call_id, str) or not call_id:
        call_id = f"{message_id.removeprefix('msg_')}_{position}"
    return {"type": "tool_use", "id": call_id if call_id.startswith("toolu_") else f"toolu_{call_id}",
            "name": name if isinstance(name, str) else ""}


def _input(arguments: str) -> dict[str, Any]:
    """The tool call's arguments as the ``input`` object (``{}`` when they are not one)."""
    try:
        value = _decode(arguments) if arguments else {}
    except (msgspec.DecodeError, UnicodeDecodeError, RecursionError):
        return {}
    return value if isinstance(value, dict) else {}


class _Ending:
    """How an answer ended (finish reason, the stop sequence matched) and its usage."""

    __slots__ = ("stops", "estimate", "finish", "matched")

    def __init__(self, request: ChatRequest) -> None:
        stops = request.body.get("stop")
        self.stops = tuple(stops) if isinstance(stops, list) else ()
        self.estimate = estimate_prompt_tokens(request.messages)
        self.finish: str | None = None
        self.matched: str | None = None

    def take(self, choice: dict[str, Any]) -> None:
        """A choice's ``finish_reason`` and the stop string it says matched (vLLM's
        ``stop_reason``, SGLang's ``matched_stop``)."""
        if choice.get("finish_reason"):
            self.finish = choice["finish_reason"]
            matched = choice.get("stop_reason") or choice.get("matched_stop")
            self.matched = matched if isinstance(matched, str) else None

    def stop(self, used_tools: bool) -> tuple[str, str | None]:
        if self.finish == "length":
            return "max_tokens", None
        if used_tools or self.finish in ("tool_calls", "function_call"):
            return "tool_use", None
        if self.finish == "content_filter":
            return "refusal", None
        if self.matched is not None and self.matched in self.stops:
            return "stop_sequence", self.matched
        return "end_turn", None

    def usage(self, usage: Any, output_chars: int) -> dict[str, int]:
        """Anthropic's usage: the upstream's where it said, else Synaxis's estimates."""
        usage = usage if isinstance(usage, dict) else {}
        prompt, completion = usage.get("prompt_tokens"), usage.get("completion_tokens")
        out = {
            "input_tokens": prompt if isinstance(prompt, int) and prompt > 0 else self.estimate,
            "output_tokens": completion if isinstance(completion, int) else tokens_for_chars(output_chars),
        }
        cached = (usage.get("prompt_tokens_details") or {}).get("cached_tokens")
        if isinstance(cached, int) and 0 <= cached <= out["input_tokens"]:
            out["input_tokens"] -= cached  # Anthropic counts cache reads apart from input
            out["cache_read_input_tokens"] = cached
        return out


class StreamTranslator:
    """A chunk stream as Anthropic's events: ``feed`` each chunk, then ``finish()``.

    Blocks follow the deltas: reasoning opens a ``thinking`` block, content a ``text``
    block, each tool call a ``tool_use`` block whose arguments go out as
    ``input_json_delta`` as they arrive; a change of kind closes the open block. The
    finish reason and the usage chunk (last) are kept for ``message_delta``, sent by
    ``finish`` (post-processors may still flush text after the finish reason).
    """

    def __init__(self, request: ChatRequest, message_id: str) -> None:
        self.message_id = message_id
        self._end = _Ending(request)
        self._started = False
        self._open: Any = None  # "thinking", "text" or ("tool", key) of the open block
        self._blocks = 0
        self._tools: dict[Any, int] = {}  # the chat tool-call key -> its block's index
        self._last_tool: Any = None
        self._usage: Any = None
        self._chars = 0

    def feed(self, chunk: dict[str, Any]) -> list[Event]:
        events = self._start(chunk.get("model"))
        if chunk.get("usage"):
            self._usage = chunk["usage"]
        for choice in chunk.get("choices") or ():
            if choice.get("index", 0) != 0:
                continue
            delta = choice.get("delta") or {}
            reasoning, text = _reasoning(delta), delta.get("content")
            if reasoning:
                self._text(events, "thinking", reasoning)
            if isinstance(text, str) and text:
                self._text(events, "text", text)
            for call in delta.get("tool_calls") or ():
                self._tool(events, call)
            self._end.take(choice)
        return events

    def finish(self) -> list[Event]:
        events = self._start(None)
        self._close(events)
        stop_reason, stop_sequence = self._end.stop(bool(self._tools))
        events.append(("message_delta", {
            "type": "message_delta", "delta": {"stop_reason": stop_reason, "stop_sequence": stop_sequence},
            "usage": self._end.usage(self._usage, self._chars),
        }))
        events.append(("message_stop", {"type": "message_stop"}))
        return events

    def _start(self, model: Any) -> list[Event]:
        if self._started:
            return []
        self._started = True
        message = {
            "id": self.message_id, "type": "message", "role": "assistant", "model": model, "content": [],
            "stop_reason": None, "stop_sequence": None,
            "usage": {"input_tokens": self._end.estimate, "output_tokens": 0},
        }
        return [("message_start", {"type": "message_start", "message": message}), ("ping", {"type": "ping"})]

    def _close(self, events: list[Event]) -> None:
        if self._open is not None:
            events.append(("content_block_stop", {"type": "content_block_stop", "index": self._blocks - 1}))
            self._open = None

    def _begin(self, events: list[Event], block: dict[str, Any], kind: Any) -> int:
        self._close(events)
        index, self._blocks, self._open = self._blocks, self._blocks + 1, kind
        events.append(("content_block_start", {"type": "content_block_start", "index": index, "content_block": block}))
        return index

    def _text(self, events: list[Event], kind: str, piece: str) -> None:
        """A piece of ``kind`` ``thinking`` or ``text`` (the key of its text in the block)."""
        if self._open != kind:
            self._begin(events, {"type": kind, kind: "", **({"signature": ""} if kind == "thinking" else {})}, kind)
        self._chars += len(piece)
        delta = {"type": f"{kind}_delta", kind: piece}
        events.append(("content_block_delta", {"type": "content_block_delta", "index": self._blocks - 1, "delta": delta}))

    def _tool(self, events: list[Event], call: dict[str, Any]) -> None:
        key = call.get("index")
        if key is None:  # an upstream that numbers nothing: a new id is a new call
            key = call.get("id") if call.get("id") and call.get("id") not in self._tools else self._last_tool
        function = call.get("function") or {}
        index = self._tools.get(key)
        if index is None:
            block = _tool_use(call.get("id"), function.get("name"), self.message_id, len(self._tools))
            index = self._tools[key] = self._begin(events, {**block, "input": {}}, ("tool", key))
            self._last_tool = key
        arguments = function.get("arguments")
        if isinstance(arguments, str) and arguments:
            # an upstream interleaving parallel calls sends a closed block's arguments late:
            # they still go to that block's index, where the SDKs accumulate them
            self._chars += len(arguments)
            delta = {"type": "input_json_delta", "partial_json": arguments}
            events.append(("content_block_delta", {"type": "content_block_delta", "index": index, "delta": delta}))
