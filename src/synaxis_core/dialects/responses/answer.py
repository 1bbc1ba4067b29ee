"""A chat completion, or its chunks, as a Response object and Responses stream events."""

from __future__ import annotations

import copy
from typing import Any

from synaxis_core.dialects.responses.request import ResponseShell

Event = tuple[str, dict[str, Any]]

def to_response(completion: dict[str, Any], shell: ResponseShell) -> dict[str, Any]:
    """A whole chat completion as a Response object."""
    choice = (completion.get("choices") or [{}])[0]
    delta = dict(choice.get("message") or {})
    delta["tool_calls"] = [{**call, "index": i} for i, call in enumerate(delta.get("tool_calls") or ())]
    translator = StreamTranslator(shell)
    translator.feed({"model": completion.get("model"), "choices": [{**choice, "delta": delta}],
                     "usage": completion.get("usage")})
    translator.finish()
    return translator.final  # type: ignore[return-value]


def usage(chat_usage: dict[str, Any] | None) -> dict[str, Any] | None:
    """Chat-completions usage as Responses usage (cached and reasoning tokens included)."""
    if not chat_usage:
        return None
    prompt, completion = chat_usage.get("prompt_tokens") or 0, chat_usage.get("completion_tokens") or 0
    cached = (chat_usage.get("prompt_tokens_details") or {}).get("cached_tokens") or 0
    reasoning = (chat_usage.get("completion_tokens_details") or {}).get("reasoning_tokens") or 0
    return {"input_tokens": prompt, "input_tokens_details": {"cached_tokens": cached, "cache_write_tokens": 0},
            "output_tokens": completion, "output_tokens_details": {"reasoning_tokens": reasoning},
            "total_tokens": chat_usage.get("total_tokens") or prompt + completion}


INCOMPLETE = {"length": "max_output_tokens", "content_filter": "content_filter"}
"""Chat finish reasons that make a response ``incomplete``, with the reason it gives."""


class StreamTranslator:
    """Chat-completion chunks in, Responses stream events out (see the module docstring).

    Items are opened as their first delta arrives (reasoning, a message; a function call
    once its arguments start, so that its name is whole) and closed when another kind
    starts or the stream ends; the terminal event carries the whole Response (``final``).
    """

    def __init__(self, shell: ResponseShell) -> None:
        self.shell = shell
        self.final: dict[str, Any] | None = None
        self._events: list[Event] = []
        self._sequence = 0
        self._output: list[dict[str, Any]] = []
        self._positions: dict[str, int] = {}  # item id -> output index
        self._open: dict[str, Any] | None = None  # the reasoning or message item being written
        self._calls: dict[int, dict[str, Any]] = {}  # chat tool-call index -> its item, open until the end
        self._pending: dict[int, dict[str, Any]] = {}  # tool calls not announced yet (see _call_delta)
        self._arguments_parts: dict[str, list[str]] = {}  # a call's argument pieces, joined when it closes
        self._usage: dict[str, Any] | None = None
        self._finish_reason: str | None = None
        self._started = False

    def feed(self, chunk: dict[str, Any]) -> list[Event]:
        self._start(chunk.get("model"))
        if chunk.get("usage"):
            self._usage = chunk["usage"]
        for choice in chunk.get("choices") or ():
            if choice.get("index", 0) != 0:
                continue  # one answer: `n` is a chat-completions notion
            delta = choice.get("delta") or {}
            reasoning = delta.get("reasoning_content")
            if reasoning is None:
                reasoning = delta.get("reasoning")
            if reasoning:
                self._write("reasoning", reasoning)
            if delta.get("content"):
                self._write("message", delta["content"])
            for call in delta.get("tool_calls") or ():
                self._call_delta(call)
            if choice.get("finish_reason"):
                self._finish_reason = choice["finish_reason"]
        return self._flush()

    def finish(self) -> list[Event]:
        """Close what is open; the last event is ``response.completed`` (or ``.incomplete``)."""
        self._start(None)
        reason = INCOMPLETE.get(self._finish_reason or "")
        status = "incomplete" if reason else "completed"
        self._close_all(status)
        if not self._output:  # an empty answer is still one (empty) message
            self._write("message", "")
            self._close_all(status)
        details = {"reason": reason} if reason else None
        self.final = self.shell.response(status, self._output, usage=usage(self._usage), incomplete_details=details)
        self._emit(f"response.{status}", response=self.final)
        return self._flush()

    def fail(self, message: str, code: str = "server_error") -> list[Event]:
        """The upstream stream broke: an ``error`` event, then ``response.failed``."""
        self._start(None)
        self._close_all("incomplete")
        self._emit("error", code=code, message=message, param=None)
        error = {"code": code, "message": message}
        self.final = self.shell.response("failed", self._output, usage=usage(self._usage), error=error)
        self._emit("response.failed", response=self.final)
        return self._flush()

    # --- items -------------------------------------------------------------------------------

    def _start(self, model: str | None) -> None:
        if self._started:
            return
        self._started = True
        if model:
            self.shell.model = model
        self._emit("response.created", response=self.shell.response("in_progress", []))
        self._emit("response.in_progress", response=self.shell.response("in_progress", []))

    def _write(self, kind: str, text: str) -> None:
        """A reasoning or answer delta, into the open item of its kind (opened if needed)."""
        item = self._open
        if item is None or item["type"] != kind:
            self._close_all()
            item = self._open = self._add_item(self._new_item(kind))
            if kind == "reasoning":
                self._emit("response.reasoning_summary_part.added", **self._at(item), summary_index=0,
                           part={"type": "summary_text", "text": ""})
            else:
                self._emit("response.content_part.added", **self._at(item), content_index=0, part=_text_part(""))
        item["text"].append(text)
        if kind == "reasoning":
            self._emit("response.reasoning_summary_text.delta", **self._at(item), summary_index=0, delta=text)
        elif text:
            self._emit("response.output_text.delta", **self._at(item), content_index=0, delta=text, logprobs=[])

    def _new_item(self, kind: str) -> dict[str, Any]:
        index = len(self._output)
        if kind == "reasoning":
            return {"id": self.shell.item_id("rs", index), "type": "reasoning", "summary": [], "text": []}
        return {"id": self.shell.item_id("msg", index), "type": "message", "status": "in_progress",
                "role": "assistant", "content": [], "text": []}

    def _call_delta(self, call: dict[str, Any]) -> None:
        index = call.get("index", 0)
        function = call.get("function") or {}
        item = self._calls.get(index)
        if item is not None:
            self._arguments(item, function.get("arguments") or "")
            return
        pending = self._pending.setdefault(index, {"call_id": None, "name": "", "arguments": ""})
        pending["call_id"] = pending["call_id"] or call.get("id")
        pending["name"] += function.get("name") or ""
        pending["arguments"] += function.get("arguments") or ""
        if pending["name"] and pending["arguments"]:  # announced with its whole name: once the arguments start
            self._open_call(index, pending)

    def _open_call(self, index: int, pending: dict[str, Any]) -> None:
        self._close_open()
        del self._pending[index]
        position = len(self._output)
        namespace, name = self.shell.namespaces.get(pending["name"], (None, pending["name"]))
        item = {"id": self.shell.item_id("fc", position), "type": "function_call", "status": "in_progress",
                "call_id": pending["call_id"] or self.shell.item_id("call", position), "name": name,
                "arguments": "", **({"namespace": namespace} if namespace else {})}
        self._calls[index] = self._add_item(item)
        self._arguments(item, pending["arguments"])

    def _arguments(self, item: dict[str, Any], arguments: str) -> None:
        if arguments:
            self._arguments_parts.setdefault(item["id"], []).append(arguments)
            self._emit("response.function_call_arguments.delta", **self._at(item), delta=arguments)

    def _add_item(self, item: dict[str, Any]) -> dict[str, Any]:
        self._positions[item["id"]] = len(self._output)
        self._output.append(item)
        self._emit("response.output_item.added", output_index=self._positions[item["id"]], item=_public(item))
        return item

    def _close_open(self, status: str = "completed") -> None:
        item, self._open = self._open, None
        if item is None:
            return
        text = "".join(item.pop("text"))
        if item["type"] == "reasoning":
            part = {"type": "summary_text", "text": text}
            self._emit("response.reasoning_summary_text.done", **self._at(item), summary_index=0, text=text)
            self._emit("response.reasoning_summary_part.done", **self._at(item), summary_index=0, part=part)
            item["summary"] = [part]
        else:
            part = _text_part(text)
            self._emit("response.output_text.done", **self._at(item), content_index=0, text=text, logprobs=[])
            self._emit("response.content_part.done", **self._at(item), content_index=0, part=part)
            item["content"], item["status"] = [part], status
        self._emit("response.output_item.done", output_index=self._positions[item["id"]], item=copy.deepcopy(item))

    def _close_all(self, status: str = "completed") -> None:
        self._close_open(status)
        for index, pending in list(self._pending.items()):  # no arguments (or no name) came: announce it now
            pending["name"] = pending["name"] or "unknown"
            self._open_call(index, pending)
        for item in self._calls.values():
            item["status"], item["arguments"] = status, "".join(self._arguments_parts.pop(item["id"], ()))
            self._emit("response.function_call_arguments.done", **self._at(item), arguments=item["arguments"])
            self._emit("response.output_item.done", output_index=self._positions[item["id"]], item=copy.deepcopy(item))
        self._calls.clear()

    # --- events ------------------------------------------------------------------------------

    def _at(self, item: dict[str, Any]) -> dict[str, Any]:
        return {"item_id": item["id"], "output_index": self._positions[item["id"]]}

    def _emit(self, name: str, **data: Any) -> None:
        self._events.append((name, {"type": name, "sequence_number": self._sequence, **data}))
        self._sequence += 1

    def _flush(self) -> list[Event]:
        events, self._events = self._events, []
        return events


def _text_part(text: str) -> dict[str, Any]:
    return {"type": "output_text", "text": text, "annotations": [], "logprobs": []}


def _public(item: dict[str, Any]) -> dict[str, Any]:
    """An item as announced: without the text pieces being accumulated (joined when it closes)."""
    return {k: copy.deepcopy(v) for k, v in item.items() if k != "text"}
