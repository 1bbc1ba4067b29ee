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
    assert listening.is_set() and sent == [str(i).encode() for i in range(100)]
