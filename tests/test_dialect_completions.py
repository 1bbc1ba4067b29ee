"""The legacy completions dialect as a pure translator (``synaxis_core.dialects.completions``).

The property: however an upstream stream is cut (the text split anywhere, reasoning in
between, several choices interleaved), the completion the chunks add up to is the one
the non-streamed answer translates to, and every chunk has the ``openai`` SDK's shape.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openai.types import Completion

from synaxis_core.dialects.completions import (
    DEFAULT_MAX_TOKENS,
    StreamTranslator,
    to_chat_request,
    to_completion,
)
from synaxis_core.errors import InvalidRequest


def translate(**body: Any):
    return to_chat_request({"model": "m", "prompt": "Once upon", **body}, completion_id="cmpl-abc",
                           created=1_700_000_000)


def shell(**body: Any):
    return translate(**body)[1]


# --- an answer, whole and cut into chunks ---------------------------------------------------

tokens = st.lists(st.text(min_size=1, max_size=6), max_size=8)
choices = st.fixed_dictionaries({
    "tokens": tokens,
    "reasoning": st.text(max_size=20),
    "finish": st.sampled_from(["stop", "length", "tool_calls", "content_filter", None]),
})
answers = st.fixed_dictionaries({
    "choices": st.lists(choices, min_size=1, max_size=3),
    "usage": st.none() | st.fixed_dictionaries({"prompt_tokens": st.integers(0, 999),
                                                "completion_tokens": st.integers(0, 999)}),
})
requests = st.fixed_dictionaries({"echo": st.booleans(), "logprobs": st.none() | st.integers(0, 5),
                                  "stream_options": st.just({"include_usage": True}) | st.just({})})


def entry(token: str) -> dict[str, Any]:
    return {"token": token, "logprob": -len(token) / 10, "bytes": list(token.encode()),
            "top_logprobs": [{"token": token, "logprob": -len(token) / 10}, {"token": "x", "logprob": -3.0}]}


def completion(answer: dict[str, Any]) -> dict[str, Any]:
    out = []
    for index, choice in enumerate(answer["choices"]):
        message = {"role": "assistant", "content": "".join(choice["tokens"]) or None}
        if choice["reasoning"]:
            message["reasoning_content"] = choice["reasoning"]
        logprobs = {"content": [entry(t) for t in choice["tokens"]], "refusal": None}
        out.append({"index": index, "message": message, "logprobs": logprobs, "finish_reason": choice["finish"]})
    return {"id": "chatcmpl-1", "object": "chat.completion", "model": "dep-1", "choices": out,
            "usage": answer["usage"]}


def chunks(data: st.DataObject, answer: dict[str, Any]) -> list[dict[str, Any]]:
    """The answer as a post-processed chunk stream: tokens grouped anywhere, choices interleaved."""
    queues: list[list[dict[str, Any]]] = []
    for index, choice in enumerate(answer["choices"]):
        queue = [{"index": index, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}]
        if choice["reasoning"]:
            queue.append({"index": index, "delta": {"reasoning_content": choice["reasoning"], "content": ""},
                          "finish_reason": None})
        rest = list(choice["tokens"])
        while rest:
            size = data.draw(st.integers(1, len(rest)))
            group, rest = rest[:size], rest[size:]
            queue.append({"index": index, "delta": {"content": "".join(group)},
                          "logprobs": {"content": [entry(t) for t in group]}, "finish_reason": None})
        queue.append({"index": index, "delta": {}, "finish_reason": choice["finish"]})
        queues.append(queue)
    out = []
    while any(queues):
        queue = data.draw(st.sampled_from([q for q in queues if q]))
        out.append({"model": "dep-1", "choices": [queue.pop(0)]})
    if answer["usage"]:
        out.append({"model": "dep-1", "choices": [], "usage": answer["usage"]})
    return out


def run(stream: list[dict[str, Any]], **body: Any) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    translator = StreamTranslator(shell(stream=True, **body))
    out = [c for chunk in stream for c in translator.feed(chunk)]
    out += translator.finish()
    return out, translator.final


@settings(max_examples=300, deadline=None)
@given(answer=answers, request=requests, data=st.data())
def test_any_chunking_gives_the_non_streamed_completion(answer, request, data):
    streamed, final = run(chunks(data, answer), **request)
    whole = to_completion(completion(answer), shell(**request))
    assert {**final, "usage": None} == {**whole, "usage": None}
    assert final["usage"] == whole["usage"]
    texts: dict[int, str] = {}
    for chunk in streamed:  # every chunk is the SDK's type (with OpenAI's `finish_reason: null` before the end)
        Completion.model_validate({**chunk, "choices": [{**c, "finish_reason": c["finish_reason"] or "stop"}
                                                        for c in chunk["choices"]]})
        for choice in chunk["choices"]:
            texts[choice["index"]] = texts.get(choice["index"], "") + choice["text"]
    assert texts == {c["index"]: c["text"] for c in whole["choices"]}  # the chunks add up to the whole
    usage_chunks = [c for c in streamed if not c["choices"]]
    wants_usage = bool(request["stream_options"]) and answer["usage"] is not None
    assert [c["usage"]["total_tokens"] for c in usage_chunks] == ([whole["usage"]["total_tokens"]]
                                                                  if wants_usage else [])


@settings(max_examples=200, deadline=None)
@given(answer=answers, request=requests)
def test_the_whole_completion_is_the_sdk_type_and_never_has_reasoning(answer, request):
    whole = to_completion(completion(answer), shell(**request))
    parsed = Completion.model_validate(whole)
    prompt = "Once upon" if request["echo"] else ""
    for choice, expected in zip(parsed.choices, answer["choices"]):
        assert choice.text == prompt + "".join(expected["tokens"])  # the reasoning is not in it
        assert choice.finish_reason == {"length": "length", "content_filter": "content_filter"}.get(
            expected["finish"], "stop")
        if request["logprobs"] is None:
            assert choice.logprobs is None
        elif expected["tokens"]:
            assert choice.logprobs.tokens == expected["tokens"]
            full = choice.text if request["echo"] else "Once upon" + choice.text  # offsets count from the prompt
            assert [full[o:o + len(t)] for t, o in zip(choice.logprobs.tokens, choice.logprobs.text_offset)] == \
                expected["tokens"]
            assert choice.logprobs.text_offset[0] == len("Once upon")


def test_logprobs_map_to_the_legacy_lists():
    answer = {"choices": [{"tokens": ["Hello", ",", " world"], "reasoning": "", "finish": "length"}], "usage": None}
    choice = to_completion(completion(answer), shell(logprobs=2))["choices"][0]
    assert choice == {"text": "Hello, world", "index": 0, "finish_reason": "length", "logprobs": {
        "tokens": ["Hello", ",", " world"], "token_logprobs": [-0.5, -0.1, -0.6],
        "top_logprobs": [{"Hello": -0.5, "x": -3.0}, {",": -0.1, "x": -3.0}, {" world": -0.6, "x": -3.0}],
        "text_offset": [9, 14, 15]}}


def test_an_answer_has_the_completion_shape():
    answer = {"choices": [{"tokens": ["Hi"], "reasoning": "hmm", "finish": "stop"}],
              "usage": {"prompt_tokens": 3, "completion_tokens": 1}}
    whole = to_completion(completion(answer), shell())
    assert whole == {"id": "cmpl-abc", "object": "text_completion", "created": 1_700_000_000, "model": "dep-1",
                     "choices": [{"text": "Hi", "index": 0, "logprobs": None, "finish_reason": "stop"}],
                     "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4}}


def test_an_empty_stream_is_still_one_finished_choice():
    translator = StreamTranslator(shell(echo=True, stream=True))
    assert translator.finish() == [{"id": "cmpl-abc", "object": "text_completion", "created": 1_700_000_000,
                                    "model": "m", "choices": [{"text": "Once upon", "index": 0, "logprobs": None,
                                                               "finish_reason": "stop"}]}]


# --- the request ------------------------------------------------------------------------------


def test_the_prompt_is_one_user_message_and_the_legacy_default_is_16_tokens():
    request, out = translate(stream=True, stream_options={"include_usage": True})
    assert request.body == {"model": "m", "messages": [{"role": "user", "content": "Once upon"}],
                            "max_tokens": DEFAULT_MAX_TOKENS, "stream": True,
                            "stream_options": {"include_usage": True}}
    assert (request.model, request.stream, request.include_usage, request.max_output, request.dialect) == (
        "m", True, True, 16, "completions")
    assert translate(prompt=["Once upon"])[0].body["messages"] == [{"role": "user", "content": "Once upon"}]
    assert out.prompt == "Once upon" and out.id == "cmpl-abc"


def test_sampling_fields_pass_through_and_legacy_ones_stay_behind():
    fields = {"temperature": 0.3, "top_p": 0.9, "n": 2, "stop": ["\n"], "presence_penalty": 0.5,
              "frequency_penalty": -0.5, "seed": 7, "user": "u1", "logit_bias": {"50256": -100}, "top_k": 5}
    request, _ = translate(max_tokens=40, logprobs=3, echo=True, best_of=2, suffix="", **fields)
    assert request.body == {"model": "m", "messages": [{"role": "user", "content": "Once upon"}],
                            "max_tokens": 40, "logprobs": True, "top_logprobs": 3, **fields}


@pytest.mark.parametrize(("mode", "sent"), [("separate", "strip"), ("strip", "strip"), ("keep", "keep")])
def test_reasoning_never_reaches_the_text_unless_keep_is_asked(mode, sent):
    request, _ = to_chat_request({"model": "m", "prompt": "x"}, completion_id="c", created=0, reasoning_mode=mode)
    assert request.reasoning_mode == sent


@pytest.mark.parametrize(("body", "param", "says"), [
    ({"prompt": [1, 2, 3]}, "prompt", "Token-array prompts"),
    ({"prompt": [[1, 2], [3]]}, "prompt", "Token-array prompts"),
    ({"prompt": ["a", "b"]}, "prompt", "one request per prompt"),
    ({"prompt": []}, "prompt", "a list of one string"),
    ({"prompt": None}, "prompt", "Missing required parameter"),
    ({"prompt": {"text": "x"}}, "prompt", "a list of one string"),
    ({"suffix": "end"}, "suffix", "only continue a conversation"),
    ({"best_of": 3}, "best_of", "cannot rank"),
    ({"best_of": 1, "n": 2}, "best_of", "cannot rank"),
    ({"logprobs": 6}, "logprobs", "from 0 to 5"),
    ({"logprobs": True}, "logprobs", "of type int"),
    ({"max_tokens": 0}, "max_tokens", "at least 1"),
    ({"max_tokens": 10_000_000}, "max_tokens", "beyond any model"),
    ({"n": 0}, "n", "at least 1"),
    ({"echo": "yes"}, "echo", "of type bool"),
    ({"model": ""}, "model", "must not be empty"),
    ({"model": 3}, "model", "of type str"),
])
def test_what_cannot_be_served_is_a_400_naming_the_field(body, param, says):
    with pytest.raises(InvalidRequest) as err:
        to_chat_request({"model": "m", "prompt": "x", **body}, completion_id="c", created=0,
                        max_output_limit=1_000_000)
    assert err.value.status == 400 and err.value.param == param and says in err.value.message
