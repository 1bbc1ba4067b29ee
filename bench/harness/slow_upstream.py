"""The slow-stream upstream: an OpenAI-compatible SSE server that paces its events like a
model, written as a bare asyncio ``Protocol`` on uvloop so that one core serves 10,000
concurrent streams.

``POST /v1/chat/completions``: the last user message says how to pace the answer,
``slow:GAPS`` with ``GAPS`` the milliseconds before each content event (``slow:120,55,80``:
three events). Each content event carries the moment it was written, in microseconds of
``CLOCK_MONOTONIC`` (``@<µs>`` in its content; the clock is the same in every process),
so that the client can tell how long the event spent on the way. After the last one
come the finish chunk, the usage chunk and ``[DONE]``, in one write. The response is
chunked, the connection kept alive for the next request. Nothing else is served.

Usage: python slow_upstream.py PORT
"""

from __future__ import annotations

import asyncio
import re
import resource
import sys
import time

import uvloop

GAPS = re.compile(rb"slow:([0-9,]+)")
HEAD = (b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncache-control: no-cache\r\n"
        b"transfer-encoding: chunked\r\n\r\n")
BAD = b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n"
_CHUNK = b'{"id":"chatcmpl-slow","object":"chat.completion.chunk","created":1700000000,"model":"slow",'
FIRST = b'data: ' + _CHUNK + b'"choices":[{"index":0,"delta":{"role":"assistant","content":"@%d "},"finish_reason":null}]}\n\n'
CONTENT = b'data: ' + _CHUNK + b'"choices":[{"index":0,"delta":{"content":"@%d "},"finish_reason":null}]}\n\n'
END = (b'data: ' + _CHUNK + b'"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}\n\n'
       b'data: ' + _CHUNK + b'"choices":[],"usage":{"prompt_tokens":12,"completion_tokens":%d,"total_tokens":%d}}\n\n'
       b"data: [DONE]\n\n")


def frame(payload: bytes) -> bytes:
    """One HTTP/1.1 chunk."""
    return b"%x\r\n%s\r\n" % (len(payload), payload)


def content_length(head: bytes) -> int:
    at = head.find(b"content-length:")
    if at < 0:
        return 0
    stop = head.find(b"\r\n", at)
    return int(head[at + 15:stop if stop >= 0 else len(head)])


def now_us() -> int:
    return time.monotonic_ns() // 1000


class SlowStream(asyncio.Protocol):
    def __init__(self) -> None:
        self.buffer = b""
        self.transport: asyncio.Transport | None = None
        self.busy = False
        self.loop = asyncio.get_running_loop()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if not self.busy:
            self._next_request()

    def _next_request(self) -> None:
        end = self.buffer.find(b"\r\n\r\n")
        if end < 0:
            return
        length = content_length(self.buffer[:end].lower())
        if len(self.buffer) < end + 4 + length:
            return
        body, self.buffer = self.buffer[end + 4:end + 4 + length], self.buffer[end + 4 + length:]
        found = GAPS.search(body)
        if found is None or self.transport is None:
            if self.transport is not None:
                self.transport.write(BAD)
            return
        gaps = [int(g) / 1000 for g in found.group(1).split(b",") if g]
        self.busy = True
        self.transport.write(HEAD)
        start = self.loop.time()
        at_s = 0.0
        for i, gap in enumerate(gaps):
            at_s += gap
            self.loop.call_at(start + at_s, self._event, i, len(gaps))

    def _event(self, i: int, n: int) -> None:
        transport = self.transport
        if transport is None:
            return
        payload = (FIRST if i == 0 else CONTENT) % now_us()
        if i < n - 1:
            transport.write(frame(payload))
            return
        transport.write(frame(payload + END % (n, n + 12)) + b"0\r\n\r\n")
        self.busy = False
        if self.buffer:
            self._next_request()


async def serve(port: int) -> None:
    server = await asyncio.get_running_loop().create_server(SlowStream, "127.0.0.1", port, backlog=16384)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    uvloop.run(serve(int(sys.argv[1])))
