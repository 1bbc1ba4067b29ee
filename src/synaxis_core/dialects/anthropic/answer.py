"""A chat completion, or its chunks, as an Anthropic ``message`` and Messages stream events."""

from __future__ import annotations

from typing import Any

import msgspec

from synaxis_core.ledger.cost import estimate_prompt_tokens, tokens_for_chars
from synaxis_core.types import ChatRequest

Event = tuple[str, dict[str, Any]]
"""One server-sent event: its ``event:`` name and its data."""

_decode = msgspec.json.decode


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
