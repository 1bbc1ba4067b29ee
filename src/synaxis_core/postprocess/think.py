"""Reasoning output: move ``<think>…</think>`` out of ``content``.

Models show their reasoning in one of three ways (see ``PROVIDERS.md``):

* inline tags in ``content`` -- ``<think>…</think>`` (aliases ``<thinking>`` and
  ``<reasoning>``, any letter case), possibly several blocks;
* only a closing ``</think>``, because the chat template supplied the opening tag
  (Qwen3 Thinking-2507, QwQ): the stripper's ``close_only`` predicate says so (by
  default `template_supplies_open_tag`, for every deployment it applies to, however
  the deployment was registered), and then everything before the first closing tag is
  reasoning;
* an upstream ``reasoning_content`` or ``reasoning`` field: passed through (and the
  content of that message, or of that choice's stream, is not parsed for tags).

One state machine (``_Machine``) does the parsing, for a whole message and for a
stream alike, so both give the same result. It looks only for the next expected tag
with ``str.find`` / a compiled regex and holds back at most the tail that could be
the start of that tag. Its rules:

* An opening tag starts a block that ends at the matching closing tag; an unclosed
  block at the end of the output is reasoning.
* Whitespace right after a closing tag is dropped from content.
* Whitespace before a tag that opens the output is dropped. A closing tag as the
  first non-whitespace of the output (an empty block whose opening tag the template
  supplied) is dropped with it, whether or not the model is ``close_only``; a
  ``close_only`` model that sends the opening tag anyway is handled like any other.
* Anywhere else a stray closing tag is ordinary text: an answer that was already
  sent cannot be recalled, and the whole-message path does the same.

A streamed content delta without ``<`` while nothing is held back skips the machine:
it is all answer or all reasoning (the fast path; see ``bench/think_stripper.py``).

``context.reasoning_mode``: ``separate`` (default) puts the reasoning in both
``reasoning_content`` and ``reasoning``; ``strip`` drops it; ``keep`` changes nothing.
"""

from __future__ import annotations

import re
from typing import Any, Callable

from synaxis_core.postprocess.base import PostProcessContext, ReasoningMode, StreamProcessor
from synaxis_core.types import ModelSpec

OPENING_TAG_IN_TEMPLATE = re.compile(r"thinking-2507|qwq", re.IGNORECASE)
"""Upstream ids of models whose chat template supplies ``<think>`` (Qwen3 Thinking-2507,
QwQ): they answer ``reasoning</think>answer``."""


def template_supplies_open_tag(spec: ModelSpec) -> bool:
    """Whether ``spec``'s chat template supplies ``<think>`` (judged by its upstream id):
    the default ``close_only`` predicate of ``ThinkTagStripper``."""
    return OPENING_TAG_IN_TEMPLATE.search(spec.upstream_id) is not None


_NAMES = ("think", "thinking", "reasoning")
_FLAGS = re.IGNORECASE | re.ASCII
_REASONING_KEYS = ("reasoning_content", "reasoning")
_TEXT_KEYS = frozenset(("content", *_REASONING_KEYS))


class _Expect:
    """The tag(s) a state waits for: a compiled search and their proper prefixes."""

    __slots__ = ("regex", "prefixes", "longest")

    def __init__(self, pattern: str, tags: list[str]) -> None:
        self.regex = re.compile(pattern, _FLAGS)
        self.prefixes = frozenset(tag[:i] for tag in tags for i in range(1, len(tag)))
        self.longest = max(map(len, tags))


_NAME_GROUPS = "|".join(f"({n})" for n in _NAMES)
"""One group per name, so ``match.lastindex`` tells which name matched (no ``.lower()``)."""
_OPEN = _Expect(f"<(?:{_NAME_GROUPS})>", [f"<{n}>" for n in _NAMES])
_SPACES = r"(?u:\s*)"  # the whitespace after a closing tag goes with it (Unicode, like _NON_SPACE)
_CLOSE = [_Expect(f"</{n}>{_SPACES}", [f"</{n}>"]) for n in _NAMES]  # _CLOSE[i] closes _NAMES[i]
_CLOSE_ANY = _Expect(f"</(?:{'|'.join(_NAMES)})>{_SPACES}", [f"</{n}>" for n in _NAMES])
_START = _Expect(f"<(/?)(?:{_NAME_GROUPS})>", [f"<{n}>" for n in _NAMES] + [f"</{n}>" for n in _NAMES])

_NON_SPACE = re.compile(r"\S")
_BEGIN, _CONTENT, _REASONING, _TRIM = range(4)


class _Machine:
    """Per-choice parser: ``push`` text, get back ``(content, reasoning)``.

    ``final=True`` means no more text will come: nothing is held back.
    """

    __slots__ = ("close_only", "state", "close", "buf", "upstream", "clear")

    def __init__(self, close_only: bool) -> None:
        self.close_only = close_only
        self.state = _BEGIN
        self.close = _CLOSE_ANY
        self.buf = ""
        self.upstream = False
        """The upstream sent a reasoning field: stop parsing (streams only)."""
        self.clear = False
        """Nothing held back, inside or outside a block: text without ``<`` would
        come out whole as content or reasoning (the streaming fast path)."""

    def push(self, text: str, final: bool) -> tuple[str, str]:
        content = reasoning = ""  # mostly one or two pieces: += is cheaper than a list
        if self.buf:
            text, self.buf = self.buf + text, ""
        pos, end = 0, len(text)
        while pos < end:  # positions, not slices: linear in the text's length
            state = self.state
            if state == _CONTENT or state == _REASONING:
                expect = _OPEN if state == _CONTENT else self.close
                lt = text.find("<", pos)  # no "<", no tag: the regex is skipped
                match = expect.regex.search(text, lt) if lt >= 0 else None
                if match is None:  # the rest, but for a possible start of the tag at its end
                    cut = text.rfind("<", lt) if lt >= 0 else -1
                    if cut >= 0 and not final and end - cut < expect.longest and text[cut:].lower() in expect.prefixes:
                        self.buf, end = text[cut:], cut
                    piece, pos = text[pos:end], end
                else:
                    piece, pos = text[pos : match.start()], match.end()
                if state == _CONTENT:
                    content += piece
                    if match:
                        self.state, self.close = _REASONING, _CLOSE[match.lastindex - 1]
                else:
                    reasoning += piece
                    if match:  # more whitespace to drop may follow
                        self.state = _TRIM if pos == end else _CONTENT
            elif state == _TRIM:
                found = _NON_SPACE.search(text, pos)
                if found is None:
                    break
                pos, self.state = found.start(), _CONTENT
            else:  # _BEGIN: decide from the first non-whitespace text
                found = _NON_SPACE.search(text, pos)
                first = found.start() if found else end
                match = _START.regex.match(text, first)
                if match:
                    pos = match.end()
                    if match.group(1):
                        self.state = _TRIM
                    else:
                        self.state, self.close = _REASONING, _CLOSE[match.lastindex - 2]  # 1: "/"
                elif not final and (found is None or self._maybe_tag(text[first:])):
                    self.buf = text[pos:]
                    break
                else:
                    self.state = _REASONING if self.close_only else _CONTENT
        self.clear = (self.state == _CONTENT or self.state == _REASONING) and not self.buf and not self.upstream
        return content, reasoning

    @staticmethod
    def _maybe_tag(text: str) -> bool:
        """``text`` could be the start of an opening or closing tag."""
        return len(text) < _START.longest and text.lower() in _START.prefixes


def _upstream_reasoning(item: dict[str, Any]) -> str | None:
    """The reasoning text the upstream supplied (``reasoning_content`` first), if any."""
    for key in _REASONING_KEYS:
        value = item.get(key)
        if isinstance(value, str) and value:
            return value
    return None


def _text_delta(content: str, reasoning: str, mode: ReasoningMode) -> dict[str, Any]:
    """A delta carrying the given text (empty parts left out)."""
    delta: dict[str, Any] = {}
    if content:
        delta["content"] = content
    if reasoning and mode == "separate":
        delta["reasoning_content"] = delta["reasoning"] = reasoning
    return delta


class _KeepStream:
    """``keep`` mode: deltas go through untouched."""

    def feed(self, index: int, delta: dict[str, Any]) -> dict[str, Any]:
        return delta

    def flush(self) -> dict[int, dict[str, Any]]:
        return {}

    def flush_choice(self, index: int) -> dict[str, Any]:
        return {}


class _ThinkStream:
    """Streaming state of a ``ThinkTagStripper``: one ``_Machine`` per choice."""

    def __init__(self, mode: ReasoningMode, close_only: bool) -> None:
        self._mode = mode
        self._close_only = close_only
        self._choices: dict[int, _Machine] = {}

    def feed(self, index: int, delta: dict[str, Any]) -> dict[str, Any]:
        machine = self._choices.get(index)
        if machine is None:
            machine = self._choices[index] = _Machine(self._close_only)
        content = delta.get("content")
        if len(delta) == 1 and content.__class__ is str:  # the usual delta: same result as below, faster
            if machine.clear and "<" not in content:  # nothing held back: all answer or all reasoning
                if machine.state == _CONTENT:
                    return delta
                text, reasoning = "", content
            elif machine.upstream:  # the reasoning comes in its own field
                text, reasoning = content, ""
            else:
                text, reasoning = machine.push(content, final=False)
            if reasoning and self._mode == "separate":  # as _text_delta, keeping "content"
                if text:
                    return {"content": text, "reasoning_content": reasoning, "reasoning": reasoning}
                return {"reasoning_content": reasoning, "reasoning": reasoning, "content": ""}
            return {"content": text}
        if content is not None and not isinstance(content, str):
            return delta  # not text: nothing to parse
        out = {key: value for key, value in delta.items() if key not in _TEXT_KEYS}
        upstream = _upstream_reasoning(delta)
        held_content = held_reasoning = ""
        if upstream is not None and not machine.upstream:
            held_content, held_reasoning = machine.push("", final=True)
            machine.upstream, machine.clear = True, False
        if machine.upstream:
            text, reasoning = content or "", upstream or ""
        elif content:
            text, reasoning = machine.push(content, final=False)
        else:
            text = reasoning = ""
        out.update(_text_delta(held_content + text, held_reasoning + reasoning, self._mode))
        if "content" in delta and "content" not in out:
            out["content"] = None if content is None else ""
        return out

    def flush_choice(self, index: int) -> dict[str, Any]:
        """Choice ``index`` ended: return its held-back text as a delta."""
        machine = self._choices.get(index)
        if machine is None:
            return {}
        return _text_delta(*machine.push("", final=True), self._mode)

    def flush(self) -> dict[int, dict[str, Any]]:
        flushed = {index: self.flush_choice(index) for index in self._choices}
        return {index: delta for index, delta in flushed.items() if delta}


class ThinkTagStripper:
    """Moves reasoning out of ``content`` (see the module docstring for the rules).

    :param name: the post-processor's unique name.
    :param applies: which deployments it applies to (e.g. ``lambda s: s.reasoning``).
    :param order: position in the chain (lower runs first); run it before anything
        that reads the answer (JSON extraction, language checks).
    :param close_only: which deployments' templates supply the opening tag, so that
        everything before the first closing tag is reasoning (default:
        `template_supplies_open_tag`, Qwen3 Thinking-2507 and QwQ).
    :param provider: apply only to this provider's deployments (None: any provider's).
    """

    def __init__(
        self,
        name: str,
        applies: Callable[[ModelSpec], bool],
        order: int = 10,
        close_only: Callable[[ModelSpec], bool] = template_supplies_open_tag,
        provider: str | None = None,
    ) -> None:
        self.name = name
        self.order = order
        self.provider = provider
        self._applies = applies
        self._close_only = close_only

    def __repr__(self) -> str:
        scope = f", provider={self.provider!r}" if self.provider is not None else ""
        return f"ThinkTagStripper(name={self.name!r}, order={self.order}{scope})"

    def applies_to(self, model: ModelSpec) -> bool:
        return bool(self._applies(model))

    def is_close_only(self, model: ModelSpec) -> bool:
        """Whether ``model``'s template supplies the opening tag."""
        return bool(self._close_only(model))

    def process_message(self, message: dict[str, Any], context: PostProcessContext) -> dict[str, Any]:
        """Split a whole ``choices[i].message`` into answer and reasoning."""
        mode = context.reasoning_mode
        if mode == "keep":
            return message
        out = {key: value for key, value in message.items() if key not in _REASONING_KEYS}
        reasoning = _upstream_reasoning(message)
        content = message.get("content")
        if reasoning is None and isinstance(content, str):
            out["content"], reasoning = _Machine(self.is_close_only(context.model)).push(content, final=True)
        if reasoning and mode == "separate":
            out["reasoning_content"] = out["reasoning"] = reasoning
        return out

    def stream_state(self, context: PostProcessContext) -> StreamProcessor:
        """Fresh per-response state; it also has ``flush_choice(index)``."""
        if context.reasoning_mode == "keep":
            return _KeepStream()
        return _ThinkStream(context.reasoning_mode, self.is_close_only(context.model))
