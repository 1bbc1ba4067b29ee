"""The Anthropic Messages dialect as a pure translator: requests in, messages and events out.

The property test at the end is the contract of the stream translator: however an
upstream splits its text, reasoning and tool arguments into chunks, the events, folded
back into a message the way a client does, give exactly the message translated from the
same answer unstreamed.
"""

from __future__ import annotations

import copy
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from synaxis_core.dialects.anthropic import (
    StreamTranslator,
    anthropic_error_shape,
    count_tokens,
    to_message,
    translate_request,
)
from synaxis_core.errors import (
    AuthenticationError,
    InvalidRequest,
    ModelNotFound,
    NoCandidates,
    PermissionDenied,
    RateLimitExceeded,
    UpstreamError,
)
from synaxis_core.ledger.cost import estimate_prompt_tokens

SCHEMA_2020 = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "properties": {"command": {"type": "string"}},
    "required": ["command"],
    "additionalProperties": False,
}


def body(**fields):
    return {"model": "glm-4.6", "max_tokens": 64, "messages": [{"role": "user", "content": "Hi"}], **fields}


# --- requests ------------------------------------------------------------------------------


def test_the_basic_fields_map_onto_chat_completions():
    request = translate_request(body(
        system="Be brief.", stop_sequences=["END"], temperature=0.2, top_p=0.9, top_k=5, stream=True,
        metadata={"user_id": "user-7"}, container="ignored", mcp_servers=[{"url": "x"}],
    ))
    assert request.body == {
        "model": "glm-4.6", "max_tokens": 64, "stream": True, "stop": ["END"], "temperature": 0.2, "top_p": 0.9,
        "top_k": 5, "user": "user-7",
        "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}],
    }
    assert (request.model, request.stream, request.max_output, request.dialect) == ("glm-4.6", True, 64, "messages")


def test_system_blocks_and_a_system_role_in_messages_become_system_messages_without_cache_control():
    request = translate_request(body(
        system=[{"type": "text", "text": "One.", "cache_control": {"type": "ephemeral"}}, {"type": "text", "text": "Two."}],
        messages=[{"role": "user", "content": [{"type": "text", "text": "Hi", "cache_control": {"type": "ephemeral"}}]},
                  {"role": "system", "content": [{"type": "text", "text": "Env."}]}],
    ))
    assert request.messages == [
        {"role": "system", "content": "One.\n\nTwo."}, {"role": "user", "content": "Hi"},
        {"role": "system", "content": "Env."},
    ]
    assert "cache_control" not in json.dumps(request.body)


def test_images_become_image_url_parts():
    request = translate_request(body(messages=[{"role": "user", "content": [
        {"type": "text", "text": "What is this?"},
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}},
        {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.jpg"}},
    ]}]))
    assert request.messages == [{"role": "user", "content": [
        {"type": "text", "text": "What is this?"},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}},
        {"type": "image_url", "image_url": {"url": "https://example.com/cat.jpg"}},
    ]}]


def test_a_tool_round_trip_and_replayed_thinking():
    request = translate_request(body(messages=[
        {"role": "user", "content": "List the files"},
        {"role": "assistant", "content": [
            {"type": "thinking", "thinking": "I should run ls.", "signature": "EqQBCkgIARABGAIiQL..."},
            {"type": "redacted_thinking", "data": "EmwKAhgBEgy3va3pzix/LafPsn4a"},
            {"type": "text", "text": "Running it."},
            {"type": "tool_use", "id": "toolu_01A", "name": "Bash", "input": {"command": "ls"}},
            {"type": "tool_use", "id": "toolu_01B", "name": "Bash", "input": {"command": "pwd"}},
        ]},
        {"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": "toolu_01A", "content": "a.txt"},
            {"type": "tool_result", "tool_use_id": "toolu_01B", "is_error": True,
             "content": [{"type": "text", "text": "permission denied"}]},
            {"type": "text", "text": "And now?"},
        ]},
    ]))
    assert request.messages[1:] == [
        {"role": "assistant", "content": "Running it.", "tool_calls": [
            {"id": "toolu_01A", "type": "function", "function": {"name": "Bash", "arguments": '{"command":"ls"}'}},
            {"id": "toolu_01B", "type": "function", "function": {"name": "Bash", "arguments": '{"command":"pwd"}'}},
        ]},
        {"role": "tool", "tool_call_id": "toolu_01A", "content": "a.txt"},
        {"role": "tool", "tool_call_id": "toolu_01B", "content": "Error: permission denied"},
        {"role": "user", "content": "And now?"},
    ]
    assert "I should run ls" not in json.dumps(request.body)


def test_a_tool_result_image_follows_the_tool_message_in_a_user_message():
    image = {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "AAAA"}}
    request = translate_request(body(messages=[
        {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_1", "name": "Screenshot", "input": {}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1",
                                      "content": [{"type": "text", "text": "taken"}, image]}]},
    ]))
    assert request.messages == [
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "toolu_1", "type": "function", "function": {"name": "Screenshot", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "toolu_1", "content": "taken"},
        {"role": "user", "content": [{"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}]},
    ]


def test_tools_keep_their_schema_as_sent_and_server_or_deferred_tools_are_dropped():
    request = translate_request(body(tools=[
        {"name": "Bash", "description": "Run a command", "input_schema": SCHEMA_2020, "cache_control": {"type": "ephemeral"}},
        {"type": "web_search_20250305", "name": "web_search", "max_uses": 5},
        {"name": "DeferredToolPlaceholder", "input_schema": {"type": "object"}, "defer_loading": True},
    ], tool_choice={"type": "auto", "disable_parallel_tool_use": True}))
    assert request.body["tools"] == [{"type": "function", "function": {
        "name": "Bash", "parameters": SCHEMA_2020, "description": "Run a command"}}]
    assert request.body["tool_choice"] == "auto" and request.body["parallel_tool_calls"] is False


@pytest.mark.parametrize(("choice", "expected"), [
    ({"type": "auto"}, "auto"),
    ({"type": "any"}, "required"),
    ({"type": "none"}, "none"),
    ({"type": "tool", "name": "Bash"}, {"type": "function", "function": {"name": "Bash"}}),
])
def test_tool_choice(choice, expected):
    request = translate_request(body(tools=[{"name": "Bash", "input_schema": SCHEMA_2020}], tool_choice=choice))
    assert request.body["tool_choice"] == expected


@pytest.mark.parametrize(("fields", "effort", "mode"), [
    ({}, None, "separate"),
    ({"thinking": {"type": "enabled", "budget_tokens": 1024}}, "low", "separate"),
    ({"thinking": {"type": "enabled", "budget_tokens": 10_000}}, "medium", "separate"),
    ({"thinking": {"type": "enabled", "budget_tokens": 32_000}}, "high", "separate"),
    ({"thinking": {"type": "adaptive"}}, None, "separate"),
    ({"thinking": {"type": "adaptive"}, "output_config": {"effort": "max"}}, "high", "separate"),
    ({"thinking": {"type": "enabled", "budget_tokens": 32_000}, "output_config": {"effort": "low"}}, "low", "separate"),
    ({"thinking": {"type": "adaptive", "display": "omitted"}}, None, "strip"),
    ({"thinking": {"type": "disabled"}}, None, "strip"),
])
def test_thinking_and_effort_map_to_reasoning_effort_and_the_reasoning_mode(fields, effort, mode):
    request = translate_request(body(**fields))
    assert request.body.get("reasoning_effort") == effort and request.reasoning_mode == mode


def test_the_keep_mode_still_separates_reasoning_so_no_think_tag_reaches_a_text_block():
    assert translate_request(body(), reasoning_mode="keep").reasoning_mode == "separate"
    assert translate_request(body(), reasoning_mode="strip").reasoning_mode == "strip"


@pytest.mark.parametrize("bad", [
    {"messages": [{"role": "user", "content": "Hi"}]},  # no model
    body(model="  "),
    body(messages=[]),
    body(messages=[{"role": "wizard", "content": "Hi"}]),
    body(messages=[{"role": "user"}]),
    body(messages=[{"role": "user", "content": 42}]),
    body(messages=[{"role": "user", "content": [{"text": "no type"}]}]),
    body(messages=[{"role": "user", "content": [{"type": "tool_result"}]}]),  # no tool_use_id
    body(max_tokens=0),
    body(max_tokens="many"),
    body(temperature="hot"),
])
def test_unusable_requests_are_invalid(bad):
    with pytest.raises(InvalidRequest) as err:
        translate_request(bad)
    assert err.value.status == 400


def test_max_tokens_beyond_the_limit_is_invalid():
    assert translate_request(body(max_tokens=1000), max_output_limit=1000).max_output == 1000
    with pytest.raises(InvalidRequest, match="beyond"):
        translate_request(body(max_tokens=1001), max_output_limit=1000)


def test_count_tokens_is_the_estimate_of_the_translated_messages():
    request = body(system="You are terse.", messages=[{"role": "user", "content": "Count me " * 50}])
    counted = count_tokens(request)
    assert counted == {"input_tokens": estimate_prompt_tokens(translate_request(request).messages)}
    assert counted["input_tokens"] > 100


# --- answers -----------------------------------------------------------------------------

REQUEST = translate_request(body(stop_sequences=["END", "STOP"]))


def completion(message, finish="stop", usage=None, **choice):
    response = {"id": "chatcmpl-1", "model": "glm-4.6-syn",
                "choices": [{"index": 0, "message": {"role": "assistant", **message}, "finish_reason": finish, **choice}]}
    if usage is not None:
        response["usage"] = usage
    return response


@pytest.mark.parametrize(("finish", "extra", "stop_reason", "stop_sequence"), [
    ("stop", {}, "end_turn", None),
    ("length", {}, "max_tokens", None),
    ("tool_calls", {}, "tool_use", None),
    ("content_filter", {}, "refusal", None),
    ("stop", {"stop_reason": "END"}, "stop_sequence", "END"),  # vLLM says which string matched
    ("stop", {"matched_stop": "STOP"}, "stop_sequence", "STOP"),  # SGLang
    ("stop", {"stop_reason": 151643}, "end_turn", None),  # vLLM: an end-of-sequence token id
])
def test_stop_reasons(finish, extra, stop_reason, stop_sequence):
    message = to_message(completion({"content": "Done"}, finish, **extra), REQUEST, "msg_1")
    assert (message["stop_reason"], message["stop_sequence"]) == (stop_reason, stop_sequence)


def test_a_message_has_thinking_text_and_tool_use_blocks():
    message = to_message(completion({
        "content": "Let me check.", "reasoning_content": "The user wants files.", "reasoning": "The user wants files.",
        "tool_calls": [{"id": "call_9", "type": "function", "function": {"name": "Bash", "arguments": '{"command": "ls"}'}}],
    }, "tool_calls", {"prompt_tokens": 120, "completion_tokens": 30, "prompt_tokens_details": {"cached_tokens": 100}}),
        REQUEST, "msg_abc")
    assert message == {
        "id": "msg_abc", "type": "message", "role": "assistant", "model": "glm-4.6-syn",
        "content": [
            {"type": "thinking", "thinking": "The user wants files.", "signature": ""},
            {"type": "text", "text": "Let me check."},
            {"type": "tool_use", "id": "toolu_call_9", "name": "Bash", "input": {"command": "ls"}},
        ],
        "stop_reason": "tool_use", "stop_sequence": None,
        "usage": {"input_tokens": 20, "output_tokens": 30, "cache_read_input_tokens": 100},
    }


def test_without_upstream_usage_the_tokens_are_estimated_never_zero():
    message = to_message(completion({"content": "A fairly long answer of some forty characters."}), REQUEST, "msg_1")
    assert message["usage"]["input_tokens"] == estimate_prompt_tokens(REQUEST.messages) > 0
    assert message["usage"]["output_tokens"] > 0


def test_tool_arguments_that_are_not_an_object_give_an_empty_input():
    call = {"id": "toolu_x", "function": {"name": "f", "arguments": "[1, 2"}}
    assert to_message(completion({"tool_calls": [call]}, "tool_calls"), REQUEST, "msg_1")["content"] == [
        {"type": "tool_use", "id": "toolu_x", "name": "f", "input": {}}]


@pytest.mark.parametrize(("exc", "status", "kind"), [
    (InvalidRequest("bad"), 400, "invalid_request_error"),
    (InvalidRequest("too big", status=413), 413, "invalid_request_error"),
    (AuthenticationError("who?"), 401, "authentication_error"),
    (PermissionDenied("no"), 403, "permission_error"),
    (ModelNotFound("no such model"), 404, "not_found_error"),
    (RateLimitExceeded("slow down", retry_after=3), 429, "rate_limit_error"),
    (UpstreamError("broke"), 502, "api_error"),
    (NoCandidates("nothing up"), 503, "overloaded_error"),
])
def test_errors_have_anthropics_shape(exc, status, kind):
    assert exc.status == status
    assert anthropic_error_shape(exc) == {"type": "error", "error": {"type": kind, "message": exc.message}}


# --- streams -----------------------------------------------------------------------------


def fold(events):
    """The message a client builds from the events, checking their order on the way."""
    names = [name for name, _ in events]
    assert names[:2] == ["message_start", "ping"] and names[-2:] == ["message_delta", "message_stop"], names
    message = copy.deepcopy(events[0][1]["message"])
    assert message["content"] == [] and message["usage"]["input_tokens"] > 0
    open_block, arguments = None, {}
    for name, data in events[1:]:
        assert data["type"] == name
        if name == "content_block_start":
            assert open_block is None and data["index"] == len(message["content"])
            message["content"].append(copy.deepcopy(data["content_block"]))
            open_block = data["index"]
        elif name == "content_block_delta":
            assert data["index"] == open_block
            block, delta = message["content"][open_block], data["delta"]
            if delta["type"] == "text_delta":
                block["text"] += delta["text"]
            elif delta["type"] == "thinking_delta":
                block["thinking"] += delta["thinking"]
            else:
                assert delta["type"] == "input_json_delta" and block["type"] == "tool_use"
                arguments[open_block] = arguments.get(open_block, "") + delta["partial_json"]
        elif name == "content_block_stop":
            assert data["index"] == open_block
            if open_block in arguments:
                message["content"][open_block]["input"] = json.loads(arguments[open_block])
            open_block = None
        elif name == "message_delta":
            assert open_block is None
            message.update(data["delta"])
            message["usage"].update(data["usage"])
    return message


def pieces(draw, text):
    """``text`` cut at arbitrary points (never an empty piece)."""
    cuts = sorted(draw(st.sets(st.integers(1, max(1, len(text) - 1)), max_size=6))) if len(text) > 1 else []
    bounds = [0, *cuts, len(text)]
    return [text[a:b] for a, b in zip(bounds, bounds[1:]) if text[a:b]]


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-10**6, 10**6) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=6,
)
usages = st.none() | st.fixed_dictionaries(
    {"prompt_tokens": st.integers(0, 10**6), "completion_tokens": st.integers(0, 10**6)},
    optional={"prompt_tokens_details": st.fixed_dictionaries({"cached_tokens": st.integers(0, 50)})},
)


@st.composite
def answers(draw):
    """(the chat completion, the same answer as a post-processed chunk stream)."""
    reasoning, content = draw(st.text(max_size=60)), draw(st.text(max_size=60))
    calls = [
        {"id": draw(st.sampled_from([f"call_{i}", None])), "type": "function",
         "function": {"name": draw(st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,12}", fullmatch=True)),
                      "arguments": json.dumps(draw(st.dictionaries(st.text(max_size=6), json_values, max_size=3)))}}
        for i in range(draw(st.integers(0, 3)))
    ]
    finish = draw(st.sampled_from(["stop", "length", "tool_calls", "content_filter", None]))
    matched = draw(st.sampled_from([None, "END", "nope"]))
    usage = draw(usages)
    message = {"role": "assistant", "content": content or None}
    if reasoning:
        message["reasoning_content"] = message["reasoning"] = reasoning
    if calls:
        message["tool_calls"] = calls
    choice = {"index": 0, "message": message, "finish_reason": finish, "stop_reason": matched}
    response = {"id": "chatcmpl-1", "model": "dep-1", "choices": [choice], **({"usage": usage} if usage else {})}

    deltas = [{"role": "assistant", "content": ""}]
    deltas += [{"reasoning_content": p, "reasoning": p, "content": None} for p in pieces(draw, reasoning)]
    text_deltas = [{"content": p} for p in pieces(draw, content)]
    if text_deltas and len(deltas) > 1 and draw(st.booleans()):  # a think tag closed inside one chunk
        deltas[-1] = {**deltas[-1], **text_deltas.pop(0)}
    deltas += text_deltas
    for i, call in enumerate(calls):
        head = {"index": i, "type": "function", "function": {"name": call["function"]["name"], "arguments": ""}}
        if call["id"]:
            head["id"] = call["id"]
        deltas.append({"tool_calls": [head]})
        deltas += [{"tool_calls": [{"index": i, "function": {"arguments": p}}]}
                   for p in pieces(draw, call["function"]["arguments"])]
    chunks = [{"id": "chatcmpl-1", "model": "dep-1", "choices": [{"index": 0, "delta": d, "finish_reason": None}]}
              for d in deltas]
    chunks.append({"id": "chatcmpl-1", "model": "dep-1",
                   "choices": [{"index": 0, "delta": {}, "finish_reason": finish, "stop_reason": matched}]})
    if not calls and text_deltas and draw(st.booleans()):  # held-back text flushed after the finish reason
        chunks.insert(len(chunks), chunks.pop(-2))
    if usage:
        chunks.append({"id": "chatcmpl-1", "model": "dep-1", "choices": [], "usage": usage})
    return response, chunks


@settings(max_examples=300, deadline=None)
@given(answers())
def test_any_chunking_of_a_stream_folds_into_the_unstreamed_message(answer):
    response, chunks = answer
    translator = StreamTranslator(REQUEST, "msg_1")
    events = [event for chunk in chunks for event in translator.feed(chunk)] + translator.finish()
    assert fold(events) == to_message(response, REQUEST, "msg_1")


def test_the_stream_sends_each_piece_as_it_arrives():
    translator = StreamTranslator(REQUEST, "msg_1")

    def chunk(delta, finish=None):
        return {"model": "dep-1", "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}

    assert [name for name, _ in translator.feed(chunk({"role": "assistant", "content": ""}))] == ["message_start", "ping"]
    assert translator.feed(chunk({"content": "He"})) == [
        ("content_block_start", {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
        ("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "He"}}),
    ]
    call = {"index": 0, "id": "call_1", "function": {"name": "Bash", "arguments": '{"comm'}}
    assert translator.feed(chunk({"tool_calls": [call]})) == [
        ("content_block_stop", {"type": "content_block_stop", "index": 0}),
        ("content_block_start", {"type": "content_block_start", "index": 1, "content_block": {
            "type": "tool_use", "id": "toolu_call_1", "name": "Bash", "input": {}}}),
        ("content_block_delta", {"type": "content_block_delta", "index": 1,
                                 "delta": {"type": "input_json_delta", "partial_json": '{"comm'}}),
    ]
    assert translator.feed(chunk({}, "tool_calls")) == []
    assert translator.finish() == [
        ("content_block_stop", {"type": "content_block_stop", "index": 1}),
        ("message_delta", {"type": "message_delta", "delta": {"stop_reason": "tool_use", "stop_sequence": None},
                           "usage": {"input_tokens": estimate_prompt_tokens(REQUEST.messages), "output_tokens": 2}}),
        ("message_stop", {"type": "message_stop"}),
    ]


def test_interleaved_parallel_tool_arguments_still_reach_their_own_block():
    translator = StreamTranslator(REQUEST, "msg_1")
    events = []
    for call in ({"index": 0, "id": "a", "function": {"name": "f", "arguments": '{"x"'}},
                 {"index": 1, "id": "b", "function": {"name": "g", "arguments": '{"y": 2}'}},
                 {"index": 0, "function": {"arguments": ": 1}"}}):
        events += translator.feed({"model": "m", "choices": [{"index": 0, "delta": {"tool_calls": [call]}}]})
    late = [data for name, data in events if name == "content_block_delta"][-1]
    assert late["index"] == 0 and late["delta"]["partial_json"] == ": 1}"
