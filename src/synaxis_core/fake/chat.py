"""Chat-completion bodies and SSE streams of the fake upstream (pure, no I/O).

A non-streamed answer is one ``chat.completion`` object with ``usage``. A streamed one
is built as `StreamParts` (head, body, tail, done) so that the server can cut it, drop
``[DONE]`` or slip a broken line in between without rebuilding anything. Chunk JSON is
assembled from a pre-encoded prefix and suffix; only the delta is encoded per chunk.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .behavior import Behavior
from .flavor import CREATED, Flavor
from .formats import count_words, encode

KEEP_ALIVE = b": keep-alive\n\n"
DONE = b"data: [DONE]\n\n"
BROKEN_LINE = b'data: {"id": "chatcmpl-broken", "choices": [{"delta": {"content": \n\n'


@dataclass(slots=True)
class Answer:
    """What the assistant says, independent of streaming."""

    content: str | None
    finish_reason: str
    reasoning: str | None = None  # in a field named reasoning_key
    reasoning_key: str = "reasoning_content"
    tool_call: dict[str, Any] | None = None
    null_reasoning: bool = False  # "reasoning_content": null in the message (Flavor.null_reasoning)

    @property
    def completion_tokens(self) -> int:
        args = self.tool_call["function"]["arguments"] if self.tool_call else None
        return count_words(self.content) + count_words(self.reasoning) + count_words(args)


def make_answer(flavor: Flavor, behavior: Behavior, request: dict[str, Any]) -> Answer:
    """The answer of a successful kind (ok, think_*, reasoning_field, chinese, tool_call...)."""
    finish = behavior.finish_reason or flavor.finish_reason
    kind, text = behavior.kind, behavior.answer
    if kind == "think_inline":
        return Answer(f"<think>{behavior.reasoning}</think>{text}", finish)
    if kind == "think_close_only":
        return Answer(f"{behavior.reasoning}</think>{text}", finish)
    if kind == "reasoning_field":
        return Answer(text, finish, behavior.reasoning, flavor.reasoning_field)
    if kind == "tool_call":
        name = _first_tool_name(request)
        function = {"name": name, "arguments": text}
        call = {"id": "call_fake_0", "type": "function", "function": function}
        return Answer(None, behavior.finish_reason or "tool_calls", tool_call=call)
    return Answer(text, finish, null_reasoning=flavor.null_reasoning)


def _first_tool_name(request: dict[str, Any]) -> str:
    tools = request.get("tools")
    if isinstance(tools, list) and tools and isinstance(tools[0], dict):
        name = (tools[0].get("function") or {}).get("name")
        if isinstance(name, str):
            return name
    return "predict"


def usage(prompt: int, completion: int) -> dict[str, int]:
    """An OpenAI ``usage`` object."""
    total = prompt + completion
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": total}


def completion_body(answer: Answer, completion_id: str, model: str, prompt: int) -> bytes:
    """A non-streamed ``chat.completion`` body."""
    message: dict[str, Any] = {"role": "assistant", "content": answer.content}
    if answer.reasoning is not None:
        message[answer.reasoning_key] = answer.reasoning
    elif answer.null_reasoning:
        message["reasoning_content"] = None
    if answer.tool_call is not None:
        message["tool_calls"] = [answer.tool_call]
    return encode(
        {
            "id": completion_id,
            "object": "chat.completion",
            "created": CREATED,
            "model": model,
            "choices": [{"index": 0, "message": message, "finish_reason": answer.finish_reason}],
            "usage": usage(prompt, answer.completion_tokens),
        }
    )


@dataclass(slots=True)
class StreamParts:
    """A whole SSE stream in pieces: ``head + body + tail + [done]`` is the normal stream.

    ``head`` is the keep-alive comment and the role chunk, ``body`` one item per
    reasoning / content / arguments chunk, ``tail`` the finish chunk and (with
    ``include_usage``) the usage chunk.
    """

    head: list[bytes] = field(default_factory=list)
    body: list[bytes] = field(default_factory=list)
    tail: list[bytes] = field(default_factory=list)
    done: bytes = DONE

    def full(self) -> bytes:
        """The normal stream, ``[DONE]`` included."""
        return b"".join(self.head + self.body + self.tail) + self.done


def _pieces(text: str, size: int) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)]


def stream_parts(
    answer: Answer,
    completion_id: str,
    model: str,
    prompt: int,
    *,
    include_usage: bool,
    chunk_size: int,
) -> StreamParts:
    """The SSE ``chat.completion.chunk`` lines of an answer."""
    head = {"id": completion_id, "object": "chat.completion.chunk", "created": CREATED}
    head["model"] = model
    prefix = b"data: " + encode(head)[:-1] + b',"choices":[{"index":0,"delta":'
    usage_null = b',"usage":null' if include_usage else b""

    def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
        end = b',"finish_reason":' + encode(finish) + b"}]" + usage_null + b"}\n\n"
        return prefix + encode(delta) + end

    parts = StreamParts(head=[KEEP_ALIVE, chunk({"role": "assistant", "content": ""})])
    if answer.reasoning is not None:
        key = answer.reasoning_key
        pieces = _pieces(answer.reasoning, chunk_size)
        parts.body += [chunk({key: piece, "content": None}) for piece in pieces]
    if answer.content:
        parts.body += [chunk({"content": p}) for p in _pieces(answer.content, chunk_size)]
    if answer.tool_call is not None:
        call = answer.tool_call
        function = {"name": call["function"]["name"], "arguments": ""}
        first = {"index": 0, "id": call["id"], "type": "function", "function": function}
        parts.body.append(chunk({"tool_calls": [first]}))
        for piece in _pieces(call["function"]["arguments"], chunk_size):
            delta = {"tool_calls": [{"index": 0, "function": {"arguments": piece}}]}
            parts.body.append(chunk(delta))
    parts.tail.append(chunk({}, answer.finish_reason))
    if include_usage:
        last = {**head, "choices": [], "usage": usage(prompt, answer.completion_tokens)}
        parts.tail.append(b"data: " + encode(last) + b"\n\n")
    return parts


def stream_error_line(flavor: Flavor, status: int, message: str | None) -> bytes:
    """An error inside a stream: ``data: {"error": ...}``, OpenAI-shaped (a flat string
    for a flavour whose errors are flat strings)."""
    message = message or "The server had an error while processing your request."
    if flavor.error_shape == "flat":
        return b"data: " + encode({"error": message}) + b"\n\n"
    err_type = "server_error" if status >= 500 else "invalid_request_error"
    error = {"message": message, "type": err_type, "param": None, "code": None}
    return b"data: " + encode({"error": error}) + b"\n\n"
