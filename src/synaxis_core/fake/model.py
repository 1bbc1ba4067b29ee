"""``kind="model"``: the fake answers like a model, honouring what a real one honours.

Demo mode's default (``synaxis serve`` with no provider key), so that structured use
works there (``client.chat.completions.parse``, instructor, pydantic-ai, LangChain's
structured output). Deterministic: the same request gets the same answer. What the
request asks for, in this order:

- ``tools`` (and ``tool_choice`` not ``"none"``): a call of the first function tool, or
  of the one ``tool_choice`` names, its arguments a minimal instance of the tool's
  ``parameters`` (`instance.minimal_instance`), ``finish_reason: "tool_calls"``. When
  the last message is a tool result, a plain answer that quotes it instead, unless a
  call is forced (``tool_choice`` ``"required"`` or a name: then the first tool not
  called yet in the conversation, so an agent loop ends);
- ``response_format``: ``json_schema`` -> a minimal instance of its schema;
  ``json_object`` -> one of a JSON Schema found in the messages (instructor's and
  LangChain's JSON modes put it there), else the default answer when it is a JSON
  object, else ``{}``;
- otherwise the behaviour's answer (the default JSON prediction).

``kind="model_think"`` does the same behind inline ``<think>`` reasoning (how demo mode
shows reasoning models). `wire` turns the answer into bodies and streams with ``n``
choices and ``logprobs``.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from .behavior import DEFAULT_REASONING, Behavior
from .flavor import Flavor
from .instance import minimal_instance

MODEL_KINDS = frozenset({"model", "model_think"})
MAX_SCHEMA_SCAN = 64
"""JSON decodes tried per message when looking for a schema in ``json_object`` mode."""
MAX_QUOTED = 500
"""Characters of a tool result quoted in the answer that follows it."""

_decoder = json.JSONDecoder()


@dataclass(frozen=True, slots=True)
class Turn:
    """What the model says in one choice: text or one tool call, maybe reasoning first."""

    content: str | None
    finish_reason: str
    tool_call: dict[str, Any] | None = None
    reasoning: str | None = None  # sent inline, "<think>reasoning</think>" before the content
    null_reasoning: bool = False  # "reasoning_content": null in the message (Flavor.null_reasoning)


def model_turn(flavor: Flavor, behavior: Behavior, request: dict[str, Any]) -> Turn:
    """The answer of ``kind="model"`` / ``"model_think"`` to ``request`` (see the module)."""
    messages = [m for m in request.get("messages") or () if isinstance(m, dict)]
    tool = _tool_to_call(request, messages)
    think = behavior.kind == "model_think"
    if tool is not None:
        name = tool.get("name")
        arguments = minimal_instance(tool.get("parameters") or {"type": "object"})
        text = json.dumps(arguments if isinstance(arguments, dict) else {}, ensure_ascii=False)
        digest = hashlib.sha256(f"{len(messages)}\0{name}\0{text}".encode()).hexdigest()[:24]
        call = {"id": f"call_{digest}", "type": "function", "function": {"name": name, "arguments": text}}
        reasoning = _reasoning(behavior, f"I should call {name} with arguments valid against its schema.")
        finish = behavior.finish_reason or "tool_calls"
        return Turn(None, finish, call, reasoning if think else None)
    content, why = _text(behavior, request, messages)
    reasoning = _reasoning(behavior, why) if think else None
    finish = behavior.finish_reason or flavor.finish_reason
    return Turn(content, finish, reasoning=reasoning, null_reasoning=flavor.null_reasoning and not think)


def _reasoning(behavior: Behavior, why: str) -> str:
    """A scripted reasoning text, else one that says what the answer does."""
    return behavior.reasoning if behavior.reasoning != DEFAULT_REASONING else why


def _function_tools(request: dict[str, Any]) -> list[dict[str, Any]]:
    tools = request.get("tools")
    out = []
    for tool in tools if isinstance(tools, list) else ():
        function = tool.get("function") if isinstance(tool, dict) and tool.get("type", "function") == "function" else None
        if isinstance(function, dict) and isinstance(function.get("name"), str):
            out.append(function)
    return out


def _tool_to_call(request: dict[str, Any], messages: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The function to call (its ``function`` object), or None for a text answer."""
    tools = _function_tools(request)
    choice = request.get("tool_choice")
    if not tools or choice == "none":
        return None
    forced = choice == "required"
    if isinstance(choice, dict) and choice.get("type") == "allowed_tools":  # {"allowed_tools": {mode, tools}}
        allowed = choice.get("allowed_tools") or {}
        names = {(t.get("function") or {}).get("name") for t in allowed.get("tools") or () if isinstance(t, dict)}
        tools = [t for t in tools if t["name"] in names] or tools
        forced = allowed.get("mode") == "required"
    elif isinstance(choice, dict):
        name = (choice.get("function") or {}).get("name")
        named = [t for t in tools if t["name"] == name]
        if named:
            return named[0]
    if messages and messages[-1].get("role") == "tool":
        if not forced:
            return None
        called = {(c.get("function") or {}).get("name") for m in messages for c in _calls(m)}
        return next((t for t in tools if t["name"] not in called), tools[0])
    return tools[0]


def _calls(message: dict[str, Any]) -> list[dict[str, Any]]:
    calls = message.get("tool_calls") if message.get("role") == "assistant" else None
    return [c for c in calls if isinstance(c, dict)] if isinstance(calls, list) else []


def _text(behavior: Behavior, request: dict[str, Any], messages: list[dict[str, Any]]) -> tuple[str, str]:
    """The text answer and a line of reasoning about it."""
    fmt = request.get("response_format")
    kind = fmt.get("type") if isinstance(fmt, dict) else None
    if kind == "json_schema":
        spec = fmt.get("json_schema") if isinstance(fmt.get("json_schema"), dict) else {}
        instance = minimal_instance(spec.get("schema") if isinstance(spec.get("schema"), dict) else {})
        name = spec.get("name") or "the schema"
        return json.dumps(instance, ensure_ascii=False), f"The answer must be JSON valid against {name}."
    if kind == "json_object":
        schema = _schema_in(messages)
        if schema is not None:
            return json.dumps(minimal_instance(schema), ensure_ascii=False), "The answer must follow the JSON Schema I was given."
        return _json_object(behavior.answer), "The answer must be a JSON object."
    if messages and messages[-1].get("role") == "tool":
        return _after_tool(messages), "The tool answered; I can reply now."
    return behavior.answer, "I can answer directly."


def _json_object(text: str) -> str:
    try:
        return text if isinstance(json.loads(text), dict) else "{}"
    except ValueError:
        return "{}"


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(p.get("text") or "" for p in content if isinstance(p, dict) and isinstance(p.get("text"), str))
    return ""


def _after_tool(messages: list[dict[str, Any]]) -> str:
    """A plain answer quoting the tool result that the last message carries."""
    last = messages[-1]
    result = _text_of(last.get("content")).strip()
    if len(result) > MAX_QUOTED:
        result = result[:MAX_QUOTED] + "..."
    call_id = last.get("tool_call_id")
    names = [(c.get("function") or {}).get("name") for m in messages for c in _calls(m) if c.get("id") == call_id]
    name = names[-1] if names and isinstance(names[-1], str) else "The tool"
    return f"{name} returned: {result}" if result else f"{name} returned nothing."


def _schema_in(messages: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The first JSON Schema (an object with ``properties``) in the messages, last first."""
    for message in reversed(messages):
        text = _text_of(message.get("content"))
        start, tries = text.find("{"), 0
        while start != -1 and tries < MAX_SCHEMA_SCAN:
            tries += 1
            try:
                value, end = _decoder.raw_decode(text, start)
            except ValueError:
                start = text.find("{", start + 1)
                continue
            if isinstance(value, dict) and isinstance(value.get("properties"), dict):
                return value
            start = text.find("{", end)
    return None
