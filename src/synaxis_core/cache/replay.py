"""A complete chat completion and its chunks, both ways.

``as_chunks`` replays a stored answer as a stream (``chat.completion.chunk`` dicts, as an
upstream sends them: per choice a delta with the message, then one with its
``finish_reason``; a usage-only chunk last). ``Assembler`` builds the complete answer
from a stream's chunks as they pass (string fields concatenated, tool calls merged by
their ``index``), so a streamed answer can be stored like a whole one.
"""

from __future__ import annotations

from typing import Any

_COPIED = ("id", "created", "model", "system_fingerprint", "service_tier")


def as_chunks(response: dict[str, Any]) -> list[dict[str, Any]]:
    """The chunks of a stream that delivers ``response``, ending with its usage chunk."""
    head = {name: response[name] for name in _COPIED if name in response}
    head["object"] = "chat.completion.chunk"
    chunks = []
    for choice in response.get("choices") or ():
        index = choice.get("index", 0)
        message = dict(choice.get("message") or {})
        calls = message.get("tool_calls")
        if calls:
            message["tool_calls"] = [{"index": i, **call} for i, call in enumerate(calls)]
        delta: dict[str, Any] = {"index": index, "delta": message, "finish_reason": None}
        if choice.get("logprobs") is not None:
            delta["logprobs"] = choice["logprobs"]
        chunks.append({**head, "choices": [delta]})
        chunks.append({**head, "choices": [{"index": index, "delta": {}, "finish_reason": choice.get("finish_reason")}]})
    if response.get("usage"):
        chunks.append({**head, "choices": [], "usage": response["usage"]})
    return chunks


class Assembler:
    """Feed it every chunk of a stream (``feed``); ``response(usage)`` is the whole answer."""

    __slots__ = ("_head", "_choices")

    def __init__(self) -> None:
        self._head: dict[str, Any] = {}
        self._choices: dict[int, dict[str, Any]] = {}

    def feed(self, chunk: dict[str, Any]) -> None:
        if not self._head:
            self._head = {name: chunk[name] for name in _COPIED if name in chunk}
        for part in chunk.get("choices") or ():
            index = part.get("index", 0)
            choice = self._choices.get(index)
            if choice is None:
                choice = self._choices[index] = {"index": index, "message": {}, "finish_reason": None}
            _merge(choice["message"], part.get("delta") or {})
            if part.get("finish_reason") is not None:
                choice["finish_reason"] = part["finish_reason"]
            logprobs = part.get("logprobs")
            if logprobs and isinstance(logprobs.get("content"), list):
                kept = choice.setdefault("logprobs", {"content": []})
                kept["content"].extend(logprobs["content"])

    def response(self, usage: dict[str, Any] | None = None) -> dict[str, Any]:
        choices = []
        for index in sorted(self._choices):
            choice = self._choices[index]
            message = choice["message"]
            message.setdefault("role", "assistant")
            message.setdefault("content", None)
            calls = message.get("tool_calls")
            if isinstance(calls, dict):
                message["tool_calls"] = [calls[i] for i in sorted(calls)]
            choices.append(choice)
        answer = {**self._head, "object": "chat.completion", "choices": choices}
        if usage:
            answer["usage"] = usage
        return answer


def _merge(message: dict[str, Any], delta: dict[str, Any]) -> None:
    for name, value in delta.items():
        if value is None:
            continue
        if name == "tool_calls":
            calls = message.setdefault("tool_calls", {})
            for position, part in enumerate(value):
                _merge_call(calls, part.get("index", position), part)
        elif isinstance(value, str) and name != "role" and isinstance(message.get(name), str):
            message[name] += value
        else:
            message[name] = value


def _merge_call(calls: dict[int, dict[str, Any]], index: int, part: dict[str, Any]) -> None:
    call = calls.setdefault(index, {})
    for name, value in part.items():
        if name == "index" or value is None:
            continue
        if name == "function":
            function = call.setdefault("function", {})
            for key, piece in value.items():
                if isinstance(piece, str) and key == "arguments":
                    function[key] = function.get(key, "") + piece
                elif piece is not None:
                    function[key] = piece
        else:
            call[name] = value
