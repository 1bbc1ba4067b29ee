"""Bad input, written by hand: every case gets the right 4xx in the OpenAI error shape.

Never a 5xx, never a Litestar default page or a traceback. Decided behaviours:

- duplicate keys in a JSON object: the last one wins (msgspec's rule, and what Python's
  ``json`` and most servers do); the upstream receives the same single value the
  gateway routed and checked;
- ``Content-Type``: JSON (``application/json``, ``*+json``), and also unlabelled,
  ``text/plain`` and form-labelled bodies (``curl -d``) are parsed as JSON; a body that
  declares another format gets 415;
- headers: the HTTP server (uvicorn with h11) accepts header blocks up to at least
  16 KiB, and the app answers those in the OpenAI shape. Beyond that, h11 refuses the
  request before the app sees it: a plain-text ``400 Invalid HTTP request received.``
  or, when the client is still sending, a closed connection. That is a known limit of
  the server, not an OpenAI-shaped error; it is never a 5xx and the server carries on.
"""

from __future__ import annotations

import asyncio
import gzip
import json

import httpx
import pytest
import pytest_asyncio
from sqlalchemy import select

from synaxis_core.db.models import UsageRecord
from synaxis_core.fake import FakeUpstream
from synaxis_core.testing.gateway import gateway_harness
from synaxis_core.testing.live_server import live_server

pytestmark = pytest.mark.asyncio(loop_scope="module")

MODEL = "gpt-oss-120b"
MESSAGES = [{"role": "user", "content": "Hi"}]
CHAT = {"model": MODEL, "messages": MESSAGES}
MAX_BODY = 4 * 1024 * 1024  # the default SYNAXIS_MAX_BODY_BYTES
NVIDIA_UPSTREAM = "openai/gpt-oss-120b"


@pytest.fixture(scope="module")
def fake():
    with FakeUpstream() as upstream:
        yield upstream


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def h(fake, tmp_path_factory):
    url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('bad-input') / 'synaxis.db'}"
    async with gateway_harness(fake, database_url=url, providers=("nvidia", "synthetic")) as harness:
        yield harness


def assert_openai_error(response: httpx.Response, status: int, *, code: str | None = None, param: str | None = None) -> dict:
    assert response.status_code == status, response.text[:500]
    assert response.headers["content-type"].startswith("application/json"), response.headers
    body = response.json()
    assert set(body) == {"error"}, body
    error = body["error"]
    assert set(error) == {"message", "type", "param", "code"}, error
    assert isinstance(error["message"], str) and error["message"] and isinstance(error["type"], str)
    assert "Traceback" not in error["message"]
    if code is not None:
        assert error["code"] == code, error
    if param is not None:
        assert error["param"] == param, error
    return error


async def chat(h, content: bytes, headers: dict[str, str] | None = None) -> httpx.Response:
    return await h.client.post(
        "/v1/chat/completions", headers={**h.auth(), "content-type": "application/json", **(headers or {})}, content=content
    )


def encode(body: object) -> bytes:
    return json.dumps(body).encode()


def nested(depth: int, leaf: bytes = b"1") -> bytes:
    return b'{"a":' * depth + leaf + b"}" * depth


# --- bodies that are not JSON, or not the JSON we need --------------------------------

NOT_JSON = {
    "empty": b"",
    "truncated": b'{"model": ',
    "invalid_utf8_in_a_string": b'{"model":"gpt-oss-120b","messages":[{"role":"user","content":"\xff\xfe"}]}',
    "invalid_utf8_in_a_key": b'{"mo\xc3del":"gpt-oss-120b","messages":[]}',
    "lone_surrogate_escape": b'{"model":"gpt-oss-120b","messages":[{"role":"user","content":"\\ud800"}]}',
    "utf8_bom": b'\xef\xbb\xbf' + encode(CHAT),
    "nan": b'{"model":"gpt-oss-120b","messages":[{"role":"user","content":"hi"}],"temperature":NaN}',
    "trailing_garbage": encode(CHAT) + b"}",
    "two_documents": encode(CHAT) + encode(CHAT),
    "single_quotes": b"{'model': 'gpt-oss-120b'}",
    "gzip_without_saying_so": gzip.compress(encode(CHAT)),
    "nested_100000_arrays": b"[" * 100_000 + b"]" * 100_000,
    "nested_100000_objects_in_an_extra_field": b'{"model":"gpt-oss-120b","messages":[],"x":' + nested(100_000) + b"}",
    "nested_5000_in_content": b'{"model":"gpt-oss-120b","messages":[{"role":"user","content":'
    + b"[" * 5000 + b"]" * 5000 + b"}]}",
}


@pytest.mark.parametrize("name", list(NOT_JSON))
async def test_a_body_that_is_not_valid_json_is_a_400(h, name):
    error = assert_openai_error(await chat(h, NOT_JSON[name]), 400)
    assert error["type"] == "invalid_request_error"


@pytest.mark.parametrize("body", [[1, 2], "chat", 42, None, True], ids=repr)
async def test_a_body_that_is_not_an_object_is_a_400(h, body):
    assert_openai_error(await chat(h, encode(body)), 400)


async def test_nesting_near_the_decoders_limit_is_never_a_5xx(h):
    """Around the depth where decoding gives up, every body is either served or a 400:
    never decoded fine and then failing deeper in the gateway (re-encoding it)."""
    statuses = set()
    for depth in range(700, 1001, 3):
        for body in (
            b'{"model":"gpt-oss-120b","messages":[{"role":"user","content":"hi"}],"x":' + nested(depth) + b"}",
            b'{"model":"gpt-oss-120b","messages":[{"role":"user","content":[' + b"[" * depth + b"]" * depth + b"]}]}",
        ):
            response = await chat(h, body)
            statuses.add(response.status_code)
            if response.status_code != 200:
                assert_openai_error(response, 400)
    assert statuses == {200, 400}  # the sweep crossed the limit


async def test_a_moderately_nested_extra_field_passes_through_untouched(h, fake):
    schema = json.loads(nested(40, b'{"type": "string"}'))
    response = await chat(h, encode({**CHAT, "response_format": {"type": "json_schema", "schema": schema}}))
    assert response.status_code == 200
    assert fake.requests[-1].body["response_format"]["schema"] == schema


# --- fields of the wrong type or value ---------------------------------------------------

WRONG_FIELDS = [
    ("missing_model", {"messages": MESSAGES}, "model", "missing_required_parameter"),
    ("missing_messages", {"model": MODEL}, "messages", "missing_required_parameter"),
    ("model_not_a_string", {"model": 5, "messages": MESSAGES}, "model", None),
    ("model_empty", {"model": " ", "messages": MESSAGES}, "model", None),
    ("messages_empty", {"model": MODEL, "messages": []}, "messages", None),
    ("messages_a_string", {"model": MODEL, "messages": "hi"}, "messages", None),
    ("messages_null", {"model": MODEL, "messages": None}, "messages", None),
    ("message_not_an_object", {"model": MODEL, "messages": ["hi"]}, "messages[0]", None),
    ("unknown_role", {"model": MODEL, "messages": [{"role": "wizard", "content": "x"}]}, "messages[0].role", None),
    ("role_missing", {"model": MODEL, "messages": [{"content": "x"}]}, "messages[0]", None),
    ("role_not_a_string", {"model": MODEL, "messages": [{"role": 1, "content": "x"}]}, "messages[0].role", None),
    ("second_role_unknown", {"model": MODEL, "messages": [*MESSAGES, {"role": "Root", "content": "x"}]},
     "messages[1].role", None),
    ("content_a_number", {"model": MODEL, "messages": [{"role": "user", "content": 5}]}, "messages[0].content", None),
    ("content_a_list_of_strings", {"model": MODEL, "messages": [{"role": "user", "content": ["a"]}]},
     "messages[0].content[0]", None),
    ("max_tokens_negative", {**CHAT, "max_tokens": -1}, "max_tokens", None),
    ("max_tokens_zero", {**CHAT, "max_tokens": 0}, "max_tokens", None),
    ("max_tokens_absurd", {**CHAT, "max_tokens": 10**30}, "max_tokens", None),
    ("max_tokens_beyond_int64", {**CHAT, "max_tokens": 2**64}, "max_tokens", None),
    ("max_tokens_a_float", {**CHAT, "max_tokens": 1.5}, "max_tokens", None),
    ("max_tokens_a_string", {**CHAT, "max_tokens": "lots"}, "max_tokens", None),
    ("max_tokens_a_bool", {**CHAT, "max_tokens": True}, "max_tokens", None),
    ("max_completion_tokens_negative", {**CHAT, "max_completion_tokens": -5}, "max_completion_tokens", None),
    ("n_zero", {**CHAT, "n": 0}, "n", None),
    ("stream_a_string", {**CHAT, "stream": "yes"}, "stream", None),
    ("stream_options_a_list", {**CHAT, "stream_options": []}, "stream_options", None),
    ("include_usage_a_string", {**CHAT, "stream_options": {"include_usage": "y"}}, "stream_options.include_usage", None),
]


@pytest.mark.parametrize(("body", "param", "code"), [c[1:] for c in WRONG_FIELDS], ids=[c[0] for c in WRONG_FIELDS])
async def test_a_wrong_field_is_a_400_naming_it(h, body, param, code):
    assert_openai_error(await chat(h, encode(body)), 400, param=param, code=code)


async def test_an_unknown_model_is_a_404_even_when_its_name_is_huge(h):
    error = assert_openai_error(await chat(h, encode({**CHAT, "model": "g" * 100_000})), 404, code="model_not_found")
    assert error["param"] == "model"
    error = assert_openai_error(await chat(h, encode({**CHAT, "model": "gpt\u0000oss"})), 404, code="model_not_found")


# --- sizes ---------------------------------------------------------------------------------


async def test_a_body_over_the_limit_is_a_413(h):
    huge_string = encode({**CHAT, "messages": [{"role": "user", "content": "a" * (MAX_BODY + 1)}]})
    assert_openai_error(await chat(h, huge_string), 413, code="request_too_large")
    huge_array = encode({**CHAT, "messages": [{"role": "user", "content": "a"}] * 150_000})
    assert len(huge_array) > MAX_BODY
    assert_openai_error(await chat(h, huge_array), 413, code="request_too_large")


async def test_a_chunked_body_over_the_limit_is_a_413(h):
    async def chunks():
        yield b'{"model":"gpt-oss-120b","messages":[{"role":"user","content":"'
        for _ in range(MAX_BODY // 65536 + 2):
            yield b"a" * 65536
        yield b'"}]}'

    response = await h.client.post("/v1/chat/completions", headers=h.auth(), content=chunks())
    assert_openai_error(response, 413, code="request_too_large")


async def test_a_request_longer_than_every_context_window_is_a_400(h, fake):
    """Under the body limit but far over every deployment's context window: the client's
    fault (OpenAI's ``context_length_exceeded``), not a 503; no upstream is called."""
    before = len(fake.requests)
    huge_string = encode({**CHAT, "messages": [{"role": "user", "content": "a" * 3_000_000}]})
    error = assert_openai_error(await chat(h, huge_string), 400, code="context_length_exceeded")
    assert error["param"] == "messages" and "context window" in error["message"]
    huge_array = encode({**CHAT, "messages": [{"role": "user", "content": "hello there"}] * 80_000})
    assert_openai_error(await chat(h, huge_array), 400, code="context_length_exceeded")
    assert len(fake.requests) == before


# --- headers and media types -----------------------------------------------------------------


@pytest.mark.parametrize(
    "content_type",
    ["multipart/form-data; boundary=x", "application/xml", "text/html", "application/octet-stream", "image/png", "nonsense"],
)
async def test_a_body_declared_as_something_else_is_a_415(h, content_type):
    response = await chat(h, encode(CHAT), {"content-type": content_type})
    assert_openai_error(response, 415, code="unsupported_media_type")


@pytest.mark.parametrize(
    "content_type", ["application/json; charset=utf-8", "application/vnd.api+json", "text/plain", "application/x-www-form-urlencoded"]
)
async def test_json_like_and_unlabelled_bodies_are_parsed_as_json(h, content_type):
    response = await chat(h, encode(CHAT), {"content-type": content_type})
    assert response.status_code == 200, response.text


async def test_duplicate_keys_the_last_one_wins_and_the_upstream_sees_it(h, fake):
    body = (
        b'{"model":"no-such-model","model":"gpt-oss-120b-nvidia","max_tokens":-1,"max_tokens":7,'
        b'"messages":[{"role":"wizard","role":"user","content":"first","content":"second"}]}'
    )
    response = await chat(h, body)
    assert response.status_code == 200, response.text
    assert response.headers["x-synaxis-model"] == "gpt-oss-120b-nvidia"
    sent = fake.requests[-1].body
    assert sent["model"] == NVIDIA_UPSTREAM and sent["max_tokens"] == 7
    assert sent["messages"] == [{"role": "user", "content": "second"}]
    # the last one wins for bad values too
    assert_openai_error(await chat(h, b'{"model":"gpt-oss-120b","max_tokens":7,"max_tokens":-1,"messages":[]}'), 400)


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({"authorization": "Basic dXNlcjpwYXNz"}, 401),
        ({"authorization": "Bearer"}, 401),
        ({"authorization": "Bearer " + "x" * 20_000}, 401),
        ({"authorization": "Bearer sk-syn-" + "A" * 40}, 401),
        ({"x-synaxis-reasoning": "loud"}, 400),
    ],
    ids=["basic_auth", "empty_bearer", "huge_key", "unknown_key", "bad_reasoning_mode"],
)
async def test_bad_headers_are_openai_errors(h, headers, status):
    response = await h.client.post("/v1/chat/completions", headers={**h.auth(), **headers}, json=CHAT)
    assert_openai_error(response, status)


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [("GET", "/v1/chat/completions", 405), ("PUT", "/v1/chat/completions", 405), ("POST", "/v1/models", 405),
     ("DELETE", "/health", 405), ("GET", "/v1/nothing", 404), ("GET", "/v1/chat/completions/../../etc/passwd", 404),
     ("POST", "/admin/models", 405)],
)
async def test_wrong_routes_and_methods_are_openai_errors(h, method, path, status):
    headers = h.admin() if path.startswith("/admin") else h.auth()
    assert_openai_error(await h.client.request(method, path, headers=headers), status)


# --- the admin API ----------------------------------------------------------------------------

ADMIN_CASES = [
    ("PATCH", "/admin/models/gpt-oss-120b-nvidia", b'{"active": false, "reason": "\xff"}', 400),
    ("PATCH", "/admin/models/gpt-oss-120b-nvidia", b"[" * 100_000, 400),
    ("PATCH", "/admin/models/gpt-oss-120b-nvidia", b'{"active": "no"}', 400),
    ("PATCH", "/admin/models/gpt-oss-120b-nvidia", b'{"active": true, "extra": 1}', 400),
    ("PATCH", "/admin/models/no-such-deployment", b'{"active": true}', 404),
    ("PUT", "/admin/tenants/test/limits", b'{"rpm": -5}', 400),
    ("PUT", "/admin/tenants/test/limits", b'{"rpm": 3000000000}', 400),
    ("PUT", "/admin/tenants/test/limits", b'{"tpm": 99999999999999999999999}', 400),
    ("PUT", "/admin/tenants/test/limits", b'{"rpm": 1e400}', 400),
    ("PUT", "/admin/tenants/test/limits", b'{"budget_usd": NaN}', 400),
    ("PUT", "/admin/tenants/test/limits", b'{"clear": ["everything"]}', 400),
    ("PUT", "/admin/tenants/test/limits", b"{}", 400),
    ("PUT", "/admin/tenants/nobody/limits", b'{"rpm": 5}', 404),
    ("POST", "/admin/sync", b'{"targets": ["everything"]}', 400),
    ("POST", "/admin/tenants/" + "t" * 300 + "/keys", b"", 400),
    ("POST", "/admin/tenants/%20/keys", b"", 400),
    ("GET", "/admin/tenants/nobody/keys", b"", 404),
    ("DELETE", "/admin/keys/x", b"", 400),
]


@pytest.mark.parametrize(("method", "path", "body", "status"), ADMIN_CASES, ids=[f"{c[0]} {c[1][:40]} {c[2][:20]!r}" for c in ADMIN_CASES])
async def test_bad_admin_requests_are_openai_errors(h, method, path, body, status):
    assert_openai_error(await h.client.request(method, path, headers=h.admin(), content=body), status)


# --- the ledger with odd input -----------------------------------------------------------------


async def test_odd_requests_are_recorded_once_each_on_every_database(fake, database_url):
    """Every request with a valid key is one ledger row, however bad: a huge unknown model
    name (cut to fit its column), unreadable bodies (no model: NULL), a body over the
    limit, a foreign media type, and a normal call; on SQLite and PostgreSQL. A request
    without a valid key is not recorded."""
    async with gateway_harness(
        fake, database_url=database_url, providers=("nvidia",), ledger_flush_interval_s=0.01, max_body_bytes=10_000
    ) as h:
        assert_openai_error(await chat(h, encode({**CHAT, "model": "q" * 5000})), 404)
        assert_openai_error(await chat(h, encode({**CHAT, "max_tokens": -1})), 400)
        assert_openai_error(await chat(h, b'{"model": "\xff'), 400)
        assert_openai_error(await chat(h, b"[" * 50_000), 413)
        assert_openai_error(await chat(h, encode(CHAT), {"content-type": "application/xml"}), 415)
        assert_openai_error(await chat(h, encode(CHAT), {"authorization": "Bearer sk-syn-nope"}), 401)
        assert (await chat(h, encode(CHAT))).status_code == 200
        await h.gateway.ledger.flush()
        async with h.gateway.sessions() as session:
            rows = (await session.scalars(select(UsageRecord).order_by(UsageRecord.id))).all()
    assert [(r.status, r.http_status) for r in rows] == [
        ("error", 404), ("error", 400), ("error", 400), ("error", 413), ("error", 415), ("ok", 200)
    ]
    assert rows[0].requested_model == "q" * 300
    assert [r.requested_model for r in rows[1:5]] == [None] * 4


# --- the real HTTP server's own limits ----------------------------------------------------------


async def test_header_sizes_on_a_real_server(h):
    """Up to 16 KiB of headers reach the app (OpenAI-shaped answers); above 64 KiB the
    gateway answers an OpenAI-shaped 431 (or, with h11, the parser refuses far larger
    blocks itself: plain-text 400 or a closed connection): never a 5xx, and the server
    keeps serving."""
    async with live_server(h.app) as url, httpx.AsyncClient(base_url=url, timeout=10) as client:
        for size in (1024, 8 * 1024, 15 * 1024):
            response = await client.post("/v1/chat/completions", headers={**h.auth(), "x-padding": "a" * size}, json=CHAT)
            assert response.status_code == 200
            response = await client.post("/v1/chat/completions", headers={"authorization": "Bearer " + "k" * size}, json=CHAT)
            assert_openai_error(response, 401)
        many = {f"x-header-{i}": "v" * 10 for i in range(500)}
        assert (await client.post("/v1/chat/completions", headers={**h.auth(), **many}, json=CHAT)).status_code == 200
        for size in (80 * 1024, 512 * 1024, 4 * 1024 * 1024):
            try:
                response = await client.post("/v1/chat/completions", headers={**h.auth(), "x-padding": "a" * size}, json=CHAT)
            except httpx.TransportError:
                continue  # the HTTP parser closed the connection while the headers were still coming
            if response.headers.get("content-type", "").startswith("application/json"):
                assert_openai_error(response, 431)  # the gateway's own limit (64 KiB)
            else:  # h11 refuses far-too-large header blocks itself
                assert response.status_code == 400 and response.text == "Invalid HTTP request received."
        assert (await client.post("/v1/chat/completions", headers=h.auth(), json=CHAT)).status_code == 200


async def test_garbage_on_the_socket_gets_a_400_from_the_server(h):
    async with live_server(h.app) as url:
        host, port = url.removeprefix("http://").split(":")
        for garbage in (b"GARBAGE\r\n\r\n", b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n"):
            reader, writer = await asyncio.open_connection(host, int(port))
            writer.write(garbage)
            await writer.drain()
            answer = await asyncio.wait_for(reader.read(4096), 5)
            writer.close()
            assert answer.startswith(b"HTTP/1.1 400 "), answer
