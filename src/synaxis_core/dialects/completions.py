"""The legacy OpenAI completions dialect (``POST /v1/completions``): a pure translator, no I/O.

- ``to_chat_request(body, ...)``: a completions request (a decoded JSON object) becomes the
  pipeline's ``ChatRequest`` (``dialect="completions"``: the prompt is one user message)
  and a ``CompletionShell``: what the answer repeats of the request;
- ``StreamTranslator(shell)``: internal ``chat.completion.chunk`` dicts in, legacy
  ``text_completion`` chunks out, then ``finish()``; ``final`` is the whole completion;
- ``to_completion(completion, shell)``: a whole chat completion as a ``text_completion``,
  through the same translator fed one chunk, so a streamed and a non-streamed answer
  cannot come out different.

Chat upstreams take text and answer with messages, so what only a completion model can
do is a 400 naming the field (``REFUSED``): token-array prompts, several prompts in one
request, ``suffix`` (insertion), ``best_of`` beyond ``n``. The reasoning of a reasoning
model never reaches ``text`` (unless ``x-synaxis-reasoning: keep`` asks for the raw output).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from synaxis_core.dialects.fields import check_fields
from synaxis_core.errors import InvalidRequest
from synaxis_core.types import ChatRequest

DIALECT = "completions"
DEFAULT_MAX_TOKENS = 16
"""The legacy API's default ``max_tokens`` (chat completions have none)."""
MAX_LOGPROBS = 5
"""The legacy API's largest ``logprobs``."""

REFUSED = {
    "tokens": "Token-array prompts are not supported: the upstreams are chat models that take text and "
    "Synaxis has no tokenizer of theirs to decode the tokens; send the prompt as a string",
    "several": "Several prompts in one request are not supported: each prompt is its own conversation with the "
    "upstream; send one request per prompt (they may run concurrently)",
    "suffix": "`suffix` (inserting text between a prompt and a suffix) is not supported: chat upstreams only "
    "continue a conversation",
    "best_of": "`best_of` greater than `n` is not supported: chat upstreams cannot rank candidate completions by "
    "log probability; use `n`",
}
"""Why each refused request is refused (the 400's message)."""

CONSUMED = frozenset({"model", "prompt", "echo", "logprobs", "best_of", "suffix", "max_tokens"})
"""Completions fields translated here. Every other field (those of the same name in both APIs:
``temperature``, ``top_p``, ``n``, ``stop``, ``presence_penalty``, ``frequency_penalty``,
``seed``, ``user``, ``logit_bias``, ``stream``, ``stream_options``; and a vendor extra such
as ``top_k``) goes to the upstream as it came."""

TYPES: dict[str, tuple[type, ...]] = {
    "model": (str,), "echo": (bool,), "stream": (bool,), "stream_options": (dict,), "suffix": (str,),
    "logprobs": (int,), "best_of": (int,), "max_tokens": (int,), "n": (int,),
    "temperature": (int, float), "top_p": (int, float), "user": (str,),
}
"""The types of the fields Synaxis reads (a wrong one is a 400 naming it)."""

FINISH_REASONS = {"stop": "stop", "length": "length", "content_filter": "content_filter"}
"""Chat finish reasons the legacy API knows; any other (``tool_calls``...) is ``stop``."""


@dataclass
class CompletionShell:
    """What a ``text_completion`` repeats of its request."""

    id: str
    created: int
    model: str
    prompt: str
    echo: bool = False
    logprobs: bool = False
    """The client asked for log probabilities."""
    include_usage: bool = False
    """The client asked for the usage chunk of a stream."""

    def chunk(self, choices: list[dict[str, Any]], **fields: Any) -> dict[str, Any]:
        return {"id": self.id, "object": "text_completion", "created": self.created, "model": self.model,
                "choices": choices, **fields}


# --- the request ---------------------------------------------------------------------------


def to_chat_request(
    body: dict[str, Any],
    *,
    completion_id: str,
    created: int,
    reasoning_mode: str = "separate",
    max_output_limit: int | None = None,
) -> tuple[ChatRequest, CompletionShell]:
    """The chat request for the pipeline, and the shell of its answer; ``InvalidRequest``
    (naming the field) for what cannot be served."""
    check_fields(body, ("model", "prompt"), TYPES)
    model = body["model"]
    if not model.strip():
        raise InvalidRequest("`model` must not be empty", param="model")
    prompt = _prompt(body["prompt"])
    if body.get("suffix"):
        raise InvalidRequest(REFUSED["suffix"], param="suffix", code="unsupported_parameter")
    n = _count(body, "n", 1)
    best_of = body.get("best_of")
    if best_of is not None and best_of != n:
        raise InvalidRequest(REFUSED["best_of"], param="best_of", code="unsupported_parameter")
    max_tokens = _count(body, "max_tokens", DEFAULT_MAX_TOKENS)
    if max_output_limit is not None and max_tokens > max_output_limit:
        raise InvalidRequest(f"`max_tokens` of {max_tokens} is beyond any model's output limit", param="max_tokens")
    chat: dict[str, Any] = {k: v for k, v in body.items() if k not in CONSUMED}
    chat.update(model=model, messages=[{"role": "user", "content": prompt}], max_tokens=max_tokens)
    logprobs = body.get("logprobs")
    if logprobs is not None:
        if not 0 <= logprobs <= MAX_LOGPROBS:
            raise InvalidRequest(f"`logprobs` must be from 0 to {MAX_LOGPROBS}, got {logprobs}", param="logprobs")
        chat.update(logprobs=True, top_logprobs=logprobs)
    stream = bool(body.get("stream"))
    include_usage = stream and bool((body.get("stream_options") or {}).get("include_usage"))
    shell = CompletionShell(id=completion_id, created=created, model=model, prompt=prompt,
                            echo=bool(body.get("echo")), logprobs=logprobs is not None, include_usage=include_usage)
    mode = "keep" if reasoning_mode == "keep" else "strip"  # `text` has no room for reasoning
    request = ChatRequest(chat, model=model, stream=stream, include_usage=include_usage, max_output=max_tokens,
                          reasoning_mode=mode, dialect=DIALECT)
    return request, shell


def _count(body: dict[str, Any], name: str, default: int) -> int:
    value = body.get(name)
    if value is None:
        return default
    if value < 1:
        raise InvalidRequest(f"`{name}` must be at least 1, got {value}", param=name)
    return value


def _prompt(prompt: Any) -> str:
    """The one prompt as text: a string, or a list of one string."""
    if isinstance(prompt, str):
        return prompt
    if not isinstance(prompt, list) or not prompt:
        raise InvalidRequest("`prompt` must be a string or a list of one string", param="prompt")
    if any(isinstance(item, (int, list)) and not isinstance(item, bool) for item in prompt):
        raise InvalidRequest(REFUSED["tokens"], param="prompt", code="unsupported_parameter")
    if not all(isinstance(item, str) for item in prompt):
        raise InvalidRequest("`prompt` must be a string or a list of one string", param="prompt")
    if len(prompt) > 1:
        raise InvalidRequest(REFUSED["several"], param="prompt", code="unsupported_parameter")
    return prompt[0]


# --- the answer ------------------------------------------------------------------------------


def to_completion(completion: dict[str, Any], shell: CompletionShell) -> dict[str, Any]:
    """A whole chat completion as a ``text_completion``."""
    choices = [{**choice, "delta": choice.get("message") or {}} for choice in completion.get("choices") or ()]
    translator = StreamTranslator(shell)
    translator.feed({"model": completion.get("model"), "choices": choices, "usage": completion.get("usage")})
    translator.finish()
    return translator.final  # type: ignore[return-value]


@dataclass
class _Choice:
    """One choice as it accumulates: its text, log probabilities and finish reason."""

    index: int
    offset: int
    """The character offset of the next token in ``text`` (the prompt's length first)."""
    parts: list[str] = field(default_factory=list)
    """The text so far, in pieces (joined once, at the end)."""
    finish_reason: str | None = None
    logprobs: dict[str, list[Any]] | None = None
    started: bool = False

    def add_logprobs(self, entries: list[dict[str, Any]]) -> dict[str, list[Any]]:
        """Chat ``logprobs.content`` entries as the legacy lists (also kept for the final)."""
        out: dict[str, list[Any]] = {"tokens": [], "token_logprobs": [], "top_logprobs": [], "text_offset": []}
        for entry in entries:
            token = entry.get("token") or ""
            out["tokens"].append(token)
            out["token_logprobs"].append(entry.get("logprob"))
            out["top_logprobs"].append({t["token"]: t.get("logprob") for t in entry.get("top_logprobs") or ()
                                        if isinstance(t, dict) and isinstance(t.get("token"), str)})
            out["text_offset"].append(self.offset)
            self.offset += len(token)
        if self.logprobs is None:
            self.logprobs = {key: [] for key in out}
        for key, values in out.items():
            self.logprobs[key] += values
        return out


class StreamTranslator:
    """Chat-completion chunks in, ``text_completion`` chunks out (see the module docstring)."""

    def __init__(self, shell: CompletionShell) -> None:
        self.shell = shell
        self.final: dict[str, Any] | None = None
        self._choices: dict[int, _Choice] = {}
        self._usage: dict[str, Any] | None = None

    def feed(self, chunk: dict[str, Any]) -> list[dict[str, Any]]:
        if chunk.get("model"):
            self.shell.model = chunk["model"]
        if chunk.get("usage"):
            self._usage = chunk["usage"]
        out = [self._choice(choice) for choice in chunk.get("choices") or ()]
        out = [choice for choice in out if choice is not None]
        return [self.shell.chunk(out)] if out else []

    def finish(self) -> list[dict[str, Any]]:
        """The chunk of the choices the upstream left without a finish reason (at least
        one choice), then the usage chunk when the client asked for it."""
        if not self._choices:
            self._state(0)
        unfinished = [self._emit(c, "", None, "stop") for c in self._choices.values() if c.finish_reason is None]
        out = [self.shell.chunk(unfinished)] if unfinished else []
        logprobs = self.shell.logprobs
        choices = [{"text": "".join(c.parts), "index": c.index, "logprobs": c.logprobs if logprobs else None,
                    "finish_reason": c.finish_reason} for _, c in sorted(self._choices.items())]
        self.final = self.shell.chunk(choices, usage=_usage(self._usage))
        if self.shell.include_usage and self._usage:
            out.append(self.shell.chunk([], usage=_usage(self._usage)))
        return out

    def _state(self, index: int) -> _Choice:
        state = self._choices.get(index)
        if state is None:
            state = self._choices[index] = _Choice(index=index, offset=len(self.shell.prompt))
        return state

    def _choice(self, choice: dict[str, Any]) -> dict[str, Any] | None:
        index = choice.get("index", 0)
        state = self._state(index if isinstance(index, int) else 0)
        content = (choice.get("delta") or {}).get("content")
        logprobs = (choice.get("logprobs") or {}).get("content") if isinstance(choice.get("logprobs"), dict) else None
        finish = choice.get("finish_reason")
        finish = FINISH_REASONS.get(finish, "stop") if isinstance(finish, str) and finish else None
        text = content if isinstance(content, str) else ""
        entries = logprobs if self.shell.logprobs and isinstance(logprobs, list) and logprobs else None
        if not text and entries is None and finish is None:
            return None
        return self._emit(state, text, entries, finish)

    def _emit(self, state: _Choice, text: str, entries: list[dict[str, Any]] | None,
              finish: str | None) -> dict[str, Any]:
        if not state.started:
            state.started = True
            if self.shell.echo:
                text = self.shell.prompt + text
        if text:
            state.parts.append(text)
        if finish is not None:
            state.finish_reason = finish
        logprobs = state.add_logprobs(entries) if entries is not None else None
        return {"text": text, "index": state.index, "logprobs": logprobs, "finish_reason": finish}


def _usage(chat_usage: dict[str, Any] | None) -> dict[str, Any] | None:
    """Chat usage as completions usage (the same object; ``total_tokens`` filled in)."""
    if not chat_usage:
        return None
    prompt, completion = chat_usage.get("prompt_tokens") or 0, chat_usage.get("completion_tokens") or 0
    return {**chat_usage, "prompt_tokens": prompt, "completion_tokens": completion,
            "total_tokens": chat_usage.get("total_tokens") or prompt + completion}
