"""The plain-ASGI helpers of the chat route: body limits and stream relaying."""

from __future__ import annotations

import asyncio
import logging

import pytest

from synaxis_core.errors import InvalidRequest
from synaxis_core.server.asgi import read_body, send_stream
from synaxis_core.testing.waiting import DEFAULT_TIMEOUT_S


def receiver(*messages):
    queue = list(messages)

    async def receive():
        if queue:
            return queue.pop(0)
        await asyncio.Event().wait()  # the client stays: nothing more arrives

    return receive


async def test_a_body_in_parts_is_joined_and_its_size_checked_as_it_comes():
    parts = receiver({"type": "http.request", "body": b"ab", "more_body": True},
                     {"type": "http.request", "body": b"cd", "more_body": False})
    assert await read_body(parts, limit=4, declared=None) == b"abcd"
    parts = receiver({"type": "http.request", "body": b"ab", "more_body": True},
                     {"type": "http.request", "body": b"cde", "more_body": True})
    with pytest.raises(InvalidRequest) as raised:
        await read_body(parts, limit=4, declared=None)
    assert raised.value.status == 413
    with pytest.raises(InvalidRequest):  # a declared length over the limit: refused before reading
        await read_body(receiver(), limit=4, declared=5)


async def test_a_stream_that_fails_after_it_started_ends_without_a_second_response(caplog):
    sent = []

    async def send(message):
        sent.append(message)

    async def events():
        yield b"data: {}\n\n"
        raise RuntimeError("a bug in a post-processor")

    with caplog.at_level(logging.ERROR, logger="synaxis.server"):
        await send_stream(send, receiver(), [(b"content-type", b"text/event-stream")], events())
    assert [m["type"] for m in sent] == ["http.response.start", "http.response.body"]
    assert sent[1] == {"type": "http.response.body", "body": b"data: {}\n\n", "more_body": True}
    assert "failed after it started" in caplog.text


async def test_a_client_that_leaves_cancels_the_stream():
    """The client leaves once the first event has reached it, while the stream waits for an
    upstream that never sends the next one: the relay is cancelled where it waits, the
    stream's own cleanup runs, and nothing more is sent (no second event, no clean end)."""
    cleaned, first_sent = asyncio.Event(), asyncio.Event()

    async def events():
        try:
            yield b"data: 1\n\n"
            await asyncio.Event().wait()  # an upstream that never sends the next chunk
            yield b"data: 2\n\n"
        finally:
            cleaned.set()

    sent = []

    async def send(message):
        sent.append(message)
        if message.get("body") == b"data: 1\n\n":
            first_sent.set()

    async def leave():
        await first_sent.wait()
        return {"type": "http.disconnect"}

    # the cap only turns a relay that ignores the disconnect (it would wait forever) into a failure
    await asyncio.wait_for(send_stream(send, leave, [], events()), timeout=DEFAULT_TIMEOUT_S)
    assert cleaned.is_set()
    assert [m.get("body") for m in sent] == [None, b"data: 1\n\n"]  # the start, the first event; no end
