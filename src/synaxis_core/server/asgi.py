"""Plain ASGI for the hot path: read a request, write a response, relay a stream.

``POST /v1/chat/completions`` is served by an ASGI app of its own (``server.chat``),
not by a Litestar handler: measured on this machine, Litestar's request and response
objects, hooks and routing cost 57 µs of CPU per request (a pass-through proxy used
144 µs per request as a Litestar handler, 87 µs as a plain ASGI app), a third of the
whole budget of a request. Every other route stays in Litestar.
"""

from __future__ import annotations

import asyncio
import logging
import types
from typing import Any, AsyncIterator, Awaitable, Callable, Generator, Iterable

from synaxis_core.errors import InvalidRequest, PayloadTooLarge

log = logging.getLogger("synaxis.server")
Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
RawHeaders = list[tuple[bytes, bytes]]

MAX_HEADER_BYTES = 64 * 1024
"""Request headers above this get 431 (the HTTP parser itself sets no limit)."""


class ClientDisconnected(Exception):
    """The client went away before its request body arrived."""


def check_header_size(raw: Iterable[tuple[bytes, bytes]]) -> None:
    """Refuse an oversized header block with an OpenAI-shaped 431."""
    if sum(len(name) + len(value) for name, value in raw) > MAX_HEADER_BYTES:
        raise InvalidRequest(
            f"The request headers are larger than {MAX_HEADER_BYTES // 1024} KiB",
            status=431,
            code="request_header_fields_too_large",
        )


def too_large(limit: int) -> PayloadTooLarge:
    """The one answer to a body over ``SYNAXIS_MAX_BODY_BYTES``, on every route."""
    return PayloadTooLarge(f"The request body is larger than the gateway's limit of {limit:,} bytes")


async def read_body(receive: Receive, limit: int, declared: int | None) -> bytes:
    """The whole request body, at most ``limit`` bytes (413 beyond, before reading it
    all when ``Content-Length`` already says so)."""
    if declared is not None and declared > limit:
        raise too_large(limit)
    message = await receive()
    body: bytes = message.get("body", b"")
    if not message.get("more_body", False):  # the usual case: one message
        if message["type"] == "http.disconnect":
            raise ClientDisconnected
        if len(body) > limit:
            raise too_large(limit)
        return body
    parts, size = [body], len(body)
    while True:
        if message["type"] == "http.disconnect":
            raise ClientDisconnected
        if size > limit:
            raise too_large(limit)
        if not message.get("more_body", False):
            return b"".join(parts)
        message = await receive()
        part = message.get("body", b"")
        parts.append(part)
        size += len(part)


async def send_bytes(send: Send, status: int, headers: RawHeaders, body: bytes) -> None:
    headers.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def send_stream(send: Send, receive: Receive, headers: RawHeaders, events: AsyncIterator[bytes]) -> None:
    """Relay ``events`` as they come. A client that goes away cancels the relay where it
    waits (the events' own ``finally`` sees ``CancelledError``); the caller closes what
    feeds ``events`` afterwards, however the relay ended."""
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    relay = asyncio.ensure_future(_relay(send, events))
    watch = asyncio.ensure_future(_cancel_on_disconnect(receive, relay))
    try:
        await asyncio.wait((relay,))
    finally:
        watch.cancel()
        if not relay.done():  # this task itself was cancelled (shutdown)
            relay.cancel()
            await asyncio.wait((relay,))
    if not relay.cancelled() and relay.exception() is not None:
        # the status line is out: all that is left is to end the stream without [DONE]
        log.error("the response stream failed after it started", exc_info=relay.exception())


YIELD_EVERY = 16
"""The relay gives the event loop a turn after this many events (see ``_relay``)."""


async def _relay(send: Send, events: AsyncIterator[bytes]) -> None:
    """Send the events, one ``send`` for all those that are ready together.

    An upstream read usually completes several events; each ``send`` is a chunk and a
    socket write of its own (a quarter of a stream's CPU when each event had one). So
    the relay takes every event it can get without waiting, and sends them together as
    soon as the next one would have to wait: an event is never held back for a later
    one. Neither an event already buffered nor uvicorn's ``send`` (after a disconnect it
    returns at once) needs to suspend, so a fast stream could run to its end without
    the loop ever running the disconnect watcher (or any other request): every
    ``YIELD_EVERY`` events the relay sends what it has and lets it run.
    """
    batch: list[bytes] = []
    while True:
        step = events.__anext__()
        try:
            waiter = step.send(None)  # runs the events' source until it has one, or has to wait
        except StopIteration as ready:
            batch.append(ready.value)
            if len(batch) >= YIELD_EVERY:
                await _send_body(send, batch)
                batch = []
                await asyncio.sleep(0)
            continue
        except StopAsyncIteration:
            break
        except BaseException:  # the source failed: what it gave before still goes out
            if batch:
                await _send_body(send, batch)
            raise
        if batch:  # the next event is not there yet: what is, goes out now
            try:
                await _send_body(send, batch)
            except BaseException as exc:  # (cancelled meanwhile) the waiting source gets it where it waits
                _abandon(step, exc)
                raise
            batch = []
        try:
            batch.append(await _rest(step, waiter))
        except StopAsyncIteration:
            break
    await send({"type": "http.response.body", "body": b"".join(batch)})


async def _send_body(send: Send, batch: list[bytes]) -> None:
    await send({"type": "http.response.body", "body": b"".join(batch), "more_body": True})


@types.coroutine
def _rest(step: Any, waiter: Any) -> Generator[Any, Any, bytes]:
    """Finish ``step`` (an ``__anext__`` that yielded ``waiter`` to the event loop)."""
    while True:
        try:
            value = yield waiter
        except BaseException as exc:  # a cancellation reaches the source where it waits
            try:
                waiter = step.throw(exc)
            except StopIteration as done:
                return done.value
        else:
            try:
                waiter = step.send(value)
            except StopIteration as done:
                return done.value


def _abandon(step: Any, exc: BaseException) -> None:
    try:
        step.throw(exc)
    except BaseException:  # noqa: S110 - what it raises is ``exc`` or what it became; the caller raises ``exc``
        pass
    step.close()


async def _cancel_on_disconnect(receive: Receive, relay: asyncio.Future[None]) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass
    relay.cancel()
