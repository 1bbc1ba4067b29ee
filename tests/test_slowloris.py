"""Slow clients cannot hold connections: a deadline on the request's headers and body.

A real ``synaxis serve`` process (short deadlines: 1 s for the headers, 1.5 s for the
body) and a fake upstream. Raw sockets send a request's headers, or its body, a byte
at a time and never finish; the server must close them (each client waits for the end
of its connection, up to a generous cap) while normal clients are served. A client that
is slow but within the bounds, or a request that waits longer than them for the
upstream or behind a pipelined request, is not cut.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

from synaxis_core.fake import Behavior, FakeUpstream
from synaxis_core.testing.gateway import fake_environ
from synaxis_core.testing.server_process import GatewayProcess

ADMIN_KEY = "admin-slowloris-test"
HEADER_TIMEOUT_S = 1.0
BODY_TIMEOUT_S = 1.5
CLOSE_CAP_S = 30.0
"""How long a client waits for the server to close its connection: far above the bounds
(the server closes at 1 or 1.5 s), far below the endless drip (one byte per DRIP_S)."""
DRIP_S = 0.2
SLOW_CLIENTS = 100
"""Per kind (headers, body): the issue's attack had 500 connections, at 1 byte/s."""
MODEL = "gpt-oss-120b"
UPSTREAM_MODEL = "openai/gpt-oss-120b"


@dataclass
class Served:
    gateway: GatewayProcess
    fake: FakeUpstream
    key: str

    @property
    def port(self) -> int:
        return self.gateway.port


@pytest.fixture(scope="module")
def served(tmp_path_factory) -> Iterator[Served]:
    root = tmp_path_factory.mktemp("slowloris")
    with FakeUpstream() as fake:
        environ = {
            **fake_environ(fake, ("nvidia",)),
            "SYNAXIS_DATABASE_URL": f"sqlite+aiosqlite:///{root / 'gateway.db'}",
            "SYNAXIS_ADMIN_KEY": ADMIN_KEY,
            "SYNAXIS_LOAD_PLUGINS": "nvidia",
            "SYNAXIS_HEADER_TIMEOUT_S": str(HEADER_TIMEOUT_S),
            "SYNAXIS_BODY_TIMEOUT_S": str(BODY_TIMEOUT_S),
        }
        gateway = GatewayProcess(environ, log_path=root / "serve.log").start()
        try:
            _wait_ready(gateway)
            created = httpx.post(
                gateway.url + "/admin/tenants/slow/keys", headers={"authorization": f"Bearer {ADMIN_KEY}"}, timeout=30
            )
            assert created.status_code == 201, created.text
            yield Served(gateway, fake, created.json()["key"])
        finally:
            gateway.stop()


@pytest.fixture
def upstream(served: Served) -> Iterator[FakeUpstream]:
    served.fake.reset()
    yield served.fake
    served.fake.reset()


def _wait_ready(gateway: GatewayProcess, timeout_s: float = 60.0) -> None:
    assert gateway.process is not None
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if gateway.process.poll() is not None:
            raise AssertionError(f"synaxis serve exited with {gateway.process.returncode}:\n{gateway.log()}")
        try:
            if httpx.get(gateway.url + "/health", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"synaxis serve not ready within {timeout_s:g}s:\n{gateway.log()}")


# --- raw HTTP/1.1 on a socket --------------------------------------------------------

def chat_body(content: str = "hello") -> bytes:
    return json.dumps({"model": MODEL, "messages": [{"role": "user", "content": content}]}).encode()


def chat_headers(key: str, length: int) -> bytes:
    return (
        b"POST /v1/chat/completions HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\n"
        b"authorization: Bearer %s\r\ncontent-length: %d\r\n\r\n" % (key.encode(), length)
    )


def admin_headers(length: int) -> bytes:
    """A Litestar route that reads a JSON body (the chat route is plain ASGI)."""
    return (
        b"PUT /admin/tenants/slow/limits HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\n"
        b"authorization: Bearer %s\r\ncontent-length: %d\r\n\r\n" % (ADMIN_KEY.encode(), length)
    )


async def drip(writer: asyncio.StreamWriter, data: bytes) -> None:
    """Send ``data`` one byte every DRIP_S (until the connection breaks)."""
    try:
        for i in range(len(data)):
            writer.write(data[i : i + 1])
            await writer.drain()
            await asyncio.sleep(DRIP_S)
    except OSError:
        pass


async def until_closed(reader: asyncio.StreamReader, served: Served) -> bytes:
    """Everything the server sent until it closed the connection (an end of file or a
    reset); fails if it is still open after CLOSE_CAP_S."""
    chunks: list[bytes] = []

    async def read() -> None:
        try:
            while chunk := await reader.read(65536):
                chunks.append(chunk)
        except ConnectionError:
            pass

    try:
        await asyncio.wait_for(read(), CLOSE_CAP_S)
    except TimeoutError:
        pytest.fail(f"the server kept a slow connection open for {CLOSE_CAP_S:g} s:\n{served.gateway.log()}")
    return b"".join(chunks)


async def slow_client(served: Served, sent: bytes, dripped: bytes) -> bytes:
    """Send ``sent``, then drip ``dripped`` (far too long to finish); what the server sent."""
    reader, writer = await asyncio.open_connection("127.0.0.1", served.port)
    writer.write(sent)
    dripping = asyncio.create_task(drip(writer, dripped))
    try:
        return await until_closed(reader, served)
    finally:
        dripping.cancel()
        writer.close()


async def read_response(reader: asyncio.StreamReader, heads: list[bytes] | None = None) -> tuple[int, bytes]:
    """One response with a Content-Length: (status, body); its head added to ``heads``."""
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), CLOSE_CAP_S)
    if heads is not None:
        heads.append(head)
    status = int(head.split(b" ", 2)[1])
    length = next(
        int(line.split(b":", 1)[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:")
    )
    return status, await asyncio.wait_for(reader.readexactly(length), CLOSE_CAP_S)


def assert_timeout_or_nothing(answer: bytes) -> None:
    """A dripping client may see the 408 or only the close (its next byte can meet a
    reset that discards the 408 still unread): never anything else."""
    assert answer == b"" or answer.startswith(b"HTTP/1.1 408 "), answer[:300]


HEADER_DRIP = b"x-slow: " + b"a" * 10_000
BODY_DRIP_LENGTH = 10_000


# --- the tests -----------------------------------------------------------------------

async def test_slow_headers_and_bodies_are_cut_off_while_normal_clients_are_served(served: Served, upstream):
    headers_partial = b"POST /v1/chat/completions HTTP/1.1\r\nhost: 127.0.0.1\r\n"
    slow = [
        *(asyncio.create_task(slow_client(served, headers_partial, HEADER_DRIP)) for _ in range(SLOW_CLIENTS)),
        *(
            asyncio.create_task(
                slow_client(served, chat_headers(served.key, BODY_DRIP_LENGTH), b"a" * BODY_DRIP_LENGTH)
            )
            for _ in range(SLOW_CLIENTS)
        ),
        *(
            asyncio.create_task(slow_client(served, admin_headers(BODY_DRIP_LENGTH), b"a" * BODY_DRIP_LENGTH))
            for _ in range(SLOW_CLIENTS // 5)
        ),
    ]
    attack = asyncio.gather(*slow)
    served_meanwhile = 0
    async with httpx.AsyncClient(base_url=served.gateway.url, timeout=30) as client:
        await asyncio.sleep(DRIP_S)  # every slow client has connected and started
        while not attack.done() or not served_meanwhile:  # normal clients, for as long as the attack lasts
            answer = await client.post(
                "/v1/chat/completions",
                json={"model": MODEL, "messages": [{"role": "user", "content": f"{served_meanwhile}"}]},
                headers={"authorization": f"Bearer {served.key}"},
            )
            assert answer.status_code == 200, answer.text
            assert (await client.get("/health")).status_code == 200
            served_meanwhile += 1
        for answer in await attack:
            assert_timeout_or_nothing(answer)
        assert (await client.get("/health")).status_code == 200  # and the gateway is fine after it
    assert "Traceback" not in served.gateway.log(tail=10_000)


async def test_a_stalled_request_gets_408_and_is_closed(served: Served, upstream):
    for sent, what in (
        (b"GET /v1/models HTTP/1.1\r\nhost: 127.0.0.1\r\n", "headers"),
        (chat_headers(served.key, 100) + b'{"model": ', "body"),
        (admin_headers(100) + b'{"rpm": ', "body"),
    ):
        reader, writer = await asyncio.open_connection("127.0.0.1", served.port)
        writer.write(sent)
        try:
            answer = await until_closed(reader, served)
        finally:
            writer.close()
        head, _, body = answer.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 408 Request Timeout\r\n"), answer
        assert b"connection: close" in head
        error = json.loads(body)["error"]
        assert error["code"] == "request_timeout" and what in error["message"], error
    assert upstream.calls[UPSTREAM_MODEL] == 0  # the cut request never reached the upstream
    assert "Traceback" not in served.gateway.log(tail=10_000)


async def test_a_connection_that_sends_nothing_is_closed(served: Served, upstream):
    reader, writer = await asyncio.open_connection("127.0.0.1", served.port)
    try:
        assert await until_closed(reader, served) == b""  # no 408 to a request that never began
    finally:
        writer.close()


async def test_the_next_request_on_a_kept_alive_connection_is_bounded_too(served: Served, upstream):
    reader, writer = await asyncio.open_connection("127.0.0.1", served.port)
    try:
        writer.write(b"GET /health HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n")
        status, _ = await read_response(reader)
        assert status == 200
        # each byte also restarts uvicorn's keep-alive timer: only the header deadline ends this
        dripping = asyncio.create_task(drip(writer, b"GET /health HTTP/1.1\r\n" + HEADER_DRIP))
        try:
            assert_timeout_or_nothing(await until_closed(reader, served))
        finally:
            dripping.cancel()
    finally:
        writer.close()


async def test_a_slow_request_within_the_bounds_is_served(served: Served, upstream):
    # the upstream takes longer than both deadlines: they do not run while the answer is made
    upstream.set(UPSTREAM_MODEL, Behavior(kind="ok", delay_s=BODY_TIMEOUT_S + 0.5))
    body = chat_body("slow but steady")
    headers = chat_headers(served.key, len(body))
    reader, writer = await asyncio.open_connection("127.0.0.1", served.port)
    try:
        # headers in 4 parts over 0.15 s (of 1 s), then the body in 4 parts over 0.15 s (of 1.5 s)
        for part in (headers[:20], headers[20:60], headers[60:-10], headers[-10:], body[:5], body[5:20], body[20:40],
                     body[40:]):
            writer.write(part)
            await writer.drain()
            await asyncio.sleep(0.05)
        status, answer = await read_response(reader)
        assert status == 200, answer
        assert json.loads(answer)["choices"][0]["message"]["content"]
        # the connection stays usable: a second request on it
        writer.write(b"GET /health HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n")
        assert (await read_response(reader))[0] == 200
    finally:
        writer.close()


async def test_a_pipelined_request_waiting_behind_a_slow_one_is_not_cut(served: Served, upstream):
    # the first answer takes longer than the body deadline; the second request, half sent,
    # waits behind it (uvicorn stops reading meanwhile): that wait is not the client's
    upstream.set(UPSTREAM_MODEL, [Behavior(kind="ok", delay_s=BODY_TIMEOUT_S + 0.5), Behavior(kind="ok")])
    first, second = chat_body("first"), chat_body("second")
    reader, writer = await asyncio.open_connection("127.0.0.1", served.port)
    try:
        writer.write(chat_headers(served.key, len(first)) + first + chat_headers(served.key, len(second)) + second[:10])
        status, answer = await read_response(reader)
        assert status == 200, answer
        writer.write(second[10:])  # the rest, as soon as the first answer is in
        status, answer = await read_response(reader)
        assert status == 200, answer
    finally:
        writer.close()
    assert upstream.calls[UPSTREAM_MODEL] == 2


async def test_a_stalled_pipelined_request_does_not_cut_the_answer_before_it(served: Served, upstream):
    # the answer to the first request comes after the second's header deadline: it is sent
    # whole (with "connection: close"), then the connection is closed
    upstream.set(UPSTREAM_MODEL, Behavior(kind="ok", delay_s=HEADER_TIMEOUT_S + 1.0))
    first = chat_body("first")
    reader, writer = await asyncio.open_connection("127.0.0.1", served.port)
    try:
        writer.write(chat_headers(served.key, len(first)) + first + b"GET /health HTTP/1.1\r\nhost: 12")
        heads: list[bytes] = []
        status, answer = await read_response(reader, heads)
        assert status == 200, answer
        assert json.loads(answer)["choices"][0]["message"]["content"]
        assert b"\r\nconnection: close\r\n" in heads[0]
        assert await until_closed(reader, served) == b""
    finally:
        writer.close()


async def test_a_request_the_http_parser_refuses_gets_an_openai_shaped_400(served: Served, upstream):
    """Both Content-Length and Transfer-Encoding (request smuggling's favourite): uvicorn's
    parser refuses it before the app; the answer is still the OpenAI error shape."""
    body = chat_body()
    reader, writer = await asyncio.open_connection("127.0.0.1", served.port)
    writer.write(
        b"POST /v1/chat/completions HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\n"
        b"authorization: Bearer %s\r\ncontent-length: %d\r\ntransfer-encoding: chunked\r\n\r\n%x\r\n%s\r\n0\r\n\r\n"
        % (served.key.encode(), len(body), len(body), body)
    )
    try:
        status, answer = await read_response(reader)
    finally:
        writer.close()
    assert status == 400
    error = json.loads(answer)["error"]
    assert error["code"] == "invalid_http_request" and set(error) == {"message", "type", "param", "code"}
    assert upstream.calls.get(UPSTREAM_MODEL, 0) == 0
