"""The Responses dialect as a pure translator (``synaxis_core.dialects.responses``).

The property: however an upstream stream is cut (text, reasoning and tool arguments split
anywhere), the response in ``response.completed`` is the one the non-streamed answer
translates to, and every event has the shape of the ``openai`` SDK's own types.
"""

from __future__ import annotations

from typing import Any

import pydantic
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openai.types.responses import Response, ResponseStreamEvent

from synaxis_core.dialects.responses import StreamTranslator, to_chat_request, to_response
from synaxis_core.errors import InvalidRequest

EVENT = pydantic.TypeAdapter(ResponseStreamEvent)


def translate(body: dict[str, Any], **kwargs: Any):
    return to_chat_request(body, response_id="resp_abc", created_at=1_700_000_000, **kwargs)


def shell(**body: Any):
    return translate({"model": "m", "input": "hi", **body})[1]


# --- an answer, whole and cut into chunks ---------------------------------------------------

calls = st.lists(
    st.tuples(st.from_regex(r"[a-z][a-z_]{0,11}", fullmatch=True), st.text(max_size=30),
              st.sampled_from(["call_x", None])),
    max_size=2,
)
answers = st.fixed_dictionaries({
    "reasoning": st.text(max_size=40),
    "content": st.text(max_size=60),
    "calls": calls,
    "finish": st.sampled_from(["stop", "length", "tool_calls", "content_filter", None]),
    "usage": st.none() | st.fixed_dictionaries({
        "prompt_tokens": st.integers(0, 999), "completion_tokens": st.integers(0, 999),
        "prompt_tokens_details": st.fixed_dictionaries({"cached_tokens": st.integers(0, 9)}),
        "completion_tokens_details": st.fixed_dictionaries({"reasoning_tokens": st.integers(0, 9)}),
    }),
})


def completion(answer: dict[str, Any]) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": answer["content"] or None}
    if answer["reasoning"]:
        message["reasoning_content"] = message["reasoning"] = answer["reasoning"]
    if answer["calls"]:
        message["tool_calls"] = [
            {"id": call_id, "type": "function", "function": {"name": name, "arguments": args}}
            for name, args, call_id in answer["calls"]
        ]
    return {"id": "chatcmpl-1", "object": "chat.completion", "model": "dep-1",
            "choices": [{"index": 0, "message": message, "finish_reason": answer["finish"]}], "usage": answer["usage"]}


def pieces(data: st.DataObject, text: str) -> list[str]:
    cuts = sorted(data.draw(st.lists(st.integers(0, len(text)), max_size=6)))
    bounds = [0, *cuts, len(text)]
    return [text[a:b] for a, b in zip(bounds, bounds[1:])]  # empty pieces included


def chunks(data: st.DataObject, answer: dict[str, Any]) -> list[dict[str, Any]]:
    """The answer as a post-processed chunk stream, cut anywhere."""
    deltas: list[dict[str, Any]] = [{"role": "assistant", "content": ""}]
    for piece in pieces(data, answer["reasoning"]) if answer["reasoning"] else ():
        deltas.append({"reasoning_content": piece, "reasoning": piece, "content": ""})
    for piece in pieces(data, answer["content"]) if answer["content"] else ():
        if data.draw(st.booleans()) and "content" in deltas[-1] and len(deltas) > 1:
            deltas[-1]["content"] += piece  # a chunk holding the end of the reasoning and the answer
        else:
            deltas.append({"content": piece})
    for index, (name, args, call_id) in enumerate(answer["calls"]):
        name_pieces, arg_pieces = pieces(data, name), pieces(data, args)
        first = {"index": index, "type": "function", "function": {"name": name_pieces[0], "arguments": ""}}
        if call_id:
            first["id"] = call_id
        deltas.append({"tool_calls": [first]})
        deltas += [{"tool_calls": [{"index": index, "function": {"name": p}}]} for p in name_pieces[1:]]
        deltas += [{"tool_calls": [{"index": index, "function": {"arguments": p}}]} for p in arg_pieces]
    out = [{"model": "dep-1", "choices": [{"index": 0, "delta": d, "finish_reason": None}]} for d in deltas]
    out.append({"model": "dep-1", "choices": [{"index": 0, "delta": {}, "finish_reason": answer["finish"]}]})
    if answer["usage"]:
        out.append({"model": "dep-1", "choices": [], "usage": answer["usage"]})
    return out


def run(stream: list[dict[str, Any]], **body: Any) -> tuple[list[tuple[str, dict[str, Any]]], dict[str, Any]]:
    translator = StreamTranslator(shell(**body))
    events = [event for chunk in stream for event in translator.feed(chunk)]
    events += translator.finish()
    return events, translator.final


@settings(max_examples=300, deadline=None)
@given(answer=answers, data=st.data())
def test_any_chunking_gives_the_non_streamed_response(answer, data):
    events, final = run(chunks(data, answer))
    assert final == to_response(completion(answer), shell())
    assert events[-1][1]["response"] == final


@settings(max_examples=200, deadline=None)
@given(answer=answers, data=st.data())
def test_events_are_the_sdk_types_numbered_and_consistent(answer, data):
    events, final = run(chunks(data, answer))
    assert [data["sequence_number"] for _, data in events] == list(range(len(events)))
    assert [name for name, _ in events[:2]] == ["response.created", "response.in_progress"]
    for name, payload in events:
        assert payload["type"] == name
        EVENT.validate_python(payload)  # every required field of the SDK's event type is there
    Response.model_validate(final)
    done = [p["item"] for n, p in events if n == "response.output_item.done"]
    assert done == final["output"]  # each item done whole, in output order
    assert len([n for n, _ in events if n == "response.output_item.added"]) == len(done)
    text = "".join(p["delta"] for n, p in events if n == "response.output_text.delta")
    arguments = "".join(p["delta"] for n, p in events if n == "response.function_call_arguments.delta")
    summary = "".join(p["delta"] for n, p in events if n == "response.reasoning_summary_text.delta")
    assert (text, arguments, summary) == (answer["content"], "".join(a for _, a, _ in answer["calls"]),
                                          answer["reasoning"])


# --- the answer's content ---------------------------------------------------------------------


def test_a_whole_answer_has_reasoning_message_and_calls_in_order():
    answer = {"reasoning": "think", "content": "the answer", "calls": [("get_weather", '{"city": "Oslo"}', "call_1")],
              "finish": "tool_calls", "usage": {"prompt_tokens": 10, "completion_tokens": 5,
                                                "prompt_tokens_details": {"cached_tokens": 4},
                                                "completion_tokens_details": {"reasoning_tokens": 2}}}
    response = to_response(completion(answer), shell())
    reasoning, message, call = response["output"]
    assert reasoning["type"] == "reasoning" and reasoning["summary"] == [{"type": "summary_text", "text": "think"}]
    assert message["type"] == "message" and message["content"][0]["text"] == "the answer"
    assert call == {"id": call["id"], "type": "function_call", "status": "completed", "call_id": "call_1",
                    "name": "get_weather", "arguments": '{"city": "Oslo"}'}
    assert response["id"] == "resp_abc" and response["model"] == "dep-1" and response["status"] == "completed"
    assert response["usage"] == {
        "input_tokens": 10, "input_tokens_details": {"cached_tokens": 4, "cache_write_tokens": 0},
        "output_tokens": 5, "output_tokens_details": {"reasoning_tokens": 2}, "total_tokens": 15,
    }
    assert len({item["id"] for item in response["output"]}) == 3


def test_an_answer_cut_by_the_token_limit_is_incomplete():
    answer = {"reasoning": "", "content": "half", "calls": [], "finish": "length", "usage": None}
    response = to_response(completion(answer), shell(max_output_tokens=5))
    assert response["status"] == "incomplete"
    assert response["incomplete_details"] == {"reason": "max_output_tokens"}
    assert response["max_output_tokens"] == 5 and response["output"][0]["status"] == "incomplete"


def test_an_empty_answer_is_one_empty_message():
    response = to_response(completion({"reasoning": "", "content": "", "calls": [], "finish": "stop", "usage": None}),
                           shell())
    assert [(item["type"], item["content"][0]["text"]) for item in response["output"]] == [("message", "")]


def test_a_broken_stream_ends_with_an_error_and_response_failed():
    translator = StreamTranslator(shell())
    translator.feed({"model": "dep-1", "choices": [{"index": 0, "delta": {"content": "par"}}]})
    events = translator.fail("upstream went away")
    assert [name for name, _ in events] == ["response.output_text.done", "response.content_part.done",
                                           "response.output_item.done", "error", "response.failed"]
    failed = events[-1][1]["response"]
    assert failed["status"] == "failed" and failed["error"] == {"code": "server_error", "message": "upstream went away"}
    assert failed["output"][0]["content"][0]["text"] == "par"  # what was said before it broke
    assert failed["output"][0]["status"] == "incomplete"
    EVENT.validate_python(events[-2][1])
    EVENT.validate_python(events[-1][1])


# --- the request ------------------------------------------------------------------------------


def test_a_string_input_with_instructions():
    request, out = translate({"model": "gpt-oss-120b", "input": "Hi", "instructions": "Be brief", "stream": True})
    assert request.body["messages"] == [{"role": "system", "content": "Be brief"}, {"role": "user", "content": "Hi"}]
    assert (request.model, request.stream, request.dialect) == ("gpt-oss-120b", True, "responses")
    assert out.echo["instructions"] == "Be brief" and out.echo["store"] is False


def test_input_items_become_chat_messages():
    items = [
        {"type": "message", "role": "developer", "content": [{"type": "input_text", "text": "Rules"}]},
        {"role": "system", "content": "More rules"},
        {"type": "message", "role": "user", "content": [
            {"type": "input_text", "text": "What is here?"},
            {"type": "input_image", "image_url": "data:image/png;base64,AAAA", "detail": "low"}]},
        {"type": "reasoning", "id": "rs_1", "summary": [{"type": "summary_text", "text": "hmm"}]},
        {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "Let me look."}]},
        {"type": "function_call", "call_id": "c1", "name": "look", "arguments": "{}"},
        {"type": "function_call", "call_id": "c2", "name": "spawn", "namespace": "agents", "arguments": '{"n": 1}'},
        {"type": "function_call_output", "call_id": "c1", "output": "a cat"},
        {"type": "function_call_output", "call_id": "c2", "output": [{"type": "input_text", "text": "ok"}]},
    ]
    request, _ = translate({"model": "m", "input": items})
    assert request.body["messages"] == [
        {"role": "system", "content": "Rules\n\nMore rules"},
        {"role": "user", "content": [{"type": "text", "text": "What is here?"},
                                     {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA",
                                                                         "detail": "low"}}]},
        {"role": "assistant", "content": "Let me look.", "tool_calls": [
            {"id": "c1", "type": "function", "function": {"name": "look", "arguments": "{}"}},
            {"id": "c2", "type": "function", "function": {"name": "agents__spawn", "arguments": '{"n": 1}'}}]},
        {"role": "tool", "tool_call_id": "c1", "content": "a cat"},
        {"role": "tool", "tool_call_id": "c2", "content": "ok"},
    ]


def test_fields_map_to_chat_and_responses_only_fields_stay_behind():
    request, _ = translate({
        "model": "m", "input": "x", "max_output_tokens": 64, "temperature": 0.2, "top_p": 0.9, "user": "u1",
        "reasoning": {"effort": "high", "summary": "auto"}, "parallel_tool_calls": False,
        "text": {"format": {"type": "json_schema", "name": "Score", "schema": {"type": "object"}, "strict": True},
                 "verbosity": "low"},
        "prompt_cache_key": "k", "store": True, "include": ["reasoning.encrypted_content"], "metadata": {"a": "b"},
        "client_metadata": {"x": "y"}, "top_k": 7,
    })
    body = request.body
    assert body["max_tokens"] == 64 and request.max_output == 64
    assert body["response_format"] == {"type": "json_schema",
                                       "json_schema": {"name": "Score", "schema": {"type": "object"}, "strict": True}}
    assert (body["reasoning_effort"], body["verbosity"], body["parallel_tool_calls"]) == ("high", "low", False)
    assert (body["temperature"], body["top_p"], body["user"], body["prompt_cache_key"]) == (0.2, 0.9, "u1", "k")
    assert body["top_k"] == 7  # a vendor extra passes, as on /v1/chat/completions
    for name in ("store", "include", "metadata", "client_metadata", "input", "text", "reasoning", "max_output_tokens"):
        assert name not in body


def test_function_and_namespace_tools_are_flattened_and_named_back():
    tools = [
        {"type": "function", "name": "exec_command", "parameters": {"type": "object"}, "strict": False},
        {"type": "namespace", "name": "agents", "description": "sub-agents",
         "tools": [{"type": "function", "name": "spawn", "description": "Spawn one"}]},
    ]
    request, out = translate({"model": "m", "input": "x", "tools": tools, "tool_choice": "required"})
    assert request.body["tools"] == [
        {"type": "function", "function": {"name": "exec_command", "parameters": {"type": "object"}, "strict": False}},
        {"type": "function", "function": {"name": "agents__spawn", "description": "Spawn one"}},
    ]
    assert request.body["tool_choice"] == "required"
    answer = {"reasoning": "", "content": "", "calls": [("agents__spawn", "{}", "c9")], "finish": "tool_calls",
              "usage": None}
    (call,) = to_response(completion(answer), out)["output"]
    assert (call["name"], call["namespace"], call["call_id"]) == ("spawn", "agents", "c9")


def test_hosted_tools_are_dropped_and_named():
    tools = [{"type": "web_search"}, {"type": "function", "name": "f"}, {"type": "file_search", "vector_store_ids": []}]
    request, out = translate({"model": "m", "input": "x", "tools": tools})
    assert [t["function"]["name"] for t in request.body["tools"]] == ["f"]
    assert out.dropped_tools == ["web_search", "file_search"]
    assert out.echo["tools"] == [{"type": "function", "name": "f"}]


def test_tool_choice_forms():
    tools = [{"type": "function", "name": "a"}, {"type": "function", "name": "b"}]
    choice = {"type": "function", "name": "b"}
    request, _ = translate({"model": "m", "input": "x", "tools": tools, "tool_choice": choice})
    assert request.body["tool_choice"] == {"type": "function", "function": {"name": "b"}}
    allowed = {"type": "allowed_tools", "mode": "required", "tools": [{"type": "function", "name": "a"}]}
    request, _ = translate({"model": "m", "input": "x", "tools": tools, "tool_choice": allowed})
    assert [t["function"]["name"] for t in request.body["tools"]] == ["a"] and request.body["tool_choice"] == "required"


@pytest.mark.parametrize(("body", "param", "says"), [
    ({"previous_response_id": "resp_1"}, "previous_response_id", "stateless"),
    ({"conversation": "conv_1"}, "conversation", "stateless"),
    ({"background": True}, "background", "store"),
    ({"input": [{"type": "item_reference", "id": "msg_1"}]}, "input[0]", "store"),
    ({"tools": [{"type": "custom", "name": "apply_patch"}]}, "tools[0].type", "function"),
    ({"tools": [{"type": "namespace", "name": "n", "tools": [{"type": "custom", "name": "c"}]}]},
     "tools[0].tools[0].type", "function"),
    ({"tools": [{"type": "web_search"}], "tool_choice": {"type": "web_search"}}, "tool_choice", "hosted"),
    ({"input": [{"type": "computer_call_output", "call_id": "c"}]}, "input[0].type", "not supported"),
    ({"input": [{"role": "wizard", "content": "x"}]}, "input[0].role", "one of"),
    ({"input": [{"role": "user", "content": [{"type": "input_image", "file_id": "file_1"}]}]},
     "input[0].content[0].file_id", "file store"),
    ({"input": [{"role": "assistant", "content": [{"type": "input_image", "image_url": "x"}]}]},
     "input[0].content[0].type", "not supported"),
    ({"input": [{"type": "function_call", "call_id": "c", "name": "f", "arguments": {"a": 1}}]},
     "input[0].arguments", "string"),
    ({"text": {"format": {"type": "grammar"}}}, "text.format", "json_schema"),
    ({"max_output_tokens": 0}, "max_output_tokens", "at least 1"),
    ({"max_output_tokens": 10**9}, "max_output_tokens", "beyond"),
    ({"input": 5}, "input", "string or a list"),
    ({"input": []}, "input", "at least one"),
    ({"model": ""}, "model", "empty"),
    ({"model": None}, "model", "Missing"),
    ({"stream": "yes"}, "stream", "bool"),
])
def test_what_cannot_be_served_is_a_400_naming_the_field(body, param, says):
    with pytest.raises(InvalidRequest) as err:
        translate({"model": "m", "input": "x", **body}, max_output_limit=1_000_000)
    assert err.value.status == 400 and err.value.param == param and says in err.value.message


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
        st.sampled_from(["type", "role", "content", "text", "name", "tools", "call_id", "arguments", "output",
                         "image_url", "namespace", "format", "schema", "mode", "effort", "x"]), inner, max_size=4),
    max_leaves=12,
)
shaped_items = st.fixed_dictionaries({"type": st.sampled_from(["message", "function_call", "function_call_output",
                                                              "reasoning", "item_reference", "input_text",
                                                              "namespace", "function", "web_search", "json_schema"])
                                                             | json_values},
                                     optional={k: json_values for k in ("role", "content", "name", "call_id",
                                                                        "arguments", "output", "tools", "schema")})
fields = st.sampled_from(["input", "instructions", "tools", "tool_choice", "text", "reasoning", "max_output_tokens",
                          "previous_response_id", "stream", "model", "metadata"])


@settings(max_examples=300, deadline=None)
@given(body=st.dictionaries(fields, json_values | st.lists(shaped_items, max_size=3) | shaped_items, max_size=5))
def test_any_request_is_translated_or_refused_with_a_400(body):
    try:
        request, out = translate({"model": "m", "input": "x", **body}, max_output_limit=1_000_000)
    except InvalidRequest as exc:
        assert exc.status == 400 and exc.message
        return
    assert request.body["messages"] and request.dialect == "responses"
    response = to_response(completion({"reasoning": "", "content": "ok", "calls": [], "finish": "stop",
                                       "usage": None}), out)
    Response.model_validate({**response, "reasoning": None, "text": None})  # those echo the client's own enums
