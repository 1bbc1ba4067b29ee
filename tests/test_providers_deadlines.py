"""Deadlines, cancellation and bounded reads of upstream calls, on the real client (pyreqwest).

The upstream is a raw HTTP/1.1 server on its own thread and event loop: blocking the
test's loop (``time.sleep`` in a loop callback, as a busy gateway does) does not stop it,
so data keeps arriving while the loop is blocked. That is the case that broke: pyreqwest's
awaitables swallow a cancellation when their data arrived meanwhile, so a deadline
that fell inside a busy stretch never fired and a cancelled stream kept reading.
Each busy-loop test repeats the race several times (the bug lost it in about half of
the tries or more), and every deadline must fire within a small bound of its time.
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import json
import re
import threading
import time
from dataclasses import dataclass, field

import pytest
from tenacity import wait_fixed, wait_none

from synaxis_core.errors import UpstreamError, UpstreamProtocolError, UpstreamTimeout
from synaxis_core.providers.base import OpenAICompatibleProvider
from synaxis_core.providers.http import guarded
from synaxis_core.settings import Settings

BODY = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
TRIES = 6
BLOCK_S = 0.2
"""How long the loop is blocked, centred on the deadline."""
SLACK_S = 0.6
"""A deadline must fire by its time + the block + this (a loaded shared machine)."""

OK = {"id": "c", "object": "chat.completion", "choices": [{"index": 0, "message": {"role": "assistant", "content": "hi"}}]}
SSE_HEAD = b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n"


def chunk(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


def event(payload: object) -> bytes:
    return chunk(b"data: " + json.dumps(payload).encode() + b"\n\n")


DELTA = {"object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {"content": "tok"}}]}


@dataclass
class Conn:
    path: str = ""
    written: int = 0
    closed_at: float | None = None
    """``time.monotonic()`` when the client's side of the connection was seen closed."""


@dataclass
class Upstream:
    """Scripted answers by path prefix; records every connection."""

    port: int = 0
    conns: list[Conn] = field(default_factory=list)
    loop: asyncio.AbstractEventLoop | None = None
    main: asyncio.Task | None = None

    def url(self, route: str) -> str:
        return f"http://127.0.0.1:{self.port}/{route}/v1"

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn = Conn()
        self.conns.append(conn)
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            await reader.readexactly(length)
            conn.path = head.split(b" ")[1].decode()
            route = conn.path.split("/")[1]
            eof = asyncio.ensure_future(reader.read())  # b"" once the client closes
            script = getattr(self, "route_" + route.replace("-", "_"))

            async def send(data: bytes) -> None:
                if eof.done():
                    raise ConnectionResetError
                writer.write(data)
                await writer.drain()
                conn.written += len(data)

            work = asyncio.ensure_future(script(send))
            await asyncio.wait([eof, work], return_when=asyncio.FIRST_COMPLETED)
            if eof.done():
                conn.closed_at = time.monotonic()
            for task in (work, eof):  # both ended and retrieved (a broken pipe is expected here)
                task.cancel()
                with contextlib.suppress(BaseException):
                    await task
        except (ConnectionError, asyncio.IncompleteReadError):
            conn.closed_at = conn.closed_at or time.monotonic()
        except asyncio.CancelledError:  # the server stops
            pass
        finally:
            writer.close()

    # --- the scripts -------------------------------------------------------------------

    async def route_drip(self, send) -> None:
        """Headers, then one byte every 20 ms that never completes an event."""
        await send(SSE_HEAD)
        while True:
            await send(chunk(b":"))
            await asyncio.sleep(0.02)

    async def route_silent_body(self, send) -> None:
        """Headers, then nothing."""
        await send(SSE_HEAD)
        await asyncio.sleep(3600)

    async def route_quiet(self, send) -> None:
        """Headers and a keep-alive comment, then nothing."""
        await send(SSE_HEAD + chunk(b": ok\n\n"))
        await asyncio.sleep(3600)

    async def route_no_headers(self, send) -> None:
        await asyncio.sleep(3600)

    async def route_slow(self, send) -> None:
        """A non-streamed answer after 3 s."""
        await asyncio.sleep(3)
        body = json.dumps(OK).encode()
        await send(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n%s" % (len(body), body))

    async def route_long(self, send) -> None:
        """2,000 events, one every 5 ms (10 s in all), then [DONE]."""
        await send(SSE_HEAD)
        for _ in range(2000):
            await send(event(DELTA))
            await asyncio.sleep(0.005)
        await send(chunk(b"data: [DONE]\n\n") + b"0\r\n\r\n")

    async def route_flood(self, send) -> None:
        """As fast as the socket takes it: events, forever."""
        await send(SSE_HEAD)
        data = event(DELTA) * 64
        while True:
            await send(data)

    async def route_huge_line(self, send) -> None:
        """A ``data:`` line that never ends, 64 KiB at a time."""
        await send(SSE_HEAD + chunk(b"data: "))
        piece = chunk(b"x" * 65536)
        while True:
            await send(piece)

    async def route_huge_body(self, send) -> None:
        """A non-streamed 50 MB answer with its Content-Length."""
        size = HUGE_BODY_BYTES
        await send(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n" % size)
        piece = b" " * 65536
        for _ in range(size // len(piece)):
            await send(piece)

    async def route_huge_chunked(self, send) -> None:
        """A non-streamed answer without a length that never ends."""
        await send(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n")
        piece = chunk(b" " * 65536)
        while True:
            await send(piece)

    async def route_gzip_bomb(self, send) -> None:
        """20 KB on the wire, 20 MB once decompressed (pyreqwest decompresses by itself)."""
        body = gzip.compress(b" " * (20 * 1024 * 1024))
        head = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-encoding: gzip\r\n"
        await send(head + b"content-length: %d\r\n\r\n" % len(body) + body)
        await asyncio.sleep(3600)

    async def route_unavailable(self, send) -> None:
        await send(b"HTTP/1.1 503 Service Unavailable\r\ncontent-length: 4\r\nconnection: close\r\n\r\nbusy")

    async def route_malformed(self, send) -> None:
        """A good chunk, then nothing (tests replace it with their own script)."""
        await send(SSE_HEAD + event(DELTA))
        await asyncio.sleep(3600)


@pytest.fixture(scope="module")
def upstream():
    up = Upstream()
    ready = threading.Event()

    def run() -> None:
        async def main() -> None:
            up.loop = asyncio.get_running_loop()
            up.main = asyncio.current_task()
            server = await asyncio.start_server(up.handle, "127.0.0.1", 0)
            up.port = server.sockets[0].getsockname()[1]
            ready.set()
            async with server:
                await server.serve_forever()

        with contextlib.suppress(asyncio.CancelledError, RuntimeError):
            asyncio.run(main())

    thread = threading.Thread(target=run, name="raw-upstream", daemon=True)
    thread.start()
    assert ready.wait(10)
    yield up
    up.loop.call_soon_threadsafe(up.main.cancel)  # asyncio.run then cancels the handlers
    thread.join(5)


def provider(up: Upstream, route: str, *, timeout_s: float = 5.0, **env: str) -> OpenAICompatibleProvider:
    settings = Settings.from_env({f"SYNAXIS_{k.upper()}": v for k, v in env.items()})
    p = OpenAICompatibleProvider(settings, name="up", base_url=up.url(route), timeout_s=timeout_s)
    p.retry_wait = wait_none()
    return p


def block_across(deadline: float, seconds: float = BLOCK_S) -> None:
    """Block the running loop (synchronously) for ``seconds``, centred on ``deadline``."""
    asyncio.get_running_loop().call_at(deadline - seconds / 2, time.sleep, seconds)


async def first_chunk(gen) -> None:
    try:
        await anext(gen)
    finally:
        await gen.aclose()


async def fired_at(coro, start: float, give_up_s: float = 5.0) -> tuple[BaseException | None, float]:
    """Run ``coro`` in a task; its exception (None: it returned, or gave up) and when it ended.

    The wait is on the task's future (not a cancellation), so it is not exposed to the race
    it measures; a task still running after ``give_up_s`` is cancelled until it stops."""
    loop = asyncio.get_running_loop()
    task = asyncio.ensure_future(coro)
    await asyncio.wait([task], timeout=give_up_s)
    if not task.done():
        while not task.done():
            task.cancel()
            await asyncio.sleep(0.02)
        return None, loop.time() - start
    if task.cancelled():
        return asyncio.CancelledError(), loop.time() - start
    return task.exception(), loop.time() - start


HUGE_BODY_BYTES = 50 * 1024 * 1024


async def closed_within(up: Upstream, route: str, seconds: float) -> Conn:
    """The last connection on ``route``, once the upstream saw the client close it."""
    end = time.monotonic() + seconds
    while True:
        conn = [c for c in up.conns if c.path.startswith(f"/{route}/")][-1]
        if conn.closed_at is not None or time.monotonic() > end:
            return conn
        await asyncio.sleep(0.01)


# --- the busy loop: every deadline fires on time -----------------------------------------


async def test_guarded_read_times_out_while_the_loop_is_busy(upstream):
    """pyreqwest alone, under ``asyncio.timeout``: the read's data arrives while the loop
    is blocked across the deadline. ``guarded`` makes the timeout win every time (the
    bare ``await reader.read_chunk()`` lost 10 of 20 such tries)."""
    p = provider(upstream, "drip")
    client = p.client()
    loop = asyncio.get_running_loop()
    reqwest = client._transport.reqwest
    for _ in range(TRIES):
        request = reqwest.post(upstream.url("drip") + "/chat/completions").body_bytes(b"{}")
        request = request.streamed_read_buffer_limit(1).build_streamed()
        response = await guarded(request.__aenter__())
        start = loop.time()
        block_across(start + 0.3)

        async def read_forever():
            async with asyncio.timeout(0.3):
                while True:
                    await guarded(response.body_reader.read_chunk())

        exc, after = await fired_at(read_forever(), start)
        await guarded(request.__aexit__(None, None, None))
        assert isinstance(exc, TimeoutError) and after < 0.3 + BLOCK_S + SLACK_S, (exc, after)
    await p.aclose()


async def test_first_chunk_deadline_fires_while_the_loop_is_busy(upstream):
    """Bytes keep coming (1 every 20 ms) but never a chunk: ``first_chunk_by`` fires."""
    p = provider(upstream, "drip")
    loop = asyncio.get_running_loop()
    for _ in range(TRIES):
        start = loop.time()
        block_across(start + 0.3)
        exc, after = await fired_at(first_chunk(p.stream(BODY, first_chunk_by=start + 0.3)), start)
        assert isinstance(exc, UpstreamTimeout) and after < 0.3 + BLOCK_S + SLACK_S, (exc, after)
        waited = re.search(r"no first chunk within ([0-9.]+) s", str(exc))
        assert waited and 0.2 < float(waited.group(1)) <= 0.3  # the deadline's time, less what passed before the call
    await p.aclose()


async def test_first_chunk_deadline_also_bounds_the_headers(upstream):
    p = provider(upstream, "no-headers")
    loop = asyncio.get_running_loop()
    for _ in range(3):
        start = loop.time()
        block_across(start + 0.3)
        exc, after = await fired_at(first_chunk(p.stream(BODY, first_chunk_by=start + 0.3)), start)
        assert isinstance(exc, UpstreamTimeout) and after < 0.3 + BLOCK_S + SLACK_S, (exc, after)
    await p.aclose()


@pytest.mark.parametrize("route", ["silent-body", "quiet", "no-headers"])
async def test_stall_bound_shorter_than_the_clients_fires_while_busy(upstream, route):
    """``stream(timeout=...)`` below the provider's own timeout: the stream's own timer."""
    p = provider(upstream, route, timeout_s=30)
    loop = asyncio.get_running_loop()
    for _ in range(3):
        start = loop.time()
        block_across(start + 0.3)
        exc, after = await fired_at(first_chunk(p.stream(BODY, timeout=0.3)), start)
        assert isinstance(exc, UpstreamTimeout) and after < 0.3 + BLOCK_S + SLACK_S, (exc, after)
    await p.aclose()


async def test_the_clients_own_read_timeout_fires_while_busy(upstream):
    """``timeout`` equal to the provider's: pyreqwest's own timer, which the loop cannot delay."""
    p = provider(upstream, "silent-body", timeout_s=0.3)
    loop = asyncio.get_running_loop()
    for _ in range(3):
        start = loop.time()
        block_across(start + 0.3)
        exc, after = await fired_at(first_chunk(p.stream(BODY)), start)
        assert isinstance(exc, UpstreamTimeout) and after < 0.3 + BLOCK_S + SLACK_S, (exc, after)
    await p.aclose()


async def test_a_stall_mid_stream_is_an_upstream_timeout(upstream):
    """Chunks, then silence: a stall after the first chunk (pyreqwest's read timeout)."""
    p = provider(upstream, "malformed", timeout_s=0.3)  # one good chunk, then nothing
    gen = p.stream(BODY, first_chunk_by=asyncio.get_running_loop().time() + 5)
    assert (await anext(gen))["choices"][0]["delta"] == {"content": "tok"}
    with pytest.raises(UpstreamTimeout, match="stalled"):
        await anext(gen)
    await p.aclose()


async def test_headers_then_silence_is_a_timeout_under_the_routers_old_wrapper(upstream):
    """The issue's 500: ``asyncio.timeout`` around ``anext`` with no stall timer of the
    stream's own raised a ``TypeError`` (formatting a None stall bound). It is a plain
    ``TimeoutError`` for the wrapper's owner now (and ``UpstreamTimeout`` with ``first_chunk_by``)."""
    p = provider(upstream, "quiet")
    for _ in range(3):
        gen = p.stream(BODY)
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.3):
                await anext(gen)
        await gen.aclose()
    loop = asyncio.get_running_loop()
    with pytest.raises(UpstreamTimeout, match="no first chunk"):
        await first_chunk(p.stream(BODY, first_chunk_by=loop.time() + 0.3))
    await p.aclose()


async def test_chat_deadline_fires_while_the_loop_is_busy(upstream):
    p = provider(upstream, "slow")
    loop = asyncio.get_running_loop()
    for _ in range(TRIES):
        start = loop.time()
        block_across(start + 0.3)
        exc, after = await fired_at(p.chat(BODY, timeout=0.3), start)
        assert isinstance(exc, UpstreamTimeout) and after < 0.3 + BLOCK_S + SLACK_S, (exc, after)
    await p.aclose()


async def test_chat_deadline_covers_the_waits_between_retries(upstream):
    """Three 503s with 5 s between tries, a 0.3 s deadline: over in about 0.3 s."""
    p = provider(upstream, "unavailable")
    p.retry_wait = wait_fixed(5)
    loop = asyncio.get_running_loop()
    start = loop.time()
    with pytest.raises(UpstreamTimeout):
        await p.chat(BODY, timeout=0.3)
    assert loop.time() - start < 0.3 + SLACK_S
    await p.aclose()


# --- hanging up: the upstream connection is dropped at once ---------------------------------


async def test_cancelling_a_task_blocked_in_anext_drops_the_connection(upstream):
    """The task is cancelled while the loop is busy and data arrives: the cancellation
    wins every time, and the upstream sees its connection closed at once (it was read
    on to the end in about half of the tries)."""
    p = provider(upstream, "long")
    loop = asyncio.get_running_loop()
    for _ in range(TRIES):
        gen = p.stream(BODY)
        for _ in range(5):
            await anext(gen)
        task = asyncio.ensure_future(anext(gen))
        await asyncio.sleep(0)
        loop.call_soon(time.sleep, 0.05)  # the next events arrive meanwhile
        loop.call_soon(task.cancel)
        start = loop.time()
        exc, after = await fired_at(task, start, give_up_s=2)
        assert task.cancelled() and after < 0.05 + SLACK_S, (exc, after)
        await gen.aclose()
        conn = await closed_within(upstream, "long", 1.0)
        assert conn.closed_at is not None, "the upstream connection was left open"
        assert conn.written < 200 * len(event(DELTA)), conn.written  # nowhere near the 2,000 events
    await p.aclose()


async def test_aclose_drops_the_connection_of_a_silent_upstream(upstream):
    """A stream closed while the upstream sends nothing: the connection goes at once
    (not when the upstream next writes, nor at the read timeout)."""
    p = provider(upstream, "silent-body", timeout_s=30)
    gen = p.stream(BODY)
    task = asyncio.ensure_future(anext(gen))
    await asyncio.sleep(0.2)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    closed = time.monotonic()
    conn = await closed_within(upstream, "silent-body", 1.0)
    assert conn.closed_at is not None and conn.closed_at - closed < 0.5
    await p.aclose()


async def test_aclose_after_some_chunks_stops_the_upstream_read(upstream):
    p = provider(upstream, "flood")
    gen = p.stream(BODY)
    for _ in range(5):
        await anext(gen)
    await gen.aclose()
    conn = await closed_within(upstream, "flood", 1.0)
    assert conn.closed_at is not None
    written = conn.written
    await asyncio.sleep(0.2)
    assert conn.written == written  # nothing more was sent
    await p.aclose()


# --- bounded work ------------------------------------------------------------------------------


@pytest.mark.parametrize("route", ["huge-body", "huge-chunked", "gzip-bomb"])
async def test_a_non_streamed_answer_is_capped(upstream, route):
    p = provider(upstream, route, max_upstream_response_bytes=str(1024 * 1024))
    start = time.monotonic()
    with pytest.raises(UpstreamProtocolError, match="larger than 1048576 bytes"):
        await p.chat(BODY)
    assert time.monotonic() - start < 2.0
    if route != "gzip-bomb":  # (its 20 KB were whole on the wire: the connection may stay pooled)
        conn = await closed_within(upstream, route, 1.0)
        # dropped, not read to its end; what the upstream could write before that is the
        # kernel's socket buffers (they grow to tcp_rmem's max, 32 MB on some machines)
        assert conn.closed_at is not None and conn.written < HUGE_BODY_BYTES
    await p.aclose()


async def test_a_line_without_newline_is_capped_without_blocking_the_loop(upstream):
    """A ``data:`` line that never ends: an ``UpstreamProtocolError`` once it passes the
    cap, the loop never blocked for long (the decoder joins the pieces once)."""
    p = provider(upstream, "huge-line", max_sse_event_bytes=str(8 * 1024 * 1024))
    loop = asyncio.get_running_loop()
    lags: list[float] = []
    stop = False

    async def watch() -> None:
        while not stop:
            t = loop.time()
            await asyncio.sleep(0.01)
            lags.append(loop.time() - t - 0.01)

    watcher = asyncio.ensure_future(watch())
    with pytest.raises(UpstreamProtocolError, match="longer than 8388608 bytes"):
        await first_chunk(p.stream(BODY))
    stop = True
    await watcher
    assert max(lags) < 0.25, max(lags)
    await p.aclose()


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({"choices": "abc"}, "'choices' is str"),
        ({"choices": [{"index": 0, "delta": "abc"}]}, "'delta' is str"),
        ({"choices": [{"index": 0, "delta": {"content": 42}}]}, "'delta.content' is int"),
        ({"choices": ["abc"]}, "a choice is str"),
        ({"choices": [{"index": "0", "delta": {}}]}, "'index' is str"),
        ({"choices": [{"index": 0, "delta": {"role": "assistant", "reasoning_content": 1}}]}, "reasoning_content"),
        ({"choices": [{"index": 0, "delta": {"role": "assistant", "tool_calls": "x"}}]}, "tool_calls"),
    ],
)
async def test_a_malformed_later_chunk_is_a_protocol_error(upstream, payload, message, monkeypatch):
    async def script(send):
        await send(SSE_HEAD + event(DELTA) + event(payload))
        await asyncio.sleep(3600)

    monkeypatch.setattr(upstream, "route_malformed", script)
    p = provider(upstream, "malformed")
    gen = p.stream(BODY)
    assert await anext(gen) == DELTA
    with pytest.raises(UpstreamProtocolError, match="malformed stream chunk") as info:
        await anext(gen)
    assert message in str(info.value)
    assert info.value.provider == "up"
    await p.aclose()


async def test_upstream_errors_raised_are_upstream_errors():
    """Every failure here is an ``UpstreamError`` (what the gateway maps and counts)."""
    assert issubclass(UpstreamTimeout, UpstreamError) and issubclass(UpstreamProtocolError, UpstreamError)
