"""A client that hangs up stops the relay of a stream, even one that never has to wait.

uvicorn's ``send`` returns at once once the client is gone, and a chunk the upstream has
already delivered is handed over without suspending: a relay made only of those awaits
never lets the event loop run the disconnect watcher, and would read and bill a whole
50 MB answer for a client that left after the first bytes.
"""

from __future__ import annotations

import asyncio

from synaxis_core.server.asgi import YIELD_EVERY, send_stream

EVENTS = 10_000


async def test_a_hang_up_stops_a_stream_that_never_suspends() -> None:
    produced = 0
    closed = asyncio.Event()

    async def events():
        nonlocal produced
        try:
            for _ in range(EVENTS):
                produced += 1
                yield b"data: {}\n\n"  # already buffered: no await
        finally:
            closed.set()

    async def send(message):  # like uvicorn after a disconnect: returns without suspending
        return None

    async def receive():  # the client is gone
        return {"type": "http.disconnect"}

    stream = events()
    await send_stream(send, receive, [], stream)
    await stream.aclose()
    assert closed.is_set()
    assert produced <= 2 * YIELD_EVERY  # not the whole answer


async def test_a_client_that_stays_gets_every_event() -> None:
    sent: list[bytes] = []
    listening = asyncio.Event()

    async def events():
        for i in range(100):
            yield str(i).encode()

    async def send(message):
        if message["type"] == "http.response.body" and message["body"]:
            sent.append(message["body"])

    async def receive():  # the client stays until the response ends
        listening.set()
        await asyncio.Event().wait()

    await send_stream(send, receive, [], events())
    assert listening.is_set() and b"".join(sent) == b"".join(str(i).encode() for i in range(100))


async def test_events_ready_together_go_out_in_one_send_and_none_waits_for_the_next() -> None:
    """What one upstream read completed is one write to the client; an event is sent as
    soon as the next would have to wait (the next read is only allowed once it is out)."""
    sent: list[bytes] = []
    next_read = asyncio.Event()

    async def events():
        for event in (b"a", b"b", b"c"):  # one read's worth of events
            yield event
        await next_read.wait()  # the upstream is silent until the client has had them
        yield b"d"

    async def send(message):
        if message["type"] == "http.response.body":
            sent.append(message["body"])
            if message["body"] == b"abc":
                next_read.set()

    async def receive():
        await asyncio.Event().wait()

    await asyncio.wait_for(send_stream(send, receive, [], events()), timeout=10)  # a safety cap only
    assert sent == [b"abc", b"d"]
