"""What makes an upstream answer unusable: the few type checks on the fields the gateway
reads, for stream chunks and whole responses (``OpenAICompatibleProvider`` raises
``UpstreamProtocolError`` with the message these return)."""

from __future__ import annotations

from typing import Any


def chunk_problem(chunk: dict[str, Any]) -> str | None:
    """What makes a stream chunk unusable (None: nothing). Only what the gateway reads:
    ``choices`` a list of objects, each ``index`` an integer, ``delta`` an object whose
    ``content`` is text, null or a list of parts, ``reasoning_content``/``reasoning``
    text or null, ``tool_calls`` a list of objects. A few type checks per choice
    (0.3 µs for the usual chunk): a schema library per chunk would cost more than the
    rest of the chunk's handling."""
    choices = chunk.get("choices")
    if choices.__class__ is not list:
        return None if choices is None else f"'choices' is {type(choices).__name__}, not a list"
    for choice in choices:
        if choice.__class__ is not dict:
            return f"a choice is {type(choice).__name__}, not an object"
        delta = choice.get("delta")
        if delta.__class__ is dict:
            content = delta.get("content")
            if content.__class__ is not str and content is not None and content.__class__ is not list:
                return f"'delta.content' is {type(content).__name__}, not text"
            if len(delta) > 1:  # the usual delta is {"content": "..."}: nothing more to look at
                problem = _other_fields_problem(delta, "delta")
                if problem is not None:
                    return problem
        elif delta is not None:
            return f"'delta' is {type(delta).__name__}, not an object"
        index = choice.get("index")
        if index.__class__ is not int and index is not None:
            return f"'index' is {type(index).__name__}, not an integer"
    return None


def response_problem(data: dict[str, Any]) -> str | None:
    """``chunk_problem`` for a whole response: ``choices[i].message`` instead of ``delta``."""
    choices = data.get("choices")
    if choices.__class__ is not list:
        return f"'choices' is {type(choices).__name__}, not a list"
    for choice in choices:
        if choice.__class__ is not dict:
            return f"a choice is {type(choice).__name__}, not an object"
        message = choice.get("message")
        if message is None:
            continue
        if message.__class__ is not dict:
            return f"'message' is {type(message).__name__}, not an object"
        content = message.get("content")
        if content.__class__ is not str and content is not None and content.__class__ is not list:
            return f"'message.content' is {type(content).__name__}, not text"
        problem = _other_fields_problem(message, "message")
        if problem is not None:
            return problem
    return None


def _other_fields_problem(message: dict[str, Any], where: str) -> str | None:
    for key in ("reasoning_content", "reasoning"):
        value = message.get(key)
        if value is not None and value.__class__ is not str:
            return f"'{where}.{key}' is {type(value).__name__}, not text"
    calls = message.get("tool_calls")
    if calls is not None and (calls.__class__ is not list or any(c.__class__ is not dict for c in calls)):
        return f"'{where}.tool_calls' is not a list of objects"
    return None


def embedding_problem(data: Any) -> str | None:
    """What makes an embeddings answer unusable (None: nothing): ``data`` must be a list of
    objects whose ``embedding`` is a list of numbers or a base64 string."""
    if data.__class__ is not dict:
        return f"the answer is {type(data).__name__}, not an object"
    items = data.get("data")
    if items.__class__ is not list:
        return f"'data' is {type(items).__name__}, not a list"
    for item in items:
        if item.__class__ is not dict:
            return f"an item of 'data' is {type(item).__name__}, not an object"
        vector = item.get("embedding")
        if vector.__class__ is not list and vector.__class__ is not str:
            return f"'embedding' is {type(vector).__name__}, not a list of numbers or a base64 string"
    usage = data.get("usage")
    if usage is not None and usage.__class__ is not dict:
        return f"'usage' is {type(usage).__name__}, not an object"
    return None
